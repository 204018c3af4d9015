/// \file
/// \brief Tensors filled from a random generator: uniform draws and dropout's keep mask.
#pragma once

#include <cstdint>

#include "fcam/core/rng.hpp"
#include "fcam/core/tensor.hpp"

namespace fcam {

/// Fills `t` with U(lo, hi) draws from `rng`, element by element in order.
template <Scalar T>
void fill_uniform(Tensor<T>& t, double lo, double hi, Rng& rng) {
  t.require_cpu("fill_uniform");
  T* out = t.data();
  for (std::int64_t i = 0, n = t.numel(); i < n; ++i) out[i] = static_cast<T>(rng.uniform(lo, hi));
}

/// Dropout's mask of `shape`: 1/(1 − p) where a U(0, 1) draw is >= p (the element is kept), else 0
/// (all 0 when p = 1); one draw per element, in order.
template <Scalar T>
Tensor<T> dropout_mask(const Shape& shape, double p, Rng& rng) {
  FCAM_CHECK(p >= 0.0 && p <= 1.0, "dropout_mask: probability must be in [0, 1], got ", p);
  Tensor<T> mask(shape);
  const T keep_scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  T* out = mask.data();
  for (std::int64_t i = 0, n = mask.numel(); i < n; ++i) out[i] = rng.uniform() >= p ? keep_scale : T(0);
  return mask;
}

/// In place: t[i] += N(0, sigma) draws from `rng`, element by element in order.
template <Scalar T>
void add_normal_noise(Tensor<T>& t, double sigma, Rng& rng) {
  t.require_cpu("add_normal_noise");
  T* out = t.data();
  for (std::int64_t i = 0, n = t.numel(); i < n; ++i) out[i] += static_cast<T>(rng.normal(0.0, sigma));
}

}  // namespace fcam

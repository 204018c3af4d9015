/// \file
/// \brief CPU kernels of the ops that draw from a generator (contracts in fcam/ops/random.hpp).
///
/// One draw per element, in element order, on one thread: the values depend only on the seed,
/// never on the thread count.
#pragma once

#include <cstdint>

#include "fcam/core/rng.hpp"
#include "fcam/core/tensor.hpp"

namespace fcam::cpu {

/// t[i] = U(lo, hi).
template <Scalar T>
void fill_uniform(Tensor<T>& t, double lo, double hi, Rng& rng) {
  T* out = t.data();
  for (std::int64_t i = 0, n = t.numel(); i < n; ++i) out[i] = static_cast<T>(rng.uniform(lo, hi));
}

/// t[i] += N(0, sigma), the draw rounded to T before the addition.
template <Scalar T>
void add_normal_noise(Tensor<T>& t, double sigma, Rng& rng) {
  T* out = t.data();
  for (std::int64_t i = 0, n = t.numel(); i < n; ++i) out[i] += static_cast<T>(rng.normal(0.0, sigma));
}

/// Dropout's mask: 1/(1 − p) where a U(0, 1) draw is >= p, else 0 (all 0 when p = 1).
template <Scalar T>
Tensor<T> dropout_mask(const Shape& shape, double p, Rng& rng) {
  Tensor<T> mask(shape);
  const T keep_scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  T* out = mask.data();
  for (std::int64_t i = 0, n = mask.numel(); i < n; ++i) out[i] = rng.uniform() >= p ? keep_scale : T(0);
  return mask;
}

}  // namespace fcam::cpu

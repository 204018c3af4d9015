/// \file
/// \brief Tensors filled from a random generator: uniform draws, additive Gaussian noise (drawn
/// in order from a generator, or keyed by element) and dropout's keep mask (keyed by element).
#pragma once

#include <cstdint>

#include "fcam/core/rng.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/random.hpp"
#include "fcam/ops/dispatch.hpp"

namespace fcam {

/// Fills `t` with U(lo, hi) draws from `rng`, element by element in order.
template <Scalar T>
void fill_uniform(Tensor<T>& t, double lo, double hi, Rng& rng) {
  if (operand_device("fill_uniform", t) == Device::cuda) {
    // Drawn on the CPU by the same code from the same generator, then copied: a CUDA tensor gets
    // exactly the values a CPU tensor would, and `rng` advances the same way.
    Tensor<T> host = Tensor<T>::uninitialized(t.shape());
    cpu::fill_uniform(host, lo, hi, rng);
    t.copy_from(host);
    return;
  }
  cpu::fill_uniform(t, lo, hi, rng);
}

/// In place: t[i] += N(0, sigma) drawn from `rng` (Rng::normal, cast to T), element by element
/// in order, as Smooth-GradCAM++ perturbs its inputs. requires: sigma >= 0.
template <Scalar T>
void add_normal_noise(Tensor<T>& t, double sigma, Rng& rng) {
  const Device device = operand_device("add_normal_noise", t);
  FCAM_CHECK(sigma >= 0.0, "add_normal_noise: sigma must be >= 0, got ", sigma);
  if (device == Device::cuda) {
    // The CPU's additions on a host copy, then copied back: exactly the values (and the
    // generator state) a CPU tensor would get. Smooth-GradCAM++'s inputs are small.
    Tensor<T> host = t.to(Device::cpu);
    cpu::add_normal_noise(host, sigma, rng);
    t.copy_from(host);
    return;
  }
  cpu::add_normal_noise(t, sigma, rng);
}

/// In place: t[i] += N(0, sigma) drawn as keyed_normal(key, i) (ops/keyed_noise_rule.hpp), cast
/// to T. Each element's draw depends on (key, i) alone, so a GPU draws its tensor's noise itself
/// (nothing is copied or waited for) and gives the CPU's values up to the last bit of its log and
/// cos. Smooth-GradCAM++'s noisy passes use it. requires: sigma >= 0.
template <Scalar T>
void add_keyed_normal_noise(Tensor<T>& t, double sigma, std::uint64_t key) {
  const Device device = operand_device("add_keyed_normal_noise", t);
  FCAM_CHECK(sigma >= 0.0, "add_keyed_normal_noise: sigma must be >= 0, got ", sigma);
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::add_keyed_normal_noise(t, sigma, key);
    else cuda::unavailable_for<T>("add_keyed_normal_noise");
  }
  cpu::add_keyed_normal_noise(t, sigma, key);
}

/// Dropout's mask of `shape` on `device`: 1/(1 − p) where keyed_uniform(key, i) >= p (the element
/// is kept), else 0 (all 0 when p = 1). Each element's draw depends on (key, i) alone, so a GPU
/// makes its mask itself, with the CPU's values bit for bit.
template <Scalar T>
Tensor<T> keyed_dropout_mask(const Shape& shape, double p, std::uint64_t key, Device device = Device::cpu) {
  FCAM_CHECK(p >= 0.0 && p <= 1.0, "keyed_dropout_mask: probability must be in [0, 1], got ", p);
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::keyed_dropout_mask(shape, p, key);
    else cuda::unavailable_for<T>("keyed_dropout_mask");
  }
  return cpu::keyed_dropout_mask<T>(shape, p, key);
}

}  // namespace fcam

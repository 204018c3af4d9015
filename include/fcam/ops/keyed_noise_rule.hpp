/// \file
/// \brief Gaussian noise and dropout masks as functions of (key, element index), written once for
/// the CPU and the GPU (C++17; nvcc compiles it too, cuda/elementwise.cu): any thread draws any
/// element, so a GPU makes Smooth-GradCAM++'s noisy inputs and dropout's masks itself instead of
/// copying the CPU's draws.
#pragma once

#include <cmath>
#include <cstdint>

#include "fcam/ops/region_rules.hpp"

#if defined(__CUDACC__)
#define FCAM_KEYED_NOISE_RULE __host__ __device__
#else
#define FCAM_KEYED_NOISE_RULE
#endif

namespace fcam {

/// A standard normal draw for element `index` of the noise keyed `key`: Box–Muller's r·cos θ of
/// two 53-bit uniforms u1 ∈ (0, 1] and u2 ∈ [0, 1) hashed from (key, index) by splitmix64's
/// mixer. The CPU and the GPU evaluate the same double expression; their log and cos may differ in
/// the last bit of a double, which rounding the noise to float almost always hides.
FCAM_KEYED_NOISE_RULE inline double keyed_normal(std::uint64_t key, std::uint64_t index) {
  constexpr std::uint64_t golden = 0x9E3779B97F4A7C15ull;
  const std::uint64_t stream = region_rules::mix64(key);
  const std::uint64_t a = region_rules::mix64(stream + golden * (2 * index + 1));
  const std::uint64_t b = region_rules::mix64(stream + golden * (2 * index + 2));
  const double u1 = (static_cast<double>(a >> 11) + 1.0) * 0x1.0p-53;
  const double u2 = static_cast<double>(b >> 11) * 0x1.0p-53;
  return ::sqrt(-2.0 * ::log(u1)) * ::cos(6.283185307179586 * u2);
}

/// A uniform draw in [0, 1) (53 bits) for element `index` of the draws keyed `key`: integer
/// arithmetic and one exact scaling, so the CPU and the GPU give the same double. Dropout's masks
/// (keyed_dropout_mask) use it.
FCAM_KEYED_NOISE_RULE inline double keyed_uniform(std::uint64_t key, std::uint64_t index) {
  constexpr std::uint64_t golden = 0x9E3779B97F4A7C15ull;
  // Its own stream of the key (keyed_normal's hashes stream + golden·(2i + 1) of the same key).
  constexpr std::uint64_t uniform_stream = 0xD1B54A32D192ED03ull;
  const std::uint64_t stream = region_rules::mix64(key ^ uniform_stream);
  return static_cast<double>(region_rules::mix64(stream + golden * (index + 1)) >> 11) * 0x1.0p-53;
}

/// Dropout's mask value of element `index`: `keep_scale` where keyed_uniform(key, index) >= p (the
/// element is kept), else 0.
template <class T>
FCAM_KEYED_NOISE_RULE inline T keyed_dropout_value(std::uint64_t key, std::uint64_t index, double p, T keep_scale) {
  return keyed_uniform(key, index) >= p ? keep_scale : T(0);
}

}  // namespace fcam

/// \file
/// \brief The reference's quantisation of a score map and its per-threshold binarisation rule.
///
/// wsolevaluation binarises a map at threshold τ as: u8 = uint8(255·map) (float32 product,
/// truncated), then foreground = u8 > int(τ · max(u8)). Only the integer level matters, so a map
/// has at most 256 distinct binary masks however many thresholds are asked for.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"

namespace fcam::metrics {

/// uint8(255 · v) for each value (the product in float, truncated toward zero), as numpy's
/// (scoremap * 255).astype(np.uint8) on a float32 map in [0, 1].
inline std::vector<std::uint8_t> quantize_score_map(const Tensor<float>& map) {
  map.require_cpu("quantize_score_map");
  std::vector<std::uint8_t> u8(static_cast<std::size_t>(map.numel()));
  for (std::int64_t i = 0; i < map.numel(); ++i) {
    const float scaled = map.data()[i] * 255.0f;
    u8[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(std::clamp(scaled, 0.0f, 255.0f));
  }
  return u8;
}

/// The integer level of threshold τ for a map whose largest quantised value is `max_u8`:
/// int(τ · max) with the product in double, as Python computes it. Foreground is u8 > level.
inline int threshold_level(double tau, std::uint8_t max_u8) { return static_cast<int>(tau * max_u8); }

}  // namespace fcam::metrics

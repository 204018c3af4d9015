/// \file
/// \brief The reference's quantisation of a score map and its per-threshold binarisation rule.
///
/// wsolevaluation binarises a map at threshold τ as: u8 = uint8(255·map) (float32 product,
/// truncated), then foreground = u8 > int(τ · max(u8)). Only the integer level matters, so a map
/// has at most 256 distinct binary masks however many thresholds are asked for.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/io/npy.hpp"

namespace fcam::metrics {

/// Checks a WSOL score map: 2-D, every value a number in [0, 1]. Errors start with `source`
/// (a file or function name) and give the first bad value's position.
inline void check_score_map(const Tensor<float>& map, const std::string& source) {
  map.require_cpu(source.c_str());
  FCAM_CHECK(map.ndim() == 2, source, ": a score map must be 2-D, got shape ", to_string(map.shape()));
  FCAM_CHECK(map.numel() > 0, source, ": empty score map");
  const float* values = map.data();
  const std::int64_t n = map.numel();
  bool all_valid = true;  // a branch-free pass first: the common case is a valid map
  for (std::int64_t i = 0; i < n; ++i) all_valid &= values[i] >= 0.0f && values[i] <= 1.0f;  // false for NaN
  if (all_valid) return;
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = values[i];
    FCAM_CHECK(!std::isnan(v), source, ": score map has NaN at (", i / map.size(1), ", ", i % map.size(1), ")");
    FCAM_CHECK(v >= 0.0f && v <= 1.0f, source, ": score map value ", v, " at (", i / map.size(1), ", ",
               i % map.size(1), ") is outside [0, 1]");
  }
}

/// Reads a WSOL score map (.npy, float32 or float64) and checks it (check_score_map); errors
/// name the file.
inline Tensor<float> read_score_map(const std::filesystem::path& path) {
  Tensor<float> map = io::read_npy<float>(path);
  check_score_map(map, path.string());
  return map;
}

/// uint8(255 · v) for each value (the product in float, truncated toward zero), as numpy's
/// (scoremap * 255).astype(np.uint8) on a float32 map in [0, 1].
inline std::vector<std::uint8_t> quantize_score_map(const Tensor<float>& map) {
  map.require_cpu("quantize_score_map");
  const std::int64_t n = map.numel();
  const float* values = map.data();
  std::vector<std::uint8_t> u8(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    u8[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(std::clamp(values[i] * 255.0f, 0.0f, 255.0f));
  return u8;
}

/// The integer level of threshold τ for a map whose largest quantised value is `max_u8`:
/// int(τ · max) with the product in double, as Python computes it. Foreground is u8 > level.
inline int threshold_level(double tau, std::uint8_t max_u8) { return static_cast<int>(tau * max_u8); }

}  // namespace fcam::metrics

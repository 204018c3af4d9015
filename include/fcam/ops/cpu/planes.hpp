/// \file
/// \brief CPU kernels of the per-plane ops in fcam/ops/planes.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/channel_weight_rules.hpp"
#include "fcam/ops/cpu/reduce.hpp"

namespace fcam::cpu {

/// out[b] = Σ_k weights[b·C + k]·features[b, k] (each product in double, rounded to T, added in
/// order), then clamped at 0 when `relu`.
template <Scalar T>
Tensor<T> weighted_channel_sum(const Tensor<T>& features, const std::vector<double>& weights, bool relu) {
  const std::int64_t n = features.size(0), c = features.size(1), h = features.size(2), w = features.size(3);
  const std::int64_t plane = h * w;
  Tensor<T> maps({n, h, w});
  for (std::int64_t b = 0; b < n; ++b) {
    T* out = maps.data() + b * plane;
    for (std::int64_t k = 0; k < c; ++k) {
      const double weight = weights[static_cast<std::size_t>(b * c + k)];
      const T* ak = features.data() + (b * c + k) * plane;
      for (std::int64_t i = 0; i < plane; ++i) out[i] += static_cast<T>(weight * ak[i]);
    }
    if (relu)
      for (std::int64_t i = 0; i < plane; ++i) out[i] = std::max(out[i], T(0));
  }
  return maps;
}

/// weight(at, fc_weight[classes[b], k]) at every at = b·C + k of n images and C channels: a
/// per-channel value of the class each image is explained for (the row's weight in double).
template <Scalar T, class Weight>
std::vector<double> class_row_values(const Tensor<T>& fc_weight, const std::vector<int>& classes, std::int64_t n,
                                     std::int64_t c, Weight weight) {
  std::vector<double> values(static_cast<std::size_t>(n * c));
  for (std::int64_t b = 0; b < n; ++b) {
    const T* row = fc_weight.data() + classes[static_cast<std::size_t>(b)] * c;
    for (std::int64_t k = 0; k < c; ++k) {
      const auto at = static_cast<std::size_t>(b * c + k);
      values[at] = weight(at, static_cast<double>(row[k]));
    }
  }
  return values;
}

/// weighted_channel_sum with the weights class_channel_weight(rule, fc_weight[classes[b], k], plane,
/// Σ_ij features[b, k]) (the plane sums in double, in memory order, only where `rule` reads them).
template <Scalar T>
Tensor<T> class_weighted_channel_sum(const Tensor<T>& features, const Tensor<T>& fc_weight,
                                     const std::vector<int>& classes, ClassWeight rule, bool relu) {
  const std::int64_t n = features.size(0), c = features.size(1), plane = features.size(2) * features.size(3);
  const std::vector<double> sums = needs_plane_sums(rule) ? cpu::run_sums(features, n * c, plane)
                                                          : std::vector<double>();
  const std::vector<double> weights = class_row_values(fc_weight, classes, n, c, [&](std::size_t at, double w) {
    return class_channel_weight(rule, w, plane, sums.empty() ? 0.0 : sums[at]);
  });
  return cpu::weighted_channel_sum(features, weights, relu);
}

/// alpha_sum[b, k] += T(gradcampp_alpha(fc_weight[classes[b], k] / plane, Σ_ij features[b, k],
/// `reference_alpha`)) (the plane sums in double, in memory order, only for the paper's α).
template <Scalar T>
void add_gradcampp_alpha(Tensor<T>& alpha_sum, const Tensor<T>& features, const Tensor<T>& fc_weight,
                         const std::vector<int>& classes, bool reference_alpha) {
  const std::int64_t n = features.size(0), c = features.size(1), plane = features.size(2) * features.size(3);
  const std::vector<double> sums = reference_alpha ? std::vector<double>() : cpu::run_sums(features, n * c, plane);
  const std::vector<double> alpha = class_row_values(fc_weight, classes, n, c, [&](std::size_t at, double w) {
    return gradcampp_alpha(w / static_cast<double>(plane), sums.empty() ? 0.0 : sums[at], reference_alpha);
  });
  for (std::size_t at = 0; at < alpha.size(); ++at) alpha_sum.data()[at] += static_cast<T>(alpha[at]);
}

/// weighted_channel_sum (ReLU) with the weights smoothed_gradcampp_weight(fc_weight[classes[b], k],
/// plane, alpha_sum[b, k], passes).
template <Scalar T>
Tensor<T> smoothed_gradcampp_sum(const Tensor<T>& features, const Tensor<T>& fc_weight,
                                 const std::vector<int>& classes, const Tensor<T>& alpha_sum, int passes) {
  const std::int64_t n = features.size(0), c = features.size(1), plane = features.size(2) * features.size(3);
  const std::vector<double> weights = class_row_values(fc_weight, classes, n, c, [&](std::size_t at, double w) {
    return smoothed_gradcampp_weight(w, plane, static_cast<double>(alpha_sum.data()[at]), passes);
  });
  return cpu::weighted_channel_sum(features, weights, true);
}

/// Each of the `count` runs of `length` values: (x − min) / max(x − min), 0 when constant.
template <Scalar T>
Tensor<T> normalize_runs(const Tensor<T>& x, std::int64_t count, std::int64_t length) {
  Tensor<T> out = x.clone();
  for (std::int64_t r = 0; r < count; ++r) {
    T* m = out.data() + r * length;
    const T lo = *std::min_element(m, m + length);
    for (std::int64_t i = 0; i < length; ++i) m[i] -= lo;
    const T hi = *std::max_element(m, m + length);
    for (std::int64_t i = 0; i < length; ++i) m[i] = hi > 0 ? m[i] / hi : T(0);
  }
  return out;
}

/// A tensor of `shape` whose r-th run of `length` values all equal values[r].
template <Scalar T>
Tensor<T> fill_runs(const Shape& shape, const std::vector<T>& values, std::int64_t length) {
  Tensor<T> out(shape);
  for (std::size_t r = 0; r < values.size(); ++r)
    std::fill(out.data() + static_cast<std::int64_t>(r) * length,
              out.data() + (static_cast<std::int64_t>(r) + 1) * length, values[r]);
  return out;
}

}  // namespace fcam::cpu

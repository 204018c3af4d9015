/// \file
/// \brief CUDA kernels of the per-plane ops of ops/planes.hpp (the CAM methods' channel-weighted
/// sums, per-map min–max normalisation and planes filled with one value each), float tensors,
/// the CPU's bits.
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/core/class_indices.hpp"
#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// N×H×W maps: map_b = Σ_k weights[b·C + k]·features[b, k], each product in double rounded to
/// float and added in channel order (as the CPU does), clamped at 0 when `relu`.
Tensor<float> weighted_channel_sum(const Tensor<float>& features, const std::vector<double>& weights, bool relu);

/// weighted_channel_sum with weight[b, k] = class_channel_weight(ClassWeight(rule), fc_weight[classes[b], k],
/// H·W, Σ_ij features[b, k]) (ops/channel_weight_rules.hpp), the rows gathered and the planes summed
/// on the GPU; host classes are uploaded through a staging block, device classes read where they
/// are (nothing waits: capturable). Classes checked by the op.
Tensor<float> class_weighted_channel_sum(const Tensor<float>& features, const Tensor<float>& fc_weight,
                                         const ClassIndices& classes, int rule, bool relu);

/// Smooth-GradCAM++'s α of one pass added to `alpha_sum` (N×C): alpha_sum[b, k] +=
/// float(gradcampp_alpha(fc_weight[classes[b], k] / (H·W), Σ_ij features[b, k], `reference_alpha`)),
/// the CPU's bits; nothing waits (capturable with device classes). Operands checked by the op.
void add_gradcampp_alpha(Tensor<float>& alpha_sum, const Tensor<float>& features, const Tensor<float>& fc_weight,
                         const ClassIndices& classes, bool reference_alpha);

/// Smooth-GradCAM++'s maps: weighted_channel_sum (ReLU) with the weights
/// smoothed_gradcampp_weight(fc_weight[classes[b], k], H·W, alpha_sum[b, k], passes), the CPU's
/// bits; nothing waits. Operands checked by the op.
Tensor<float> smoothed_gradcampp_sum(const Tensor<float>& features, const Tensor<float>& fc_weight,
                                     const ClassIndices& classes, const Tensor<float>& alpha_sum, int passes);

/// Each of the `count` runs of `length` values: (x − min) / max(x − min), 0 when constant.
Tensor<float> normalize_runs(const Tensor<float>& x, std::int64_t count, std::int64_t length);

/// A tensor of `shape` whose r-th run of `run` consecutive values holds values[r].
Tensor<float> fill_runs(const Shape& shape, const std::vector<float>& values, std::int64_t run);

}  // namespace fcam::cuda

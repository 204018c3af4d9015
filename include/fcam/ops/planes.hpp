/// \file
/// \brief Per-plane ops of N×C×H×W tensors: the channel-weighted sums of the CAM methods, per-map
/// min–max normalisation, and planes filled with one value each (the size loss's gradient).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fcam/core/class_indices.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/planes.hpp"
#include "fcam/ops/dispatch.hpp"

namespace fcam {

/// Maps N×H×W: map_b = Σ_k weights[b·C + k]·features[b, k] for `features` N×C×H×W and N·C channel
/// weights (each product computed in double and rounded to T), clamped at 0 when `relu` (every
/// CAM method but CAM itself).
template <Scalar T>
Tensor<T> weighted_channel_sum(const Tensor<T>& features, const std::vector<double>& weights, bool relu) {
  check_rank(features, 4, "weighted_channel_sum features");
  FCAM_CHECK(static_cast<std::int64_t>(weights.size()) == features.size(0) * features.size(1),
             "weighted_channel_sum: ", weights.size(), " weights for features ", to_string(features.shape()));
  if (operand_device("weighted_channel_sum", features) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::weighted_channel_sum(features, weights, relu);
    else cuda::unavailable_for<T>("weighted_channel_sum");
  }
  return cpu::weighted_channel_sum(features, weights, relu);
}

/// weighted_channel_sum whose weights come from the fc rows of one class per image: weight[b, k] =
/// class_channel_weight(rule, fc_weight[classes[b], k], H·W, Σ_ij features[b, k]) for `fc_weight`
/// K×C on the features' device (the plane sums only for the rules that read them). The same bits
/// as building those weights on the host, but a GPU gathers the rows and sums the planes itself:
/// with device classes (top_class, ClassIndices::uploaded) nothing is read back or uploaded, so
/// the op can be captured in a CUDA graph. Throws fcam::Error for a class outside [0, K) (host
/// classes) or device classes of another bound, and for device classes with CPU features.
template <Scalar T>
Tensor<T> class_weighted_channel_sum(const Tensor<T>& features, const Tensor<T>& fc_weight,
                                     const ClassIndices& classes, ClassWeight rule, bool relu) {
  check_rank(features, 4, "class_weighted_channel_sum features");
  check_rank(fc_weight, 2, "class_weighted_channel_sum fc weight");
  FCAM_CHECK(fc_weight.size(1) == features.size(1), "class_weighted_channel_sum: fc weight ",
             to_string(fc_weight.shape()), " for features ", to_string(features.shape()));
  check_classes(classes, features.size(0), fc_weight.size(0), "class_weighted_channel_sum");
  if (operand_device("class_weighted_channel_sum", {&features, &fc_weight}) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::class_weighted_channel_sum(features, fc_weight, classes,
                                                                                static_cast<int>(rule), relu);
    else cuda::unavailable_for<T>("class_weighted_channel_sum");
  }
  FCAM_CHECK(classes.device() == Device::cpu,
             "class_weighted_channel_sum: the classes are on the GPU but the features on the CPU");
  return cpu::class_weighted_channel_sum(features, fc_weight, classes.host(), rule, relu);
}

namespace detail {
/// The checks of the Smooth-GradCAM++ ops: features N×C×H×W, fc weight K×C, α sums N×C, one class
/// per image in [0, K); errors start with `what`.
template <Scalar T>
void check_alpha_operands(const char* what, const Tensor<T>& alpha_sum, const Tensor<T>& features,
                          const Tensor<T>& fc_weight, const ClassIndices& classes) {
  check_rank(features, 4, (std::string(what) + " features").c_str());
  check_rank(fc_weight, 2, (std::string(what) + " fc weight").c_str());
  FCAM_CHECK(fc_weight.size(1) == features.size(1), what, ": fc weight ", to_string(fc_weight.shape()),
             " for features ", to_string(features.shape()));
  FCAM_CHECK(alpha_sum.defined() && alpha_sum.shape() == Shape({features.size(0), features.size(1)}), what,
             ": α sums ", alpha_sum.defined() ? to_string(alpha_sum.shape()) : std::string("undefined"),
             " for features ", to_string(features.shape()));
  check_classes(classes, features.size(0), fc_weight.size(0), what);
}
}  // namespace detail

/// Smooth-GradCAM++'s α of one noisy pass, added in place: alpha_sum[b, k] +=
/// T(gradcampp_alpha(fc_weight[classes[b], k] / (H·W), Σ_ij features[b, k], `reference_alpha`))
/// for `alpha_sum` N×C on the features' device. As class_weighted_channel_sum, a GPU gathers the
/// rows and sums the planes itself (capturable with device classes). Throws fcam::Error as
/// class_weighted_channel_sum does, and for an `alpha_sum` of another shape or device.
template <Scalar T>
void add_gradcampp_alpha(Tensor<T>& alpha_sum, const Tensor<T>& features, const Tensor<T>& fc_weight,
                         const ClassIndices& classes, bool reference_alpha) {
  detail::check_alpha_operands("add_gradcampp_alpha", alpha_sum, features, fc_weight, classes);
  if (operand_device("add_gradcampp_alpha", {&alpha_sum, &features, &fc_weight}) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::add_gradcampp_alpha(alpha_sum, features, fc_weight, classes,
                                                                         reference_alpha);
    else cuda::unavailable_for<T>("add_gradcampp_alpha");
  }
  FCAM_CHECK(classes.device() == Device::cpu, "add_gradcampp_alpha: the classes are on the GPU but the features on the CPU");
  cpu::add_gradcampp_alpha(alpha_sum, features, fc_weight, classes.host(), reference_alpha);
}

/// Smooth-GradCAM++'s maps N×H×W from the last pass's `features` and the α summed over `passes`
/// passes (add_gradcampp_alpha): weighted_channel_sum with ReLU and the weights
/// smoothed_gradcampp_weight(fc_weight[classes[b], k], H·W, alpha_sum[b, k], passes). Capturable
/// on a GPU with device classes; throws fcam::Error as add_gradcampp_alpha does.
template <Scalar T>
Tensor<T> smoothed_gradcampp_sum(const Tensor<T>& features, const Tensor<T>& fc_weight, const ClassIndices& classes,
                                 const Tensor<T>& alpha_sum, int passes) {
  detail::check_alpha_operands("smoothed_gradcampp_sum", alpha_sum, features, fc_weight, classes);
  FCAM_CHECK(passes >= 1, "smoothed_gradcampp_sum: passes must be >= 1, got ", passes);
  if (operand_device("smoothed_gradcampp_sum", {&features, &fc_weight, &alpha_sum}) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::smoothed_gradcampp_sum(features, fc_weight, classes, alpha_sum,
                                                                            passes);
    else cuda::unavailable_for<T>("smoothed_gradcampp_sum");
  }
  FCAM_CHECK(classes.device() == Device::cpu,
             "smoothed_gradcampp_sum: the classes are on the GPU but the features on the CPU");
  return cpu::smoothed_gradcampp_sum(features, fc_weight, classes.host(), alpha_sum, passes);
}

/// Min–max normalisation of each item (first dimension): (x − min) / max(x − min); a constant
/// item becomes 0.
template <Scalar T>
Tensor<T> normalize_items(const Tensor<T>& x) {
  FCAM_CHECK(x.defined() && x.ndim() >= 1, "normalize_items: tensor is undefined");
  const std::int64_t count = x.size(0), length = count > 0 ? x.numel() / count : 0;
  if (operand_device("normalize_items", x) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::normalize_runs(x, count, length);
    else cuda::unavailable_for<T>("normalize_items");
  }
  return cpu::normalize_runs(x, count, length);
}

/// A tensor of `shape` (N×C×…) on `device` whose plane (b, c) holds values[b·C + c] everywhere.
template <Scalar T>
Tensor<T> fill_planes(const Shape& shape, const std::vector<T>& values, Device device = Device::cpu) {
  FCAM_CHECK(shape.size() >= 2 && static_cast<std::int64_t>(values.size()) == shape[0] * shape[1],
             "fill_planes: ", values.size(), " values for shape ", to_string(shape));
  const std::int64_t count = shape[0] * shape[1], run = count > 0 ? numel_of(shape) / count : 0;
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::fill_runs(shape, values, run);
    else cuda::unavailable_for<T>("fill_planes");
  }
  return cpu::fill_runs(shape, values, run);
}

}  // namespace fcam

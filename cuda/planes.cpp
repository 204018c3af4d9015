// Tensor-level CUDA per-plane ops: the channel weights or class indices go to the device through a
// staging block (no wait), then the launches.
#include "fcam/cuda/ops/planes.hpp"

#include <optional>

#include "context.hpp"
#include "fcam/cuda/api.hpp"
#include "fcam/ops/channel_weight_rules.hpp"
#include "planes_kernels.hpp"

namespace fcam::cuda {

Tensor<float> weighted_channel_sum(const Tensor<float>& features, const std::vector<double>& weights, bool relu) {
  const std::int64_t n = features.size(0), c = features.size(1), h = features.size(2), w = features.size(3);
  auto maps = Tensor<float>::uninitialized({n, h, w}, Device::cuda);
  if (maps.numel() == 0) return maps;
  Storage<double> device_weights(weights.size(), Device::cuda, false);
  if (!weights.empty())
    copy_host_to_device_staged(device_weights.data(), weights.data(), weights.size() * sizeof(double));
  launch::weighted_channel_sum(features.data(), device_weights.data(), n, c, h * w, relu, maps.data(), stream());
  check_launch("weighted_channel_sum kernel");
  return maps;
}

namespace {

/// The classes' device pointer: device classes where they are, host classes copied through a
/// staging block into `uploaded` (no wait).
const std::int32_t* device_classes(const ClassIndices& classes, std::optional<Storage<std::int32_t>>& uploaded) {
  if (classes.device() == Device::cuda) return classes.device_data();
  const std::vector<std::int32_t> indices(classes.host().begin(), classes.host().end());
  uploaded.emplace(indices.size(), Device::cuda, false);
  if (!indices.empty())
    copy_host_to_device_staged(uploaded->data(), indices.data(), indices.size() * sizeof(std::int32_t));
  return uploaded->data();
}

/// `sums` = Σ_ij A of each plane of N×C×H×W `features` in double, in the CPU's order and bits
/// (no wait).
void sum_planes(const Tensor<float>& features, std::optional<Storage<double>>& sums) {
  const std::int64_t planes = features.size(0) * features.size(1), plane = features.size(2) * features.size(3);
  sums.emplace(static_cast<std::size_t>(planes), Device::cuda, false);
  launch::ordered_plane_sums(features.data(), planes, plane, sums->data(), stream());
  check_launch("ordered_plane_sums kernel");
}

/// N×H×W maps Σ_k weights[b·C + k]·features[b, k] from device weights.
Tensor<float> weighted_sum(const Tensor<float>& features, const Storage<double>& weights, bool relu) {
  const std::int64_t n = features.size(0), c = features.size(1), h = features.size(2), w = features.size(3);
  auto maps = Tensor<float>::uninitialized({n, h, w}, Device::cuda);
  launch::weighted_channel_sum(features.data(), weights.data(), n, c, h * w, relu, maps.data(), stream());
  check_launch("weighted_channel_sum kernel");
  return maps;
}

}  // namespace

Tensor<float> class_weighted_channel_sum(const Tensor<float>& features, const Tensor<float>& fc_weight,
                                         const ClassIndices& classes, int rule, bool relu) {
  const std::int64_t n = features.size(0), c = features.size(1), h = features.size(2), w = features.size(3);
  if (n * h * w == 0) return Tensor<float>::uninitialized({n, h, w}, Device::cuda);
  std::optional<Storage<std::int32_t>> uploaded;
  const std::int32_t* indices = device_classes(classes, uploaded);
  std::optional<Storage<double>> sums;  // for the rules that read them
  if (needs_plane_sums(static_cast<ClassWeight>(rule))) sum_planes(features, sums);
  Storage<double> weights(static_cast<std::size_t>(n * c), Device::cuda, false);
  launch::class_channel_weights(fc_weight.data(), indices, sums ? sums->data() : nullptr, n, c, h * w, rule,
                                weights.data(), stream());
  check_launch("class_channel_weights kernel");
  return weighted_sum(features, weights, relu);
}

void add_gradcampp_alpha(Tensor<float>& alpha_sum, const Tensor<float>& features, const Tensor<float>& fc_weight,
                         const ClassIndices& classes, bool reference_alpha) {
  const std::int64_t n = features.size(0), c = features.size(1), plane = features.size(2) * features.size(3);
  if (n * c == 0) return;
  std::optional<Storage<std::int32_t>> uploaded;
  const std::int32_t* indices = device_classes(classes, uploaded);
  std::optional<Storage<double>> sums;  // the reference α does not read them
  if (!reference_alpha) sum_planes(features, sums);
  launch::add_gradcampp_alpha(fc_weight.data(), indices, sums ? sums->data() : nullptr, n, c, plane, reference_alpha,
                              alpha_sum.data(), stream());
  check_launch("add_gradcampp_alpha kernel");
}

Tensor<float> smoothed_gradcampp_sum(const Tensor<float>& features, const Tensor<float>& fc_weight,
                                     const ClassIndices& classes, const Tensor<float>& alpha_sum, int passes) {
  const std::int64_t n = features.size(0), c = features.size(1), h = features.size(2), w = features.size(3);
  if (n * h * w == 0) return Tensor<float>::uninitialized({n, h, w}, Device::cuda);
  std::optional<Storage<std::int32_t>> uploaded;
  const std::int32_t* indices = device_classes(classes, uploaded);
  Storage<double> weights(static_cast<std::size_t>(n * c), Device::cuda, false);
  launch::smoothed_gradcampp_weights(fc_weight.data(), indices, alpha_sum.data(), n, c, h * w, passes, weights.data(),
                                     stream());
  check_launch("smoothed_gradcampp_weights kernel");
  return weighted_sum(features, weights, true);
}

Tensor<float> fill_runs(const Shape& shape, const std::vector<float>& values, std::int64_t run) {
  auto out = Tensor<float>::uninitialized(shape, Device::cuda);
  if (out.numel() == 0) return out;
  Storage<float> device_values(values.size(), Device::cuda, false);
  copy_host_to_device_staged(device_values.data(), values.data(), values.size() * sizeof(float));
  launch::fill_runs(device_values.data(), run, out.numel(), out.data(), stream());
  check_launch("fill_runs kernel");
  return out;
}

Tensor<float> normalize_runs(const Tensor<float>& x, std::int64_t count, std::int64_t length) {
  auto out = Tensor<float>::uninitialized(x.shape(), Device::cuda);
  launch::normalize_runs(x.data(), count, length, out.data(), stream());
  check_launch("normalize_runs kernel");
  return out;
}

}  // namespace fcam::cuda

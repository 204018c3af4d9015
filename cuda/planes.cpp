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

Tensor<float> class_weighted_channel_sum(const Tensor<float>& features, const Tensor<float>& fc_weight,
                                         const ClassIndices& classes, int rule, bool relu) {
  const std::int64_t n = features.size(0), c = features.size(1), h = features.size(2), w = features.size(3);
  auto maps = Tensor<float>::uninitialized({n, h, w}, Device::cuda);
  if (maps.numel() == 0) return maps;
  const std::int32_t* device_classes = classes.device_data();
  std::optional<Storage<std::int32_t>> uploaded;  // host classes, staged
  if (classes.device() == Device::cpu) {
    const std::vector<std::int32_t> indices(classes.host().begin(), classes.host().end());
    uploaded.emplace(indices.size(), Device::cuda, false);
    copy_host_to_device_staged(uploaded->data(), indices.data(), indices.size() * sizeof(std::int32_t));
    device_classes = uploaded->data();
  }
  std::optional<Storage<double>> sums;  // Σ_ij A of each plane, for the rules that read it
  if (needs_plane_sums(static_cast<ClassWeight>(rule))) {
    sums.emplace(static_cast<std::size_t>(n * c), Device::cuda, false);
    launch::ordered_plane_sums(features.data(), n * c, h * w, sums->data(), stream());  // the CPU's bits
    check_launch("ordered_plane_sums kernel");
  }
  Storage<double> weights(static_cast<std::size_t>(n * c), Device::cuda, false);
  launch::class_channel_weights(fc_weight.data(), device_classes, sums ? sums->data() : nullptr, n, c, h * w, rule,
                                weights.data(), stream());
  check_launch("class_channel_weights kernel");
  launch::weighted_channel_sum(features.data(), weights.data(), n, c, h * w, relu, maps.data(), stream());
  check_launch("weighted_channel_sum kernel");
  return maps;
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

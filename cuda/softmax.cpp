// Tensor-level CUDA channel softmax and cross-entropy: allocate, launch, check; the
// cross-entropy's targets go to the device, and its loss total comes back to the host or, for
// the *_into forms, is added to a running sum on the device (core/loss_sums.hpp).
#include "fcam/cuda/ops/softmax.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "context.hpp"
#include "fcam/cuda/api.hpp"
#include "loss_terms_kernels.hpp"
#include "softmax_kernels.hpp"

namespace fcam::cuda {

Tensor<float> softmax_channels(const Tensor<float>& x, std::int64_t batch, std::int64_t channels, std::int64_t inner) {
  auto y = Tensor<float>::uninitialized(x.shape(), Device::cuda);
  launch::softmax_channels(x.data(), y.data(), batch, channels, inner, stream());
  check_launch("softmax_channels kernel");
  return y;
}

Tensor<float> softmax_channels_backward(const Tensor<float>& y, const Tensor<float>& grad_y, std::int64_t batch,
                                        std::int64_t channels, std::int64_t inner) {
  auto grad_x = Tensor<float>::uninitialized(y.shape(), Device::cuda);
  launch::softmax_channels_backward(y.data(), grad_y.data(), grad_x.data(), batch, channels, inner, stream());
  check_launch("softmax_channels_backward kernel");
  return grad_x;
}

namespace {

/// Launches the cross-entropy kernel and the sum of its partial losses: the total lands in
/// losses[blocks] (`losses` holds cross_entropy_blocks + 1 values). Returns the gradient.
Tensor<float> launch_cross_entropy(const Tensor<float>& logits, const std::vector<std::int64_t>& targets,
                                   std::int64_t ignore_index, float scale, std::int64_t batch, std::int64_t channels,
                                   std::int64_t inner, Storage<double>& losses) {
  auto grad = Tensor<float>::uninitialized(logits.shape(), Device::cuda);
  Storage<std::int64_t> device_targets(targets.size(), Device::cuda, false);
  copy_host_to_device_staged(device_targets.data(), targets.data(), targets.size() * sizeof(std::int64_t));
  const unsigned blocks = launch::cross_entropy_blocks(batch * inner);
  launch::cross_entropy(logits.data(), device_targets.data(), ignore_index, scale, grad.data(), losses.data(), batch,
                        channels, inner, stream());
  check_launch("cross_entropy kernel");
  launch::sum_partial_losses(losses.data(), blocks, losses.data() + blocks, stream());
  check_launch("cross_entropy loss sum kernel");
  return grad;
}

std::int64_t counted_targets(const std::vector<std::int64_t>& targets, std::int64_t ignore_index) {
  return std::count_if(targets.begin(), targets.end(), [&](std::int64_t t) { return t != ignore_index; });
}

/// The labelled cross-entropy kernel and the sum of its partial losses (total in losses[blocks]),
/// scaled by grad_scale, or by device_scale[0] when that is not null.
Tensor<float> launch_labelled_cross_entropy(const Tensor<float>& logits, const LabelMap& labels, double grad_scale,
                                            const double* device_scale, Storage<double>& losses) {
  auto grad = Tensor<float>::uninitialized(logits.shape(), Device::cuda);
  const std::int64_t batch = logits.size(0), plane = logits.size(2) * logits.size(3);
  const unsigned blocks = launch::cross_entropy_blocks(batch * plane);
  launch::labelled_cross_entropy(logits.data(), labels.data(), grad_scale, device_scale, grad.data(), losses.data(),
                                 batch, plane, stream());
  check_launch("labelled_cross_entropy kernel");
  launch::sum_partial_losses(losses.data(), blocks, losses.data() + blocks, stream());
  check_launch("labelled_cross_entropy loss sum kernel");
  return grad;
}

}  // namespace

Tensor<float> cross_entropy(const Tensor<float>& logits, const std::vector<std::int64_t>& targets,
                            std::int64_t ignore_index, std::int64_t batch, std::int64_t channels, std::int64_t inner,
                            float& loss, std::int64_t& count) {
  // The count is known from the host's targets, so the kernel can scale by 1/count as it goes.
  count = counted_targets(targets, ignore_index);
  loss = 0.0f;
  if (batch * inner == 0) return Tensor<float>::uninitialized(logits.shape(), Device::cuda);
  Storage<double> losses(launch::cross_entropy_blocks(batch * inner) + 1, Device::cuda, false);
  const float scale = count > 0 ? 1.0f / static_cast<float>(count) : 1.0f;  // the CPU's T(1) / T(count)
  Tensor<float> grad = launch_cross_entropy(logits, targets, ignore_index, scale, batch, channels, inner, losses);
  if (count == 0) return grad;  // every target ignored: loss 0 (PyTorch would give NaN)
  double total = 0;
  copy_device_to_host(&total, losses.data() + losses.size() - 1, sizeof total);
  loss = static_cast<float>(total / static_cast<double>(count));
  return grad;
}

Tensor<float> cross_entropy_into(const Tensor<float>& logits, const std::vector<std::int64_t>& targets,
                                 std::int64_t ignore_index, std::int64_t batch, std::int64_t channels,
                                 std::int64_t inner, double* slot) {
  const std::int64_t count = counted_targets(targets, ignore_index);
  if (batch * inner == 0) return Tensor<float>::uninitialized(logits.shape(), Device::cuda);
  Storage<double> losses(launch::cross_entropy_blocks(batch * inner) + 1, Device::cuda, false);
  const float scale = count > 0 ? 1.0f / static_cast<float>(count) : 1.0f;
  Tensor<float> grad = launch_cross_entropy(logits, targets, ignore_index, scale, batch, channels, inner, losses);
  if (count > 0) {
    launch::add_sum(losses.data() + losses.size() - 1, 1, 1.0, nullptr, static_cast<double>(count), slot, stream());
    check_launch("cross_entropy loss slot kernel");
  }
  return grad;
}

double labelled_cross_entropy(const Tensor<float>& logits, const LabelMap& labels, double grad_scale,
                              Tensor<float>& grad) {
  if (logits.numel() == 0) {
    grad = Tensor<float>::uninitialized(logits.shape(), Device::cuda);
    return 0.0;
  }
  Storage<double> losses(launch::cross_entropy_blocks(logits.size(0) * logits.size(2) * logits.size(3)) + 1,
                         Device::cuda, false);
  grad = launch_labelled_cross_entropy(logits, labels, grad_scale, nullptr, losses);
  double total = 0;
  copy_device_to_host(&total, losses.data() + losses.size() - 1, sizeof total);
  return total;
}

Tensor<float> labelled_cross_entropy_into(const Tensor<float>& logits, const LabelMap& labels, double weight,
                                          double* slot) {
  if (logits.numel() == 0) return Tensor<float>::uninitialized(logits.shape(), Device::cuda);
  Storage<double> losses(launch::cross_entropy_blocks(logits.size(0) * logits.size(2) * logits.size(3)) + 1,
                         Device::cuda, false);
  // The scale weight / count: from the sampler's counts on the GPU, or from the host's count.
  Storage<double> device_scale(labels.device_counts() ? 1 : 0, Device::cuda, false);
  double scale = 0;
  if (const Storage<std::int64_t>* counts = labels.device_counts()) {
    launch::label_scale(counts->data(), static_cast<std::int64_t>(counts->size()), weight, device_scale.data(),
                        stream());
    check_launch("labelled_cross_entropy scale kernel");
  } else {
    const std::int64_t labelled = labels.labelled();
    scale = labelled > 0 ? weight / static_cast<double>(labelled) : 0.0;
  }
  Tensor<float> grad = launch_labelled_cross_entropy(logits, labels, scale, device_scale.data(), losses);
  launch::add_sum(losses.data() + losses.size() - 1, 1, scale, device_scale.data(), 1.0, slot, stream());
  check_launch("labelled_cross_entropy loss slot kernel");
  return grad;
}

}  // namespace fcam::cuda

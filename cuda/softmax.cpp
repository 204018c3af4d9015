// Tensor-level CUDA channel softmax and cross-entropy: allocate, launch, check; the
// cross-entropy's targets go to the device and its loss total comes back to the host.
#include "fcam/cuda/ops/softmax.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "context.hpp"
#include "fcam/cuda/api.hpp"
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

Tensor<float> cross_entropy(const Tensor<float>& logits, const std::vector<std::int64_t>& targets,
                            std::int64_t ignore_index, std::int64_t batch, std::int64_t channels, std::int64_t inner,
                            float& loss, std::int64_t& count) {
  // The count is known from the host's targets, so the kernel can scale by 1/count as it goes.
  count = std::count_if(targets.begin(), targets.end(), [&](std::int64_t t) { return t != ignore_index; });
  loss = 0.0f;
  auto grad = Tensor<float>::uninitialized(logits.shape(), Device::cuda);
  const std::int64_t positions = batch * inner;
  if (positions == 0) return grad;

  Storage<std::int64_t> device_targets(targets.size(), Device::cuda, false);
  copy_host_to_device(device_targets.data(), targets.data(), targets.size() * sizeof(std::int64_t));
  const unsigned blocks = launch::cross_entropy_blocks(positions);
  Storage<double> losses(blocks + 1, Device::cuda, false);  // one partial sum per block, then the total
  const float scale = count > 0 ? 1.0f / static_cast<float>(count) : 1.0f;  // the CPU's T(1) / T(count)
  launch::cross_entropy(logits.data(), device_targets.data(), ignore_index, scale, grad.data(), losses.data(), batch,
                        channels, inner, stream());
  check_launch("cross_entropy kernel");
  if (count == 0) return grad;  // every target ignored: loss 0 (PyTorch would give NaN)

  launch::sum_partial_losses(losses.data(), blocks, losses.data() + blocks, stream());
  check_launch("cross_entropy loss sum kernel");
  double total = 0;
  copy_device_to_host(&total, losses.data() + blocks, sizeof total);
  loss = static_cast<float>(total / static_cast<double>(count));
  return grad;
}


double labelled_cross_entropy(const Tensor<float>& logits, const LabelMap& labels, double grad_scale,
                              Tensor<float>& grad) {
  grad = Tensor<float>::uninitialized(logits.shape(), Device::cuda);
  const std::int64_t batch = logits.size(0), plane = logits.size(2) * logits.size(3);
  if (batch * plane == 0) return 0.0;
  const unsigned blocks = launch::cross_entropy_blocks(batch * plane);
  Storage<double> losses(blocks + 1, Device::cuda, false);  // one partial sum per block, then the total
  launch::labelled_cross_entropy(logits.data(), labels.data(), grad_scale, grad.data(), losses.data(), batch,
                                 plane, stream());
  check_launch("labelled_cross_entropy kernel");
  launch::sum_partial_losses(losses.data(), blocks, losses.data() + blocks, stream());
  check_launch("labelled_cross_entropy loss sum kernel");
  double total = 0;
  copy_device_to_host(&total, losses.data() + blocks, sizeof total);
  return total;
}

}  // namespace fcam::cuda

// Tensor-level loss terms added to running sums on the device: the reductions of reduce.cu, then
// the one-thread kernels of loss_terms.cu; nothing is copied back.
#include "fcam/cuda/ops/loss_terms.hpp"

#include "context.hpp"
#include "fcam/core/storage.hpp"
#include "fcam/cuda/api.hpp"
#include "loss_terms_kernels.hpp"
#include "planes_kernels.hpp"
#include "reduce_kernels.hpp"

namespace fcam::cuda {

void add_run_dots(const Tensor<float>& a, const Tensor<float>& b, std::int64_t count, std::int64_t length,
                  double factor, double* slot) {
  if (count == 0) return;
  Storage<double> dots(static_cast<std::size_t>(count), Device::cuda, false);
  launch::run_sums(a.data(), b.data(), count, length, dots.data(), stream());
  check_launch("item_dots kernel");
  launch::add_sum(dots.data(), count, factor, nullptr, 1.0, slot, stream());
  check_launch("loss slot kernel");
}

Tensor<float> size_loss_into(const Tensor<float>& probs, double t, double scale, double* slot) {
  auto grad = Tensor<float>::uninitialized(probs.shape(), Device::cuda);
  const std::int64_t planes = probs.size(0) * probs.size(1), plane = probs.size(2) * probs.size(3);
  if (planes == 0) return grad;
  Storage<double> sizes(static_cast<std::size_t>(planes), Device::cuda, false);
  Storage<float> slopes(static_cast<std::size_t>(planes), Device::cuda, false);
  launch::run_sums(probs.data(), nullptr, planes, plane, sizes.data(), stream());
  check_launch("plane_sums kernel");
  launch::size_barrier(sizes.data(), planes, t, scale, slopes.data(), slot, stream());
  check_launch("size loss barrier kernel");
  if (grad.numel() > 0) {
    launch::fill_runs(slopes.data(), plane, grad.numel(), grad.data(), stream());
    check_launch("fill_runs kernel");
  }
  return grad;
}

}  // namespace fcam::cuda

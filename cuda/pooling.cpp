// Tensor-level CUDA pooling: output shapes and geometry from Pool2dGeometry, then the launchers of
// pooling.cu. The argmax table stays in device memory, and the backward gathers over each input's
// windows; host indices given to the backward are copied there first and sorted.
#include "fcam/cuda/ops/pooling.hpp"

#include <cstdint>
#include <limits>
#include <vector>

#include "context.hpp"
#include "fcam/core/error.hpp"
#include "fcam/core/storage.hpp"
#include "fcam/cuda/api.hpp"
#include "fcam/ops/pool2d_geometry.hpp"
#include "pooling_kernels.hpp"

namespace fcam::cuda {

namespace {

launch::PoolShape pool_shape(const Shape& input_shape, const Pool2dGeometry& g) {
  return {input_shape[0] * input_shape[1], input_shape[2], input_shape[3], g.out_size(input_shape[2]),
          g.out_size(input_shape[3]), g.kernel, g.step(), g.padding, g.count_include_pad};
}

}  // namespace

Tensor<float> max_pool2d(const Tensor<float>& x, const Pool2dGeometry& g, std::int32_t* argmax) {
  const launch::PoolShape s = pool_shape(x.shape(), g);
  auto y = Tensor<float>::uninitialized({x.size(0), x.size(1), s.oh, s.ow}, Device::cuda);
  launch::max_pool2d(x.data(), y.data(), argmax, s, stream());
  check_launch("max_pool2d kernel");
  return y;
}

Tensor<float> max_pool2d_backward(const Shape& input_shape, const std::int32_t* argmax, const Pool2dGeometry& g,
                                  const Tensor<float>& grad_y) {
  auto grad_x = Tensor<float>::uninitialized(input_shape, Device::cuda);  // every element written
  if (grad_x.numel() == 0) return grad_x;
  launch::max_pool2d_backward_of_windows(argmax, grad_y.data(), grad_x.data(), pool_shape(input_shape, g), stream());
  check_launch("max_pool2d_backward kernel");
  return grad_x;
}

Tensor<float> max_pool2d_backward(const Shape& input_shape, const std::vector<std::int64_t>& argmax,
                                  const Tensor<float>& grad_y) {
  FCAM_CHECK(input_shape[2] * input_shape[3] <= std::numeric_limits<std::int32_t>::max(),
             "max_pool2d_backward: input planes of ", input_shape[2] * input_shape[3],
             " pixels exceed the GPU's 32-bit argmax");
  Tensor<float> grad_x(input_shape, Device::cuda);  // zeros where no maximum was
  const std::int64_t n = grad_y.numel();
  if (n == 0) return grad_x;
  const std::vector<std::int32_t> narrow(argmax.begin(), argmax.end());  // each below the plane's size
  Storage<std::int32_t> indices(narrow.size(), Device::cuda, false);
  copy_host_to_device(indices.data(), narrow.data(), narrow.size() * sizeof(std::int32_t));
  // Any index of the plane may come from the host, not only one of its output's window: sorted.
  const std::int64_t planes = input_shape[0] * input_shape[1], in_plane = input_shape[2] * input_shape[3];
  const std::size_t workspace_bytes = launch::max_pool2d_backward_workspace(n, planes * in_plane);
  Storage<std::byte> workspace(workspace_bytes, Device::cuda, false);
  check(launch::max_pool2d_backward(indices.data(), grad_y.data(), grad_x.data(), planes, in_plane,
                                    grad_y.size(2) * grad_y.size(3), workspace.data(), workspace_bytes, stream()),
        "max_pool2d_backward sort");
  check_launch("max_pool2d_backward kernels");
  return grad_x;
}

Tensor<float> avg_pool2d(const Tensor<float>& x, const Pool2dGeometry& g) {
  const launch::PoolShape s = pool_shape(x.shape(), g);
  auto y = Tensor<float>::uninitialized({x.size(0), x.size(1), s.oh, s.ow}, Device::cuda);
  launch::avg_pool2d(x.data(), y.data(), s, stream());
  check_launch("avg_pool2d kernel");
  return y;
}

Tensor<float> avg_pool2d_backward(const Shape& input_shape, const Pool2dGeometry& g, const Tensor<float>& grad_y) {
  auto grad_x = Tensor<float>::uninitialized(input_shape, Device::cuda);
  launch::avg_pool2d_backward(grad_y.data(), grad_x.data(), pool_shape(input_shape, g), stream());
  check_launch("avg_pool2d_backward kernel");
  return grad_x;
}

Tensor<float> global_avg_pool(const Tensor<float>& x) {
  auto y = Tensor<float>::uninitialized({x.size(0), x.size(1)}, Device::cuda);
  launch::global_avg_pool(x.data(), y.data(), y.numel(), x.size(2) * x.size(3), stream());
  check_launch("global_avg_pool kernel");
  return y;
}

Tensor<float> global_avg_pool_backward(const Shape& input_shape, const Tensor<float>& grad_y) {
  auto grad_x = Tensor<float>::uninitialized(input_shape, Device::cuda);
  launch::global_avg_pool_backward(grad_y.data(), grad_x.data(), grad_y.numel(), input_shape[2] * input_shape[3],
                                   stream());
  check_launch("global_avg_pool_backward kernel");
  return grad_x;
}

}  // namespace fcam::cuda

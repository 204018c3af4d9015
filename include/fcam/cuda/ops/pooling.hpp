/// \file
/// \brief CUDA kernels of the pooling ops (ops/pooling.hpp): max, average and global-average
/// pooling and their gradients, float tensors.
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"

namespace fcam {
struct Pool2dGeometry;  // ops/pool2d_geometry.hpp; cuda/ stays below ops/ in the include graph
}  // namespace fcam

namespace fcam::cuda {

/// Max pooling of x (N×C×H×W) with the CPU's rules (padding −∞, first maximum in scan order,
/// NaN wins); writes each maximum's flat in-plane index to `argmax` (device memory, one per
/// output; planes below 2^31 pixels, MaxPoolArgmax::on_device checks) when not null.
Tensor<float> max_pool2d(const Tensor<float>& x, const Pool2dGeometry& g, std::int32_t* argmax);
/// Gradient of max_pool2d of geometry `g`, from the `argmax` it wrote (device memory): each input
/// position sums, in output order, the gradients of the outputs whose argmax points at it, found
/// among the windows that contain it (no sort, no workspace).
Tensor<float> max_pool2d_backward(const Shape& input_shape, const std::int32_t* argmax, const Pool2dGeometry& g,
                                  const Tensor<float>& grad_y);
/// max_pool2d_backward of host indices, each anywhere below the input plane's size: copied to the
/// device as 32-bit indices and sorted by target, then each run summed in output order.
Tensor<float> max_pool2d_backward(const Shape& input_shape, const std::vector<std::int64_t>& argmax,
                                  const Tensor<float>& grad_y);
/// Average pooling of x (N×C×H×W), PyTorch's divisor rules.
Tensor<float> avg_pool2d(const Tensor<float>& x, const Pool2dGeometry& g);
/// Gradient of avg_pool2d for an input of `input_shape`.
Tensor<float> avg_pool2d_backward(const Shape& input_shape, const Pool2dGeometry& g, const Tensor<float>& grad_y);
/// Mean over H and W: N×C×H×W → N×C.
Tensor<float> global_avg_pool(const Tensor<float>& x);
/// Gradient of global_avg_pool: each input gets grad / (H·W).
Tensor<float> global_avg_pool_backward(const Shape& input_shape, const Tensor<float>& grad_y);

}  // namespace fcam::cuda

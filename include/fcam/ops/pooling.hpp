/// \file
/// \brief Max, average and global-average 2-D pooling with PyTorch's output sizes, and their gradients.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fcam/core/max_pool_argmax.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/pooling.hpp"
#include "fcam/ops/dispatch.hpp"
#include "fcam/ops/pool2d_geometry.hpp"

namespace fcam {

/// Result of a max pooling: the output and, per output, the flat index (h·W + w) of its maximum.
template <Scalar T>
struct MaxPoolResult {
  Tensor<T> output;      ///< N×C×H'×W'
  MaxPoolArgmax argmax;  ///< one index per output element, on the output's device (empty when not asked for)
};

namespace detail {
/// Throws fcam::Error naming `what` unless the input shape a backward op is given is N×C×H×W.
inline void check_pool_input_shape(const Shape& input_shape, const char* what) {
  FCAM_CHECK(input_shape.size() == 4, what, ": expects an N×C×H×W input shape, got ", to_string(input_shape));
}
/// N×C×H'×W' for an N×C×H×W input; throws on an invalid geometry or an empty output.
inline Shape pool_output_shape(const Shape& input_shape, const Pool2dGeometry& g) {
  return {input_shape[0], input_shape[1], g.out_size(input_shape[2]), g.out_size(input_shape[3])};
}
}  // namespace detail

/// Max pooling (padding counts as −∞; the first maximum in scan order wins, as in PyTorch; NaN
/// wins). The argmax indices backward needs are only computed `with_argmax`.
template <Scalar T>
MaxPoolResult<T> max_pool2d(const Tensor<T>& x, const Pool2dGeometry& g, bool with_argmax = true) {
  const Device device = operand_device("max_pool2d", x);
  check_rank(x, 4, "max_pool2d input");
  detail::pool_output_shape(x.shape(), g);  // throws on an invalid geometry or an empty output
  MaxPoolResult<T> r;
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      if (with_argmax)
        r.argmax = MaxPoolArgmax::on_device(numel_of(detail::pool_output_shape(x.shape(), g)), x.size(2) * x.size(3),
                                            {g.kernel, g.step(), g.padding, g.ceil_mode});
      r.output = cuda::max_pool2d(x, g, r.argmax.device_data());
    } else {
      cuda::unavailable_for<T>("max_pool2d");
    }
  } else {
    std::vector<std::int64_t> argmax;
    r.output = cpu::max_pool2d(x, g, with_argmax ? &argmax : nullptr);
    r.argmax = MaxPoolArgmax(std::move(argmax));
  }
  return r;
}

/// Gradient of max_pool2d: each output gradient goes to its maximum's position.
template <Scalar T>
Tensor<T> max_pool2d_backward(const Shape& input_shape, const std::vector<std::int64_t>& argmax,
                              const Tensor<T>& grad_y) {
  const Device device = operand_device("max_pool2d_backward", grad_y);
  detail::check_pool_input_shape(input_shape, "max_pool2d_backward");
  FCAM_CHECK(grad_y.ndim() == 4 && grad_y.size(0) == input_shape[0] && grad_y.size(1) == input_shape[1] &&
                 static_cast<std::int64_t>(argmax.size()) == grad_y.numel(),
             "max_pool2d_backward: gradient shape ", to_string(grad_y.shape()), " does not match the forward output");
  const std::int64_t in_plane = input_shape[2] * input_shape[3];
  for (std::size_t i = 0; i < argmax.size(); ++i)  // the kernel adds at these positions
    FCAM_CHECK(argmax[i] >= 0 && argmax[i] < in_plane, "max_pool2d_backward: argmax ", argmax[i], " at ", i,
               " is outside the ", input_shape[2], "x", input_shape[3], " input plane");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::max_pool2d_backward(input_shape, argmax, grad_y);
    else cuda::unavailable_for<T>("max_pool2d_backward");
  }
  return cpu::max_pool2d_backward(input_shape, argmax, grad_y);
}

/// max_pool2d_backward of the argmax that max_pool2d returned, read where it lives: host indices
/// are checked as above; device indices (a GPU pooling's) must come from an input plane of this
/// size and stay on the device.
template <Scalar T>
Tensor<T> max_pool2d_backward(const Shape& input_shape, const MaxPoolArgmax& argmax, const Tensor<T>& grad_y) {
  if (argmax.device() == Device::cpu) return max_pool2d_backward(input_shape, argmax.host(), grad_y);
  const Device device = operand_device("max_pool2d_backward", grad_y);
  detail::check_pool_input_shape(input_shape, "max_pool2d_backward");
  FCAM_CHECK(device == Device::cuda, "max_pool2d_backward: argmax on cuda, gradient on ", to_string(device));
  FCAM_CHECK(grad_y.ndim() == 4 && grad_y.size(0) == input_shape[0] && grad_y.size(1) == input_shape[1] &&
                 argmax.size() == grad_y.numel(),
             "max_pool2d_backward: gradient shape ", to_string(grad_y.shape()), " does not match the forward output");
  FCAM_CHECK(argmax.in_plane() == input_shape[2] * input_shape[3], "max_pool2d_backward: the argmax is of ",
             argmax.in_plane(), "-pixel planes, the input shape ", to_string(input_shape), " is not");
  FCAM_CHECK(argmax.in_plane() > 0 || argmax.empty(), "max_pool2d_backward: the argmax points into the empty ",
             input_shape[2], "x", input_shape[3], " input plane");
  const MaxPoolArgmax::Window& w = argmax.window();
  const Pool2dGeometry g{w.kernel, w.stride, w.padding, w.ceil_mode};
  FCAM_CHECK(grad_y.size(2) == g.out_size(input_shape[2]) && grad_y.size(3) == g.out_size(input_shape[3]),
             "max_pool2d_backward: gradient shape ", to_string(grad_y.shape()), " does not match the forward output");
  if constexpr (cuda::has_kernels<T>) return cuda::max_pool2d_backward(input_shape, argmax.device_data(), g, grad_y);
  else cuda::unavailable_for<T>("max_pool2d_backward");
}

/// Average pooling (count_include_pad chooses the divisor as in PyTorch).
template <Scalar T>
Tensor<T> avg_pool2d(const Tensor<T>& x, const Pool2dGeometry& g) {
  const Device device = operand_device("avg_pool2d", x);
  check_rank(x, 4, "avg_pool2d input");
  detail::pool_output_shape(x.shape(), g);  // throws on an invalid geometry or an empty output
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::avg_pool2d(x, g);
    else cuda::unavailable_for<T>("avg_pool2d");
  }
  return cpu::avg_pool2d(x, g);
}

/// Gradient of avg_pool2d.
template <Scalar T>
Tensor<T> avg_pool2d_backward(const Shape& input_shape, const Pool2dGeometry& g, const Tensor<T>& grad_y) {
  const Device device = operand_device("avg_pool2d_backward", grad_y);
  detail::check_pool_input_shape(input_shape, "avg_pool2d_backward");
  const Shape expected = detail::pool_output_shape(input_shape, g);
  FCAM_CHECK(grad_y.shape() == expected, "avg_pool2d_backward: gradient shape ", to_string(grad_y.shape()),
             ", expected ", to_string(expected));
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::avg_pool2d_backward(input_shape, g, grad_y);
    else cuda::unavailable_for<T>("avg_pool2d_backward");
  }
  return cpu::avg_pool2d_backward(input_shape, g, grad_y);
}

/// Mean over H and W: N×C×H×W → N×C.
template <Scalar T>
Tensor<T> global_avg_pool(const Tensor<T>& x) {
  const Device device = operand_device("global_avg_pool", x);
  check_rank(x, 4, "global_avg_pool input");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::global_avg_pool(x);
    else cuda::unavailable_for<T>("global_avg_pool");
  }
  return cpu::global_avg_pool(x);
}

/// Gradient of global_avg_pool: each input gets grad / (H·W).
template <Scalar T>
Tensor<T> global_avg_pool_backward(const Shape& input_shape, const Tensor<T>& grad_y) {
  const Device device = operand_device("global_avg_pool_backward", grad_y);
  detail::check_pool_input_shape(input_shape, "global_avg_pool_backward");
  FCAM_CHECK(grad_y.shape() == Shape({input_shape[0], input_shape[1]}), "global_avg_pool_backward: gradient shape ",
             to_string(grad_y.shape()), " does not match input ", to_string(input_shape));
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::global_avg_pool_backward(input_shape, grad_y);
    else cuda::unavailable_for<T>("global_avg_pool_backward");
  }
  return cpu::global_avg_pool_backward(input_shape, grad_y);
}

}  // namespace fcam

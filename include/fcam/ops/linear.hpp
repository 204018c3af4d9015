/// \file
/// \brief Fully connected layer y = x·Wᵀ + b and its gradients (Eigen products).
#pragma once

#include <type_traits>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/linear.hpp"
#include "fcam/ops/dispatch.hpp"

namespace fcam {

namespace detail {
/// The shapes both directions need: x N×in and weight out×in.
template <Scalar T>
void check_linear_args(const Tensor<T>& x, const Tensor<T>& weight, const char* input, const char* weight_name,
                       const char* what) {
  check_rank(x, 2, input);
  check_rank(weight, 2, weight_name);
  FCAM_CHECK(x.size(1) == weight.size(1), what, ": input has ", x.size(1), " features but the weight expects ",
             weight.size(1), " (weight shape ", to_string(weight.shape()), ")");
}
}  // namespace detail

/// x: N×in, weight: out×in, bias: out or undefined → N×out.
template <Scalar T>
Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias) {
  const Device device = operand_device<T>("linear", {&x, &weight}, {if_defined(bias)});
  detail::check_linear_args(x, weight, "linear input", "linear weight", "linear");
  if (bias.defined())
    FCAM_CHECK(bias.ndim() == 1 && bias.size(0) == weight.size(0), "linear: bias shape ", to_string(bias.shape()),
               " does not match ", weight.size(0), " outputs");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::linear(x, weight, bias);
    else cuda::unavailable_for<T>("linear");
  }
  return cpu::linear(x, weight, bias);
}

/// Gradient of linear: returns dL/dx and adds dL/dweight, dL/dbias (when non-null).
template <Scalar T>
Tensor<T> linear_backward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& grad_y,
                          std::type_identity_t<Tensor<T>>* grad_weight,
                          std::type_identity_t<Tensor<T>>* grad_bias) {
  const Device device = operand_device<T>("linear_backward", {&x, &weight, &grad_y}, {grad_weight, grad_bias});
  detail::check_linear_args(x, weight, "linear_backward input", "linear_backward weight", "linear_backward");
  FCAM_CHECK(grad_y.shape() == Shape({x.size(0), weight.size(0)}), "linear_backward: gradient shape ",
             to_string(grad_y.shape()), " does not match the output");
  FCAM_CHECK(grad_weight == nullptr || grad_weight->shape() == weight.shape(), "linear_backward: weight gradient ",
             to_string(grad_weight->shape()), " differs from the weight ", to_string(weight.shape()));
  FCAM_CHECK(grad_bias == nullptr || grad_bias->numel() == weight.size(0), "linear_backward: bias gradient of ",
             grad_bias->numel(), " values for ", weight.size(0), " outputs");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::linear_backward(x, weight, grad_y, grad_weight, grad_bias);
    else cuda::unavailable_for<T>("linear_backward");
  }
  return cpu::linear_backward(x, weight, grad_y, grad_weight, grad_bias);
}

}  // namespace fcam

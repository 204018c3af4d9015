/// \file
/// \brief Element-wise ops and their gradients: ReLU, ReLU6, add, multiply by a mask.
#pragma once

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/elementwise.hpp"
#include "fcam/ops/dispatch.hpp"

namespace fcam {

/// max(x, 0).
template <Scalar T>
Tensor<T> relu(const Tensor<T>& x) {
  if (operand_device("relu", x) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::relu(x);
    else cuda::unavailable_for<T>("relu");
  }
  return cpu::relu(x);
}

/// Gradient of relu from its output `y`: dy where y > 0, else 0 (PyTorch's convention at 0).
template <Scalar T>
Tensor<T> relu_backward(const Tensor<T>& y, const Tensor<T>& grad_y) {
  const Device device = operand_device("relu_backward", {&y, &grad_y});
  check_same_shape(y, grad_y, "relu_backward");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::relu_backward(y, grad_y);
    else cuda::unavailable_for<T>("relu_backward");
  }
  return cpu::relu_backward(y, grad_y);
}

/// min(max(x, 0), 6).
template <Scalar T>
Tensor<T> relu6(const Tensor<T>& x) {
  if (operand_device("relu6", x) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::relu6(x);
    else cuda::unavailable_for<T>("relu6");
  }
  return cpu::relu6(x);
}

/// Gradient of relu6 from its input `x`: dy where 0 < x < 6 (PyTorch's hardtanh rule), else 0.
template <Scalar T>
Tensor<T> relu6_backward(const Tensor<T>& x, const Tensor<T>& grad_y) {
  const Device device = operand_device("relu6_backward", {&x, &grad_y});
  check_same_shape(x, grad_y, "relu6_backward");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::relu6_backward(x, grad_y);
    else cuda::unavailable_for<T>("relu6_backward");
  }
  return cpu::relu6_backward(x, grad_y);
}

/// a + b (same shapes). Its gradient is the output gradient for both inputs.
template <Scalar T>
Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) {
  const Device device = operand_device("add", {&a, &b});
  check_same_shape(a, b, "add");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::add(a, b);
    else cuda::unavailable_for<T>("add");
  }
  return cpu::add(a, b);
}

/// x * m (same shapes), used by dropout with a scaled keep mask.
template <Scalar T>
Tensor<T> multiply(const Tensor<T>& x, const Tensor<T>& m) {
  const Device device = operand_device("multiply", {&x, &m});
  check_same_shape(x, m, "multiply");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::multiply(x, m);
    else cuda::unavailable_for<T>("multiply");
  }
  return cpu::multiply(x, m);
}

}  // namespace fcam

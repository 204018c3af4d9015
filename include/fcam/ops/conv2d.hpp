/// \file
/// \brief conv2d and conv2d_backward on tensors: shape checks, then the kernel of the tensor's device.
#pragma once

#include <type_traits>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/conv2d_geometry.hpp"
#include "fcam/ops/cpu/conv2d.hpp"

namespace fcam {

/// Throws fcam::Error unless x (N×C×H×W), weight (O×C/groups×kh×kw) and bias (O or undefined) fit `g`.
template <Scalar T>
void check_conv2d_args(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias, const Conv2dGeometry& g) {
  g.validate();
  check_rank(x, 4, "conv2d input");
  check_rank(weight, 4, "conv2d weight");
  const std::int64_t c_in = x.size(1), c_out = weight.size(0);
  FCAM_CHECK(c_in % g.groups == 0 && c_out % g.groups == 0, "conv2d: channels in (", c_in, ") and out (", c_out,
             ") must be divisible by groups (", g.groups, ")");
  FCAM_CHECK(weight.size(1) == c_in / g.groups && weight.size(2) == g.kernel_h && weight.size(3) == g.kernel_w,
             "conv2d: weight shape ", to_string(weight.shape()), " does not match input channels ", c_in, ", groups ",
             g.groups, " and kernel ", g.kernel_h, "x", g.kernel_w, " (input shape ", to_string(x.shape()), ")");
  if (bias.defined())
    FCAM_CHECK(bias.ndim() == 1 && bias.size(0) == c_out, "conv2d: bias shape ", to_string(bias.shape()),
               " does not match ", c_out, " output channels");
  FCAM_CHECK(x.device() == weight.device(), "conv2d: input and weight are on different devices");
}

/// Convolution forward. Returns N×O×H'×W' (PyTorch's output-size rule).
template <Scalar T>
Tensor<T> conv2d(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias, const Conv2dGeometry& g) {
  check_conv2d_args(x, weight, bias, g);
  x.require_cpu("conv2d");
  auto y = Tensor<T>::uninitialized({x.size(0), weight.size(0), g.out_h(x.size(2)), g.out_w(x.size(3))});
  cpu::conv2d_forward(x, weight, bias, g, y);
  return y;
}

/// Inference convolution: y = epilogue(conv(x, W)) in one pass over y, with W packed once by
/// cpu::pack_conv_weights (see cpu::ConvEpilogue: per-channel scale and shift, residual, ReLU).
/// `residual`, when defined, must have the output's shape; it replaces epilogue.residual.
template <Scalar T>
Tensor<T> conv2d_packed(const Tensor<T>& x, const cpu::PackedConvWeights<T>& w, const Conv2dGeometry& g,
                        cpu::ConvEpilogue<T> epilogue, const Tensor<T>& residual = Tensor<T>()) {
  g.validate();
  check_rank(x, 4, "conv2d input");
  x.require_cpu("conv2d");
  FCAM_CHECK(w.groups == g.groups && x.size(1) % g.groups == 0 &&
                 (x.size(1) / g.groups) * g.kernel_h * g.kernel_w == w.k,
             "conv2d: packed weights (", w.c_out, " outputs, depth ", w.k, ", groups ", w.groups,
             ") do not match input shape ", to_string(x.shape()), " and kernel ", g.kernel_h, "x", g.kernel_w);
  const Shape out{x.size(0), w.c_out, g.out_h(x.size(2)), g.out_w(x.size(3))};
  epilogue.residual = nullptr;
  if (residual.defined()) {
    FCAM_CHECK(residual.shape() == out, "conv2d: residual shape ", to_string(residual.shape()), " differs from the output ",
               to_string(out));
    epilogue.residual = residual.data();
  }
  auto y = Tensor<T>::uninitialized(out);
  cpu::conv2d_forward(x, w, g, epilogue, y);
  return y;
}

/// Convolution backward: returns dL/dx (undefined when `need_grad_x` is false) and adds dL/dweight,
/// dL/dbias into `grad_weight`, `grad_bias` when they are non-null.
template <Scalar T>
Tensor<T> conv2d_backward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& grad_y, const Conv2dGeometry& g,
                          bool need_grad_x, std::type_identity_t<Tensor<T>>* grad_weight,
                          std::type_identity_t<Tensor<T>>* grad_bias) {
  x.require_cpu("conv2d_backward");
  const Shape expected{x.size(0), weight.size(0), g.out_h(x.size(2)), g.out_w(x.size(3))};
  FCAM_CHECK(grad_y.shape() == expected, "conv2d_backward: gradient shape ", to_string(grad_y.shape()),
             " differs from the output shape ", to_string(expected));
  Tensor<T> grad_x;
  if (need_grad_x) grad_x = Tensor<T>(x.shape());
  cpu::conv2d_backward(x, weight, grad_y, g, need_grad_x ? &grad_x : nullptr, grad_weight, grad_bias);
  return grad_x;
}

}  // namespace fcam

/// \file
/// \brief conv2d and conv2d_backward on tensors: shape checks, then the kernel of the tensor's device.
#pragma once

#include <limits>
#include <tuple>
#include <type_traits>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/concat.hpp"
#include "fcam/ops/conv2d_geometry.hpp"
#include "fcam/ops/cpu/conv2d.hpp"
#include "fcam/ops/dispatch.hpp"

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
}

namespace detail {

/// conv2d, and conv2d_relu with `relu`: the checks (errors name `op`), then the kernel of the
/// operands' device.
template <Scalar T>
Tensor<T> conv2d_then(const char* op, const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                      const Conv2dGeometry& g, bool relu) {
  const Device device = operand_device<T>(op, {&x, &weight}, {if_defined(bias)});
  check_conv2d_args(x, weight, bias, g);
  const Shape out{x.size(0), weight.size(0), g.out_h(x.size(2)), g.out_w(x.size(3))};
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      Tensor<T> y = cuda::conv2d(x, weight, bias, g, out);
      if (relu) {
        const float no_cap = std::numeric_limits<float>::infinity();
        cuda::channel_epilogue(y, Tensor<T>(), Tensor<T>(), Tensor<T>(), true, no_cap);
      }
      return y;
    } else {
      cuda::unavailable_for<T>(op);
    }
  }
  return cpu::conv2d(x, weight, bias, g, out, relu);
}

}  // namespace detail

/// Convolution forward. Returns N×O×H'×W' (PyTorch's output-size rule).
template <Scalar T>
Tensor<T> conv2d(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias, const Conv2dGeometry& g) {
  return detail::conv2d_then("conv2d", x, weight, bias, g, false);
}

/// relu(conv2d(x, weight, bias)) in one pass: the CPU clamps each block of the output while the
/// GEMM still has it in cache (a training convolution followed by a ReLU, as in VGG16, saves a
/// pass over its output). The same values as conv2d then relu.
template <Scalar T>
Tensor<T> conv2d_relu(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias, const Conv2dGeometry& g) {
  return detail::conv2d_then("conv2d_relu", x, weight, bias, g, true);
}

/// What an inference convolution applies to output channel o while the values are still in
/// cache: y = v·scale[o] + shift[o] (+ residual), then ReLU when `relu` (clamped to
/// [0, relu_max]: 6 for ReLU6). Tensors, not pointers, so the description is the same whatever
/// device runs it; undefined scale = 1, shift = 0.
template <Scalar T>
struct ConvEpilogue {
  Tensor<T> scale;    ///< per output channel, or undefined
  Tensor<T> shift;    ///< per output channel, or undefined
  bool relu = false;  ///< clamp at zero last
  T relu_max = std::numeric_limits<T>::infinity();  ///< with relu, also clamp at this value
};

/// A convolution's weights prepared once for repeated inference on their device: an opaque
/// handle. The CPU packs the kernel matrix for its GEMM (build the handle again when the weights
/// change); CUDA keeps the weight tensor itself (cuDNN reads it in place).
template <Scalar T>
class PreparedConvWeights {
public:
  /// Prepares `weight` (O×C/groups×kh×kw) for convolutions with `groups` groups.
  PreparedConvWeights(const Tensor<T>& weight, std::int64_t groups) : groups_(groups) {
    const Device device = operand_device("PreparedConvWeights", weight);
    check_rank(weight, 4, "PreparedConvWeights weight");
    FCAM_CHECK(groups >= 1 && weight.size(0) % groups == 0, "PreparedConvWeights: ", weight.size(0),
               " output channels do not split into ", groups, " groups");
    out_channels_ = weight.size(0);
    depth_ = weight.size(1) * weight.size(2) * weight.size(3);
    if (device == Device::cuda) {
      if constexpr (!cuda::has_kernels<T>) cuda::unavailable_for<T>("PreparedConvWeights");
      weight_ = weight;
      return;
    }
    packed_ = cpu::pack_conv_weights(weight, groups);
  }
  /// Output channels.
  std::int64_t out_channels() const { return out_channels_; }
  /// Convolution groups.
  std::int64_t groups() const { return groups_; }
  /// Values per output channel and group: C/groups·kh·kw.
  std::int64_t depth() const { return depth_; }
  /// Where the weights live.
  Device device() const { return weight_.defined() ? Device::cuda : Device::cpu; }
  /// The CPU representation (for the ops of this file).
  const cpu::PackedConvWeights<T>& cpu_packed() const { return packed_; }
  /// The CUDA representation: the weight tensor (for the ops of this file).
  const Tensor<T>& cuda_weight() const { return weight_; }

private:
  cpu::PackedConvWeights<T> packed_;
  Tensor<T> weight_;
  std::int64_t groups_ = 1, out_channels_ = 0, depth_ = 0;
};

/// Inference convolution: y = epilogue(conv(x, W)) in one pass over y with W prepared once.
/// `residual`, when defined, must have the output's shape; scale and shift have one value per
/// output channel. Every tensor lives on x's device.
template <Scalar T>
Tensor<T> conv2d_prepared(const Tensor<T>& x, const PreparedConvWeights<T>& weights, const Conv2dGeometry& g,
                          const ConvEpilogue<T>& epilogue, const Tensor<T>& residual = Tensor<T>()) {
  const Device device = operand_device<T>("conv2d_prepared", {&x},
                                          {if_defined(epilogue.scale), if_defined(epilogue.shift), if_defined(residual)});
  FCAM_CHECK(weights.device() == device, "conv2d_prepared: operands on different devices (", to_string(device),
             " and ", to_string(weights.device()), "); move them with .to(...) first");
  g.validate();
  check_rank(x, 4, "conv2d input");
  const std::int64_t c_out = weights.out_channels();
  FCAM_CHECK(weights.groups() == g.groups && x.size(1) % g.groups == 0 &&
                 (x.size(1) / g.groups) * g.kernel_h * g.kernel_w == weights.depth(),
             "conv2d: packed weights (", c_out, " outputs, depth ", weights.depth(), ", groups ", weights.groups(),
             ") do not match input shape ", to_string(x.shape()), " and kernel ", g.kernel_h, "x", g.kernel_w);
  const Shape out{x.size(0), c_out, g.out_h(x.size(2)), g.out_w(x.size(3))};
  for (const auto& [t, name] : {std::tuple{&epilogue.scale, "scale"}, std::tuple{&epilogue.shift, "shift"}})
    FCAM_CHECK(!t->defined() || t->numel() == c_out, "conv2d: epilogue ", name, " has ", t->numel(), " values for ",
               c_out, " output channels");
  FCAM_CHECK(!residual.defined() || residual.shape() == out, "conv2d: residual shape ", to_string(residual.shape()),
             " differs from the output ", to_string(out));
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      // cuDNN's convolution, then one pass for scale, shift, residual and ReLU.
      Tensor<T> y = cuda::conv2d(x, weights.cuda_weight(), Tensor<T>(), g, out);
      cuda::channel_epilogue(y, epilogue.scale, epilogue.shift, residual, epilogue.relu,
                             static_cast<float>(epilogue.relu_max));
      return y;
    } else {
      cuda::unavailable_for<T>("conv2d_prepared");
    }
  }
  return cpu::conv2d_prepared(x, weights.cpu_packed(), g, epilogue.scale, epilogue.shift, residual, epilogue.relu,
                              epilogue.relu_max, out);
}

/// Convolution backward: returns dL/dx (undefined when `need_grad_x` is false) and adds dL/dweight,
/// dL/dbias into `grad_weight`, `grad_bias` when they are non-null. With `grad_x_channels` ≥ 0
/// (one group only), dL/dx of the first grad_x_channels input channels alone (N×that×H×W): the
/// CPU computes only those, CUDA slices them from the whole gradient.
template <Scalar T>
Tensor<T> conv2d_backward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& grad_y, const Conv2dGeometry& g,
                          bool need_grad_x, std::type_identity_t<Tensor<T>>* grad_weight,
                          std::type_identity_t<Tensor<T>>* grad_bias, std::int64_t grad_x_channels = -1) {
  const Device device = operand_device<T>("conv2d_backward", {&x, &weight, &grad_y}, {grad_weight, grad_bias});
  g.validate();  // as conv2d does
  check_rank(x, 4, "conv2d_backward input");
  check_rank(weight, 4, "conv2d_backward weight");
  FCAM_CHECK(x.size(1) == weight.size(1) * g.groups && weight.size(0) % g.groups == 0 && weight.size(2) == g.kernel_h &&
                 weight.size(3) == g.kernel_w,
             "conv2d_backward: weight ", to_string(weight.shape()), " does not fit input ", to_string(x.shape()),
             " with a ", g.kernel_h, "x", g.kernel_w, " kernel in ", g.groups, " groups");
  FCAM_CHECK(grad_weight == nullptr || grad_weight->shape() == weight.shape(), "conv2d_backward: weight gradient ",
             to_string(grad_weight->shape()), " differs from the weight ", to_string(weight.shape()));
  FCAM_CHECK(grad_bias == nullptr || grad_bias->numel() == weight.size(0), "conv2d_backward: bias gradient of ",
             grad_bias->numel(), " values for ", weight.size(0), " output channels");
  const Shape expected{x.size(0), weight.size(0), g.out_h(x.size(2)), g.out_w(x.size(3))};
  FCAM_CHECK(grad_y.shape() == expected, "conv2d_backward: gradient shape ", to_string(grad_y.shape()),
             " differs from the output shape ", to_string(expected));
  const bool all_channels = grad_x_channels < 0 || grad_x_channels == x.size(1);
  FCAM_CHECK(all_channels || (grad_x_channels <= x.size(1) && g.groups == 1), "conv2d_backward: the gradient of ",
             grad_x_channels, " of ", x.size(1), " input channels needs 0 <= channels <= input channels and one group, got ",
             g.groups, " groups");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      Tensor<T> grad_x = cuda::conv2d_backward(x, weight, grad_y, g, need_grad_x, grad_weight, grad_bias);
      if (all_channels || !need_grad_x) return grad_x;
      return split_channels(grad_x, {grad_x_channels, x.size(1) - grad_x_channels})[0];
    } else {
      cuda::unavailable_for<T>("conv2d_backward");
    }
  }
  return cpu::conv2d_backward(x, weight, grad_y, g, need_grad_x, grad_weight, grad_bias,
                              all_channels ? std::int64_t{-1} : grad_x_channels);
}

}  // namespace fcam

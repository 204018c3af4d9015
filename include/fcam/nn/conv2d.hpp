/// \file
/// \brief nn::Conv2d: 2-D convolution with stride, padding, dilation, groups and optional bias.
#pragma once

#include <cmath>
#include <optional>

#include "fcam/nn/module.hpp"
#include "fcam/ops/conv2d.hpp"

namespace fcam::nn {

/// PyTorch's Conv2d. Parameters "weight" (O×C/groups×kh×kw) and, with bias, "bias" (O).
/// Initialised like PyTorch: U(−1/√fan_in, 1/√fan_in) for both.
///
/// In inference (Module::inference()) the weights are packed for the GEMM once and the packed
/// copy is reused until the weight parameter's version changes or the mode changes (it costs
/// as much memory as the weights; times_packed() counts the packings); forward_fused() applies a BatchNorm / residual / ReLU
/// epilogue in the same pass (nn/fused.hpp).
template <Scalar T>
class Conv2d : public Module<T> {
public:
  /// in/out channels and geometry (validated: throws fcam::Error on invalid values).
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, Conv2dGeometry geometry, bool bias = true)
      : geometry_(geometry) {
    geometry_.validate();
    FCAM_CHECK(in_channels >= 1 && out_channels >= 1 && in_channels % geometry.groups == 0 &&
                   out_channels % geometry.groups == 0,
               "Conv2d: channels ", in_channels, " -> ", out_channels, " invalid for groups ", geometry.groups);
    weight_.reset(Tensor<T>({out_channels, in_channels / geometry.groups, geometry.kernel_h, geometry.kernel_w}));
    const double bound = 1.0 / std::sqrt(static_cast<double>(weight_.value.numel() / out_channels));
    uniform_(weight_.value, -bound, bound);
    this->register_parameter("weight", weight_);
    if (bias) {
      bias_.reset(Tensor<T>({out_channels}));
      uniform_(bias_.value, -bound, bound);
      this->register_parameter("bias", bias_);
    }
  }

  Tensor<T> forward(const Tensor<T>& x) override {
    if (this->inference() && x.is_cpu()) {
      return forward_fused(x, ConvEpilogue<T>{.scale = Tensor<T>(), .shift = bias_.value, .relu = false});
    }
    if (this->caching()) input_ = x;
    return conv2d(x, weight_.value, bias_.value, geometry_);
  }

  /// relu(forward(x)) in one pass (ops conv2d_relu), for a ReLU that follows this layer
  /// directly; keeps the same for backward as forward(). The caller keeps the result as the
  /// ReLU's output (ReLU::keep_output), which that ReLU's backward reads.
  Tensor<T> forward_relu(const Tensor<T>& x) {
    if (this->inference())
      return forward_fused(x, ConvEpilogue<T>{.scale = Tensor<T>(), .shift = bias_.value, .relu = true});
    if (this->caching()) input_ = x;
    return conv2d_relu(x, weight_.value, bias_.value, geometry_);
  }

  /// Inference forward: epilogue(conv(x)) in one pass with the packed weights; the epilogue
  /// replaces the bias (fold it into the epilogue's shift). Nothing is kept for backward.
  Tensor<T> forward_fused(const Tensor<T>& x, const ConvEpilogue<T>& epilogue,
                          const Tensor<T>& residual = Tensor<T>()) {
    if (!packed_ || packed_version_ != weight_.version || !packed_from_.same_view(weight_.value)) {
      packed_.emplace(weight_.value, geometry_.groups);
      ++times_packed_;
      packed_version_ = weight_.version;
      packed_from_ = weight_.value;
    }
    return conv2d_prepared(x, *packed_, geometry_, epilogue, residual);
  }

  Tensor<T> backward(const Tensor<T>& grad_y) override {
    this->require_cached(input_, "Conv2d");
    Tensor<T> grad_x = conv2d_backward(input_, weight_.value, grad_y, geometry_, input_gradient_, &weight_.grad,
                                       bias_.value.defined() ? &bias_.grad : nullptr, input_gradient_channels_);
    weight_.grad_ready();
    if (bias_.value.defined()) bias_.grad_ready();
    return grad_x;
  }

  /// The weight parameter.
  Parameter<T>& weight() { return weight_; }
  /// The bias parameter (value undefined without bias).
  Parameter<T>& bias() { return bias_; }
  /// Kernel, stride, padding, dilation, groups.
  const Conv2dGeometry& geometry() const { return geometry_; }
  /// With `needed` false, backward() adds the parameter gradients only and returns an undefined
  /// tensor: for a layer whose input is constant (frozen features), whose gradient nobody reads.
  void set_input_gradient(bool needed) { input_gradient_ = needed; }
  /// backward() returns the gradient of the first `channels` input channels only (N×channels×H×W;
  /// negative: all): for an input whose other channels are constant (a decoder block's
  /// concatenation with frozen encoder features). Needs one group.
  void set_input_gradient_channels(std::int64_t channels) {
    FCAM_CHECK(channels < 0 || geometry_.groups == 1, "Conv2d: a partial input gradient needs one group");
    input_gradient_channels_ = channels;
  }
  /// How many times the weights were packed for inference since construction.
  std::uint64_t times_packed() const { return times_packed_; }

protected:
  void drop_caches() override {
    packed_.reset();
    packed_from_ = Tensor<T>();
  }

private:
  Conv2dGeometry geometry_;
  Parameter<T> weight_, bias_;
  Tensor<T> input_;
  std::optional<PreparedConvWeights<T>> packed_;  // inference only, see the class comment
  std::uint64_t packed_version_ = 0;
  Tensor<T> packed_from_;  // the weights packed_ was made from
  std::uint64_t times_packed_ = 0;
  bool input_gradient_ = true;  // backward computes dL/dx
  std::int64_t input_gradient_channels_ = -1;  // of the first this many input channels (negative: all)
};

}  // namespace fcam::nn

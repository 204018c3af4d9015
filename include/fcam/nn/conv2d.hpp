/// \file
/// \brief nn::Conv2d: 2-D convolution with stride, padding, dilation, groups and optional bias.
#pragma once

#include <cmath>

#include "fcam/nn/module.hpp"
#include "fcam/ops/conv2d.hpp"

namespace fcam::nn {

/// PyTorch's Conv2d. Parameters "weight" (O×C/groups×kh×kw) and, with bias, "bias" (O).
/// Initialised like PyTorch: U(−1/√fan_in, 1/√fan_in) for both.
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
    if (this->caching()) input_ = x;
    return conv2d(x, weight_.value, bias_.value, geometry_);
  }

  Tensor<T> backward(const Tensor<T>& grad_y) override {
    this->require_cached(input_, "Conv2d");
    return conv2d_backward(input_, weight_.value, grad_y, geometry_, true, &weight_.grad,
                           bias_.value.defined() ? &bias_.grad : nullptr);
  }

  /// The weight parameter.
  Parameter<T>& weight() { return weight_; }
  /// The bias parameter (value undefined without bias).
  Parameter<T>& bias() { return bias_; }
  /// Kernel, stride, padding, dilation, groups.
  const Conv2dGeometry& geometry() const { return geometry_; }

private:
  Conv2dGeometry geometry_;
  Parameter<T> weight_, bias_;
  Tensor<T> input_;
};

}  // namespace fcam::nn

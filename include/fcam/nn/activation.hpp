/// \file
/// \brief nn::ReLU, nn::ReLU6 and nn::SoftmaxChannels modules.
#pragma once

#include "fcam/nn/module.hpp"
#include "fcam/ops/elementwise.hpp"
#include "fcam/ops/softmax.hpp"

namespace fcam::nn {

/// max(x, 0). Keeps its output for backward.
template <Scalar T>
class ReLU : public Module<T> {
public:
  Tensor<T> forward(const Tensor<T>& x) override {
    Tensor<T> y = relu(x);
    if (this->caching()) output_ = y;
    return y;
  }
  Tensor<T> backward(const Tensor<T>& grad_y) override {
    this->require_cached(output_, "ReLU");
    return relu_backward(output_, grad_y);
  }

  /// Records `y` as this ReLU's output, for a fused op that computed it (nn::conv_bn_relu).
  void keep_output(const Tensor<T>& y) {
    if (this->caching()) output_ = y;
  }
  /// The output kept for backward (for a layer that applies this ReLU's gradient itself).
  const Tensor<T>& output() const {
    this->require_cached(output_, "ReLU");
    return output_;
  }

private:
  Tensor<T> output_;
};

/// min(max(x, 0), 6). Keeps its input for backward.
template <Scalar T>
class ReLU6 : public Module<T> {
public:
  Tensor<T> forward(const Tensor<T>& x) override {
    if (this->caching()) input_ = x;
    return relu6(x);
  }
  Tensor<T> backward(const Tensor<T>& grad_y) override {
    this->require_cached(input_, "ReLU6");
    return relu6_backward(input_, grad_y);
  }

private:
  Tensor<T> input_;
};

/// Softmax over dimension 1. Keeps its output for backward.
template <Scalar T>
class SoftmaxChannels : public Module<T> {
public:
  Tensor<T> forward(const Tensor<T>& x) override {
    Tensor<T> y = softmax_channels(x);
    if (this->caching()) output_ = y;
    return y;
  }
  Tensor<T> backward(const Tensor<T>& grad_y) override {
    this->require_cached(output_, "SoftmaxChannels");
    return softmax_channels_backward(output_, grad_y);
  }

private:
  Tensor<T> output_;
};

}  // namespace fcam::nn

/// \file
/// \brief nn::MaxPool2d, nn::AvgPool2d and nn::GlobalAvgPool2d modules.
#pragma once

#include <vector>

#include "fcam/nn/module.hpp"
#include "fcam/ops/pooling.hpp"

namespace fcam::nn {

/// PyTorch's MaxPool2d (kernel, stride, padding, ceil_mode; dilation 1).
template <Scalar T>
class MaxPool2d : public Module<T> {
public:
  /// Window settings; invalid ones throw on the first forward.
  explicit MaxPool2d(Pool2dGeometry geometry) : geometry_(geometry) {}
  Tensor<T> forward(const Tensor<T>& x) override {
    MaxPoolResult<T> r = max_pool2d(x, geometry_, this->caching());
    if (this->caching()) {
      input_shape_ = x.shape();
      argmax_ = std::move(r.argmax);
      has_cache_ = true;
    }
    return r.output;
  }
  Tensor<T> backward(const Tensor<T>& grad_y) override {
    FCAM_CHECK(has_cache_, "MaxPool2d.backward: no cached forward (call forward first, with gradients enabled)");
    return max_pool2d_backward(input_shape_, argmax_, grad_y);
  }

private:
  Pool2dGeometry geometry_;
  Shape input_shape_;
  MaxPoolArgmax argmax_;  // where the forward ran: on a GPU it never visits the host
  bool has_cache_ = false;
};

/// PyTorch's AvgPool2d (kernel, stride, padding, ceil_mode, count_include_pad).
template <Scalar T>
class AvgPool2d : public Module<T> {
public:
  /// Window settings; invalid ones throw on the first forward.
  explicit AvgPool2d(Pool2dGeometry geometry) : geometry_(geometry) {}
  Tensor<T> forward(const Tensor<T>& x) override {
    input_shape_ = x.shape();
    return avg_pool2d(x, geometry_);
  }
  Tensor<T> backward(const Tensor<T>& grad_y) override {
    FCAM_CHECK(!input_shape_.empty(), "AvgPool2d.backward: no cached forward (call forward first)");
    return avg_pool2d_backward(input_shape_, geometry_, grad_y);
  }

private:
  Pool2dGeometry geometry_;
  Shape input_shape_;
};

/// Mean over H and W: N×C×H×W → N×C (AdaptiveAvgPool2d(1) followed by flatten).
template <Scalar T>
class GlobalAvgPool2d : public Module<T> {
public:
  Tensor<T> forward(const Tensor<T>& x) override {
    input_shape_ = x.shape();
    return global_avg_pool(x);
  }
  Tensor<T> backward(const Tensor<T>& grad_y) override {
    FCAM_CHECK(!input_shape_.empty(), "GlobalAvgPool2d.backward: no cached forward (call forward first)");
    return global_avg_pool_backward(input_shape_, grad_y);
  }

private:
  Shape input_shape_;
};

}  // namespace fcam::nn

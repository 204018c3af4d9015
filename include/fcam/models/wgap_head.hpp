/// \file
/// \brief The WGAP classification head (global average pooling, then a linear layer) and the
/// class activation map it defines.
#pragma once

#include <cmath>
#include <cstdint>

#include "fcam/nn/linear.hpp"
#include "fcam/nn/pool2d.hpp"

namespace fcam::models {

/// logits = fc(mean over pixels of A), fc a Linear(C→K) named "fc" with Xavier-uniform weights
/// and zero bias (docs/method.md §2.1).
template <Scalar T>
class WgapHead : public nn::Module<T> {
public:
  /// `channels` of the encoder output, `num_classes` K.
  WgapHead(std::int64_t channels, std::int64_t num_classes) : fc_(channels, num_classes, true) {
    const double bound = std::sqrt(6.0 / static_cast<double>(channels + num_classes));
    nn::uniform_(fc_.weight().value, -bound, bound);
    fc_.bias().value.fill(T(0));
    this->register_module("fc", fc_);
  }

  Tensor<T> forward(const Tensor<T>& features) override { return fc_(pool_(features)); }
  Tensor<T> backward(const Tensor<T>& grad_logits) override { return pool_.backward(fc_.backward(grad_logits)); }

  /// The linear layer (its weight row c is CAM's channel weighting of class c).
  nn::Linear<T>& fc() { return fc_; }

private:
  nn::GlobalAvgPool2d<T> pool_;
  nn::Linear<T> fc_;
};

}  // namespace fcam::models

/// \file
/// \brief nn::TfSamePad: the zero padding TensorFlow's "SAME" convolutions add, worked out for
/// each input's size (MobileNetV2's weights were trained with it).
#pragma once

#include <cstdint>

#include "fcam/nn/module.hpp"
#include "fcam/ops/pad.hpp"

namespace fcam::nn {

/// Pads the input as a k×k, stride-s "SAME" convolution would (tf_same_padding), so that a
/// Conv2d without padding after it computes that convolution. The amounts depend on the input's
/// size (on an even size a stride-2 3×3 pads 0 above and 1 below; on an odd one, 1 and 1).
template <Scalar T>
class TfSamePad : public Module<T> {
public:
  /// `kernel` and `stride` of the convolution that follows.
  TfSamePad(std::int64_t kernel, std::int64_t stride) : kernel_(kernel), stride_(stride) {
    FCAM_CHECK(kernel >= 1 && stride >= 1, "TfSamePad: kernel and stride must be >= 1, got ", kernel, " and ",
               stride);
  }

  Tensor<T> forward(const Tensor<T>& x) override {
    check_rank(x, 4, "TfSamePad input");
    const Padding2d p = tf_same_padding(x.size(2), x.size(3), kernel_, stride_);
    if (this->caching()) padding_ = p;
    return p.none() ? x : pad2d(x, p);
  }
  Tensor<T> backward(const Tensor<T>& grad_y) override {
    return padding_.none() ? grad_y : pad2d_backward(grad_y, padding_);
  }

private:
  std::int64_t kernel_, stride_;
  Padding2d padding_;  // of the last forward that kept state for backward
};

}  // namespace fcam::nn

/// \file
/// \brief nn::UpsampleNearest (integer factor) and nn::ResizeBilinear (to a size) modules.
#pragma once

#include "fcam/nn/module.hpp"
#include "fcam/ops/resize.hpp"

namespace fcam::nn {

/// Nearest-neighbour upsampling by an integer factor (PyTorch's Upsample(scale_factor=k)).
template <Scalar T>
class UpsampleNearest : public Module<T> {
public:
  /// requires: factor >= 1.
  explicit UpsampleNearest(std::int64_t factor = 2) : factor_(factor) {
    FCAM_CHECK(factor >= 1, "UpsampleNearest: factor must be >= 1, got ", factor);
  }
  Tensor<T> forward(const Tensor<T>& x) override { return upsample_nearest(x, factor_); }
  Tensor<T> backward(const Tensor<T>& grad_y) override { return upsample_nearest_backward(grad_y, factor_); }

private:
  std::int64_t factor_;
};

/// Bilinear resize to a fixed size (PyTorch's interpolate(size=…, mode="bilinear")), optionally
/// of the input upsampled ×`upsampled` (nearest) first, in one step (see resize_bilinear).
template <Scalar T>
class ResizeBilinear : public Module<T> {
public:
  /// Output height and width; align_corners as in PyTorch; nearest factor applied before.
  ResizeBilinear(std::int64_t out_h, std::int64_t out_w, bool align_corners, std::int64_t upsampled = 1)
      : out_h_(out_h), out_w_(out_w), upsampled_(upsampled), align_corners_(align_corners) {}
  Tensor<T> forward(const Tensor<T>& x) override {
    input_shape_ = x.shape();
    return resize_bilinear(x, out_h_, out_w_, align_corners_, upsampled_);
  }
  Tensor<T> backward(const Tensor<T>& grad_y) override {
    FCAM_CHECK(!input_shape_.empty(), "ResizeBilinear.backward: no cached forward (call forward first)");
    return resize_bilinear_backward(input_shape_, grad_y, align_corners_, upsampled_);
  }

private:
  std::int64_t out_h_, out_w_, upsampled_;
  bool align_corners_;
  Shape input_shape_;
};

}  // namespace fcam::nn

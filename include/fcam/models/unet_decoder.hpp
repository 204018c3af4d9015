/// \file
/// \brief The F-CAM decoder: a U-Net over the encoder stages, and its 2-channel segmentation head
/// (docs/method.md §3), with the reference's parameter names ("blocks.I.conv{1,2}.{0,1}").
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcam/nn/activation.hpp"
#include "fcam/nn/batchnorm2d.hpp"
#include "fcam/nn/conv2d.hpp"
#include "fcam/nn/module_list.hpp"
#include "fcam/nn/sequential.hpp"
#include "fcam/nn/upsample.hpp"
#include "fcam/ops/concat.hpp"
#include "fcam/ops/resize.hpp"

namespace fcam::models {

/// [3×3 conv without bias, BN, ReLU] with Kaiming-uniform weights (fan_in, ReLU gain).
template <Scalar T>
void add_conv_bn_relu(nn::Sequential<T>& seq, std::int64_t in, std::int64_t out) {
  auto& conv = seq.template emplace<nn::Conv2d<T>>(in, out, Conv2dGeometry::square(3, 1, 1), false);
  const double bound = std::sqrt(6.0 / static_cast<double>(in * 9));
  nn::uniform_(conv.weight().value, -bound, bound);
  seq.template emplace<nn::BatchNorm2d<T>>(out);
  seq.template emplace<nn::ReLU<T>>();
}

/// One decoder block: nearest ×2, bilinear (align_corners) to the skip's size when it differs,
/// concatenation with the skip, then 2 × [3×3 conv, BN, ReLU].
template <Scalar T>
class DecoderBlock : public nn::ModuleBase<T> {
public:
  /// `in` channels from below, `skip` channels of the skip (0: none), `out` channels.
  DecoderBlock(std::int64_t in, std::int64_t skip, std::int64_t out) : skip_channels_(skip) {
    add_conv_bn_relu(conv1_, in + skip, out);
    add_conv_bn_relu(conv2_, out, out);
    this->register_module("conv1", conv1_);
    this->register_module("conv2", conv2_);
    // The skip is a frozen encoder stage: conv1 computes the gradient of the upsampled input's
    // channels alone (for ResNet50's second block 256 of 768).
    if (skip > 0) first_conv().set_input_gradient_channels(in);
  }

  /// The block's output for input `x` and skip `skip` (undefined when the block has none).
  Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& skip) {
    if (skip_channels_ > 0)
      FCAM_CHECK(skip.defined() && skip.ndim() == 4 && skip.size(1) == skip_channels_,
                 "DecoderBlock: expected a skip of ", skip_channels_, " channels");
    input_shape_ = x.shape();
    resized_ = skip_channels_ > 0 && (2 * x.size(2) != skip.size(2) || 2 * x.size(3) != skip.size(3));
    // ×2 and, when the size differs from the skip's, the resize in one step (no ×2 intermediate)
    Tensor<T> up = resized_ ? resize_bilinear(x, skip.size(2), skip.size(3), true, 2) : upsample_nearest(x, 2);
    if (skip_channels_ > 0) up = concat_channels<T>({up, skip});
    return conv2_(conv1_(up));
  }
  /// Gradient of the input from below (not of the skip: the encoder is frozen); undefined after
  /// without_input_gradient().
  Tensor<T> backward(const Tensor<T>& grad_y) {
    Tensor<T> g = conv1_.backward(conv2_.backward(grad_y));
    if (!input_gradient_) return g;
    return resized_ ? resize_bilinear_backward(input_shape_, g, true, 2) : upsample_nearest_backward(g, 2);
  }

  /// For the block fed by frozen features only: backward() adds the parameter gradients and
  /// skips the input gradient of its first convolution (for the deepest ResNet50 block a
  /// 3072→256 3×3 convolution at 28×28, as costly as its forward).
  void without_input_gradient() {
    first_conv().set_input_gradient(false);
    input_gradient_ = false;
  }

private:
  nn::Conv2d<T>& first_conv() { return static_cast<nn::Conv2d<T>&>(conv1_[0]); }

  std::int64_t skip_channels_;
  bool input_gradient_ = true;
  Shape input_shape_;
  bool resized_ = false;
  nn::Sequential<T> conv1_, conv2_;
};

/// The U-Net decoder over encoder stages (shallowest first): the skips are the stages except the
/// first and the last, deepest first; blocks beyond the skips have none. With `center` (VGG), a
/// centre block of 2 × [3×3 conv, BN, ReLU] at the deepest width runs first.
template <Scalar T>
class UnetDecoder : public nn::ModuleBase<T> {
public:
  /// `stage_channels` of the encoder (Encoder::stage_channels()), `widths` of the blocks.
  UnetDecoder(const std::vector<std::int64_t>& stage_channels, const std::vector<std::int64_t>& widths,
              bool center = false) {
    FCAM_CHECK(stage_channels.size() >= 2 && !widths.empty(), "UnetDecoder: need >= 2 stages and >= 1 block");
    std::int64_t in = stage_channels.back();
    if (center) {
      for (int k = 0; k < 2; ++k) add_conv_bn_relu(center_.template emplace<nn::Sequential<T>>(), in, in);
      this->register_module("center", center_);
    }
    for (std::size_t b = 0; b < widths.size(); ++b) {
      // Skip of block b: stage (last − 1 − b), as long as that is not the first stage.
      const auto stage = static_cast<std::int64_t>(stage_channels.size()) - 2 - static_cast<std::int64_t>(b);
      const std::int64_t skip = stage >= 1 ? stage_channels[static_cast<std::size_t>(stage)] : 0;
      blocks_.emplace(in, skip, widths[b]);
      in = widths[b];
    }
    this->register_module("blocks", blocks_);
    // The decoder reads frozen encoder features: nobody needs the gradient of its input, so the
    // first convolution (the centre's, else the first block's) does not compute it.
    if (center_.size() > 0) {
      auto& first = static_cast<nn::Sequential<T>&>(center_[0]);
      static_cast<nn::Conv2d<T>&>(first[0]).set_input_gradient(false);
    } else {
      blocks_[0].without_input_gradient();
    }
  }

  /// Decodes the stages of one encoder forward (input first, deepest last).
  Tensor<T> forward(const std::vector<Tensor<T>>& stages) {
    FCAM_CHECK(stages.size() >= 2, "UnetDecoder: need the encoder stages");
    Tensor<T> h = center_.size() > 0 ? center_(stages.back()) : stages.back();
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      const auto stage = static_cast<std::int64_t>(stages.size()) - 2 - static_cast<std::int64_t>(b);
      h = blocks_[b].forward(h, stage >= 1 ? stages[static_cast<std::size_t>(stage)] : Tensor<T>());
    }
    return h;
  }
  /// Adds the decoder's parameter gradients for dL/d(output) of the last forward. The gradient
  /// of the stages is not computed (the encoder is frozen in stage 2).
  void backward(const Tensor<T>& grad_y) {
    Tensor<T> g = grad_y;
    for (std::size_t b = blocks_.size(); b-- > 0;) g = blocks_[b].backward(g);
    if (center_.size() > 0) center_.backward(g);
  }

private:
  nn::Sequential<T> center_;
  nn::ModuleList<T, DecoderBlock<T>> blocks_;
};

/// The segmentation head: 3×3 conv with bias to 2 channels, named "0" (Xavier-uniform weights,
/// zero bias), then bilinear (align_corners) to the requested size when it differs.
template <Scalar T>
class SegmentationHead : public nn::Module<T> {
public:
  /// `in` channels of the decoder output.
  explicit SegmentationHead(std::int64_t in) : conv_(in, 2, Conv2dGeometry::square(3, 1, 1), true) {
    const double bound = std::sqrt(6.0 / static_cast<double>(in * 9 + 2 * 9));
    nn::uniform_(conv_.weight().value, -bound, bound);
    conv_.bias().value.fill(T(0));
    this->register_module("0", conv_);
  }

  /// Logits (N×2×out_h×out_w).
  Tensor<T> forward(const Tensor<T>& x, std::int64_t out_h, std::int64_t out_w) {
    Tensor<T> y = conv_(x);
    conv_shape_ = y.shape();
    return y.size(2) == out_h && y.size(3) == out_w ? y : resize_bilinear(y, out_h, out_w, true);
  }
  Tensor<T> forward(const Tensor<T>& x) override { return forward(x, x.size(2), x.size(3)); }
  Tensor<T> backward(const Tensor<T>& grad_y) override {
    const Tensor<T> g = grad_y.shape() == conv_shape_ ? grad_y : resize_bilinear_backward(conv_shape_, grad_y, true);
    return conv_.backward(g);
  }

private:
  nn::Conv2d<T> conv_;
  Shape conv_shape_;
};

}  // namespace fcam::models

/// \file
/// \brief MobileNetV2 (1.0) as a WSOL encoder, with torchvision's parameter names and the
/// conventions of the TensorFlow-trained weights in `../shared/data/weights` (their README):
/// "SAME" padding, depthwise 3×3 convolutions, ReLU6, and a bias on every convolution
/// (BatchNorm folded in).
///
/// Stages for a 224×224 input: the input (3@224), 16@112 ("features.1"), 24@56 ("features.3"),
/// 32@28 ("features.6"), 96@14 ("features.13") and the CAM layer 1280@7 ("features.18", after
/// its ReLU6): strides 2, 4, 8, 16, 32, which the F-CAM decoder's five blocks undo.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "fcam/models/encoder.hpp"
#include "fcam/nn/activation.hpp"
#include "fcam/nn/conv2d.hpp"
#include "fcam/nn/fused.hpp"
#include "fcam/nn/pad.hpp"
#include "fcam/ops/elementwise.hpp"

namespace fcam::models {

/// MobileNetV2's inverted residual block: [1×1 expand conv, ReLU6] (absent when the expansion
/// is 1), 3×3 depthwise conv with `stride` ("SAME" padding), ReLU6, 1×1 project conv (linear), and
/// the input added back when the stride is 1 and the widths agree. Names as torchvision's:
/// "conv.0.0", "conv.1.0", "conv.2" (without expansion "conv.0.0", "conv.1").
template <Scalar T>
class InvertedResidual : public nn::Module<T> {
public:
  /// `in` → `out` channels, depthwise `stride` (1 or 2), hidden width in·`expansion`.
  InvertedResidual(std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t expansion)
      : pad_(3, stride),
        depthwise_(in * expansion, in * expansion,
                   Conv2dGeometry::square(3, stride, stride == 1 ? 1 : 0, 1, in * expansion)),
        project_(in * expansion, out, Conv2dGeometry::square(1)),
        residual_(stride == 1 && in == out) {
    FCAM_CHECK(stride == 1 || stride == 2, "InvertedResidual: stride must be 1 or 2, got ", stride);
    if (expansion != 1) {
      expand_.emplace(in, in * expansion, Conv2dGeometry::square(1));
      this->register_module("conv.0.0", *expand_);
    }
    this->register_module(expansion != 1 ? "conv.1.0" : "conv.0.0", depthwise_);
    this->register_module(expansion != 1 ? "conv.2" : "conv.1", project_);
  }

  Tensor<T> forward(const Tensor<T>& x) override {
    Tensor<T> h = expand_ ? nn::conv_relu6(*expand_, expand_relu_, x) : x;
    // A stride-1 3×3 "SAME" convolution pads 1 on every side: the conv's own padding does it.
    if (stride_two()) h = pad_(h);
    h = nn::conv_relu6(depthwise_, depthwise_relu_, h);
    // In inference the residual is added in the projection's epilogue (nn/fused.hpp).
    return nn::conv_bn_relu<T>(project_, nullptr, nullptr, h, residual_ ? x : Tensor<T>());
  }

  Tensor<T> backward(const Tensor<T>& grad_y) override {
    Tensor<T> g = depthwise_.backward(depthwise_relu_.backward(project_.backward(grad_y)));
    if (stride_two()) g = pad_.backward(g);
    if (expand_) g = expand_->backward(expand_relu_.backward(g));
    return residual_ ? add(g, grad_y) : g;
  }

  /// True when the input is added to the output.
  bool has_residual() const { return residual_; }

private:
  bool stride_two() const { return depthwise_.geometry().stride_h == 2; }

  std::optional<nn::Conv2d<T>> expand_;
  nn::ReLU6<T> expand_relu_;
  nn::TfSamePad<T> pad_;
  nn::Conv2d<T> depthwise_;
  nn::ReLU6<T> depthwise_relu_;
  nn::Conv2d<T> project_;
  bool residual_;
};

/// The MobileNetV2 1.0 encoder (torchvision's `features`, without the classifier): stem
/// "features.0.0" (3×3 stride-2 conv, 32 channels, ReLU6), seventeen inverted residual blocks
/// "features.1" … "features.17", and "features.18.0" (1×1 conv 320→1280, ReLU6), the CAM layer.
/// Meant for pretrained weights (models::load_torchvision_encoder): without BatchNorm it trains
/// poorly from scratch.
template <Scalar T>
class MobileNetV2 : public ChainEncoder<T> {
public:
  MobileNetV2() : ChainEncoder<T>(true, {3, 16, 24, 32, 96, 1280}) {
    this->add(std::make_unique<nn::TfSamePad<T>>(3, 2));
    this->stem_ = &this->template named<nn::Conv2d<T>>("features.0.0", 3, 32, Conv2dGeometry::square(3, 2));
    this->add(std::make_unique<nn::ReLU6<T>>());
    // torchvision's table: expansion t, output channels c, repeats n, stride of the first s.
    struct Row {
      std::int64_t t, c, n, s;
    };
    constexpr std::array<Row, 7> rows{{{1, 16, 1, 1},
                                       {6, 24, 2, 2},
                                       {6, 32, 3, 2},
                                       {6, 64, 4, 2},
                                       {6, 96, 3, 1},
                                       {6, 160, 3, 2},
                                       {6, 320, 1, 1}}};
    constexpr std::array<int, 4> stage_blocks{1, 3, 6, 13};  // features.N whose output is a stage
    std::int64_t in = 32;
    int index = 1;
    for (const Row& row : rows) {
      for (std::int64_t k = 0; k < row.n; ++k, ++index) {
        this->template named<InvertedResidual<T>>("features." + std::to_string(index), in, row.c, k == 0 ? row.s : 1,
                                                  row.t);
        in = row.c;
        for (int s : stage_blocks)
          if (s == index) this->mark_stage();
      }
    }
    this->template named<nn::Conv2d<T>>("features.18.0", in, 1280, Conv2dGeometry::square(1));
    this->add(std::make_unique<nn::ReLU6<T>>());
    this->mark_stage();
  }
};

}  // namespace fcam::models

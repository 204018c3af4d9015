/// \file
/// \brief InceptionV3-WSOL (docs/method.md §2.5) with torchvision's parameter names: every 3×3 conv and
/// max-pool padded by 1 (pools ceil_mode), Mixed_6a at stride 1 with its pool branch 3×3 s1 p1,
/// no Mixed_7* and no auxiliary head, then two added blocks SPG_A3_1b / SPG_A3_2b of
/// [Dropout 0.5, 3×3 conv, ReLU] (768→1024, 1024→1024). Maps are 29×29 for a 224 input.
///
/// Stages: input (3@224), Conv2d_2b_3x3 (64@112), Conv2d_3b_1x1 (80@57), Mixed_5c (288@29),
/// Mixed_6e (768@29), SPG_A3_2b (1024@29).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcam/models/encoder.hpp"
#include "fcam/nn/activation.hpp"
#include "fcam/nn/batchnorm2d.hpp"
#include "fcam/nn/conv2d.hpp"
#include "fcam/nn/dropout.hpp"
#include "fcam/nn/fused.hpp"
#include "fcam/nn/pool2d.hpp"
#include "fcam/nn/sequential.hpp"
#include "fcam/ops/concat.hpp"
#include "fcam/ops/elementwise.hpp"

namespace fcam::models {

/// torchvision's BasicConv2d: conv without bias ("conv"), BatchNorm with eps 0.001 ("bn"), ReLU.
template <Scalar T>
class BasicConv2d : public nn::Module<T> {
public:
  /// `in` → `out` channels with `geometry`.
  BasicConv2d(std::int64_t in, std::int64_t out, Conv2dGeometry geometry)
      : conv_(in, out, geometry, false), bn_(out, 0.001) {
    this->register_module("conv", conv_);
    this->register_module("bn", bn_);
  }
  Tensor<T> forward(const Tensor<T>& x) override { return nn::conv_bn_relu(conv_, &bn_, &relu_, x); }
  Tensor<T> backward(const Tensor<T>& g) override {
    return conv_.backward(bn_.backward_after_relu(relu_.output(), g));
  }
  /// The convolution.
  nn::Conv2d<T>& conv() { return conv_; }

private:
  nn::Conv2d<T> conv_;
  nn::BatchNorm2d<T> bn_;
  nn::ReLU<T> relu_;
};

/// A multi-branch Inception block: every branch runs on the input, outputs are concatenated.
/// Convolutions are registered under torchvision's flat names ("branch5x5_1", …).
template <Scalar T>
class InceptionBlock : public nn::Module<T> {
public:
  /// Starts a new branch.
  InceptionBlock& branch() {
    branches_.emplace_back();
    return *this;
  }
  /// Appends a BasicConv2d named `name` to the current branch.
  InceptionBlock& conv(const std::string& name, std::int64_t in, std::int64_t out, Conv2dGeometry geometry) {
    auto layer = std::make_unique<BasicConv2d<T>>(in, out, geometry);
    this->register_module(name, *layer);
    branches_.back().push_back(std::move(layer));
    return *this;
  }
  /// Appends a pooling layer (unnamed: no parameters) to the current branch.
  InceptionBlock& pool(std::unique_ptr<nn::Module<T>> layer) {
    branches_.back().push_back(std::move(layer));
    return *this;
  }

  Tensor<T> forward(const Tensor<T>& x) override {
    std::vector<Tensor<T>> outputs;
    channels_.clear();
    for (auto& layers : branches_) {
      Tensor<T> h = x;
      for (auto& layer : layers) h = layer->forward(h);
      channels_.push_back(h.size(1));
      outputs.push_back(h);
    }
    return concat_channels(outputs);
  }

  Tensor<T> backward(const Tensor<T>& grad_y) override {
    const std::vector<Tensor<T>> parts = split_channels(grad_y, channels_);
    Tensor<T> grad_x;
    for (std::size_t b = 0; b < branches_.size(); ++b) {
      Tensor<T> g = parts[b];
      for (auto it = branches_[b].rbegin(); it != branches_[b].rend(); ++it) g = (*it)->backward(g);
      grad_x = grad_x.defined() ? add(grad_x, g) : g;
    }
    return grad_x;
  }

private:
  std::vector<std::vector<std::unique_ptr<nn::Module<T>>>> branches_;
  std::vector<std::int64_t> channels_;
};

namespace detail {

inline Conv2dGeometry kernel(std::int64_t kh, std::int64_t kw, std::int64_t stride = 1) {
  return {kh, kw, stride, stride, kh / 2, kw / 2, 1, 1, 1};  // "same" padding for odd kernels
}
template <Scalar T>
std::unique_ptr<nn::Module<T>> avg_pool_3x3() {
  return std::make_unique<nn::AvgPool2d<T>>(Pool2dGeometry{3, 1, 1, false, true});
}
template <Scalar T>
std::unique_ptr<nn::Module<T>> max_pool_3x3(std::int64_t stride) {
  return std::make_unique<nn::MaxPool2d<T>>(Pool2dGeometry{3, stride, 1, true});
}

/// Mixed_5b/5c/5d: 64 + 64 + 96 + pool_features channels.
template <Scalar T>
void build_inception_a(InceptionBlock<T>& m, std::int64_t in, std::int64_t pool_features) {
  m.branch().conv("branch1x1", in, 64, kernel(1, 1));
  m.branch().conv("branch5x5_1", in, 48, kernel(1, 1)).conv("branch5x5_2", 48, 64, kernel(5, 5));
  m.branch()
      .conv("branch3x3dbl_1", in, 64, kernel(1, 1))
      .conv("branch3x3dbl_2", 64, 96, kernel(3, 3))
      .conv("branch3x3dbl_3", 96, 96, kernel(3, 3));
  m.branch().pool(avg_pool_3x3<T>()).conv("branch_pool", in, pool_features, kernel(1, 1));
}

/// Mixed_6a at stride 1: 384 + 96 + in channels.
template <Scalar T>
void build_inception_b(InceptionBlock<T>& m, std::int64_t in) {
  m.branch().conv("branch3x3", in, 384, kernel(3, 3));
  m.branch()
      .conv("branch3x3dbl_1", in, 64, kernel(1, 1))
      .conv("branch3x3dbl_2", 64, 96, kernel(3, 3))
      .conv("branch3x3dbl_3", 96, 96, kernel(3, 3));
  m.branch().pool(max_pool_3x3<T>(1));
}

/// Mixed_6b–6e: 4 × 192 channels.
template <Scalar T>
void build_inception_c(InceptionBlock<T>& m, std::int64_t in, std::int64_t c7) {
  m.branch().conv("branch1x1", in, 192, kernel(1, 1));
  m.branch()
      .conv("branch7x7_1", in, c7, kernel(1, 1))
      .conv("branch7x7_2", c7, c7, kernel(1, 7))
      .conv("branch7x7_3", c7, 192, kernel(7, 1));
  m.branch()
      .conv("branch7x7dbl_1", in, c7, kernel(1, 1))
      .conv("branch7x7dbl_2", c7, c7, kernel(7, 1))
      .conv("branch7x7dbl_3", c7, c7, kernel(1, 7))
      .conv("branch7x7dbl_4", c7, c7, kernel(7, 1))
      .conv("branch7x7dbl_5", c7, 192, kernel(1, 7));
  m.branch().pool(avg_pool_3x3<T>()).conv("branch_pool", in, 192, kernel(1, 1));
}

}  // namespace detail

/// The InceptionV3-WSOL encoder.
template <Scalar T>
class InceptionV3Wsol : public ChainEncoder<T> {
public:
  InceptionV3Wsol() : ChainEncoder<T>(true, {3, 64, 80, 288, 768, 1024}) {
    conv("Conv2d_1a_3x3", 3, 32, detail::kernel(3, 3, 2));
    conv("Conv2d_2a_3x3", 32, 32, detail::kernel(3, 3));
    conv("Conv2d_2b_3x3", 32, 64, detail::kernel(3, 3));
    this->mark_stage();
    this->add(detail::max_pool_3x3<T>(2));
    conv("Conv2d_3b_1x1", 64, 80, detail::kernel(1, 1));
    this->mark_stage();
    conv("Conv2d_4a_3x3", 80, 192, detail::kernel(3, 3));
    this->add(detail::max_pool_3x3<T>(2));
    detail::build_inception_a(block("Mixed_5b"), 192, 32);
    detail::build_inception_a(block("Mixed_5c"), 256, 64);
    this->mark_stage();
    detail::build_inception_a(block("Mixed_5d"), 288, 64);
    detail::build_inception_b(block("Mixed_6a"), 288);
    detail::build_inception_c(block("Mixed_6b"), 768, 128);
    detail::build_inception_c(block("Mixed_6c"), 768, 160);
    detail::build_inception_c(block("Mixed_6d"), 768, 160);
    detail::build_inception_c(block("Mixed_6e"), 768, 192);
    this->mark_stage();
    for (const auto& [name, in] : {std::pair<const char*, std::int64_t>{"SPG_A3_1b", 768}, {"SPG_A3_2b", 1024}}) {
      auto& added = this->template named<nn::Sequential<T>>(name);
      added.template emplace<nn::Dropout<T>>(0.5);
      added.template emplace<nn::Conv2d<T>>(in, 1024, detail::kernel(3, 3), true);
      added.template emplace<nn::ReLU<T>>();
    }
    this->mark_stage();
  }

private:
  void conv(const std::string& name, std::int64_t in, std::int64_t out, Conv2dGeometry geometry) {
    auto& block = this->template named<BasicConv2d<T>>(name, in, out, geometry);
    if (!this->stem_) this->stem_ = &block.conv();
  }
  InceptionBlock<T>& block(const std::string& name) { return this->template named<InceptionBlock<T>>(name); }
};

}  // namespace fcam::models

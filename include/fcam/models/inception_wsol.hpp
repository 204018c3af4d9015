/// \file
/// \brief InceptionV3-WSOL (METHOD.md §2) with torchvision's parameter names: every 3×3 conv and
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
  Tensor<T> forward(const Tensor<T>& x) override { return relu_(bn_(conv_(x))); }
  Tensor<T> backward(const Tensor<T>& g) override { return conv_.backward(bn_.backward(relu_.backward(g))); }

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
class InceptionV3Wsol : public Encoder<T> {
public:
  InceptionV3Wsol() {
    named<BasicConv2d<T>>("Conv2d_1a_3x3", 3, 32, detail::kernel(3, 3, 2));
    named<BasicConv2d<T>>("Conv2d_2a_3x3", 32, 32, detail::kernel(3, 3));
    named<BasicConv2d<T>>("Conv2d_2b_3x3", 32, 64, detail::kernel(3, 3));
    mark_stage();
    add(detail::max_pool_3x3<T>(2));
    named<BasicConv2d<T>>("Conv2d_3b_1x1", 64, 80, detail::kernel(1, 1));
    mark_stage();
    named<BasicConv2d<T>>("Conv2d_4a_3x3", 80, 192, detail::kernel(3, 3));
    add(detail::max_pool_3x3<T>(2));
    detail::build_inception_a(named<InceptionBlock<T>>("Mixed_5b"), 192, 32);
    detail::build_inception_a(named<InceptionBlock<T>>("Mixed_5c"), 256, 64);
    mark_stage();
    detail::build_inception_a(named<InceptionBlock<T>>("Mixed_5d"), 288, 64);
    detail::build_inception_b(named<InceptionBlock<T>>("Mixed_6a"), 288);
    detail::build_inception_c(named<InceptionBlock<T>>("Mixed_6b"), 768, 128);
    detail::build_inception_c(named<InceptionBlock<T>>("Mixed_6c"), 768, 160);
    detail::build_inception_c(named<InceptionBlock<T>>("Mixed_6d"), 768, 160);
    detail::build_inception_c(named<InceptionBlock<T>>("Mixed_6e"), 768, 192);
    mark_stage();
    for (const auto& [name, in] : {std::pair<const char*, std::int64_t>{"SPG_A3_1b", 768}, {"SPG_A3_2b", 1024}}) {
      auto& block = named<nn::Sequential<T>>(name);
      block.template emplace<nn::Dropout<T>>(0.5);
      block.template emplace<nn::Conv2d<T>>(in, 1024, detail::kernel(3, 3), true);
      block.template emplace<nn::ReLU<T>>();
    }
    mark_stage();
  }

  Tensor<T> forward(const Tensor<T>& x) override {
    check_rank(x, 4, "InceptionV3Wsol input");
    FCAM_CHECK(x.size(1) == 3, "InceptionV3Wsol: input must have 3 channels, got shape ", to_string(x.shape()));
    stages_ = {x};
    Tensor<T> h = x;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      h = layers_[i]->forward(h);
      if (stage_after_[i]) stages_.push_back(h);
    }
    return h;
  }

  Tensor<T> backward(const Tensor<T>& grad_y) override {
    Tensor<T> g = grad_y;
    for (std::size_t i = layers_.size(); i-- > 0;) g = layers_[i]->backward(g);
    return g;
  }

  const std::vector<Tensor<T>>& stages() const override { return stages_; }
  const std::vector<std::int64_t>& stage_channels() const override { return stage_channels_; }

private:
  template <class M, class... Args>
  M& named(const std::string& name, Args&&... args) {
    auto layer = std::make_unique<M>(std::forward<Args>(args)...);
    M& ref = *layer;
    this->register_module(name, ref);
    add(std::move(layer));
    return ref;
  }
  void add(std::unique_ptr<nn::Module<T>> layer) {
    layers_.push_back(std::move(layer));
    stage_after_.push_back(false);
  }
  void mark_stage() { stage_after_.back() = true; }

  std::vector<std::unique_ptr<nn::Module<T>>> layers_;
  std::vector<bool> stage_after_;
  std::vector<std::int64_t> stage_channels_{3, 64, 80, 288, 768, 1024};
  std::vector<Tensor<T>> stages_;
};

}  // namespace fcam::models

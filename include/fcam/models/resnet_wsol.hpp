/// \file
/// \brief ResNet-WSOL encoders (ResNet18 / 34 / 50 with layer3 and layer4 at stride 1), with
/// torchvision's parameter names and their encoder stages exposed for the F-CAM decoder.
///
/// docs/method.md §2.3: the stride changes keep torchvision's weights; for a 224×224 input the stages
/// are the input (3@224), the stem after its ReLU (64@112), layer1 (@56), layer2 (@28), layer3
/// (@28) and layer4 (@28). A base width other than 64 scales every width (a smaller model for
/// CPU training); 64 is torchvision's.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcam/models/bottleneck.hpp"
#include "fcam/models/arch.hpp"
#include "fcam/models/encoder.hpp"
#include "fcam/nn/activation.hpp"
#include "fcam/nn/batchnorm2d.hpp"
#include "fcam/nn/conv2d.hpp"
#include "fcam/nn/fused.hpp"
#include "fcam/nn/pool2d.hpp"
#include "fcam/nn/sequential.hpp"
#include "fcam/ops/elementwise.hpp"

namespace fcam::models {

/// torchvision's ResNet basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), both
/// convs 3×3 (the first with the stride), a 1×1 conv + BN shortcut ("downsample") when the
/// shape changes.
template <Scalar T>
class BasicBlock : public nn::Module<T> {
public:
  /// Output channels are `planes`.
  static constexpr std::int64_t expansion = 1;

  /// `in_channels` input channels, `planes` output channels, `stride` of the first conv.
  BasicBlock(std::int64_t in_channels, std::int64_t planes, std::int64_t stride = 1)
      : conv1_(in_channels, planes, Conv2dGeometry::square(3, stride, 1), false),
        bn1_(planes),
        conv2_(planes, planes, Conv2dGeometry::square(3, 1, 1), false),
        bn2_(planes) {
    this->register_module("conv1", conv1_);
    this->register_module("bn1", bn1_);
    this->register_module("conv2", conv2_);
    this->register_module("bn2", bn2_);
    if (stride != 1 || in_channels != planes) {
      downsample_.template emplace<nn::Conv2d<T>>(in_channels, planes, Conv2dGeometry::square(1, stride), false);
      downsample_.template emplace<nn::BatchNorm2d<T>>(planes);
      this->register_module("downsample", downsample_);
    }
  }

  Tensor<T> forward(const Tensor<T>& x) override {
    const Tensor<T> main = nn::conv_bn_relu(conv1_, &bn1_, &relu1_, x);
    return nn::conv_bn_relu(conv2_, &bn2_, &relu2_, main, downsample_.size() > 0 ? downsample_(x) : x);
  }

  Tensor<T> backward(const Tensor<T>& grad_y) override {
    const Tensor<T> g_sum = relu2_.backward(grad_y);
    const Tensor<T> g_main = conv2_.backward(bn2_.backward(g_sum));
    const Tensor<T> g = conv1_.backward(bn1_.backward_after_relu(relu1_.output(), g_main));
    return add(g, downsample_.size() > 0 ? downsample_.backward(g_sum) : g_sum);
  }

private:
  nn::Conv2d<T> conv1_;
  nn::BatchNorm2d<T> bn1_;
  nn::Conv2d<T> conv2_;
  nn::BatchNorm2d<T> bn2_;
  nn::ReLU<T> relu1_, relu2_;
  nn::Sequential<T> downsample_;
};

/// Which ResNet.
struct ResNetSpec {
  bool bottleneck = true;                  ///< Bottleneck blocks (ResNet50) or basic blocks (18, 34)
  std::array<int, 4> blocks{3, 4, 6, 3};   ///< blocks per layer
  std::int64_t base_width = 64;            ///< stem width; layer i has base_width·2^i planes

  /// ResNet18 / 34 / 50.
  static ResNetSpec of(Arch arch, std::int64_t base_width = 64) {
    switch (arch) {
      case Arch::resnet18: return {false, {2, 2, 2, 2}, base_width};
      case Arch::resnet34: return {false, {3, 4, 6, 3}, base_width};
      case Arch::resnet50: return {true, {3, 4, 6, 3}, base_width};
      default: fail("ResNetSpec: ", arch_name(arch), " is not a ResNet");
    }
  }
};

/// A ResNet-WSOL encoder. forward_stages() returns every stage, forward() layer4's output;
/// backward() takes the gradient of layer4's output.
template <Scalar T>
class ResNetWsol : public Encoder<T> {
public:
  /// Builds the encoder of `spec` (PyTorch's default initialisation; load weights to use it).
  explicit ResNetWsol(const ResNetSpec& spec)
      : conv1_(3, spec.base_width, Conv2dGeometry::square(7, 2, 3), false),
        bn1_(spec.base_width),
        maxpool_(Pool2dGeometry{3, 2, 1}) {
    FCAM_CHECK(spec.base_width >= 1, "ResNetWsol: base width must be >= 1, got ", spec.base_width);
    this->register_module("conv1", conv1_);
    this->register_module("bn1", bn1_);
    const std::int64_t expansion = spec.bottleneck ? Bottleneck<T>::expansion : BasicBlock<T>::expansion;
    std::int64_t in = spec.base_width;
    stage_channels_ = {3, spec.base_width};
    const std::int64_t strides[4] = {1, 2, 1, 1};  // WSOL: layer3 and layer4 keep 1/8 resolution
    for (int l = 0; l < 4; ++l) {
      const std::int64_t planes = spec.base_width << l;
      for (int b = 0; b < spec.blocks[static_cast<std::size_t>(l)]; ++b) {
        const std::int64_t stride = b == 0 ? strides[l] : 1;
        if (spec.bottleneck)
          layers_[l].template emplace<Bottleneck<T>>(in, planes, stride);
        else
          layers_[l].template emplace<BasicBlock<T>>(in, planes, stride);
        in = planes * expansion;
      }
      this->register_module("layer" + std::to_string(l + 1), layers_[l]);
      stage_channels_.push_back(in);
    }
  }

  /// Input, stem, layer1 … layer4 (see the file comment).
  std::vector<Tensor<T>> forward_stages(const Tensor<T>& x) override {
    check_rank(x, 4, "ResNetWsol input");
    FCAM_CHECK(x.size(1) == 3, "ResNetWsol: input must have 3 channels, got shape ", to_string(x.shape()));
    std::vector<Tensor<T>> stages{x, nn::conv_bn_relu(conv1_, &bn1_, &relu_, x)};
    Tensor<T> h = maxpool_(stages.back());
    for (auto& layer : layers_) {
      h = layer(h);
      stages.push_back(h);
    }
    return stages;
  }

  Tensor<T> backward(const Tensor<T>& grad_y) override {
    Tensor<T> g = grad_y;
    for (int l = 3; l >= 0; --l) g = layers_[l].backward(g);
    return conv1_.backward(bn1_.backward_after_relu(relu_.output(), maxpool_.backward(g)));
  }

  /// Channels of each stage, in the order of forward_stages().
  const std::vector<std::int64_t>& stage_channels() const override { return stage_channels_; }
  nn::Conv2d<T>& stem() override { return conv1_; }

private:
  nn::Conv2d<T> conv1_;
  nn::BatchNorm2d<T> bn1_;
  nn::ReLU<T> relu_;
  nn::MaxPool2d<T> maxpool_;
  std::array<nn::Sequential<T>, 4> layers_;
  std::vector<std::int64_t> stage_channels_;
};

}  // namespace fcam::models

/// \file
/// \brief models::Bottleneck: torchvision's ResNet bottleneck block, the model for composite modules.
///
/// A composite module owns its children as members, registers them under PyTorch's names, runs
/// them in forward order, and its backward visits them in reverse; where the forward branches
/// (the residual), backward adds the gradients of both branches.
#pragma once

#include <cstdint>
#include <memory>

#include "fcam/nn/activation.hpp"
#include "fcam/nn/batchnorm2d.hpp"
#include "fcam/nn/conv2d.hpp"
#include "fcam/nn/fused.hpp"
#include "fcam/nn/sequential.hpp"
#include "fcam/ops/elementwise.hpp"

namespace fcam::models {

/// out = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + shortcut(x)), with
/// conv1 1×1 in→planes, conv2 3×3 (stride) planes→planes, conv3 1×1 planes→4·planes, and the
/// shortcut a 1×1 conv + BN ("downsample.0", "downsample.1") when the shape changes, else identity.
template <Scalar T>
class Bottleneck : public nn::Module<T> {
public:
  /// Output channels are 4·planes.
  static constexpr std::int64_t expansion = 4;

  /// `in_channels` input channels, `planes` inner width, `stride` of the 3×3 conv.
  Bottleneck(std::int64_t in_channels, std::int64_t planes, std::int64_t stride = 1)
      : conv1_(in_channels, planes, Conv2dGeometry::square(1), false),
        bn1_(planes),
        conv2_(planes, planes, Conv2dGeometry::square(3, stride, 1), false),
        bn2_(planes),
        conv3_(planes, planes * expansion, Conv2dGeometry::square(1), false),
        bn3_(planes * expansion) {
    this->register_module("conv1", conv1_);
    this->register_module("bn1", bn1_);
    this->register_module("conv2", conv2_);
    this->register_module("bn2", bn2_);
    this->register_module("conv3", conv3_);
    this->register_module("bn3", bn3_);
    if (stride != 1 || in_channels != planes * expansion) {
      downsample_.template emplace<nn::Conv2d<T>>(in_channels, planes * expansion, Conv2dGeometry::square(1, stride),
                                                  false);
      downsample_.template emplace<nn::BatchNorm2d<T>>(planes * expansion);
      this->register_module("downsample", downsample_);
    }
  }

  Tensor<T> forward(const Tensor<T>& x) override {
    // nn::conv_bn_relu fuses each conv with its BN, the shortcut and the ReLU in inference.
    Tensor<T> main = nn::conv_bn_relu(conv1_, &bn1_, &relu1_, x);
    main = nn::conv_bn_relu(conv2_, &bn2_, &relu2_, main);
    const Tensor<T> shortcut = has_downsample() ? downsample_(x) : x;
    return nn::conv_bn_relu(conv3_, &bn3_, &relu3_, main, shortcut);
  }

  Tensor<T> backward(const Tensor<T>& grad_y) override {
    const Tensor<T> g_sum = relu3_.backward(grad_y);  // gradient of main + shortcut
    Tensor<T> g = conv3_.backward(bn3_.backward(g_sum));
    g = conv2_.backward(bn2_.backward_after_relu(relu2_.output(), g));
    g = conv1_.backward(bn1_.backward_after_relu(relu1_.output(), g));
    return add(g, has_downsample() ? downsample_.backward(g_sum) : g_sum);
  }

  /// True when the shortcut is a projection (1×1 conv + BN).
  bool has_downsample() const { return downsample_.size() > 0; }

private:
  nn::Conv2d<T> conv1_;
  nn::BatchNorm2d<T> bn1_;
  nn::Conv2d<T> conv2_;
  nn::BatchNorm2d<T> bn2_;
  nn::Conv2d<T> conv3_;
  nn::BatchNorm2d<T> bn3_;
  nn::ReLU<T> relu1_, relu2_, relu3_;
  nn::Sequential<T> downsample_;
};

}  // namespace fcam::models

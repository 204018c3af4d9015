/// \file
/// \brief The convolution geometries test_backend_ops runs on both devices: every distinct
/// convolution of the WSOL backbones (ResNet18/50, VGG16, InceptionV3), of the F-CAM decoders,
/// and MobileNetV2's depthwise and pointwise shapes, plus awkward ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <fcam/ops/conv2d_geometry.hpp>

namespace fcam::test {

/// One convolution: input channels and size, output channels, geometry.
struct ConvCase {
  std::string name;
  std::int64_t in, out, height, width;
  Conv2dGeometry g;
};

inline std::vector<ConvCase> conv_cases() {
  const auto sq = [](std::int64_t k, std::int64_t s = 1, std::int64_t p = 0, std::int64_t d = 1, std::int64_t groups = 1) {
    return Conv2dGeometry::square(k, s, p, d, groups);
  };
  const auto rect = [](std::int64_t kh, std::int64_t kw, std::int64_t s = 1) {  // InceptionV3's "same" kernels
    return Conv2dGeometry{kh, kw, s, s, kh / 2, kw / 2, 1, 1, 1};
  };
  return {
      // ResNet50-WSOL (layer4 keeps stride 1: 28×28 after layer2)
      {"resnet50 stem 7x7s2", 3, 64, 224, 224, sq(7, 2, 3)},
      {"resnet50 l1 1x1 64-64", 64, 64, 56, 56, sq(1)},
      {"resnet50 l1 3x3 64-64", 64, 64, 56, 56, sq(3, 1, 1)},
      {"resnet50 l1 1x1 64-256", 64, 256, 56, 56, sq(1)},
      {"resnet50 l1 1x1 256-64", 256, 64, 56, 56, sq(1)},
      {"resnet50 l2 1x1 256-128", 256, 128, 56, 56, sq(1)},
      {"resnet50 l2 3x3s2 128-128", 128, 128, 56, 56, sq(3, 2, 1)},
      {"resnet50 l2 downsample 1x1s2 256-512", 256, 512, 56, 56, sq(1, 2)},
      {"resnet50 l2 1x1 128-512", 128, 512, 28, 28, sq(1)},
      {"resnet50 l3 3x3s2 256-256", 256, 256, 28, 28, sq(3, 2, 1)},
      {"resnet50 l3 1x1 1024-256", 1024, 256, 14, 14, sq(1)},
      {"resnet50 l4 3x3 512-512 at 28", 512, 512, 28, 28, sq(3, 1, 1)},
      {"resnet50 l4 1x1 512-2048", 512, 2048, 28, 28, sq(1)},
      {"resnet50 l4 downsample 1x1 1024-2048", 1024, 2048, 28, 28, sq(1)},
      // ResNet18-WSOL (basic blocks)
      {"resnet18 3x3 64-64", 64, 64, 56, 56, sq(3, 1, 1)},
      {"resnet18 3x3s2 64-128", 64, 128, 56, 56, sq(3, 2, 1)},
      {"resnet18 downsample 1x1s2 64-128", 64, 128, 56, 56, sq(1, 2)},
      {"resnet18 3x3 256-256 at 14", 256, 256, 14, 14, sq(3, 1, 1)},
      // VGG16-WSOL
      {"vgg16 conv1_1 3-64", 3, 64, 224, 224, sq(3, 1, 1)},
      {"vgg16 conv1_2 64-64", 64, 64, 224, 224, sq(3, 1, 1)},
      {"vgg16 conv2_2 128-128", 128, 128, 112, 112, sq(3, 1, 1)},
      {"vgg16 conv3 256-256", 256, 256, 56, 56, sq(3, 1, 1)},
      {"vgg16 conv4 512-512", 512, 512, 28, 28, sq(3, 1, 1)},
      {"vgg16 conv6 512-1024", 512, 1024, 28, 28, sq(3, 1, 1)},
      // InceptionV3-WSOL
      {"inception 1a 3x3s2 3-32", 3, 32, 224, 224, rect(3, 3, 2)},
      {"inception 2a 3x3 32-32", 32, 32, 111, 111, rect(3, 3)},
      {"inception 3b 1x1 64-80", 64, 80, 55, 55, rect(1, 1)},
      {"inception 5x5 48-64", 48, 64, 28, 28, rect(5, 5)},
      {"inception 1x7 128-128", 128, 128, 28, 28, rect(1, 7)},
      {"inception 7x1 128-192", 128, 192, 28, 28, rect(7, 1)},
      {"inception 6a 3x3s2 288-384", 288, 384, 28, 28, rect(3, 3, 2)},
      // F-CAM decoders (the convolutions on concatenated skips)
      {"decoder resnet50 3x3 3072-256", 3072, 256, 28, 28, sq(3, 1, 1)},
      {"decoder inception 3x3 1792-256", 1792, 256, 29, 29, sq(3, 1, 1)},
      {"decoder vgg16 3x3 1280-256", 1280, 256, 56, 56, sq(3, 1, 1)},
      {"decoder vgg16 3x3 192-64", 192, 64, 224, 224, sq(3, 1, 1)},
      {"decoder segmentation head 3x3 16-2", 16, 2, 224, 224, sq(3, 1, 1)},
      // MobileNetV2: depthwise (groups = channels) and pointwise
      {"mobilenetv2 depthwise 3x3 32", 32, 32, 112, 112, sq(3, 1, 1, 1, 32)},
      {"mobilenetv2 depthwise 3x3s2 96", 96, 96, 112, 112, sq(3, 2, 1, 1, 96)},
      {"mobilenetv2 depthwise 3x3 960", 960, 960, 7, 7, sq(3, 1, 1, 1, 960)},
      {"mobilenetv2 pointwise 1x1 32-16", 32, 16, 112, 112, sq(1)},
      {"mobilenetv2 pointwise 1x1 320-1280", 320, 1280, 7, 7, sq(1)},
      // Awkward: odd sizes, dilation, groups, 1×1 planes, a kernel as large as the input
      {"odd 3x3 5-7 on 13x9", 5, 7, 13, 9, sq(3, 1, 1)},
      {"dilated 3x3 d2 8-8", 8, 8, 17, 15, sq(3, 1, 2, 2)},
      {"grouped 3x3 g4 16-8", 16, 8, 10, 10, sq(3, 1, 1, 1, 4)},
      {"1x1 plane 3x3 p1", 6, 5, 1, 1, sq(3, 1, 1)},
      {"stride 3 5x5 4-3 on 11x11", 4, 3, 11, 11, sq(5, 3, 0)},
      {"kernel as large as input", 3, 4, 5, 5, sq(5)},
  };
}

}  // namespace fcam::test

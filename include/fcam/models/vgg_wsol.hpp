/// \file
/// \brief VGG16-WSOL: torchvision's VGG16 convolutions without pool4 and pool5, then conv6
/// (3×3, 512→1024, ReLU), with torchvision's parameter names ("features.N", N its index in
/// torchvision's `features`) so that ImageNet weights load directly; conv6 is "conv6".
///
/// Stages for a 224×224 input (docs/method.md §2.4): 64@224 (conv1_2), 128@112 (conv2_2), 256@56
/// (conv3_3), 1024@28 (conv6). A base width other than 64 scales every width.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fcam/models/encoder.hpp"
#include "fcam/nn/activation.hpp"
#include "fcam/nn/conv2d.hpp"
#include "fcam/nn/pool2d.hpp"

namespace fcam::models {

/// The VGG16-WSOL encoder.
template <Scalar T>
class Vgg16Wsol : public ChainEncoder<T> {
public:
  /// `base_width` 64 is VGG16's; conv6 has 16·base_width channels.
  explicit Vgg16Wsol(std::int64_t base_width = 64)
      : ChainEncoder<T>(false, {base_width, 2 * base_width, 4 * base_width, 16 * base_width}) {
    FCAM_CHECK(base_width >= 1, "Vgg16Wsol: base width must be >= 1, got ", base_width);
    const std::int64_t b = base_width;
    // torchvision's features: index and output channels of each conv; blocks 1–3 end in a stage
    // and a 2×2 max-pool, blocks 4–5 have no pool (removed for WSOL).
    const std::vector<std::vector<std::pair<int, std::int64_t>>> blocks{
        {{0, b}, {2, b}}, {{5, 2 * b}, {7, 2 * b}}, {{10, 4 * b}, {12, 4 * b}, {14, 4 * b}},
        {{17, 8 * b}, {19, 8 * b}, {21, 8 * b}}, {{24, 8 * b}, {26, 8 * b}, {28, 8 * b}}};
    std::int64_t in = 3;
    for (std::size_t k = 0; k < blocks.size(); ++k) {
      for (const auto& [index, out] : blocks[k]) {
        conv_relu("features." + std::to_string(index), in, out);
        in = out;
      }
      if (k < 3) {
        this->mark_stage();
        this->add(std::make_unique<nn::MaxPool2d<T>>(Pool2dGeometry{2, 2}));
      }
    }
    conv_relu("conv6", in, 16 * b);
    this->mark_stage();
  }

private:
  void conv_relu(const std::string& name, std::int64_t in, std::int64_t out) {
    auto& conv = this->template named<nn::Conv2d<T>>(name, in, out, Conv2dGeometry::square(3, 1, 1), true);
    if (!this->stem_) this->stem_ = &conv;
    this->add(std::make_unique<nn::ReLU<T>>());
  }
};

}  // namespace fcam::models

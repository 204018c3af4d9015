/// \file
/// \brief Images to network inputs: bilinear resize and ImageNet normalisation.
///
/// Convention (stated because resamplers differ): the 0–255 values are resized with bilinear
/// interpolation on half-pixel centres, without antialiasing — PyTorch's
/// `F.interpolate(x, size, mode="bilinear", align_corners=False)` on the float image — then
/// divided by 255 and normalised with the ImageNet mean and standard deviation. (torchvision's
/// PIL-based Resize antialiases when shrinking, so its inputs differ slightly for large images.)
#pragma once

#include <array>
#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/ops/resize.hpp"

namespace fcam::data {

/// Per-channel normalisation.
struct Normalization {
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  ///< ImageNet mean (on 0–1 values)
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};   ///< ImageNet standard deviation
};

/// The image as a 1×3×height×width tensor: resized (see the file comment), /255, normalised.
inline Tensor<float> image_to_input(const Rgb8& image, std::int64_t height, std::int64_t width,
                                    const Normalization& norm = {}) {
  FCAM_CHECK(image.width > 0 && image.height > 0 && height > 0 && width > 0, "image_to_input: empty image or size");
  const std::int64_t plane = static_cast<std::int64_t>(image.width) * image.height;
  Tensor<float> raw({1, 3, image.height, image.width});
  for (std::int64_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) raw.data()[c * plane + i] = image.pixels[static_cast<std::size_t>(i * 3 + c)];
  Tensor<float> x = image.height == height && image.width == width ? raw : resize_bilinear(raw, height, width, false);
  const std::int64_t out_plane = height * width;
  for (int c = 0; c < 3; ++c) {
    float* p = x.data() + c * out_plane;
    for (std::int64_t i = 0; i < out_plane; ++i) p[i] = (p[i] / 255.0f - norm.mean[c]) / norm.std[c];
  }
  return x;
}

}  // namespace fcam::data

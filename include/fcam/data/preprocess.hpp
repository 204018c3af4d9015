/// \file
/// \brief Images to network inputs: bilinear resize and ImageNet normalisation; and back, for
/// drawing on an input.
///
/// Convention (stated because resamplers differ): the 0–255 values are resized with bilinear
/// interpolation on half-pixel centres, without antialiasing — PyTorch's
/// `F.interpolate(x, size, mode="bilinear", align_corners=False)` on the float image — then
/// divided by 255 and normalised with the ImageNet mean and standard deviation. (torchvision's
/// PIL-based Resize antialiases when shrinking, so its inputs differ slightly for large images.)
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/ops/resize.hpp"

namespace fcam::data {

/// Per-channel normalisation.
struct Normalization {
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  ///< ImageNet mean (on 0–1 values)
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};   ///< ImageNet standard deviation
};

/// Bilinear resize of an 8-bit RGB image to a planar 3×height×width float image (0–255), with
/// resize_bilinear's rule (align_corners false), single-threaded.
inline Tensor<float> resize_rgb8(const Rgb8& image, std::int64_t height, std::int64_t width) {
  FCAM_CHECK(image.width > 0 && image.height > 0 && height > 0 && width > 0, "resize_rgb8: empty image or size");
  const fcam::detail::LinearTaps<float> ty(image.height, height, false), tx(image.width, width, false);
  Tensor<float> out({3, height, width});
  const auto stride = static_cast<std::int64_t>(image.width) * 3;
  const std::uint8_t* px = image.pixels.data();
  for (std::int64_t i = 0; i < height; ++i) {
    const auto a = static_cast<std::size_t>(i);
    const std::uint8_t* r0 = px + ty.i0[a] * stride;
    const std::uint8_t* r1 = px + ty.i1[a] * stride;
    for (std::int64_t j = 0; j < width; ++j) {
      const auto b = static_cast<std::size_t>(j);
      for (int c = 0; c < 3; ++c) {
        const std::int64_t x0 = tx.i0[b] * 3 + c, x1 = tx.i1[b] * 3 + c;
        out.data()[(c * height + i) * width + j] = ty.w0[a] * (tx.w0[b] * r0[x0] + tx.w1[b] * r0[x1]) +
                                                   ty.w1[a] * (tx.w0[b] * r1[x0] + tx.w1[b] * r1[x1]);
      }
    }
  }
  return out;
}

/// (raw/255 − mean)/std per channel of a planar 3×H×W (or N×3×H×W) image of 0–255 values.
inline Tensor<float> normalized(const Tensor<float>& raw, const Normalization& norm) {
  FCAM_CHECK(raw.ndim() >= 3 && raw.size(raw.ndim() - 3) == 3, "normalized: expected 3 channels, got ",
             to_string(raw.shape()));
  Tensor<float> out = Tensor<float>::uninitialized(raw.shape());
  const std::int64_t plane = raw.size(raw.ndim() - 1) * raw.size(raw.ndim() - 2);
  for (std::int64_t k = 0; k < raw.numel() / plane; ++k) {
    const auto c = static_cast<std::size_t>(k % 3);
    for (std::int64_t i = 0; i < plane; ++i)
      out.data()[k * plane + i] = (raw.data()[k * plane + i] / 255.0f - norm.mean[c]) / norm.std[c];
  }
  return out;
}

/// The image as a 1×3×height×width tensor: resized (see the file comment), /255, normalised.
inline Tensor<float> image_to_input(const Rgb8& image, std::int64_t height, std::int64_t width,
                                    const Normalization& norm = {}) {
  return normalized(resize_rgb8(image, height, width), norm).reshape({1, 3, height, width});
}

/// \brief The picture a 1×3×H×W input shows, for drawing on (e.g. fcam-infer's overlays).
///
/// The normalisation undone ((x·std + mean)·255), clamped to [0, 255] and truncated to 8 bits: the
/// inverse of image_to_input at the image's own size to within one level: truncation turns a value
/// that float arithmetic left just below an integer (e.g. 2.9999998) into the level under it.
/// (fcam-infer's overlays have always been drawn on this picture; rounding instead would make the
/// inverse exact.)
inline Rgb8 input_to_image(const Tensor<float>& x, const Normalization& norm = {}) {
  FCAM_CHECK(x.ndim() == 4 && x.size(0) == 1 && x.size(1) == 3, "input_to_image: expected a 1×3×H×W input, got ",
             to_string(x.shape()));
  x.require_cpu("input_to_image");
  const auto h = static_cast<int>(x.size(2)), w = static_cast<int>(x.size(3));
  Rgb8 image{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w) * h * 3)};
  const std::int64_t plane = static_cast<std::int64_t>(w) * h;
  for (std::int64_t i = 0; i < plane; ++i)
    for (std::size_t c = 0; c < 3; ++c) {
      const float v = (x.data()[static_cast<std::int64_t>(c) * plane + i] * norm.std[c] + norm.mean[c]) * 255.0f;
      // Rounded to the nearest level, so that an image read by image_to_input comes back exactly.
      const long level = std::lround(std::clamp(v, 0.0f, 255.0f));
      image.pixels[static_cast<std::size_t>(i) * 3 + c] = static_cast<std::uint8_t>(level);
    }
  return image;
}

}  // namespace fcam::data

/// \file
/// \brief Training and evaluation transforms of docs/method.md §6.1: train = resize to R×R, random
/// S×S crop, horizontal flip with p = ½; eval = resize straight to S×S; then /255 and the
/// normalisation. The un-normalised 0–255 values of the same crop and flip are kept for the CRF
/// loss. The resize follows preprocess.hpp's convention (bilinear, half-pixel centres, no
/// antialiasing) and runs on the calling thread (loader workers call it).
#pragma once

#include <cstdint>

#include "fcam/core/rng.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/data/preprocess.hpp"

namespace fcam::data {

/// Sizes and mode of a transform (the reference: resize 256, crop 224).
struct TransformOptions {
  std::int64_t resize_size = 256;  ///< train: the image is resized to this square first
  std::int64_t crop_size = 224;    ///< network input size (eval: the resize target)
  bool train = true;               ///< random crop and flip (else a plain resize)
  Normalization normalization;     ///< mean / std on 0–1 values
};

/// One transformed image: the network input and its raw 0–255 values (both 3×S×S), and what
/// the random part chose.
struct TransformedImage {
  Tensor<float> input;  ///< normalised
  Tensor<float> raw;    ///< 0–255, same geometry
  std::int64_t crop_x = 0, crop_y = 0;  ///< top-left of the crop in the resized image
  bool flipped = false;                 ///< mirrored left–right
};

/// Applies the transform; `rng` draws the crop offsets (x, then y) and the flip.
inline TransformedImage transform_image(const Rgb8& image, const TransformOptions& o, Rng& rng) {
  FCAM_CHECK(o.crop_size >= 1 && (!o.train || o.resize_size >= o.crop_size), "transform: crop size ", o.crop_size,
             " must be >= 1 and (training) <= the resize size ", o.resize_size);
  TransformedImage t;
  const std::int64_t s = o.crop_size;
  if (!o.train) {
    t.raw = resize_rgb8(image, s, s);
  } else {
    const Tensor<float> resized = resize_rgb8(image, o.resize_size, o.resize_size);
    const std::int64_t span = o.resize_size - s + 1;
    t.crop_x = std::min(span - 1, static_cast<std::int64_t>(rng.uniform() * static_cast<double>(span)));
    t.crop_y = std::min(span - 1, static_cast<std::int64_t>(rng.uniform() * static_cast<double>(span)));
    t.flipped = rng.uniform() < 0.5;
    t.raw = Tensor<float>({3, s, s});
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t y = 0; y < s; ++y)
        for (std::int64_t x = 0; x < s; ++x) {
          const std::int64_t sx = t.crop_x + (t.flipped ? s - 1 - x : x);
          t.raw.data()[(c * s + y) * s + x] = resized.data()[(c * o.resize_size + t.crop_y + y) * o.resize_size + sx];
        }
  }
  t.input = normalized(t.raw, o.normalization);
  return t;
}

}  // namespace fcam::data

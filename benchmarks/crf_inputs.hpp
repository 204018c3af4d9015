/// \file
/// \brief The CRF benchmarks' inputs (fcam-bench-crf, fcam-bench-cuda-ops): a 224×224 image and
/// two-channel softmax maps.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <fcam/fcam.hpp>

namespace fcam::bench {

/// 1×3×224×224: the real CUB image of ../shared/data/crf-reference (albatross224) when
/// FCAM_DATA_DIR points at the shared data folder, else a synthetic image with edges and texture.
inline Tensor<float> crf_image() {
  if (const char* dir = std::getenv("FCAM_DATA_DIR")) {
    const auto path = std::filesystem::path(dir) / "crf-reference" / "albatross224_image.npy";
    if (std::filesystem::exists(path)) return io::read_npy<float>(path).reshape({1, 3, 224, 224});
  }
  Rng rng(1);
  Tensor<float> img({1, 3, 224, 224});
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t y = 0; y < 224; ++y)
      for (std::int64_t x = 0; x < 224; ++x) {
        // Inside a disc of radius 60 (squared distances: no hypot, whose symbol needs a newer glibc
        // than the GPU machine may have).
        const double dx = x - 110.0, dy = y - 120.0;
        const bool bird = dx * dx + dy * dy < 3600.0;
        const double value =
            (bird ? 170.0 - 30 * c : 90.0 + 20 * c) + 25 * std::sin(0.2 * x + 0.1 * y) + rng.uniform(-10, 10);
        img.data()[(c * 224 + y) * 224 + x] = static_cast<float>(std::clamp(value, 0.0, 255.0));
      }
  return img;
}

/// batch×2×224×224 softmax maps of random logits in [−3, 3].
inline Tensor<float> softmax_maps(std::int64_t batch, std::uint64_t seed) {
  Rng rng(seed);
  Tensor<float> s({batch, 2, 224, 224});
  const std::int64_t n = 224 * 224;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t i = 0; i < n; ++i) {
      const float p = static_cast<float>(1 / (1 + std::exp(-rng.uniform(-3, 3))));
      s.data()[(b * 2) * n + i] = p;
      s.data()[(b * 2 + 1) * n + i] = 1 - p;
    }
  return s;
}

/// `batch` copies of crf_image().
inline Tensor<float> crf_images(std::int64_t batch) {
  const Tensor<float> one = crf_image();
  Tensor<float> images({batch, 3, 224, 224});
  for (std::int64_t b = 0; b < batch; ++b) images.batch(b, 1).copy_from(one);
  return images;
}

}  // namespace fcam::bench

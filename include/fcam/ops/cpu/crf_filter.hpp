/// \file
/// \brief CPU kernel of the crf_filter op (fcam/ops/crf_filter.hpp): one permutohedral lattice per
/// image, images in parallel.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/cpu/permutohedral.hpp"

namespace fcam::cpu {

/// W·S for one image into `out` (C×H×W floats): `image` 3×H×W (RGB, 0–255), `probs` C×H×W. W is
/// the lattice's Gaussian affinity of the pixels' (x/σ_xy, y/σ_xy, R/σ_rgb, G/σ_rgb, B/σ_rgb).
/// With `transposed`, Wᵀ·S (see PermutohedralLattice::filter).
template <Scalar T>
void crf_filter_image(const T* image, const T* probs, std::int64_t channels, std::int64_t h, std::int64_t w,
                      double sigma_rgb, double sigma_xy, bool transposed, float* out) {
  const std::int64_t n = h * w;
  std::vector<float> features(static_cast<std::size_t>(n) * 5);
  const auto inv_xy = static_cast<float>(1.0 / sigma_xy), inv_rgb = static_cast<float>(1.0 / sigma_rgb);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      float* f = features.data() + static_cast<std::size_t>(y * w + x) * 5;
      f[0] = static_cast<float>(x) * inv_xy;  // column first, as in the reference
      f[1] = static_cast<float>(y) * inv_xy;
      for (int k = 0; k < 3; ++k) f[2 + k] = static_cast<float>(image[k * n + y * w + x]) * inv_rgb;
    }
  const PermutohedralLattice<5> lattice(features.data(), n);
  if constexpr (std::is_same_v<T, float>) {
    lattice.filter(probs, channels, out, transposed);
  } else {
    const std::vector<float> in(probs, probs + n * channels);  // the lattice computes in float
    lattice.filter(in.data(), channels, out, transposed);
  }
}

/// W·S (or Wᵀ·S) of every image of a batch: `images` N×3×H×W, `probs` N×C×H×W. Images run in
/// parallel, one lattice each; float results are written in place.
template <Scalar T>
Tensor<T> crf_filter(const Tensor<T>& images, const Tensor<T>& probs, double sigma_rgb, double sigma_xy,
                     bool transposed) {
  const std::int64_t c = probs.size(1), h = probs.size(2), w = probs.size(3), plane = c * h * w;
  auto out = Tensor<T>::uninitialized(probs.shape());  // every value is written
  parallel_items(probs.size(0), [&](std::int64_t b) {
    const T* image = images.data() + b * 3 * h * w;
    if constexpr (std::is_same_v<T, float>) {
      crf_filter_image(image, probs.data() + b * plane, c, h, w, sigma_rgb, sigma_xy, transposed, out.data() + b * plane);
    } else {
      std::vector<float> ws(static_cast<std::size_t>(plane));
      crf_filter_image(image, probs.data() + b * plane, c, h, w, sigma_rgb, sigma_xy, transposed, ws.data());
      std::copy(ws.begin(), ws.end(), out.data() + b * plane);
    }
  });
  return out;
}

}  // namespace fcam::cpu

/// \file
/// \brief The CRF loss of F-CAM's stage 2 (docs/method.md §5.2, Tang et al.'s regularized loss):
/// R(S, X) = −(λ/N_b) Σ_images Σ_c S_cᵀ W S_c, with W the Gaussian affinity of the pixels'
/// (x/σ_xy, y/σ_xy, R/σ_rgb, G/σ_rgb, B/σ_rgb) computed by the permutohedral lattice
/// (permutohedral.hpp explains its approximation and scale), and ∂R/∂S_c = −(2λ/N_b) W S_c,
/// the reference's gradient: it treats the lattice's W as symmetric, while the exact gradient of
/// the lattice loss is −(λ/N_b)(W + Wᵀ) S_c (tests/test_crf_loss.cpp measures the difference).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/losses/permutohedral.hpp"

namespace fcam::losses {

/// Constants of the CRF loss (the reference's defaults for 224×224 crops).
struct CrfLossOptions {
  double sigma_rgb = 15.0;  ///< colour bandwidth (0–255 units)
  double sigma_xy = 100.0;  ///< spatial bandwidth (pixels)
  double weight = 2e-9;     ///< λ

  /// The settings for images of `size` pixels a side instead of 224: λ·(224/size)² and
  /// σ_xy·size/224, so that the term keeps its weight relative to the others (docs/method.md §5.2).
  CrfLossOptions scaled_to(std::int64_t size) const {
    CrfLossOptions o = *this;
    const double r = 224.0 / static_cast<double>(size);
    o.weight = weight * r * r;
    o.sigma_xy = sigma_xy / r;
    return o;
  }
};

/// W·S for one image: `image` 3×H×W (RGB, 0–255), `probs` C×H×W; returns C×H×W. With
/// `transposed`, Wᵀ·S (see PermutohedralLattice::filter).
template <Scalar T>
std::vector<float> crf_filter_image(const T* image, const T* probs, std::int64_t channels, std::int64_t h,
                                    std::int64_t w, const CrfLossOptions& o, bool transposed = false) {
  const std::int64_t n = h * w;
  std::vector<float> features(static_cast<std::size_t>(n) * 5);
  const auto inv_xy = static_cast<float>(1.0 / o.sigma_xy), inv_rgb = static_cast<float>(1.0 / o.sigma_rgb);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      float* f = features.data() + static_cast<std::size_t>(y * w + x) * 5;
      f[0] = static_cast<float>(x) * inv_xy;  // column first, as in the reference
      f[1] = static_cast<float>(y) * inv_xy;
      for (int k = 0; k < 3; ++k) f[2 + k] = static_cast<float>(image[k * n + y * w + x]) * inv_rgb;
    }
  const PermutohedralLattice<5> lattice(features.data(), n);
  const std::vector<float> in(probs, probs + n * channels);  // as float, C×H×W like the output
  std::vector<float> out(in.size());
  lattice.filter(in.data(), channels, out.data(), transposed);
  return out;
}

/// The CRF loss of a batch: `probs` N×C×H×W (softmax), `images` N×3×H×W raw RGB (0–255, the
/// same crop and flip as the network input). Writes ∂R/∂probs into `grad` when non-null.
/// Images run in parallel (one lattice each).
template <Scalar T>
T crf_loss(const Tensor<T>& probs, const Tensor<T>& images, const CrfLossOptions& o, Tensor<T>* grad = nullptr) {
  check_rank(probs, 4, "crf_loss probabilities");
  check_rank(images, 4, "crf_loss images");
  FCAM_CHECK(images.size(0) == probs.size(0) && images.size(1) == 3 && images.size(2) == probs.size(2) &&
                 images.size(3) == probs.size(3),
             "crf_loss: images ", to_string(images.shape()), " do not match probabilities ", to_string(probs.shape()));
  FCAM_CHECK(o.sigma_rgb > 0 && o.sigma_xy > 0, "crf_loss: sigmas must be positive");
  probs.require_cpu("crf_loss");
  const std::int64_t batch = probs.size(0), c = probs.size(1), h = probs.size(2), w = probs.size(3), plane = c * h * w;
  if (grad) *grad = Tensor<T>(probs.shape());
  std::vector<double> per_image(static_cast<std::size_t>(batch), 0.0);
  const double scale = o.weight / static_cast<double>(std::max<std::int64_t>(batch, 1));
  parallel_items(batch, [&](std::int64_t b) {
    const T* s = probs.data() + b * plane;
    const std::vector<float> ws = crf_filter_image(images.data() + b * 3 * h * w, s, c, h, w, o);
    double sum = 0;
    for (std::int64_t i = 0; i < plane; ++i) sum += static_cast<double>(s[i]) * ws[static_cast<std::size_t>(i)];
    per_image[static_cast<std::size_t>(b)] = sum;
    if (grad) {
      T* g = grad->data() + b * plane;
      for (std::int64_t i = 0; i < plane; ++i) g[i] = static_cast<T>(-2.0 * scale * ws[static_cast<std::size_t>(i)]);
    }
  });
  double total = 0;
  for (double v : per_image) total += v;
  return static_cast<T>(-scale * total);
}

}  // namespace fcam::losses

/// \file
/// \brief The CRF loss of F-CAM's stage 2 (docs/method.md §5.2, Tang et al.'s regularized loss):
/// R(S, X) = −(λ/N_b) Σ_images Σ_c S_cᵀ W S_c, with W the Gaussian affinity of the pixels'
/// (x/σ_xy, y/σ_xy, R/σ_rgb, G/σ_rgb, B/σ_rgb) computed by the permutohedral lattice
/// (ops/cpu/permutohedral.hpp explains its approximation and scale), and ∂R/∂S_c = −(2λ/N_b) W S_c,
/// the reference's gradient: it treats the lattice's W as symmetric, while the exact gradient of
/// the lattice loss is −(λ/N_b)(W + Wᵀ) S_c (tests/test_crf_loss.cpp measures the difference).
#pragma once

#include <algorithm>
#include <cstdint>

#include "fcam/core/loss_sums.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/crf_filter.hpp"
#include "fcam/ops/reduce.hpp"
#include "fcam/ops/scale.hpp"

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

/// W·S for every image of a batch (`images` N×3×H×W, `probs` N×C×H×W) with the loss's σ's; with
/// `transposed`, Wᵀ·S (the crf_filter op).
template <Scalar T>
Tensor<T> crf_filter(const Tensor<T>& images, const Tensor<T>& probs, const CrfLossOptions& o, bool transposed = false) {
  return fcam::crf_filter(images, probs, o.sigma_rgb, o.sigma_xy, transposed);
}

/// The CRF loss of a batch: `probs` N×C×H×W (softmax), `images` N×3×H×W raw RGB (0–255, the
/// same crop and flip as the network input). Writes ∂R/∂probs into `grad` when non-null.
/// Images run in parallel (one lattice each).
template <Scalar T>
T crf_loss(const Tensor<T>& probs, const Tensor<T>& images, const CrfLossOptions& o, Tensor<T>* grad = nullptr) {
  const Tensor<T> ws = crf_filter(images, probs, o);
  const double scale = o.weight / static_cast<double>(std::max<std::int64_t>(probs.size(0), 1));
  if (grad) *grad = scaled(ws, -2.0 * scale);
  double total = 0;
  for (const double v : item_dots(probs, ws)) total += v;
  return static_cast<T>(-scale * total);
}

/// The CRF loss added to `into` (a LossSums slot on the probabilities' device) instead of
/// returned, so that on a GPU nothing waits for its value; returns ∂R/∂probs.
template <Scalar T>
Tensor<T> crf_loss(const Tensor<T>& probs, const Tensor<T>& images, const CrfLossOptions& o, LossSlot into) {
  const Tensor<T> ws = crf_filter(images, probs, o);
  const double scale = o.weight / static_cast<double>(std::max<std::int64_t>(probs.size(0), 1));
  add_item_dots(probs, ws, -scale, into);
  return scaled(ws, -2.0 * scale);
}

}  // namespace fcam::losses

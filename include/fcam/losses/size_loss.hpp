/// \file
/// \brief The absolute size constraint of F-CAM's stage 2 with the extended log-barrier
/// (docs/method.md §5.3): both the background and the foreground must have a positive size.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/planes.hpp"
#include "fcam/ops/reduce.hpp"

namespace fcam::losses {

/// The extended log-barrier ψ_t(z) of the constraint z ≤ 0: −ln(−z)/t for z ≤ −1/t², else its
/// linear extension t·z − ln(1/t²)/t + 1/t (continuous, with continuous derivative).
inline double log_barrier(double z, double t) {
  return z <= -1 / (t * t) ? -std::log(-z) / t : t * z - std::log(1 / (t * t)) / t + 1 / t;
}

/// dψ_t/dz.
inline double log_barrier_derivative(double z, double t) { return z <= -1 / (t * t) ? -1 / (t * z) : t; }

/// The log-barrier's t: 1 at epoch 0, ×1.01 per epoch, at most 10 (docs/method.md §5.3).
inline double log_barrier_t(std::int64_t epoch, double start = 1.0, double factor = 1.01, double max = 10.0) {
  double t = start;
  for (std::int64_t e = 0; e < epoch; ++e) t = std::min(t * factor, max);
  return t;
}

/// λ_s · ½ · [mean_b ψ_t(−size_bg) + mean_b ψ_t(−size_fg)], size_c = Σ_pixels probs_c, for
/// `probs` N×2×H×W (softmax). Writes ∂/∂probs into `grad` when non-null.
template <Scalar T>
T size_loss(const Tensor<T>& probs, double t, double weight, Tensor<T>* grad = nullptr) {
  check_rank(probs, 4, "size_loss probabilities");
  FCAM_CHECK(probs.size(1) == 2, "size_loss: expected 2 channels, got ", to_string(probs.shape()));
  FCAM_CHECK(t > 0, "size_loss: t must be positive, got ", t);
  const std::vector<double> sizes = plane_sums(probs);  // N×2: size_bg, size_fg of each image
  const double scale = weight * 0.5 / static_cast<double>(std::max<std::int64_t>(probs.size(0), 1));
  double total = 0;
  std::vector<T> slopes;  // ∂/∂p of each plane: −ψ_t'(−size), the same at every pixel
  for (const double size : sizes) {
    total += log_barrier(-size, t);
    slopes.push_back(static_cast<T>(-scale * log_barrier_derivative(-size, t)));
  }
  if (grad) *grad = fill_planes(probs.shape(), slopes, probs.device());
  return static_cast<T>(scale * total);
}

}  // namespace fcam::losses

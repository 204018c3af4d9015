/// \file
/// \brief The absolute size constraint of F-CAM's stage 2 with the extended log-barrier
/// (docs/method.md §5.3): both the background and the foreground must have a positive size.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fcam/core/loss_sums.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/log_barrier_rules.hpp"
#include "fcam/ops/size_barrier.hpp"

namespace fcam::losses {

/// The extended log-barrier ψ_t(z) of the constraint z ≤ 0: −ln(−z)/t for z ≤ −1/t², else its
/// linear extension t·z − ln(1/t²)/t + 1/t (continuous, with continuous derivative).
inline double log_barrier(double z, double t) { return log_barrier_rules::value(z, t); }

/// dψ_t/dz.
inline double log_barrier_derivative(double z, double t) { return log_barrier_rules::derivative(z, t); }

/// The log-barrier's t: 1 at epoch 0, ×1.01 per epoch, at most 10 (docs/method.md §5.3).
inline double log_barrier_t(std::int64_t epoch, double start = 1.0, double factor = 1.01, double max = 10.0) {
  double t = start;
  for (std::int64_t e = 0; e < epoch; ++e) t = std::min(t * factor, max);
  return t;
}

namespace detail {
/// Checks the size loss's probabilities; returns its scale λ_s · ½ / N.
template <Scalar T>
double size_loss_scale(const Tensor<T>& probs, double weight) {
  check_rank(probs, 4, "size_loss probabilities");
  FCAM_CHECK(probs.size(1) == 2, "size_loss: expected 2 channels, got ", to_string(probs.shape()));
  return weight * 0.5 / static_cast<double>(std::max<std::int64_t>(probs.size(0), 1));
}
}  // namespace detail

/// The size loss added to `into` (a LossSums slot on the probabilities' device) instead of
/// returned, so that on a GPU nothing waits for the device; returns ∂/∂probs.
template <Scalar T>
Tensor<T> size_loss(const Tensor<T>& probs, double t, double weight, LossSlot into) {
  FCAM_CHECK(t > 0, "size_loss: t must be positive, got ", t);
  return size_barrier_into(probs, t, detail::size_loss_scale(probs, weight), into);
}

/// λ_s · ½ · [mean_b ψ_t(−size_bg) + mean_b ψ_t(−size_fg)], size_c = Σ_pixels probs_c, for
/// `probs` N×2×H×W (softmax). Writes ∂/∂probs into `grad` when non-null. On a GPU it waits for
/// the value.
template <Scalar T>
T size_loss(const Tensor<T>& probs, double t, double weight, Tensor<T>* grad = nullptr) {
  const double scale = detail::size_loss_scale(probs, weight);
  FCAM_CHECK(t > 0, "size_loss: t must be positive, got ", t);
  LossSums value(1, probs.device());
  Tensor<T> g = size_barrier_into(probs, t, scale, value.slot(0));
  if (grad) *grad = g;
  return static_cast<T>(value.read()[0]);
}

}  // namespace fcam::losses

/// \file
/// \brief Smooth-GradCAM++: GradCAM++ averaged over passes on noisy copies of the input
/// (docs/method.md §4.4), with the reference's conventions.
///
/// For each pass p the input gets Gaussian noise; α_p = g²/(2g² + Σ_ij A_p·g³) (or g² with the
/// reference's effective α) is averaged over the passes; the channel weights are
/// Σ_ij mean_p(α_p)·ReLU(g) and the map is ReLU(Σ_k w_k A_k) with ReLU(g) and A from the last
/// pass, as in the reference implementation. g = ∂logit_c/∂A = w[c,k]/(h·w) does not depend on
/// the input (the WGAP head is linear), so only A changes between passes.
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/cam/cam_methods.hpp"
#include "fcam/core/rng.hpp"
#include "fcam/models/fcam_model.hpp"

namespace fcam::cam {

/// Smooth-GradCAM++ maps (N×h×w, not normalised) of `classes` from the given noisy copies of a
/// batch (each N×3×H×W; the last one provides A and ReLU(g)).
template <Scalar T>
Tensor<T> smooth_gradcampp_maps(models::FcamModel<T>& model, const std::vector<Tensor<T>>& noisy_inputs,
                                const std::vector<int>& classes, const Options& options = {}) {
  FCAM_CHECK(!noisy_inputs.empty(), "smooth_gradcampp_maps: no input pass");
  const Tensor<T>& fc = model.head().fc().weight().value;
  Tensor<T> alpha_sum;  // N×C: Σ_p α_p (α is the same at every pixel: g is)
  Tensor<T> a;          // the CAM layer of the current pass
  for (const Tensor<T>& x : noisy_inputs) {
    NoGradGuard no_grad;
    a = model.encoder()(x);
    const std::int64_t n = a.size(0), c = a.size(1), plane = a.size(2) * a.size(3);
    FCAM_CHECK(static_cast<std::int64_t>(classes.size()) == n, "smooth_gradcampp_maps: ", classes.size(),
               " classes for ", n, " images");
    if (!alpha_sum.defined()) alpha_sum = Tensor<T>({n, c});
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t k = 0; k < c; ++k) {
        const double g = static_cast<double>(fc.data()[classes[static_cast<std::size_t>(b)] * c + k]) / plane;
        alpha_sum.data()[b * c + k] += static_cast<T>(detail::gradcampp_alpha(
            g, detail::plane_sum(a.data() + (b * c + k) * plane, plane), options.reference_gradcampp_alpha));
      }
  }
  // Weights from the averaged α and the last pass's ReLU(g); the map from the last pass's A.
  const std::int64_t n = a.size(0), c = a.size(1), plane = a.size(2) * a.size(3);
  Tensor<T> maps({n, a.size(2), a.size(3)});
  for (std::int64_t b = 0; b < n; ++b) {
    T* out = maps.data() + b * plane;
    for (std::int64_t k = 0; k < c; ++k) {
      const double g = static_cast<double>(fc.data()[classes[static_cast<std::size_t>(b)] * c + k]) / plane;
      const double weight = plane * (alpha_sum.data()[b * c + k] / noisy_inputs.size()) * std::max(g, 0.0);
      const T* ak = a.data() + (b * c + k) * plane;
      for (std::int64_t i = 0; i < plane; ++i) out[i] += static_cast<T>(weight * ak[i]);
    }
    for (std::int64_t i = 0; i < plane; ++i) out[i] = std::max(out[i], T(0));
  }
  return maps;
}

/// Smooth-GradCAM++ with `passes` noisy copies of `x` (noise N(0, sigma) on the normalised input,
/// drawn from `rng`): 4 passes and σ = 0.3 in the reference.
template <Scalar T>
Tensor<T> smooth_gradcampp(models::FcamModel<T>& model, const Tensor<T>& x, const std::vector<int>& classes,
                           int passes = 4, double sigma = 0.3, Rng& rng = default_rng(), const Options& options = {}) {
  FCAM_CHECK(passes >= 1 && sigma >= 0, "smooth_gradcampp: passes must be >= 1 and sigma >= 0");
  std::vector<Tensor<T>> noisy;
  for (int p = 0; p < passes; ++p) {
    Tensor<T> copy = x.clone();
    for (std::int64_t i = 0; i < copy.numel(); ++i) copy.data()[i] += static_cast<T>(rng.normal(0.0, sigma));
    noisy.push_back(copy);
  }
  return smooth_gradcampp_maps(model, noisy, classes, options);
}

}  // namespace fcam::cam

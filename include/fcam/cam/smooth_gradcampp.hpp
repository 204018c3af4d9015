/// \file
/// \brief Smooth-GradCAM++: GradCAM++ averaged over passes on noisy copies of the input
/// (docs/method.md §4.4), with the reference's conventions.
///
/// For each pass p the input gets Gaussian noise; α_p = g²/(2g² + Σ_ij A_p·g³) (or g² with the
/// reference's effective α) is averaged over the passes; the channel weights are
/// Σ_ij mean_p(α_p)·ReLU(g) and the map is ReLU(Σ_k w_k A_k) with ReLU(g) and A from the last
/// pass, as in the reference implementation. g = ∂logit_c/∂A = w[c,k]/(h·w) does not depend on
/// the input (the WGAP head is linear), so only A changes between passes.
///
/// The α are summed by add_gradcampp_alpha on the model's device, so a GPU reads nothing back
/// and, with device classes and a fixed noise key, a models::InferencePlan captures the passes
/// (cam::plan_maps).
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/cam/cam_methods.hpp"
#include "fcam/core/class_indices.hpp"
#include "fcam/core/rng.hpp"
#include "fcam/models/fcam_model.hpp"
#include "fcam/ops/planes.hpp"
#include "fcam/ops/random.hpp"

namespace fcam::cam {

/// Smooth-GradCAM++'s noise (the reference's 4 passes, σ = 0.3 on the normalised input).
struct SmoothOptions {
  int passes = 4;      ///< noisy passes
  double sigma = 0.3;  ///< noise standard deviation
};

/// Throws fcam::Error unless passes >= 1 and sigma >= 0.
inline void check_smooth_options(int passes, double sigma) {
  FCAM_CHECK(passes >= 1 && sigma >= 0, "smooth_gradcampp: passes must be >= 1 and sigma >= 0, got ", passes,
             " and ", sigma);
}

/// Smooth-GradCAM++ maps (N×h×w, not normalised) of `classes` from `passes` noisy copies of a
/// batch, `noisy_input(p)` giving pass p's (N×3×H×W; the last pass provides A and ReLU(g)).
template <Scalar T, typename NoisyInput>
Tensor<T> smooth_gradcampp_passes(models::FcamModel<T>& model, int passes, NoisyInput&& noisy_input,
                                  const ClassIndices& classes, const Options& options = {}) {
  FCAM_CHECK(passes >= 1, "smooth_gradcampp: passes must be >= 1, got ", passes);
  const Tensor<T>& fc_weight = model.head().fc().weight().value;
  Tensor<T> alpha_sum;  // N×C: Σ_p α_p (α is the same at every pixel: g is)
  Tensor<T> a;          // the CAM layer of the current pass
  for (int p = 0; p < passes; ++p) {
    NoGradGuard no_grad;
    a = model.encoder()(noisy_input(p));
    if (!alpha_sum.defined()) alpha_sum = Tensor<T>({a.size(0), a.size(1)}, a.device());
    add_gradcampp_alpha(alpha_sum, a, fc_weight, classes, options.reference_gradcampp_alpha);
  }
  return smoothed_gradcampp_sum(a, fc_weight, classes, alpha_sum, passes);
}

/// Smooth-GradCAM++ maps (N×h×w, not normalised) of `classes` from the given noisy copies of a
/// batch (each N×3×H×W; the last one provides A and ReLU(g)).
template <Scalar T>
Tensor<T> smooth_gradcampp_maps(models::FcamModel<T>& model, const std::vector<Tensor<T>>& noisy_inputs,
                                const ClassIndices& classes, const Options& options = {}) {
  FCAM_CHECK(!noisy_inputs.empty(), "smooth_gradcampp_maps: no input pass");
  return smooth_gradcampp_passes(
      model, static_cast<int>(noisy_inputs.size()),
      [&](int p) -> const Tensor<T>& { return noisy_inputs[static_cast<std::size_t>(p)]; }, classes, options);
}

/// Smooth-GradCAM++ with `passes` copies of `x` perturbed by add_keyed_normal_noise(sigma,
/// key + p) for pass p: the same key gives the same maps, on a GPU without reading anything back.
template <Scalar T>
Tensor<T> smooth_gradcampp_keyed(models::FcamModel<T>& model, const Tensor<T>& x, const ClassIndices& classes,
                                 int passes, double sigma, std::uint64_t key, const Options& options = {}) {
  check_smooth_options(passes, sigma);
  return smooth_gradcampp_passes(
      model, passes,
      [&](int p) {
        Tensor<T> copy = x.clone();
        add_keyed_normal_noise(copy, sigma, key + static_cast<std::uint64_t>(p));
        return copy;
      },
      classes, options);
}

/// Smooth-GradCAM++ with `passes` noisy copies of `x` (noise N(0, sigma) on the normalised input:
/// 4 passes and σ = 0.3 in the reference). The noise is keyed (add_keyed_normal_noise) by one draw
/// of `rng` per call and the pass number, so a GPU draws it itself, and a CPU and a GPU run from
/// the same generator state perturb alike (up to the last bit of a few draws).
template <Scalar T>
Tensor<T> smooth_gradcampp(models::FcamModel<T>& model, const Tensor<T>& x, const ClassIndices& classes,
                           int passes = 4, double sigma = 0.3, Rng& rng = default_rng(), const Options& options = {}) {
  check_smooth_options(passes, sigma);  // before the draw: a refused call leaves the generator as it was
  return smooth_gradcampp_keyed(model, x, classes, passes, sigma, rng.next_u64(), options);
}

}  // namespace fcam::cam

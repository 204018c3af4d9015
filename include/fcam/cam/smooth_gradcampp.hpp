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
#include "fcam/ops/planes.hpp"
#include "fcam/ops/random.hpp"
#include "fcam/ops/reduce.hpp"

namespace fcam::cam {

/// Smooth-GradCAM++ maps (N×h×w, not normalised) of `classes` from the given noisy copies of a
/// batch (each N×3×H×W; the last one provides A and ReLU(g)).
template <Scalar T>
Tensor<T> smooth_gradcampp_maps(models::FcamModel<T>& model, const std::vector<Tensor<T>>& noisy_inputs,
                                const std::vector<int>& classes, const Options& options = {}) {
  FCAM_CHECK(!noisy_inputs.empty(), "smooth_gradcampp_maps: no input pass");
  const Tensor<T>& fc_weight = model.head().fc().weight().value;
  std::vector<T> fc;  // w[class of image b, :] for every image b (N×C)
  for (const int cls : classes) {
    FCAM_CHECK(cls >= 0 && cls < fc_weight.size(0), "smooth_gradcampp_maps: class ", cls, " outside [0, ",
               fc_weight.size(0), ")");
    const std::vector<T> row = host_values(fc_weight.batch(cls));
    fc.insert(fc.end(), row.begin(), row.end());
  }
  std::vector<T> alpha_sum;  // N×C: Σ_p α_p (α is the same at every pixel: g is)
  Tensor<T> a;               // the CAM layer of the current pass
  // g = ∂logit/∂A of image b, channel k: the same at every pixel and in every pass.
  auto gradient = [&](std::int64_t b, std::int64_t k) {
    const std::int64_t c = a.size(1), plane = a.size(2) * a.size(3);
    return static_cast<double>(fc[static_cast<std::size_t>(b * c + k)]) / plane;
  };
  for (const Tensor<T>& x : noisy_inputs) {
    NoGradGuard no_grad;
    a = model.encoder()(x);
    const std::int64_t n = a.size(0), c = a.size(1);
    FCAM_CHECK(static_cast<std::int64_t>(classes.size()) == n, "smooth_gradcampp_maps: ", classes.size(),
               " classes for ", n, " images");
    const std::vector<double> sums = plane_sums(a);
    alpha_sum.resize(sums.size(), T(0));
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t k = 0; k < c; ++k) {
        const auto at = static_cast<std::size_t>(b * c + k);
        const double alpha = gradcampp_alpha(gradient(b, k), sums[at], options.reference_gradcampp_alpha);
        alpha_sum[at] += static_cast<T>(alpha);
      }
  }
  // Weights from the averaged α and the last pass's ReLU(g); the map from the last pass's A.
  const std::int64_t n = a.size(0), c = a.size(1), plane = a.size(2) * a.size(3);
  std::vector<double> weights(alpha_sum.size());
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t k = 0; k < c; ++k) {
      const auto at = static_cast<std::size_t>(b * c + k);
      weights[at] = plane * (alpha_sum[at] / noisy_inputs.size()) * std::max(gradient(b, k), 0.0);
    }
  return weighted_channel_sum(a, weights, true);
}

/// Smooth-GradCAM++ with `passes` noisy copies of `x` (noise N(0, sigma) on the normalised input:
/// 4 passes and σ = 0.3 in the reference). The noise is keyed (add_keyed_normal_noise) by one draw
/// of `rng` per call and the pass number, so a GPU draws it itself, and a CPU and a GPU run from
/// the same generator state perturb alike (up to the last bit of a few draws).
template <Scalar T>
Tensor<T> smooth_gradcampp(models::FcamModel<T>& model, const Tensor<T>& x, const std::vector<int>& classes,
                           int passes = 4, double sigma = 0.3, Rng& rng = default_rng(), const Options& options = {}) {
  FCAM_CHECK(passes >= 1 && sigma >= 0, "smooth_gradcampp: passes must be >= 1 and sigma >= 0");
  const std::uint64_t key = rng.next_u64();
  std::vector<Tensor<T>> noisy;
  for (int p = 0; p < passes; ++p) {
    Tensor<T> copy = x.clone();
    add_keyed_normal_noise(copy, sigma, key + static_cast<std::uint64_t>(p));
    noisy.push_back(copy);
  }
  return smooth_gradcampp_maps(model, noisy, classes, options);
}

}  // namespace fcam::cam

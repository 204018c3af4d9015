/// \file
/// \brief Class activation maps of a WSOL classifier: CAM, GradCAM, GradCAM++, XGradCAM and
/// LayerCAM (docs/method.md §4), with min–max normalisation and bilinear upsampling.
///
/// The target layer is the encoder output A (C×h×w) and the class score is the WGAP head's logit
/// c = Σ_k w[c,k]·mean_ij A_kij + b_c. Its gradient is therefore known in closed form:
/// g_kij = ∂logit_c/∂A_kij = w[c,k] / (h·w), the same at every pixel. PyTorch implementations
/// obtain the same g by backpropagating the logit through the whole network; fcam's gradient
/// CAMs cost one forward pass (tests/models_reference.py checks the maps against autograd).
/// Smooth-GradCAM++ (noisy input passes) is in smooth_gradcampp.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fcam/cam/method.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/resize.hpp"

namespace fcam::cam {

/// Options of the gradient methods.
struct Options {
  /// GradCAM++ with the reference code's effective α = g² (its division is a no-op) instead of
  /// the paper's α = g² / (2g² + Σ_ij A·g³).
  bool reference_gradcampp_alpha = false;
};

namespace detail {

/// Σ of one channel plane.
template <Scalar T>
double plane_sum(const T* a, std::int64_t plane) {
  double sum = 0;
  for (std::int64_t i = 0; i < plane; ++i) sum += a[i];
  return sum;
}

/// GradCAM++'s α for a gradient g that is the same at every pixel of a channel summing to
/// `sum_a`: the paper's g² / (2g² + Σ A·g³) (0 where that denominator is 0), or g².
inline double gradcampp_alpha(double g, double sum_a, bool reference_alpha) {
  const double denominator = 2 * g * g + sum_a * g * g * g;
  return reference_alpha ? g * g : denominator != 0 ? g * g / denominator : 0.0;
}

}  // namespace detail

/// Low-resolution maps (N×h×w) of the classes `classes` (one per image) from the encoder output
/// `features` (N×C×h×w) and the WGAP head's weight `fc_weight` (K×C), for a closed-form
/// `method` (not Smooth-GradCAM++: see smooth_gradcampp.hpp). Not normalised.
template <Scalar T>
Tensor<T> class_activation_maps(const Tensor<T>& features, const Tensor<T>& fc_weight, const std::vector<int>& classes,
                                Method method, const Options& options = {}) {
  features.require_cpu("class_activation_maps");
  FCAM_CHECK(closed_form(method), "class_activation_maps: ", method_name(method),
             " needs the input image (use cam::baseline_maps or cam::smooth_gradcampp)");
  check_rank(features, 4, "class_activation_maps features");
  check_rank(fc_weight, 2, "class_activation_maps fc weight");
  const std::int64_t n = features.size(0), c = features.size(1), h = features.size(2), w = features.size(3);
  FCAM_CHECK(fc_weight.size(1) == c, "class_activation_maps: fc weight is ", to_string(fc_weight.shape()),
             " but the features have ", c, " channels");
  FCAM_CHECK(static_cast<std::int64_t>(classes.size()) == n, "class_activation_maps: ", classes.size(),
             " classes for ", n, " images");
  const std::int64_t plane = h * w;
  Tensor<T> maps({n, h, w});
  for (std::int64_t b = 0; b < n; ++b) {
    const int cls = classes[static_cast<std::size_t>(b)];
    FCAM_CHECK(cls >= 0 && cls < fc_weight.size(0), "class_activation_maps: class ", cls, " outside [0, ",
               fc_weight.size(0), ")");
    const T* wc = fc_weight.data() + static_cast<std::int64_t>(cls) * c;
    const T* a = features.data() + b * c * plane;
    T* out = maps.data() + b * plane;
    std::fill(out, out + plane, T(0));
    for (std::int64_t k = 0; k < c; ++k) {
      const T* ak = a + k * plane;
      const double g = static_cast<double>(wc[k]) / static_cast<double>(plane);  // ∂logit/∂A_kij
      double weight = 0;  // the channel weight (per-pixel for LayerCAM, see below)
      switch (method) {
        case Method::cam:
          weight = wc[k];
          break;
        case Method::gradcam:
          weight = g;
          break;
        case Method::gradcampp:
          weight = static_cast<double>(plane) *
                   detail::gradcampp_alpha(g, detail::plane_sum(ak, plane), options.reference_gradcampp_alpha) *
                   std::max(g, 0.0);
          break;
        case Method::xgradcam:  // Σ_ij g·A / Σ_ij A = g, g being the same at every pixel
          weight = detail::plane_sum(ak, plane) != 0 ? g : 0.0;
          break;
        case Method::layercam:
          weight = std::max(g, 0.0);  // ReLU(g_kij) is the same at every pixel
          break;
        case Method::sgcampp:  // rejected above
          break;
      }
      for (std::int64_t i = 0; i < plane; ++i) out[i] += static_cast<T>(weight * ak[i]);
    }
    if (method != Method::cam)
      for (std::int64_t i = 0; i < plane; ++i) out[i] = std::max(out[i], T(0));
  }
  return maps;
}

/// Min–max normalisation of each map: (x − min) / max(x − min); a constant map becomes 0.
template <Scalar T>
Tensor<T> normalize_maps(const Tensor<T>& maps) {
  check_rank(maps, 3, "normalize_maps");
  Tensor<T> out = maps.clone();
  const std::int64_t plane = maps.size(1) * maps.size(2);
  for (std::int64_t b = 0; b < maps.size(0); ++b) {
    T* m = out.data() + b * plane;
    const T lo = *std::min_element(m, m + plane);
    for (std::int64_t i = 0; i < plane; ++i) m[i] -= lo;
    const T hi = *std::max_element(m, m + plane);
    for (std::int64_t i = 0; i < plane; ++i) m[i] = hi > 0 ? m[i] / hi : T(0);
  }
  return out;
}

/// Bilinear upsampling (align_corners false) of N×h×w maps to N×height×width.
template <Scalar T>
Tensor<T> upsample_maps(const Tensor<T>& maps, std::int64_t height, std::int64_t width) {
  check_rank(maps, 3, "upsample_maps");
  const Tensor<T> up =
      resize_bilinear(maps.reshape({maps.size(0), 1, maps.size(1), maps.size(2)}), height, width, false);
  return up.reshape({maps.size(0), height, width});
}

/// Low-resolution maps as the reference shows them: normalised, then upsampled to height×width.
template <Scalar T>
Tensor<T> full_resolution(const Tensor<T>& maps, std::int64_t height, std::int64_t width) {
  return upsample_maps(normalize_maps(maps), height, width);
}

}  // namespace fcam::cam

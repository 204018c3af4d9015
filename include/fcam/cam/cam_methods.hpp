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
#include <map>
#include <string>
#include <vector>

#include "fcam/cam/method.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/planes.hpp"
#include "fcam/ops/reduce.hpp"
#include "fcam/ops/resize.hpp"

namespace fcam::cam {

/// Options of the gradient methods.
struct Options {
  /// GradCAM++ with the reference code's effective α = g² (its division is a no-op) instead of
  /// the paper's α = g² / (2g² + Σ_ij A·g³).
  bool reference_gradcampp_alpha = false;
};

namespace detail {

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
  FCAM_CHECK(closed_form(method), "class_activation_maps: ", method_name(method),
             " needs the input image (use cam::baseline_maps or cam::smooth_gradcampp)");
  check_rank(features, 4, "class_activation_maps features");
  check_rank(fc_weight, 2, "class_activation_maps fc weight");
  operand_device("class_activation_maps", {&features, &fc_weight});  // one device, for every method
  const std::int64_t n = features.size(0), c = features.size(1), plane = features.size(2) * features.size(3);
  FCAM_CHECK(fc_weight.size(1) == c, "class_activation_maps: fc weight is ", to_string(fc_weight.shape()),
             " but the features have ", c, " channels");
  FCAM_CHECK(static_cast<std::int64_t>(classes.size()) == n, "class_activation_maps: ", classes.size(),
             " classes for ", n, " images");
  for (const int cls : classes)
    FCAM_CHECK(cls >= 0 && cls < fc_weight.size(0), "class_activation_maps: class ", cls, " outside [0, ",
               fc_weight.size(0), ")");
  // CAM, GradCAM and LayerCAM weigh each channel by a function of the class's fc value alone: the
  // op gathers the rows where the tensors are (on a GPU nothing is read back).
  if (method == Method::cam || method == Method::gradcam || method == Method::layercam) {
    const ClassWeight rule = method == Method::cam       ? ClassWeight::row
                             : method == Method::gradcam ? ClassWeight::row_over_plane
                                                         : ClassWeight::positive_row_over_plane;
    return class_weighted_channel_sum(features, fc_weight, classes, rule, method != Method::cam);
  }
  const std::vector<double> sums = method == Method::gradcampp || method == Method::xgradcam
                                       ? plane_sums(features)
                                       : std::vector<double>();  // Σ_ij A_kij, only where a method needs it
  std::vector<double> weights(static_cast<std::size_t>(n * c));  // channel weights, image by image
  std::map<int, std::vector<T>> rows;  // w[cls, :] of each class asked for, read once (one copy from a GPU)
  for (std::int64_t b = 0; b < n; ++b) {
    const int cls = classes[static_cast<std::size_t>(b)];
    auto row = rows.find(cls);
    if (row == rows.end()) row = rows.emplace(cls, host_values(fc_weight.batch(cls))).first;
    const std::vector<T>& fc = row->second;
    for (std::int64_t k = 0; k < c; ++k) {
      const T wck = fc[static_cast<std::size_t>(k)];
      const double g = static_cast<double>(wck) / static_cast<double>(plane);  // ∂logit/∂A_kij
      const auto at = static_cast<std::size_t>(b * c + k);
      double& weight = weights[at];  // the channel weight
      switch (method) {
        case Method::gradcampp:
          weight = static_cast<double>(plane) *
                   detail::gradcampp_alpha(g, sums[at], options.reference_gradcampp_alpha) * std::max(g, 0.0);
          break;
        case Method::xgradcam:  // Σ_ij g·A / Σ_ij A = g, g being the same at every pixel
          weight = sums[at] != 0 ? g : 0.0;
          break;
        case Method::cam:       // class_weighted_channel_sum above
        case Method::gradcam:   // ditto
        case Method::layercam:  // ditto: ReLU(g_kij) is the same at every pixel
        case Method::sgcampp:   // rejected above
          break;
      }
    }
  }
  return weighted_channel_sum(features, weights, true);
}

/// Min–max normalisation of each map: (x − min) / max(x − min); a constant map becomes 0.
template <Scalar T>
Tensor<T> normalize_maps(const Tensor<T>& maps) {
  check_rank(maps, 3, "normalize_maps");
  return normalize_items(maps);
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

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

#include <cstdint>

#include "fcam/cam/method.hpp"
#include "fcam/core/class_indices.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/channel_weight_rules.hpp"
#include "fcam/ops/planes.hpp"
#include "fcam/ops/resize.hpp"

namespace fcam::cam {

/// Options of the gradient methods.
struct Options {
  /// GradCAM++ with the reference code's effective α = g² (its division is a no-op) instead of
  /// the paper's α = g² / (2g² + Σ_ij A·g³).
  bool reference_gradcampp_alpha = false;
};

/// The channel-weight rule of a closed-form `method` (ops/channel_weight_rules.hpp).
inline ClassWeight channel_weight_rule(Method method, const Options& options = {}) {
  switch (method) {
    case Method::cam: return ClassWeight::row;
    case Method::gradcam: return ClassWeight::row_over_plane;
    case Method::layercam: return ClassWeight::positive_row_over_plane;  // ReLU(g_kij) is the same at every pixel
    case Method::gradcampp:
      return options.reference_gradcampp_alpha ? ClassWeight::gradcampp_reference : ClassWeight::gradcampp;
    case Method::xgradcam: return ClassWeight::xgradcam;  // Σ_ij g·A / Σ_ij A = g, g being the same at every pixel
    case Method::sgcampp: break;
  }
  fail("class_activation_maps: ", method_name(method),
       " needs the input image (use cam::baseline_maps or cam::smooth_gradcampp)");
}

/// Low-resolution maps (N×h×w) of the classes `classes` (one per image: a host list, or device
/// classes such as top_class(logits)) from the encoder output `features` (N×C×h×w) and the WGAP
/// head's weight `fc_weight` (K×C), for a closed-form `method` (not Smooth-GradCAM++: see
/// smooth_gradcampp.hpp). Not normalised. On a GPU the fc rows are gathered and the plane sums
/// of GradCAM++ and XGradCAM taken there: with device classes nothing is read back.
template <Scalar T>
Tensor<T> class_activation_maps(const Tensor<T>& features, const Tensor<T>& fc_weight, const ClassIndices& classes,
                                Method method, const Options& options = {}) {
  const ClassWeight rule = channel_weight_rule(method, options);
  check_rank(features, 4, "class_activation_maps features");
  check_rank(fc_weight, 2, "class_activation_maps fc weight");
  operand_device("class_activation_maps", {&features, &fc_weight});  // one device, for every method
  FCAM_CHECK(fc_weight.size(1) == features.size(1), "class_activation_maps: fc weight is ",
             to_string(fc_weight.shape()), " but the features have ", features.size(1), " channels");
  return class_weighted_channel_sum(features, fc_weight, classes, rule, method != Method::cam);
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

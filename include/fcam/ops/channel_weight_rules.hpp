/// \file
/// \brief How the closed-form CAM methods turn their class's fc row (and, for GradCAM++ and
/// XGradCAM, the plane sums of the CAM layer) into channel weights (docs/method.md §4), written
/// once for the CPU and the GPU (C++17, no other fcam header: nvcc compiles it too, cuda/planes.cu,
/// which is built without contracting a·b + c into FMAs so that both give the same bits; a CPU
/// build for an instruction set with FMA, -march=native, may contract GradCAM++'s α and differ in
/// its last bits, as for the CRF lattice; test_backend_ops is compiled without contraction).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define FCAM_CHANNEL_WEIGHT_RULE __host__ __device__
#else
#define FCAM_CHANNEL_WEIGHT_RULE
#endif

namespace fcam {

/// The channel weight of a class's fc value w (the gradient of its logit is g = w / (h·w) at
/// every pixel of an h×w map): CAM's w, GradCAM's g, LayerCAM's max(g, 0); GradCAM++'s
/// (h·w)·α·max(g, 0) with the paper's α or the reference code's α = g²; XGradCAM's
/// Σ_ij g·A / Σ_ij A = g (0 where Σ_ij A is 0).
enum class ClassWeight : int {
  row = 0,
  row_over_plane = 1,
  positive_row_over_plane = 2,
  gradcampp = 3,            ///< needs Σ_ij A
  gradcampp_reference = 4,  ///< the reference's α = g²: no Σ_ij A
  xgradcam = 5,             ///< needs Σ_ij A
};

/// Whether `rule` reads the plane sums Σ_ij A_kij of the CAM layer (the reference's α = g² does not).
FCAM_CHANNEL_WEIGHT_RULE inline bool needs_plane_sums(ClassWeight rule) {
  return rule == ClassWeight::gradcampp || rule == ClassWeight::xgradcam;
}

/// GradCAM++'s α for a gradient g that is the same at every pixel of a channel summing to
/// `sum_a`: the paper's g² / (2g² + Σ A·g³) (0 where that denominator is 0), or the reference
/// code's g² (its division is a no-op).
FCAM_CHANNEL_WEIGHT_RULE inline double gradcampp_alpha(double g, double sum_a, bool reference_alpha) {
  const double denominator = 2 * g * g + sum_a * g * g * g;
  return reference_alpha ? g * g : denominator != 0 ? g * g / denominator : 0.0;
}

/// The weight of fc value `w` under `rule` for maps of `plane` pixels whose channel sums to
/// `sum_a` (read only by the rules that need it), in double; max(g, 0) keeps g when g is −0 or
/// NaN, as std::max(g, 0.0) does.
FCAM_CHANNEL_WEIGHT_RULE inline double class_channel_weight(ClassWeight rule, double w, std::int64_t plane,
                                                           double sum_a = 0.0) {
  if (rule == ClassWeight::row) return w;
  const double g = w / static_cast<double>(plane);
  const double positive_g = g < 0.0 ? 0.0 : g;
  switch (rule) {
    case ClassWeight::row_over_plane: return g;
    case ClassWeight::gradcampp:
    case ClassWeight::gradcampp_reference:
      return static_cast<double>(plane) * gradcampp_alpha(g, sum_a, rule == ClassWeight::gradcampp_reference) *
             positive_g;
    case ClassWeight::xgradcam: return sum_a != 0 ? g : 0.0;
    default: return positive_g;  // positive_row_over_plane
  }
}

/// Smooth-GradCAM++'s weight of fc value w for maps of `plane` pixels, from the α of its
/// passes summed to `alpha_sum` over `passes` passes: (h·w)·mean α·max(g, 0), in double.
FCAM_CHANNEL_WEIGHT_RULE inline double smoothed_gradcampp_weight(double w, std::int64_t plane, double alpha_sum,
                                                                 int passes) {
  const double g = w / static_cast<double>(plane);
  return static_cast<double>(plane) * (alpha_sum / passes) * (g < 0.0 ? 0.0 : g);
}

}  // namespace fcam

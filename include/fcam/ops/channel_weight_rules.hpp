/// \file
/// \brief How the closed-form CAM methods that need no plane sums turn their class's fc row into
/// channel weights (docs/method.md §4), written once for the CPU and the GPU (C++17, no other fcam
/// header: nvcc compiles it too, cuda/planes.cu).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define FCAM_CHANNEL_WEIGHT_RULE __host__ __device__
#else
#define FCAM_CHANNEL_WEIGHT_RULE
#endif

namespace fcam {

/// The channel weight of a class's fc value w (the gradient of its logit is g = w / (h·w) at
/// every pixel of an h×w map): CAM's w, GradCAM's g, LayerCAM's max(g, 0).
enum class ClassWeight : int { row = 0, row_over_plane = 1, positive_row_over_plane = 2 };

/// The weight of fc value `w` under `rule` for maps of `plane` pixels, in double; max(g, 0) keeps
/// g when g is −0 or NaN, as std::max(g, 0.0) does.
FCAM_CHANNEL_WEIGHT_RULE inline double class_channel_weight(ClassWeight rule, double w, std::int64_t plane) {
  if (rule == ClassWeight::row) return w;
  const double g = w / static_cast<double>(plane);
  return rule == ClassWeight::row_over_plane ? g : (g < 0.0 ? 0.0 : g);
}

}  // namespace fcam

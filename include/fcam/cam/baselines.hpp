/// \file
/// \brief The six WSOL baselines of the paper by name (cam, gradcam, gradcampp, sgcampp,
/// xgradcam, layercam): one entry point for training (pseudo-labels), evaluation and fcam-infer.
#pragma once

#include <string>
#include <vector>

#include "fcam/cam/cam_methods.hpp"
#include "fcam/cam/smooth_gradcampp.hpp"

namespace fcam::cam {

/// The baselines' names in the paper's table order.
inline const std::vector<std::string>& baseline_names() {
  static const std::vector<std::string> names{"cam", "gradcam", "gradcampp", "sgcampp", "xgradcam", "layercam"};
  return names;
}

/// Checks that `name` is one of baseline_names() (an error listing them otherwise).
inline void check_baseline_name(const std::string& name) {
  for (const std::string& n : baseline_names())
    if (n == name) return;
  fail("unknown CAM method '", name, "' (cam, gradcam, gradcampp, sgcampp, xgradcam, layercam)");
}

/// Smooth-GradCAM++'s noise (the reference's 4 passes, σ = 0.3 on the normalised input).
struct SmoothOptions {
  int passes = 4;      ///< noisy passes
  double sigma = 0.3;  ///< noise standard deviation
};

/// Low-resolution maps (N×h×w, not normalised) of `classes` by the baseline `method` for the
/// images `inputs`, whose classifier output is `out` (FcamModel::classify(inputs)): the
/// closed-form methods read its CAM layer; Smooth-GradCAM++ runs its noisy passes of `inputs`
/// (noise from `rng`).
template <Scalar T>
Tensor<T> baseline_maps(models::FcamModel<T>& model, const models::ClassifierOutput<T>& out, const Tensor<T>& inputs,
                        const std::vector<int>& classes, const std::string& method, Rng& rng,
                        const SmoothOptions& smooth = {}) {
  if (method == "sgcampp") return smooth_gradcampp(model, inputs, classes, smooth.passes, smooth.sigma, rng);
  check_baseline_name(method);
  FCAM_CHECK(!out.stages.empty(), "baseline_maps: no encoder stages (pass FcamModel::classify's output)");
  return class_activation_maps(out.stages.back(), model.head().fc().weight().value, classes, method_named(method));
}

}  // namespace fcam::cam

/// \file
/// \brief The six WSOL baselines of the paper (cam::Method): one entry point for training
/// (pseudo-labels), evaluation and fcam-infer.
#pragma once

#include <string>
#include <vector>

#include "fcam/cam/cam_methods.hpp"
#include "fcam/cam/smooth_gradcampp.hpp"

namespace fcam::cam {

/// Low-resolution maps (N×h×w, not normalised) of `classes` by the baseline `method` for the
/// images `inputs`, whose classifier output is `out` (FcamModel::classify(inputs)): the
/// closed-form methods read its CAM layer; Smooth-GradCAM++ runs its noisy passes of `inputs`
/// (noise from `rng`).
template <Scalar T>
Tensor<T> baseline_maps(models::FcamModel<T>& model, const models::ClassifierOutput<T>& out, const Tensor<T>& inputs,
                        const std::vector<int>& classes, Method method, Rng& rng, const SmoothOptions& smooth = {}) {
  if (method == Method::sgcampp) return smooth_gradcampp(model, inputs, classes, smooth.passes, smooth.sigma, rng);
  FCAM_CHECK(!out.stages.empty(), "baseline_maps: no encoder stages (pass FcamModel::classify's output)");
  return class_activation_maps(out.stages.back(), model.head().fc().weight().value, classes, method);
}

}  // namespace fcam::cam

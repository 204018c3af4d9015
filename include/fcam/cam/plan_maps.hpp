/// \file
/// \brief cam::plan_maps: a CAM method as the maps of a models::InferencePlan, so that
/// a GPU replays the whole CAM pass (encoder, head, class choice, CAM, normalisation, upsampling)
/// as one CUDA graph.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "fcam/cam/cam_methods.hpp"
#include "fcam/cam/smooth_gradcampp.hpp"
#include "fcam/core/class_indices.hpp"
#include "fcam/models/inference_plan.hpp"
#include "fcam/ops/top_k.hpp"

namespace fcam::cam {

/// The full-resolution maps (normalised, then upsampled to the input size, as
/// cam::full_resolution) of `method` for an InferencePlan: of the classes `classes` (one per
/// image of the plan's batch) or, when empty, of each image's top class (top_class of the
/// logits, chosen on the model's device).
///
/// Why: on a GPU nothing of this reads back, so the plan captures it. Fixed classes are checked
/// and copied to the device once, at the plan's first (eager) pass; the top class is chosen by a
/// kernel at every replay. Smooth-GradCAM++ runs `smooth`'s noisy passes with the fixed
/// `noise_key` (smooth_gradcampp_keyed): every call of the plan perturbs alike, so its maps are a
/// function of the input, as eager calls with a generator seeded alike would be.
template <Scalar T>
models::PlanMaps<T> plan_maps(Method method, std::vector<int> classes = {}, const Options& options = {},
                              const SmoothOptions& smooth = {}, std::uint64_t noise_key = 0) {
  if (method == Method::sgcampp)  // checked here, not at the plan's first pass
    check_smooth_options(smooth.passes, smooth.sigma);
  else
    channel_weight_rule(method, options);
  struct Uploaded {  // the fixed classes on the device, shared by copies of the function
    std::once_flag once;
    ClassIndices classes;
  };
  auto uploaded = std::make_shared<Uploaded>();
  return [method, options, smooth, noise_key, fixed = std::move(classes), uploaded](
             models::FcamModel<T>& model, const models::ClassifierOutput<T>& out, const Tensor<T>& x) {
    FCAM_CHECK(!out.stages.empty(), "plan_maps: no encoder stages");
    const Tensor<T>& features = out.stages.back();
    const Tensor<T>& fc_weight = model.head().fc().weight().value;
    ClassIndices chosen;
    if (fixed.empty()) {
      chosen = top_class(out.logits);
    } else if (features.device() == Device::cuda) {
      std::call_once(uploaded->once, [&] { uploaded->classes = ClassIndices::uploaded(fixed, fc_weight.size(0)); });
      chosen = uploaded->classes;
    } else {
      chosen = fixed;
    }
    const Tensor<T> maps =
        method == Method::sgcampp
            ? smooth_gradcampp_keyed(model, x, chosen, smooth.passes, smooth.sigma, noise_key, options)
            : class_activation_maps(features, fc_weight, chosen, method, options);
    return full_resolution(maps, x.size(2), x.size(3));
  };
}

}  // namespace fcam::cam

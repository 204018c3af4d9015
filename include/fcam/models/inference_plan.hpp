/// \file
/// \brief models::InferencePlan: F-CAM inference for one input shape; on a GPU the whole pass is
/// captured once as a CUDA graph and replayed.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "fcam/core/device.hpp"
#include "fcam/core/error.hpp"
#include "fcam/core/grad_mode.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/cuda/api.hpp"
#include "fcam/models/fcam_model.hpp"
#include "fcam/ops/planes.hpp"

namespace fcam::models {

/// What F-CAM inference gives for a batch.
template <Scalar T>
struct Inference {
  Tensor<T> logits;  ///< N×K class logits
  Tensor<T> maps;    ///< N×H×W maps at the input size, min–max normalised per image (F-CAM's by default)
};

/// The maps a plan's pass makes from the classifier's output `out` of the input `x`: N×H×W.
/// Under a CUDA graph it must not wait for the device (no host reads).
template <Scalar T>
using PlanMaps = std::function<Tensor<T>(FcamModel<T>& model, const ClassifierOutput<T>& out, const Tensor<T>& x)>;

/// F-CAM's maps: the decoder's foreground probabilities, min–max normalised per image (as
/// cam::normalize_maps does). The default of a plan.
template <Scalar T>
Tensor<T> fcam_maps(FcamModel<T>& model, const ClassifierOutput<T>& out, const Tensor<T>& /*x*/) {
  return normalize_items(model.foreground(out.stages));
}

/// F-CAM inference (the classifier's logits, and the foreground maps normalised as
/// cam::normalize_maps does) for inputs of one shape, in evaluation mode without gradients; or
/// other maps of the same pass (`maps`: e.g. cam::plan_maps, a closed-form CAM method).
///
/// Why: at batch 1 a GPU pass is a few hundred kernels and cuDNN calls of microseconds each, so
/// the host's launches, not the GPU, set the latency. On CUDA the plan captures the whole pass
/// (encoder, head, maps: decoder, softmax, normalisation) once as a CUDA graph (cuda::Graph) and each
/// run() replays it with a single launch; the results equal the eager pass's. On the CPU run() is
/// the eager pass. A plan is made for the model as it is (weights, mode, device, math modes such as
/// cuda::set_tf32) and for one input shape: after a change, or for another shape, make a new
/// plan (it refuses other shapes). The model must outlive the plan.
template <Scalar T>
class InferencePlan {
public:
  /// Puts `model` in evaluation mode; on CUDA, runs the pass once and captures it. `maps` makes
  /// the maps from the classifier's output (F-CAM's by default).
  InferencePlan(FcamModel<T>& model, const Shape& input_shape, PlanMaps<T> maps = fcam_maps<T>)
      : model_(model), shape_(input_shape), maps_(std::move(maps)) {
    FCAM_CHECK(static_cast<bool>(maps_), "InferencePlan: no maps function");
    FCAM_CHECK(input_shape.size() == 4, "InferencePlan: the input shape must be N×C×H×W, got ",
               to_string(input_shape));
    model_.eval();
    device_ = model_.device();
#if FCAM_WITH_CUDA
    if (device_ == Device::cuda) {
      input_ = Tensor<T>(shape_, Device::cuda);
      graph_.emplace([this] { result_ = pass(input_); });
    }
#endif
  }

  /// The logits and maps of x (the plan's shape, on any device). On CUDA they are the plan's own
  /// tensors, rewritten by the next run(): clone them to keep them.
  Inference<T> run(const Tensor<T>& x) {
    FCAM_CHECK(x.shape() == shape_, "InferencePlan: input of shape ", to_string(x.shape()),
               " for a plan of shape ", to_string(shape_), "; make a plan for that shape");
#if FCAM_WITH_CUDA
    if (graph_) {
      input_.copy_from(x);
      graph_->launch();
      return result_;
    }
#endif
    return pass(x.device() == device_ ? x : x.to(device_));
  }

  /// The input shape the plan was made for.
  const Shape& input_shape() const { return shape_; }
  /// Whether run() replays a CUDA graph (the model is on a GPU).
  bool graphed() const {
#if FCAM_WITH_CUDA
    return graph_.has_value();
#else
    return false;
#endif
  }

private:
  Inference<T> pass(const Tensor<T>& x) {
    NoGradGuard no_grad;
    ClassifierOutput<T> out = model_.classify(x);
    return {out.logits, maps_(model_, out, x)};
  }

  FcamModel<T>& model_;
  Shape shape_;
  PlanMaps<T> maps_;
  Device device_ = Device::cpu;
  Tensor<T> input_;
  Inference<T> result_;
#if FCAM_WITH_CUDA
  std::optional<cuda::Graph> graph_;
#endif
};

}  // namespace fcam::models

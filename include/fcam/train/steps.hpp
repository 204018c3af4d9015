/// \file
/// \brief One optimisation step of each F-CAM training stage.
///
/// Stage 1 (classifier): cross-entropy of the WGAP logits, backward through head and encoder.
/// Stage 2 (F-CAM): the encoder and head are frozen and run without gradients (inference
/// fusion applies); the CAM of the ground-truth class, normalised and upsampled to the crop,
/// gives the sampled pseudo-labels; the decoder is trained with α·PCE + CRF + size loss
/// (METHOD.md §5), each switchable for ablations.
#pragma once

#include <chrono>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "fcam/cam/cam_methods.hpp"
#include "fcam/cam/smooth_gradcampp.hpp"
#include "fcam/data/loader.hpp"
#include "fcam/losses/crf_loss.hpp"
#include "fcam/losses/partial_ce.hpp"
#include "fcam/losses/sampling_regions.hpp"
#include "fcam/losses/size_loss.hpp"
#include "fcam/models/fcam_model.hpp"
#include "fcam/ops/cross_entropy.hpp"
#include "fcam/ops/elementwise.hpp"
#include "fcam/ops/softmax.hpp"
#include "fcam/optim/sgd.hpp"

namespace fcam::train {

/// The batch's float tensor as T (itself for float; the steps run in double in the gradient tests).
template <Scalar T>
Tensor<T> batch_tensor(const Tensor<float>& x) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else {
    Tensor<T> out(x.shape());
    std::copy(x.data(), x.data() + x.numel(), out.data());
    return out;
  }
}

/// Stage 1: one SGD step on a batch; returns the mean cross-entropy.
template <Scalar T>
double classifier_step(models::FcamModel<T>& model, optim::Sgd<T>& sgd, const data::Batch& batch) {
  model.train();
  sgd.zero_grad();
  const Tensor<T> logits = model(batch_tensor<T>(batch.inputs));
  const std::vector<std::int64_t> targets(batch.labels.begin(), batch.labels.end());
  const CrossEntropyResult<T> ce = cross_entropy(logits, targets);
  model.backward(ce.grad);
  sgd.step();
  return ce.loss;
}

/// Settings of the stage-2 loss (METHOD.md §5; the authors' CUB run).
struct FcamLossOptions {
  std::string cam_method = "cam";     ///< pseudo-label source: cam, gradcam, gradcampp, sgcampp, xgradcam, layercam
  losses::SamplingOptions sampling;   ///< sampling regions
  bool use_pce = true;                ///< α·PCE term
  double alpha = 1.0;                 ///< α
  bool use_crf = true;                ///< CRF term
  losses::CrfLossOptions crf;         ///< its λ and σ's
  bool use_size = true;               ///< size term
  double size_weight = 0.1;           ///< λ_s
  int sgcampp_passes = 4;             ///< Smooth-GradCAM++ noisy passes
  double sgcampp_sigma = 0.3;         ///< and their noise
};

/// Milliseconds spent in each part of a stage-2 step (the breakdown fcam-bench-train prints).
struct FcamStepTimes {
  double encoder = 0, cam = 0, sampling = 0, decoder_forward = 0, pce = 0, crf = 0, size = 0, backward = 0,
         optimiser = 0;  ///< per part
  /// Their sum.
  double total() const { return encoder + cam + sampling + decoder_forward + pce + crf + size + backward + optimiser; }
};

namespace detail {
/// Adds the milliseconds since the last call to a slot (nothing when `times` is null).
class Laps {
public:
  explicit Laps(FcamStepTimes* times) : on_(times != nullptr), last_(std::chrono::steady_clock::now()) {}
  void operator()(double* slot) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    *slot += std::chrono::duration<double, std::milli>(now - last_).count();
    last_ = now;
  }

private:
  bool on_;
  std::chrono::steady_clock::time_point last_;
};
}  // namespace detail

/// The terms of one stage-2 step.
struct FcamStepLosses {
  double pce = 0, crf = 0, size = 0;  ///< each term as added to the total (0 when off)
  std::int64_t labelled = 0;          ///< labelled pixels in the batch
  /// Their sum.
  double total() const { return pce + crf + size; }
};

/// The pseudo-label CAMs of `batch` (N×S×S in [0, 1]); leaves the encoder stages of the clean
/// input in the model.
template <Scalar T>
Tensor<T> pseudo_label_maps(models::FcamModel<T>& model, const data::Batch& batch, const FcamLossOptions& o, Rng& rng,
                            FcamStepTimes* times = nullptr) {
  detail::Laps lap(times);
  FcamStepTimes ignored;
  FcamStepTimes& t = times ? *times : ignored;
  const std::int64_t s = batch.inputs.size(2);
  const Tensor<T> inputs = batch_tensor<T>(batch.inputs);
  NoGradGuard no_grad;
  Tensor<T> low;
  if (o.cam_method == "sgcampp") {
    std::vector<Tensor<T>> noisy;
    for (int k = 0; k < o.sgcampp_passes; ++k) {
      Tensor<T> x = inputs.clone();
      for (std::int64_t i = 0; i < x.numel(); ++i) x.data()[i] += static_cast<T>(rng.normal() * o.sgcampp_sigma);
      noisy.push_back(std::move(x));
    }
    low = cam::smooth_gradcampp_maps(model, noisy, batch.labels);
    lap(&t.cam);
    model(inputs);  // the decoder reads the stages of the clean input
    lap(&t.encoder);
  } else {
    model(inputs);
    lap(&t.encoder);
    low = cam::class_activation_maps(model.encoder().stages().back(), model.head().fc().weight().value, batch.labels,
                                     cam::method_named(o.cam_method));
  }
  Tensor<T> maps = cam::full_resolution(low, s, s);
  lap(&t.cam);
  return maps;
}

/// Stage 2: one SGD step of the decoder on a batch (the encoder and head stay frozen, in
/// evaluation mode). `t` is the log-barrier's current t; `times`, when given, accumulates the
/// milliseconds of each part.
template <Scalar T>
FcamStepLosses fcam_step(models::FcamModel<T>& model, optim::Sgd<T>& sgd, const data::Batch& batch,
                         const FcamLossOptions& o, double t, Rng& rng, FcamStepTimes* times = nullptr) {
  FcamStepTimes ignored;
  FcamStepTimes& tm = times ? *times : ignored;
  model.encoder().eval();
  model.head().eval();
  model.decoder().train();
  model.segmentation_head().train();
  sgd.zero_grad();
  const Tensor<T> cams = pseudo_label_maps(model, batch, o, rng, times);
  detail::Laps lap(times);
  const std::int64_t n = cams.size(0), s = cams.size(1);
  std::vector<std::uint8_t> labels;
  labels.reserve(static_cast<std::size_t>(n * s * s));
  for (std::int64_t b = 0; b < n; ++b) {
    const std::vector<std::uint8_t> one = losses::sample_regions(cams.data() + b * s * s, s, s, o.sampling, rng);
    labels.insert(labels.end(), one.begin(), one.end());
  }
  FcamStepLosses out;
  for (std::uint8_t l : labels) out.labelled += l != losses::unlabelled;
  lap(&tm.sampling);

  const Tensor<T> logits = model.segment();  // gradients on: the decoder keeps what backward needs
  const Tensor<T> probs = softmax_channels(logits);
  Tensor<T> grad_logits(logits.shape()), grad_probs(probs.shape()), g;
  lap(&tm.decoder_forward);
  if (o.use_pce) {
    out.pce = losses::partial_cross_entropy(logits, labels, o.alpha, &g);
    grad_logits = add(grad_logits, g);
  }
  lap(&tm.pce);
  if (o.use_crf) {
    out.crf = losses::crf_loss(probs, batch_tensor<T>(batch.raw), o.crf, &g);
    grad_probs = add(grad_probs, g);
  }
  lap(&tm.crf);
  if (o.use_size) {
    out.size = losses::size_loss(probs, t, o.size_weight, &g);
    grad_probs = add(grad_probs, g);
  }
  lap(&tm.size);
  if (o.use_crf || o.use_size) grad_logits = add(grad_logits, softmax_channels_backward(probs, grad_probs));
  model.backward_segmentation(grad_logits);
  lap(&tm.backward);
  sgd.step();
  lap(&tm.optimiser);
  return out;
}

}  // namespace fcam::train

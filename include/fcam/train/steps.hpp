/// \file
/// \brief One optimisation step of each F-CAM training stage.
///
/// Stage 1 (classifier): cross-entropy of the WGAP logits, backward through head and encoder.
/// Stage 2 (F-CAM): the encoder and head are frozen and run without gradients (inference
/// fusion applies); the CAM of the ground-truth class, normalised and upsampled to the crop,
/// gives the sampled pseudo-labels; the decoder is trained with α·PCE + CRF + size loss
/// (docs/method.md §5), each switchable for ablations.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "fcam/cam/baselines.hpp"
#include "fcam/core/label_map.hpp"
#include "fcam/core/loss_sums.hpp"
#include "fcam/data/loader.hpp"
#include "fcam/dist/gradient_reducer.hpp"
#include "fcam/losses/crf_loss.hpp"
#include "fcam/losses/partial_ce.hpp"
#include "fcam/losses/sampling_regions.hpp"
#include "fcam/losses/size_loss.hpp"
#include "fcam/models/fcam_model.hpp"
#include "fcam/ops/cross_entropy.hpp"
#include "fcam/ops/elementwise.hpp"
#include "fcam/ops/reduce.hpp"
#include "fcam/ops/region_labels.hpp"
#include "fcam/ops/softmax.hpp"
#include "fcam/optim/sgd.hpp"
#include "fcam/train/stage.hpp"

namespace fcam::train {

/// The batch's float tensor as T (itself for float; the steps run in double in the gradient
/// tests), on `device` (the model's: a copy when the batch is elsewhere).
template <Scalar T>
Tensor<T> batch_tensor(const Tensor<float>& x, Device device = Device::cpu) {
  const Tensor<float> here = x.device() == device ? x : x.to(device);
  if constexpr (std::is_same_v<T, float>) return here;
  else return here.template cast<T>();
}

/// What a stage trains (docs/method.md §6.2). Stage::classifier: encoder + head, the last block (ResNet
/// layer4, VGG conv6, Inception's added blocks, MobileNetV2's features.18) and the head in a second group at
/// `last_block_lr_factor`× the lr; with `freeze_encoder` the head alone, at that factor. Stage::fcam:
/// decoder + segmentation head, one group.
template <Scalar T>
std::vector<optim::ParamGroup<T>> parameter_groups(models::FcamModel<T>& model, Stage stage,
                                                   double last_block_lr_factor = 10, bool freeze_encoder = false) {
  auto starts = [](const std::string& name, const char* prefix) { return name.rfind(prefix, 0) == 0; };
  const models::Arch arch = model.arch();
  const char* last_block = arch == models::Arch::vgg16          ? "encoder.conv6."
                           : arch == models::Arch::inceptionv3  ? "encoder.SPG_A3_"
                           : arch == models::Arch::mobilenet_v2 ? "encoder.features.18."
                                                                : "encoder.layer4.";
  optim::ParamGroup<T> base, last;
  last.lr_factor = last_block_lr_factor;
  for (auto& [name, p] : model.named_parameters()) {
    const bool decoder = starts(name, "decoder.") || starts(name, "segmentation_head.");
    if (stage == Stage::fcam) {
      if (decoder) base.params.emplace_back(name, p);
    } else if (!decoder && !(freeze_encoder && starts(name, "encoder."))) {
      const bool in_last = starts(name, "classification_head.") || starts(name, last_block);
      (in_last ? last : base).params.emplace_back(name, p);
    }
  }
  std::vector<optim::ParamGroup<T>> groups;
  for (const auto* group : {&base, &last})
    if (!group->params.empty()) groups.push_back(*group);
  return groups;
}

/// Averages the gradients over the ranks before the update (data-parallel training; nothing
/// when `reducer` is null). Float only, like the reducer.
template <Scalar T>
void average_gradients(dist::GradientReducer* reducer) {
  if constexpr (std::is_same_v<T, float>) {
    if (reducer) reducer->finish();
  } else {
    FCAM_CHECK(!reducer, "data-parallel training runs in float");
  }
}

/// Stage 1: one SGD step on a batch; adds the mean cross-entropy to `loss` (a LossSums slot on the
/// model's device: on a GPU the step never waits for it). With `freeze_encoder` the encoder runs
/// as in inference (evaluation mode, no gradients, nothing kept for backward) and only the head
/// learns: a linear probe on pretrained features. With a `reducer`, the gradients are averaged
/// over the ranks before the update.
template <Scalar T>
void classifier_step(models::FcamModel<T>& model, optim::Sgd<T>& sgd, const data::Batch& batch, LossSlot loss,
                     bool freeze_encoder = false, dist::GradientReducer* reducer = nullptr) {
  if (freeze_encoder) {
    // Only the head changes mode: the encoder stays in evaluation from step to step, so it keeps
    // its inference caches (packed weights, folded BatchNorm) instead of rebuilding them each step.
    model.encoder().eval();
    model.head().train();
  } else {
    model.train();
  }
  sgd.zero_grad();
  const std::vector<std::int64_t> targets(batch.labels.begin(), batch.labels.end());
  Tensor<T> logits;
  if (freeze_encoder) {
    Tensor<T> features;
    {
      NoGradGuard no_grad;
      features = model.encoder()(batch_tensor<T>(batch.inputs, model.device()));
    }
    logits = model.head()(features);
  } else {
    logits = model.classify(batch_tensor<T>(batch.inputs, model.device())).logits;
  }
  const Tensor<T> grad = cross_entropy_into(logits, targets, loss);
  if (freeze_encoder) model.head().backward(grad);
  else model.backward_classifier(grad, false);  // the image needs no gradient
  average_gradients<T>(reducer);
  sgd.step();
}

/// classifier_step that returns the mean cross-entropy (on a GPU, a wait for the device).
template <Scalar T>
double classifier_step(models::FcamModel<T>& model, optim::Sgd<T>& sgd, const data::Batch& batch,
                       bool freeze_encoder = false, dist::GradientReducer* reducer = nullptr) {
  const LossSums loss(1, model.device());
  classifier_step(model, sgd, batch, loss.slot(0), freeze_encoder, reducer);
  return loss.read()[0];
}

/// Settings of the stage-2 loss (docs/method.md §5; the authors' CUB run).
struct FcamLossOptions {
  cam::Method cam_method = cam::Method::cam;  ///< pseudo-label source
  losses::SamplingOptions sampling;   ///< sampling regions
  bool use_pce = true;                ///< α·PCE term
  double alpha = 1.0;                 ///< α
  bool use_crf = true;                ///< CRF term
  losses::CrfLossOptions crf;         ///< its λ and σ's
  bool use_size = true;               ///< size term
  double size_weight = 0.1;           ///< λ_s
  cam::SmoothOptions smooth;          ///< Smooth-GradCAM++ passes and noise
};

/// Milliseconds spent in each part of a stage-2 step (the breakdown fcam-bench-train prints).
struct FcamStepTimes {
  double encoder = 0, cam = 0, sampling = 0, decoder_forward = 0, pce = 0, crf = 0, size = 0, backward = 0,
         optimiser = 0;  ///< per part
  /// Their sum.
  double total() const { return encoder + cam + sampling + decoder_forward + pce + crf + size + backward + optimiser; }
  /// Adds another step's times part by part.
  FcamStepTimes& operator+=(const FcamStepTimes& o) {
    encoder += o.encoder, cam += o.cam, sampling += o.sampling, decoder_forward += o.decoder_forward;
    pce += o.pce, crf += o.crf, size += o.size, backward += o.backward, optimiser += o.optimiser;
    return *this;
  }
};

namespace detail {
/// Adds the milliseconds since the previous lap to a part of `times` (nothing when it is null).
/// On a GPU each lap first waits for the device, so that a part's time is its own work's.
class Laps {
public:
  Laps(FcamStepTimes* times, Device device) : times_(times), device_(device) {
    if (times_) wait_for(device_);  // earlier work is not this step's first part
    last_ = std::chrono::steady_clock::now();
  }
  void operator()(double FcamStepTimes::*part) {
    if (!times_) return;
    wait_for(device_);
    const auto now = std::chrono::steady_clock::now();
    times_->*part += std::chrono::duration<double, std::milli>(now - last_).count();
    last_ = now;
  }

private:
  FcamStepTimes* times_;
  Device device_;
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

/// Where a stage-2 step adds its terms: slots on the model's device (LossSums), so that on a GPU
/// the step never waits for its losses.
struct FcamLossSlots {
  LossSlot pce, crf, size;  ///< each term as added to the total (nothing is added for a term that is off)

  /// Slots 0, 1 and 2 of `sums`.
  static FcamLossSlots of(const LossSums& sums) { return {sums.slot(0), sums.slot(1), sums.slot(2)}; }
};

/// The frozen classifier's view of a stage-2 batch.
template <Scalar T>
struct PseudoLabelMaps {
  std::vector<Tensor<T>> stages;  ///< encoder stages of the clean batch (the decoder's input)
  Tensor<T> maps;                 ///< pseudo-label CAMs, N×S×S in [0, 1]
};

/// The encoder stages and pseudo-label CAMs of `batch`, without gradients.
template <Scalar T>
PseudoLabelMaps<T> pseudo_label_maps(models::FcamModel<T>& model, const data::Batch& batch, const FcamLossOptions& o,
                                     Rng& rng, FcamStepTimes* times = nullptr) {
  detail::Laps lap(times, times ? model.device() : Device::cpu);
  const std::int64_t s = batch.inputs.size(2);
  const Tensor<T> inputs = batch_tensor<T>(batch.inputs, model.device());
  NoGradGuard no_grad;
  models::ClassifierOutput<T> out = model.classify(inputs);
  lap(&FcamStepTimes::encoder);
  const Tensor<T> low = cam::baseline_maps(model, out, inputs, batch.labels, o.cam_method, rng, o.smooth);
  PseudoLabelMaps<T> result{std::move(out.stages), cam::full_resolution(low, s, s)};
  lap(&FcamStepTimes::cam);
  return result;
}

/// The decoder's part of a stage-2 step: the decoder and segmentation head (put in training mode)
/// decode the frozen encoder `stages`; the loss terms are taken against the pseudo-labels
/// `labels` (N·H·W: 0, 1, 255 unlabelled, on the model's device) and, for the CRF, the `raw`
/// images; then backward and the update. Adds the terms to `into`. `t`, `times` and `reducer` as
/// in fcam_step.
template <Scalar T>
void decoder_step(models::FcamModel<T>& model, optim::Sgd<T>& sgd, const std::vector<Tensor<T>>& stages,
                  const LabelMap& labels, const Tensor<float>& raw, const FcamLossOptions& o, double t,
                  const FcamLossSlots& into, FcamStepTimes* times = nullptr,
                  dist::GradientReducer* reducer = nullptr) {
  detail::Laps lap(times, times ? model.device() : Device::cpu);
  model.decoder().train();
  model.segmentation_head().train();
  sgd.zero_grad();
  const Tensor<T> logits = model.segment(stages);  // gradients on: the decoder keeps what backward needs
  const Tensor<T> probs = softmax_channels(logits);
  Tensor<T> grad_logits(logits.shape(), logits.device()), grad_probs(probs.shape(), probs.device());
  lap(&FcamStepTimes::decoder_forward);
  if (o.use_pce) grad_logits = add(grad_logits, losses::partial_cross_entropy(logits, labels, o.alpha, into.pce));
  lap(&FcamStepTimes::pce);
  if (o.use_crf)
    grad_probs = add(grad_probs, losses::crf_loss(probs, batch_tensor<T>(raw, probs.device()), o.crf, into.crf));
  lap(&FcamStepTimes::crf);
  if (o.use_size) grad_probs = add(grad_probs, losses::size_loss(probs, t, o.size_weight, into.size));
  lap(&FcamStepTimes::size);
  if (o.use_crf || o.use_size) grad_logits = add(grad_logits, softmax_channels_backward(probs, grad_probs));
  model.backward_segmentation(grad_logits);
  average_gradients<T>(reducer);
  lap(&FcamStepTimes::backward);
  sgd.step();
  lap(&FcamStepTimes::optimiser);
}

namespace detail {
/// The terms in `sums` (slots as FcamLossSlots::of; on a GPU, a wait) and the labelled count.
inline FcamStepLosses read_step_losses(const LossSums& sums, const LabelMap& labels) {
  const std::vector<double> v = sums.read();
  return {v[0], v[1], v[2], labels.labelled()};
}
}  // namespace detail

/// decoder_step that returns its terms, labelled = labels.labelled() (on a GPU, a wait).
template <Scalar T>
FcamStepLosses decoder_step(models::FcamModel<T>& model, optim::Sgd<T>& sgd, const std::vector<Tensor<T>>& stages,
                            const LabelMap& labels, const Tensor<float>& raw,
                            const FcamLossOptions& o, double t, FcamStepTimes* times = nullptr,
                            dist::GradientReducer* reducer = nullptr) {
  const LossSums sums(3, model.device());
  decoder_step(model, sgd, stages, labels, raw, o, t, FcamLossSlots::of(sums), times, reducer);
  return detail::read_step_losses(sums, labels);
}

/// decoder_step with the pseudo-labels in host memory, copied to the model's device first.
template <Scalar T>
FcamStepLosses decoder_step(models::FcamModel<T>& model, optim::Sgd<T>& sgd, const std::vector<Tensor<T>>& stages,
                            const std::vector<std::uint8_t>& labels, const Tensor<float>& raw,
                            const FcamLossOptions& o, double t, FcamStepTimes* times = nullptr,
                            dist::GradientReducer* reducer = nullptr) {
  return decoder_step(model, sgd, stages, LabelMap::from_host(labels, model.device()), raw, o, t, times, reducer);
}

/// Stage 2: one SGD step of the decoder on a batch (the encoder and head stay frozen, in
/// evaluation mode): pseudo-label CAMs, sampled regions, then decoder_step. `t` is the
/// log-barrier's current t; `times`, when given, accumulates the milliseconds of each part. With
/// a `reducer`, the gradients are averaged over the ranks before the update (the losses returned
/// are this rank's). On the CPU the regions come from losses::sample_regions_of_batch (draws from
/// `rng`); on a GPU from keyed_region_labels on the device, seeded by one rng.next_u64() per batch
/// (other pixels than the CPU's draws, equally distributed; the labels never leave the GPU). Adds
/// the terms to `into` (on a GPU the step never waits for them) and returns the pseudo-labels.
template <Scalar T>
LabelMap fcam_step(models::FcamModel<T>& model, optim::Sgd<T>& sgd, const data::Batch& batch,
                   const FcamLossOptions& o, double t, Rng& rng, const FcamLossSlots& into,
                   FcamStepTimes* times = nullptr, dist::GradientReducer* reducer = nullptr) {
  model.encoder().eval();
  model.head().eval();
  const PseudoLabelMaps<T> frozen = pseudo_label_maps(model, batch, o, rng, times);
  const Tensor<T>& cams = frozen.maps;
  detail::Laps lap(times, times ? model.device() : Device::cpu);
  LabelMap labels;
  if (cams.device() == Device::cpu) {
    const std::int64_t n = cams.size(0), s = cams.size(1);
    const std::vector<T> values = host_values(cams);
    labels = LabelMap::from_host(
        losses::sample_regions_of_batch(std::span<const T>(values), n, s, s, o.sampling, rng), Device::cpu);
  } else {
    labels = fcam::keyed_region_labels(cams, o.sampling, rng.next_u64());
  }
  lap(&FcamStepTimes::sampling);
  decoder_step(model, sgd, frozen.stages, labels, batch.raw, o, t, into, times, reducer);
  return labels;
}

/// fcam_step that returns its terms and the labelled count (on a GPU, a wait).
template <Scalar T>
FcamStepLosses fcam_step(models::FcamModel<T>& model, optim::Sgd<T>& sgd, const data::Batch& batch,
                         const FcamLossOptions& o, double t, Rng& rng, FcamStepTimes* times = nullptr,
                         dist::GradientReducer* reducer = nullptr) {
  const LossSums sums(3, model.device());
  const LabelMap labels = fcam_step(model, sgd, batch, o, t, rng, FcamLossSlots::of(sums), times, reducer);
  return detail::read_step_losses(sums, labels);
}

}  // namespace fcam::train

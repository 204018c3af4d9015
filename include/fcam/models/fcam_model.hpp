/// \file
/// \brief FcamModel: encoder + WGAP classification head + U-Net decoder + segmentation head, with
/// the reference checkpoints' names ("encoder.", "classification_head.", "decoder.",
/// "segmentation_head.").
///
/// classify() runs the classifier and returns the logits with the encoder stages; segment(stages)
/// decodes stages into the 2-channel F-CAM logits at the input size (channel 1 = foreground).
/// Nothing depends on which call came last, except that a backward goes through the forward
/// before it: backward_classifier() through the head and the encoder (stage 1),
/// backward_segmentation() through the segmentation head and the decoder only (stage 2: the
/// encoder is frozen).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <memory>

#include "fcam/models/arch.hpp"
#include "fcam/models/encoder.hpp"
#include "fcam/models/inception_wsol.hpp"
#include "fcam/models/mobilenet_v2.hpp"
#include "fcam/models/resnet_wsol.hpp"
#include "fcam/models/unet_decoder.hpp"
#include "fcam/models/vgg_wsol.hpp"
#include "fcam/models/wgap_head.hpp"
#include "fcam/ops/concat.hpp"
#include "fcam/ops/softmax.hpp"

namespace fcam::models {

/// Decoder block widths (docs/method.md §3.3), scaled with the base width: ResNets and MobileNetV2 five
/// blocks, VGG16 three.
inline std::vector<std::int64_t> decoder_widths(Arch arch, std::int64_t base_width) {
  std::vector<std::int64_t> widths;
  for (std::int64_t w : {256, 128, 64, 32, 16}) widths.push_back(std::max<std::int64_t>(1, w * base_width / 64));
  if (arch == Arch::vgg16) widths.resize(3);
  return widths;
}

/// The encoder of `arch` (the base width applies to ResNets and VGG16; MobileNetV2 is always the
/// 1.0 network of its pretrained weights, its base width scales the decoder alone).
template <Scalar T>
std::unique_ptr<Encoder<T>> make_encoder(Arch arch, std::int64_t base_width = 64) {
  if (arch == Arch::vgg16) return std::make_unique<Vgg16Wsol<T>>(base_width);
  if (arch == Arch::mobilenet_v2) return std::make_unique<MobileNetV2<T>>();
  if (arch == Arch::inceptionv3) {
    FCAM_CHECK(base_width == 64, "inceptionv3 has no base-width option, got ", base_width);
    return std::make_unique<InceptionV3Wsol<T>>();
  }
  return std::make_unique<ResNetWsol<T>>(ResNetSpec::of(arch, base_width));
}

/// What the classifier computes for a batch: the class logits and the encoder stages (input
/// first, CAM layer last), which the CAM methods and the decoder take.
template <Scalar T>
struct ClassifierOutput {
  Tensor<T> logits;               ///< N×K
  std::vector<Tensor<T>> stages;  ///< Encoder::forward_stages of the batch
};

/// The F-CAM model of a WSOL encoder architecture.
template <Scalar T>
class FcamModel : public nn::ModuleBase<T> {
public:
  /// `arch`, `num_classes` K, `base_width` (64: torchvision's widths).
  FcamModel(Arch arch, std::int64_t num_classes, std::int64_t base_width = 64)
      : arch_(arch),
        encoder_(make_encoder<T>(arch, base_width)),
        head_(encoder_->stage_channels().back(), num_classes),
        decoder_(encoder_->stage_channels(), decoder_widths(arch, base_width), arch == Arch::vgg16),
        segmentation_head_(decoder_widths(arch, base_width).back()) {
    FCAM_CHECK(num_classes >= 1, "FcamModel: num_classes must be >= 1, got ", num_classes);
    this->register_module("encoder", *encoder_);
    this->register_module("classification_head", head_);
    this->register_module("decoder", decoder_);
    this->register_module("segmentation_head", segmentation_head_);
  }

  /// Class logits (N×K) and encoder stages of images `x` (N×3×H×W, normalised).
  ClassifierOutput<T> classify(const Tensor<T>& x) {
    ClassifierOutput<T> out;
    out.stages = encoder_->forward_stages(x);
    out.logits = head_(out.stages.back());
    return out;
  }
  /// Adds the head's and encoder's parameter gradients for dL/d(logits) of the last classify()
  /// and returns dL/d(input) — or, without `image_gradient`, an undefined tensor, which saves
  /// the stem's input gradient (training never reads it).
  Tensor<T> backward_classifier(const Tensor<T>& grad_logits, bool image_gradient = true) {
    encoder_->set_image_gradient(image_gradient);
    return encoder_->backward(head_.backward(grad_logits));
  }

  /// F-CAM logits (N×2×H×W) of encoder `stages` (ClassifierOutput::stages).
  Tensor<T> segment(const std::vector<Tensor<T>>& stages) {
    FCAM_CHECK(stages.size() >= 2, "FcamModel::segment: expected the encoder stages, got ", stages.size(), " tensors");
    return segmentation_head_.forward(decoder_.forward(stages), stages.front().size(2), stages.front().size(3));
  }
  /// The F-CAM map of encoder `stages`: foreground probability (softmax channel 1), N×H×W.
  Tensor<T> foreground(const std::vector<Tensor<T>>& stages) {
    const Tensor<T> probs = softmax_channels(segment(stages));
    return split_channels(probs, {1, 1})[1].reshape({probs.size(0), probs.size(2), probs.size(3)});
  }

  /// Adds the decoder's and segmentation head's parameter gradients for dL/d(segment()) of the
  /// last segment().
  void backward_segmentation(const Tensor<T>& grad_segmentation) {
    decoder_.backward(segmentation_head_.backward(grad_segmentation));
  }

  /// The encoder architecture.
  Arch arch() const { return arch_; }
  /// The encoder.
  Encoder<T>& encoder() { return *encoder_; }
  /// The classification head.
  WgapHead<T>& head() { return head_; }
  /// The decoder.
  UnetDecoder<T>& decoder() { return decoder_; }
  /// The segmentation head.
  SegmentationHead<T>& segmentation_head() { return segmentation_head_; }

private:
  Arch arch_;
  std::unique_ptr<Encoder<T>> encoder_;
  WgapHead<T> head_;
  UnetDecoder<T> decoder_;
  SegmentationHead<T> segmentation_head_;
};

/// Number of scalars in the parameters of `module` whose name starts with `prefix`.
template <Scalar T>
std::int64_t parameter_count(nn::ModuleBase<T>& module, const std::string& prefix = "") {
  std::int64_t n = 0;
  for (auto& [name, p] : module.named_parameters())
    if (name.rfind(prefix, 0) == 0) n += p->value.numel();
  return n;
}

}  // namespace fcam::models

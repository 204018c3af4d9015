/// \file
/// \brief The interface of WSOL encoders: a module whose forward_stages returns every stage (for
/// the F-CAM decoder) and whose forward returns the last one (the CAM layer).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcam/nn/conv2d.hpp"
#include "fcam/nn/fused.hpp"
#include "fcam/nn/module.hpp"

namespace fcam::models {

/// A WSOL encoder: forward_stages(x) returns every stage of x, forward(x) the CAM target layer
/// (the last stage); backward takes the gradient of the last stage.
template <Scalar T>
class Encoder : public nn::Module<T> {
public:
  /// The stages of `x`, shallowest first (docs/method.md §2.2's stage lists).
  virtual std::vector<Tensor<T>> forward_stages(const Tensor<T>& x) = 0;
  /// The last stage of `x`.
  Tensor<T> forward(const Tensor<T>& x) final { return forward_stages(x).back(); }
  /// Channels of each stage, in the order of forward_stages().
  virtual const std::vector<std::int64_t>& stage_channels() const = 0;
  /// The convolution applied to the image.
  virtual nn::Conv2d<T>& stem() = 0;
  /// Whether backward() returns the gradient of the image (else an undefined tensor). Training
  /// never reads it; skipping it saves the stem's input gradient (about 1 % of the demo's
  /// stage-1 step, more for narrow models on large images).
  void set_image_gradient(bool needed) { stem().set_input_gradient(needed); }
};

/// An encoder that is a plain chain of layers, some of whose outputs are stages (VGG16,
/// InceptionV3). Subclasses build the chain in their constructor with named() / add() /
/// mark_stage().
template <Scalar T>
class ChainEncoder : public Encoder<T> {
public:
  std::vector<Tensor<T>> forward_stages(const Tensor<T>& x) override {
    check_rank(x, 4, "encoder input");
    FCAM_CHECK(x.size(1) == 3, "encoder: input must have 3 channels, got shape ", to_string(x.shape()));
    std::vector<Tensor<T>> stages;
    if (input_is_stage_) stages.push_back(x);
    Tensor<T> h = x;
    for (std::size_t i = 0; i < layers_.size();) {
      // A fused run (inference) may not swallow a stage: it ends at the next stage layer.
      std::size_t until = i;
      while (until + 1 < layers_.size() && !stage_after_[until]) ++until;
      i += nn::forward_fusing(layers_.data() + i, until + 1 - i, h);
      if (stage_after_[i - 1]) stages.push_back(h);
    }
    return stages;
  }

  Tensor<T> backward(const Tensor<T>& grad_y) override {
    Tensor<T> g = grad_y;
    // Undefined once the stem skipped the image's gradient: the layers before it (padding) have none either.
    for (std::size_t left = layers_.size(); left > 0 && g.defined();)
      left -= nn::backward_fusing(layers_.data(), left, g);
    return g;
  }

  const std::vector<std::int64_t>& stage_channels() const override { return stage_channels_; }

  nn::Conv2d<T>& stem() override {
    FCAM_CHECK(stem_, "ChainEncoder: the subclass did not name its stem convolution");
    return *stem_;
  }

protected:
  /// `input_is_stage`: the input image is the first stage; `stage_channels` in stage order.
  ChainEncoder(bool input_is_stage, std::vector<std::int64_t> stage_channels)
      : input_is_stage_(input_is_stage), stage_channels_(std::move(stage_channels)) {}

  /// Appends a layer with parameters, registered under `name`.
  template <class M, class... Args>
  M& named(const std::string& name, Args&&... args) {
    auto layer = std::make_unique<M>(std::forward<Args>(args)...);
    M& ref = *layer;
    this->register_module(name, ref);
    add(std::move(layer));
    return ref;
  }
  /// Appends a layer without parameters.
  void add(std::unique_ptr<nn::Module<T>> layer) {
    layers_.push_back(std::move(layer));
    stage_after_.push_back(false);
  }
  /// The output of the last appended layer is a stage.
  void mark_stage() { stage_after_.back() = true; }
  /// The convolution applied to the image (set by the subclass's constructor).
  nn::Conv2d<T>* stem_ = nullptr;

private:
  bool input_is_stage_;
  std::vector<std::int64_t> stage_channels_;
  std::vector<std::unique_ptr<nn::Module<T>>> layers_;  // in forward order
  std::vector<bool> stage_after_;                       // the layer's output is a stage
};

}  // namespace fcam::models

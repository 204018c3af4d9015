/// \file
/// \brief nn::BatchNorm2d with PyTorch semantics (biased variance to normalise, unbiased running_var).
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>

#include "fcam/nn/module.hpp"
#include "fcam/ops/batch_norm.hpp"
#include "fcam/ops/elementwise.hpp"

namespace fcam::nn {

/// PyTorch's BatchNorm2d (affine, track_running_stats). Parameters "weight", "bias"; buffers
/// "running_mean", "running_var", "num_batches_tracked". Training mode normalises with the batch
/// statistics and updates the running ones with `momentum`; evaluation mode uses the running ones.
/// Also accepts N×C input (BatchNorm1d behaviour).
template <Scalar T>
class BatchNorm2d : public Module<T> {
public:
  /// `channels` features; eps and momentum as in PyTorch.
  explicit BatchNorm2d(std::int64_t channels, double eps = 1e-5, double momentum = 0.1)
      : eps_(static_cast<T>(eps)), momentum_(static_cast<T>(momentum)) {
    FCAM_CHECK(channels >= 1, "BatchNorm2d: channels must be >= 1, got ", channels);
    weight_.reset(Tensor<T>::full({channels}, T(1)));
    bias_.reset(Tensor<T>({channels}));
    running_mean_ = Tensor<T>({channels});
    running_var_ = Tensor<T>::full({channels}, T(1));
    num_batches_tracked_ = Tensor<T>(Shape{});
    this->register_parameter("weight", weight_);
    this->register_parameter("bias", bias_);
    this->register_buffer("running_mean", running_mean_);
    this->register_buffer("running_var", running_var_);
    this->register_buffer("num_batches_tracked", num_batches_tracked_);
  }

  Tensor<T> forward(const Tensor<T>& x) override { return forward_fused(x, Tensor<T>(), false); }

  /// relu(bn(x) + residual), the residual optional and the ReLU applied when `apply_relu`. In
  /// training mode the three run as one pass over memory (nn::conv_bn_relu uses this); in
  /// evaluation mode one after the other.
  Tensor<T> forward_fused(const Tensor<T>& x, const Tensor<T>& residual, bool apply_relu) {
    trained_forward_ = this->is_training();
    if (!trained_forward_) {
      if (this->caching()) input_ = x;
      Tensor<T> y = batch_norm_eval(x, weight_.value, bias_.value, running_mean_, running_var_, eps_);
      if (residual.defined()) y = add(y, residual);
      return apply_relu ? relu(y) : y;
    }
    Tensor<T> unbiased_var;
    Tensor<T> y = batch_norm_train(x, weight_.value, bias_.value, eps_, saved_, unbiased_var, residual, apply_relu);
    batch_norm_update_running_stats(running_mean_, running_var_, num_batches_tracked_, saved_.mean, unbiased_var,
                                    momentum_);
    input_ = this->caching() ? x : Tensor<T>();
    return y;
  }

  Tensor<T> backward(const Tensor<T>& grad_y) override { return backward_after_relu(Tensor<T>(), grad_y); }

  /// backward() when a ReLU took this layer's output: grad_y is the gradient of the ReLU's output
  /// `relu_output` (undefined: no ReLU). After a training forward the ReLU's mask is applied
  /// inside this layer's own passes instead of in a pass of its own.
  Tensor<T> backward_after_relu(const Tensor<T>& relu_output, const Tensor<T>& grad_y) {
    this->require_cached(input_, "BatchNorm2d");
    Tensor<T> grad_x;
    if (trained_forward_) {
      grad_x = batch_norm_train_backward(input_, weight_.value, saved_, grad_y, weight_.grad, bias_.grad, relu_output);
    } else {
      const Tensor<T> g = relu_output.defined() ? relu_backward(relu_output, grad_y) : grad_y;
      grad_x = batch_norm_eval_backward(input_, weight_.value, running_mean_, running_var_, eps_, g, weight_.grad,
                                        bias_.grad);
    }
    weight_.grad_ready();
    bias_.grad_ready();
    return grad_x;
  }

  /// The affine map of evaluation mode per channel, y = x·scale + shift, with scale =
  /// γ/√(running_var + eps) and shift = β − running_mean·scale (batch_norm_eval's arithmetic).
  /// In inference (Module::inference()) the map is kept, as Conv2d keeps its packed weights, until
  /// γ or β changes (Parameter::mark_changed), the mode switches, the module moves or a state dict
  /// is loaded (Module::drop_caches_everywhere): on a GPU each fused convolution then costs its
  /// own two launches only.
  std::pair<Tensor<T>, Tensor<T>> eval_affine() {
    const auto make = [&] {
      return batch_norm_eval_affine(weight_.value, bias_.value, running_mean_, running_var_, eps_);
    };
    if (!this->inference()) return make();
    const std::pair versions{weight_.version, bias_.version};
    if (!affine_.first.defined() || affine_versions_ != versions) {
      affine_ = make();
      affine_versions_ = versions;
    }
    return affine_;
  }

  /// Scale γ.
  Parameter<T>& weight() { return weight_; }
  /// Shift β.
  Parameter<T>& bias() { return bias_; }
  /// Running mean buffer.
  Tensor<T>& running_mean() { return running_mean_; }
  /// Running (unbiased) variance buffer.
  Tensor<T>& running_var() { return running_var_; }

protected:
  void drop_caches() override { affine_ = {}; }

private:
  T eps_, momentum_;
  Parameter<T> weight_, bias_;
  Tensor<T> running_mean_, running_var_, num_batches_tracked_;
  BatchNormSaved<T> saved_;
  Tensor<T> input_;
  bool trained_forward_ = false;
  std::pair<Tensor<T>, Tensor<T>> affine_;  // eval_affine() in inference, see there
  std::pair<std::uint64_t, std::uint64_t> affine_versions_{};
};

}  // namespace fcam::nn

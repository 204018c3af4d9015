/// \file
/// \brief ModuleBase<T> (named parameters, buffers, children, train/eval) and Module<T>, the
/// base of every one-input layer (forward/backward).
///
/// Autograd-lite: forward() keeps what backward() needs (unless a NoGradGuard is active);
/// backward(grad_out) returns grad_in and adds parameter gradients into Parameter::grad.
/// Composite modules register their children and run their backward in reverse order. Modules
/// with other inputs or outputs (the U-Net decoder, FcamModel) derive from ModuleBase and give
/// their forward its real signature.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fcam/core/grad_mode.hpp"
#include "fcam/core/rng.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/random.hpp"

namespace fcam::nn {

/// A trainable tensor and its accumulated gradient (same shape).
template <Scalar T>
struct Parameter {
  Tensor<T> value;         ///< the weights
  Tensor<T> grad;          ///< accumulated dL/dvalue; zero_grad() clears it
  std::uint64_t version = 0;  ///< bumped by mark_changed(): tells caches derived from value to rebuild
  /// Called by the layer once its backward has added this step's gradient (grad_ready()): how
  /// data-parallel training starts averaging a bucket of gradients while backward goes on
  /// (dist::GradientReducer). Empty: nothing is called.
  std::function<void()> on_grad_ready;

  /// Sets value and a zero gradient of the same shape.
  void reset(Tensor<T> v) {
    value = std::move(v);
    grad = Tensor<T>(value.shape());
    mark_changed();
  }
  /// Records that value was written in place (loaders and optimisers call it; so must code
  /// that edits weights of a module in evaluation mode, whose convolutions keep packed copies).
  void mark_changed() { ++version; }
  /// The layer's signal that grad holds this step's whole gradient (each parameter is used once
  /// per forward in fcam's models).
  void grad_ready() {
    if (on_grad_ready) on_grad_ready();
  }
};

/// Parameters, buffers, child modules and the training/evaluation mode of a module, whatever
/// its forward looks like. Modules are neither copyable nor movable: parents and optimisers keep
/// pointers to their parameters.
template <Scalar T>
class ModuleBase {
public:
  ModuleBase() = default;
  ModuleBase(const ModuleBase&) = delete;
  ModuleBase& operator=(const ModuleBase&) = delete;
  virtual ~ModuleBase() = default;

  /// Switches this module and its children to training (true) or evaluation (false) mode. A
  /// module whose mode changes drops what it keeps for inference (drop_caches()); one already in
  /// that mode keeps it, so a frozen encoder switched to evaluation every step stays packed.
  void train(bool on = true) {
    if (training_ != on) {
      training_ = on;
      drop_caches();
    }
    for (auto& [name, child] : children_) child->train(on);
  }
  /// Same as train(false).
  void eval() { train(false); }
  /// True in training mode (the default).
  bool is_training() const { return training_; }
  /// True when forward may take inference shortcuts: evaluation mode and gradients off
  /// (nothing is kept for backward, so layers can be fused and weights kept packed).
  bool inference() const { return !training_ && !grad_enabled(); }

  /// Every parameter of this module and its children, with PyTorch-style dotted names.
  std::vector<std::pair<std::string, Parameter<T>*>> named_parameters(const std::string& prefix = "") {
    std::vector<std::pair<std::string, Parameter<T>*>> out;
    for (auto& [name, p] : parameters_) out.emplace_back(prefix + name, p);
    for (auto& [name, child] : children_) {
      auto sub = child->named_parameters(prefix + name + ".");
      out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
  }

  /// Every buffer (running statistics …) of this module and its children, with dotted names.
  std::vector<std::pair<std::string, Tensor<T>*>> named_buffers(const std::string& prefix = "") {
    std::vector<std::pair<std::string, Tensor<T>*>> out;
    for (auto& [name, b] : buffers_) out.emplace_back(prefix + name, b);
    for (auto& [name, child] : children_) {
      auto sub = child->named_buffers(prefix + name + ".");
      out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
  }

  /// Direct children with their names.
  const std::vector<std::pair<std::string, ModuleBase*>>& children() const { return children_; }

  /// Moves every parameter (value and gradient) and every buffer of this module and its
  /// children to `device`, an explicit transfer; what layers derived from the weights for
  /// inference is dropped and made again on the new device.
  void to(Device device) {
    for (auto& [name, p] : named_parameters()) {
      if (p->value.defined()) p->value = p->value.to(device);
      if (p->grad.defined()) p->grad = p->grad.to(device);
      p->mark_changed();
    }
    for (auto& [name, b] : named_buffers())
      if (b->defined()) *b = b->to(device);
    drop_caches_everywhere();
  }

  /// Forgets what this module and its children derived from their parameters and buffers for
  /// inference (Conv2d's packed weights, BatchNorm2d's affine map); they are made again on next
  /// use. to() and load_state_dict() call it; so must code that writes buffers in place.
  void drop_caches_everywhere() {
    drop_caches();
    for (auto& [name, child] : children_) child->drop_caches_everywhere();
  }

  /// Where the parameters live: the first parameter's device (the CPU for a module without
  /// parameters); to() moves them all together.
  Device device() {
    const Parameter<T>* first = first_parameter();
    return first ? first->value.device() : Device::cpu;
  }

  /// The first parameter of named_parameters() (null when there is none), found without
  /// building the names: device() is asked once or more per training step.
  Parameter<T>* first_parameter() {
    if (!parameters_.empty()) return parameters_.front().second;
    for (auto& [name, child] : children_)
      if (Parameter<T>* p = child->first_parameter()) return p;
    return nullptr;
  }

  /// Sets every parameter gradient to zero.
  void zero_grad() {
    for (auto& [name, p] : named_parameters()) p->grad.zero();
  }

  /// Total number of trainable scalars.
  std::int64_t parameter_count() {
    std::int64_t n = 0;
    for (auto& [name, p] : named_parameters()) n += p->value.numel();
    return n;
  }

protected:
  /// Forgets data derived from the parameters for inference (Conv2d's packed weights, BatchNorm2d's
  /// affine map).
  virtual void drop_caches() {}

  /// Registers a member parameter under `name`.
  void register_parameter(std::string name, Parameter<T>& p) { parameters_.emplace_back(std::move(name), &p); }
  /// Registers a member buffer under `name`.
  void register_buffer(std::string name, Tensor<T>& b) { buffers_.emplace_back(std::move(name), &b); }
  /// Registers a member child module under `name`.
  void register_module(std::string name, ModuleBase& m) { children_.emplace_back(std::move(name), &m); }

  /// True when forward should keep what backward needs.
  static bool caching() { return grad_enabled(); }

  /// Throws unless `cached` holds a tensor from forward (backward before forward).
  static void require_cached(const Tensor<T>& cached, const char* module) {
    FCAM_CHECK(cached.defined(), module,
               ".backward: no cached forward (call forward first, with gradients enabled)");
  }

private:

  bool training_ = true;
  std::vector<std::pair<std::string, Parameter<T>*>> parameters_;
  std::vector<std::pair<std::string, Tensor<T>*>> buffers_;
  std::vector<std::pair<std::string, ModuleBase*>> children_;
};

/// A layer with one input and one output: forward(x) and backward(dL/dy).
template <Scalar T>
class Module : public ModuleBase<T> {
public:
  /// Computes the output; caches what backward needs while grad_enabled().
  virtual Tensor<T> forward(const Tensor<T>& x) = 0;
  /// Given dL/doutput of the last forward, returns dL/dinput and adds parameter gradients.
  /// requires: forward was called with gradients enabled, else fcam::Error.
  virtual Tensor<T> backward(const Tensor<T>& grad_y) = 0;

  /// Same as forward().
  Tensor<T> operator()(const Tensor<T>& x) { return forward(x); }
};

/// Fills `t` with U(lo, hi) draws from `rng` (by default the calling thread's default_rng()).
template <Scalar T>
void uniform_(Tensor<T>& t, double lo, double hi, Rng& rng = default_rng()) {
  fill_uniform(t, lo, hi, rng);
}

}  // namespace fcam::nn

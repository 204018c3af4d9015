/// \file
/// \brief SGD with momentum, Nesterov and weight decay, parameter groups with their own learning
/// rate factor (PyTorch's torch.optim.SGD update), and the step schedule of docs/method.md §6.3.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/nn/module.hpp"
#include "fcam/ops/sgd_update.hpp"

namespace fcam::optim {

/// SGD settings (docs/method.md §6.2's defaults).
struct SgdOptions {
  double lr = 0.01;             ///< base learning rate
  double momentum = 0.9;        ///< 0: plain SGD
  bool nesterov = true;         ///< Nesterov momentum (needs momentum > 0)
  double weight_decay = 1e-4;   ///< L2 penalty added to the gradient
};

/// Parameters that share a learning-rate factor (stage 1: 10× on the last block and the head).
template <Scalar T>
struct ParamGroup {
  std::vector<std::pair<std::string, nn::Parameter<T>*>> params;  ///< named, for the saved state
  double lr_factor = 1.0;                                         ///< lr of the group = factor · base lr
};

/// PyTorch's SGD: g = grad + wd·p; b = μ·b + g (b = g on the first step); d = g + μ·b with
/// Nesterov, else b; p −= lr·d. Marks every updated parameter changed (Parameter::mark_changed).
template <Scalar T>
class Sgd {
public:
  Sgd(std::vector<ParamGroup<T>> groups, SgdOptions options) : groups_(std::move(groups)), options_(options) {
    FCAM_CHECK(options.lr >= 0 && options.momentum >= 0 && options.weight_decay >= 0,
               "Sgd: learning rate, momentum and weight decay must be >= 0");
    FCAM_CHECK(!options.nesterov || options.momentum > 0, "Sgd: Nesterov momentum needs momentum > 0");
  }

  /// The base learning rate (set_lr() changes it, e.g. per epoch from a schedule).
  double lr() const { return options_.lr; }
  /// Sets the base learning rate.
  void set_lr(double lr) {
    FCAM_CHECK(lr >= 0, "Sgd: learning rate must be >= 0, got ", lr);
    options_.lr = lr;
  }

  /// One update of every parameter from its accumulated gradient.
  void step() {
    for (auto& group : groups_) {
      SgdUpdate u{.lr = options_.lr * group.lr_factor,
                  .momentum = options_.momentum,
                  .weight_decay = options_.weight_decay,
                  .nesterov = options_.nesterov,
                  .fresh_buffer = false};
      for (auto& [name, p] : group.params) {
        Tensor<T> no_buffer;
        Tensor<T>* buffer = &no_buffer;
        if (options_.momentum > 0) {
          auto it = momentum_.find(name);
          u.fresh_buffer = it == momentum_.end();
          if (u.fresh_buffer) it = momentum_.emplace(name, Tensor<T>(p->value.shape(), p->value.device())).first;
          buffer = &it->second;
        }
        sgd_update(p->value, p->grad, *buffer, u);
        p->mark_changed();
      }
    }
  }

  /// Zeroes every parameter's gradient.
  void zero_grad() {
    for (auto& group : groups_)
      for (auto& [name, p] : group.params) p->grad.zero();
  }

  /// The momentum buffers by parameter name (what a resumed run needs besides the weights).
  std::map<std::string, Tensor<T>>& momentum_buffers() { return momentum_; }

private:
  std::vector<ParamGroup<T>> groups_;
  SgdOptions options_;
  std::map<std::string, Tensor<T>> momentum_;
};

/// docs/method.md §6.3's step schedule: max(base·γ^⌊epoch/step⌋, floor); step 0 keeps lr constant.
inline double step_lr(double base, std::int64_t epoch, std::int64_t step, double gamma, double floor = 1e-7) {
  if (step <= 0) return base;
  return std::max(base * std::pow(gamma, static_cast<double>(epoch / step)), floor);
}

}  // namespace fcam::optim

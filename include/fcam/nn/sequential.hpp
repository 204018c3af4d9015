/// \file
/// \brief nn::Sequential: an ordered list of owned modules named "0", "1", … (PyTorch's naming).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fcam/nn/fused.hpp"
#include "fcam/nn/module.hpp"

namespace fcam::nn {

/// Runs its modules in order (Conv2d → BatchNorm2d → ReLU runs as nn::conv_bn_relu, see
/// nn/fused.hpp); backward runs them in reverse, a BatchNorm2d and the ReLU after it in one step.
template <Scalar T>
class Sequential : public Module<T> {
public:
  /// Appends a module; its parameters are named "<index>.<name>". Returns a reference to it.
  template <class M>
  M& add(std::unique_ptr<M> module) {
    M& ref = *module;
    this->register_module(std::to_string(modules_.size()), ref);
    modules_.push_back(std::move(module));
    return ref;
  }
  /// Constructs and appends a module of type M.
  template <class M, class... Args>
  M& emplace(Args&&... args) {
    return add(std::make_unique<M>(std::forward<Args>(args)...));
  }

  Tensor<T> forward(const Tensor<T>& x) override {
    Tensor<T> y = x;
    for (std::size_t i = 0; i < modules_.size();) i += forward_fusing(modules_.data() + i, modules_.size() - i, y);
    return y;
  }
  Tensor<T> backward(const Tensor<T>& grad_y) override {
    Tensor<T> g = grad_y;
    for (std::size_t left = modules_.size(); left > 0;) left -= backward_fusing(modules_.data(), left, g);
    return g;
  }

  /// Number of modules.
  std::size_t size() const { return modules_.size(); }
  /// Module at `index`.
  Module<T>& operator[](std::size_t index) { return *modules_.at(index); }

private:
  std::vector<std::unique_ptr<Module<T>>> modules_;
};

}  // namespace fcam::nn

/// \file
/// \brief The SGD update of one parameter tensor (PyTorch's torch.optim.SGD arithmetic).
#pragma once

#include <cstdint>

#include "fcam/core/tensor.hpp"

namespace fcam {

/// Hyper-parameters of one sgd_update call (the group's learning rate already applied).
struct SgdUpdate {
  double lr = 0.01;           ///< learning rate of the parameter's group
  double momentum = 0.0;      ///< μ (0: no momentum buffer)
  double weight_decay = 0.0;  ///< L2 penalty added to the gradient
  bool nesterov = false;      ///< Nesterov momentum
  bool fresh_buffer = false;  ///< the buffer is new: b = g instead of μ·b + g (PyTorch's first step)
};

/// In place: g = grad + wd·value; with momentum b = μ·b + g (b = g when fresh) and d = g + μ·b
/// (Nesterov) or b; value −= lr·d. `buffer` is ignored without momentum. Every tensor must have
/// the value's shape and live on its device.
template <Scalar T>
void sgd_update(Tensor<T>& value, const Tensor<T>& grad, Tensor<T>& buffer, const SgdUpdate& u) {
  value.require_cpu("sgd_update");  // CPU only until the CUDA ops land ([cuda-ops])
  grad.require_cpu("sgd_update");
  check_same_shape(value, grad, "sgd_update (gradient)");
  const bool momentum = u.momentum > 0;
  if (momentum) {
    buffer.require_cpu("sgd_update");
    check_same_shape(value, buffer, "sgd_update (momentum buffer)");
  }
  const auto lr = static_cast<T>(u.lr), mu = static_cast<T>(u.momentum), wd = static_cast<T>(u.weight_decay);
  T* p = value.data();
  const T* dp = grad.data();
  T* b = momentum ? buffer.data() : nullptr;
  for (std::int64_t i = 0, n = value.numel(); i < n; ++i) {
    T g = dp[i] + wd * p[i];
    if (momentum) {
      b[i] = u.fresh_buffer ? g : mu * b[i] + g;
      g = u.nesterov ? g + mu * b[i] : b[i];
    }
    p[i] -= lr * g;
  }
}

}  // namespace fcam

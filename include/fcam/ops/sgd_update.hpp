/// \file
/// \brief The SGD update of one parameter tensor (PyTorch's torch.optim.SGD arithmetic).
#pragma once

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/sgd_update.hpp"
#include "fcam/ops/dispatch.hpp"

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
  const bool momentum = u.momentum > 0;
  const Device device = operand_device<T>("sgd_update", {&value, &grad}, {momentum ? &buffer : nullptr});
  check_same_shape(value, grad, "sgd_update (gradient)");
  if (momentum) check_same_shape(value, buffer, "sgd_update (momentum buffer)");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      cuda::sgd_update(value, grad, buffer, momentum, static_cast<float>(u.lr), static_cast<float>(u.momentum),
                       static_cast<float>(u.weight_decay), u.nesterov, u.fresh_buffer);
      return;
    } else {
      cuda::unavailable_for<T>("sgd_update");
    }
  }
  cpu::sgd_update(value, grad, buffer, momentum, static_cast<T>(u.lr), static_cast<T>(u.momentum),
                  static_cast<T>(u.weight_decay), u.nesterov, u.fresh_buffer);
}

}  // namespace fcam

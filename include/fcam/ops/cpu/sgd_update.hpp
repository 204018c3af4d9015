/// \file
/// \brief CPU kernel of the SGD update of one parameter tensor (contract in fcam/ops/sgd_update.hpp).
#pragma once

#include <cstdint>

#include "fcam/core/tensor.hpp"

namespace fcam::cpu {

/// In place, element by element: g = grad + wd·value; with `momentum`, b = μ·b + g (b = g when
/// `fresh_buffer`) and g = g + μ·b (Nesterov) or b; value −= lr·g. The hyper-parameters arrive
/// already rounded to T, as PyTorch applies them in the parameter's precision.
template <Scalar T>
void sgd_update(Tensor<T>& value, const Tensor<T>& grad, Tensor<T>& buffer, bool momentum, T lr, T mu, T wd,
                bool nesterov, bool fresh_buffer) {
  T* p = value.data();
  const T* dp = grad.data();
  T* b = momentum ? buffer.data() : nullptr;
  for (std::int64_t i = 0, n = value.numel(); i < n; ++i) {
    T g = dp[i] + wd * p[i];
    if (momentum) {
      b[i] = fresh_buffer ? g : mu * b[i] + g;
      g = nesterov ? g + mu * b[i] : b[i];
    }
    p[i] -= lr * g;
  }
}

}  // namespace fcam::cpu

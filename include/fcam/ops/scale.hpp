/// \file
/// \brief A tensor times a double factor (the CRF loss's gradient −2λ/N_b·W·S).
#pragma once

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/scale.hpp"
#include "fcam/ops/dispatch.hpp"

namespace fcam {

/// factor·x, each product computed in double and rounded to T (so a tiny factor such as the CRF
/// loss's λ keeps its precision for float tensors).
template <Scalar T>
Tensor<T> scaled(const Tensor<T>& x, double factor) {
  if (operand_device("scaled", x) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::scaled(x, factor);
    else cuda::unavailable_for<T>("scaled");
  }
  return cpu::scaled(x, factor);
}

}  // namespace fcam

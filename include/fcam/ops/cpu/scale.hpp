/// \file
/// \brief CPU kernel of the scaled op (fcam/ops/scale.hpp).
#pragma once

#include <cstdint>

#include "fcam/core/tensor.hpp"

namespace fcam::cpu {

/// factor·x element by element, each product in double, rounded to T.
template <Scalar T>
Tensor<T> scaled(const Tensor<T>& x, double factor) {
  Tensor<T> out(x.shape());
  for (std::int64_t i = 0, n = x.numel(); i < n; ++i) out.data()[i] = static_cast<T>(factor * x.data()[i]);
  return out;
}

}  // namespace fcam::cpu

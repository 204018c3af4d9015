/// \file
/// \brief CPU kernel of the scaled op (fcam/ops/scale.hpp).
#pragma once

#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/elementwise.hpp"

namespace fcam::cpu {

/// factor·x element by element, each product in double, rounded to T.
template <Scalar T>
Tensor<T> scaled(const Tensor<T>& x, double factor) {
  auto out = Tensor<T>::uninitialized(x.shape());
  const T* in = x.data();
  T* o = out.data();
  detail::parallel_for_each(x.numel(), [=](std::int64_t i) { o[i] = static_cast<T>(factor * in[i]); });
  return out;
}

}  // namespace fcam::cpu

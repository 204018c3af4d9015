/// \file
/// \brief CPU kernels of the channel softmax and its gradient (contracts in fcam/ops/softmax.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"

namespace fcam::cpu {

/// y = softmax over the channels of x, seen as batch × channels × inner (the channel maximum is
/// subtracted first, for stability).
template <Scalar T>
Tensor<T> softmax_channels(const Tensor<T>& x, std::int64_t batch, std::int64_t channels, std::int64_t inner) {
  auto y = Tensor<T>::uninitialized(x.shape());  // every element written
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (x.numel() > (1 << 15))
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* in = x.data() + b * channels * inner;
    T* out = y.data() + b * channels * inner;
    for (std::int64_t i = 0; i < inner; ++i) {
      T m = in[i];
      for (std::int64_t k = 1; k < channels; ++k) m = std::max(m, in[k * inner + i]);
      T sum = 0;
      for (std::int64_t k = 0; k < channels; ++k) sum += (out[k * inner + i] = std::exp(in[k * inner + i] - m));
      for (std::int64_t k = 0; k < channels; ++k) out[k * inner + i] /= sum;
    }
  }
  return y;
}

/// dx = y·(dy − Σ_c dy·y), same layout as softmax_channels.
template <Scalar T>
Tensor<T> softmax_channels_backward(const Tensor<T>& y, const Tensor<T>& grad_y, std::int64_t batch,
                                    std::int64_t channels, std::int64_t inner) {
  auto grad_x = Tensor<T>::uninitialized(y.shape());  // every element written
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* out = y.data() + b * channels * inner;
    const T* dy = grad_y.data() + b * channels * inner;
    T* dx = grad_x.data() + b * channels * inner;
    for (std::int64_t i = 0; i < inner; ++i) {
      T dot = 0;
      for (std::int64_t k = 0; k < channels; ++k) dot += dy[k * inner + i] * out[k * inner + i];
      for (std::int64_t k = 0; k < channels; ++k) dx[k * inner + i] = out[k * inner + i] * (dy[k * inner + i] - dot);
    }
  }
  return grad_x;
}

}  // namespace fcam::cpu

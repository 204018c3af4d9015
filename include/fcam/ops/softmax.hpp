/// \file
/// \brief Softmax over the channel dimension (N×C or N×C×H×W) and its gradient.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"

namespace fcam {

namespace detail {
/// Splits a tensor into (batch, channels, inner) for channel-wise ops.
template <Scalar T>
void channel_layout(const Tensor<T>& x, std::int64_t& batch, std::int64_t& channels, std::int64_t& inner) {
  FCAM_CHECK(x.ndim() >= 2, "channel op: expects at least N×C, got ", to_string(x.shape()));
  batch = x.size(0), channels = x.size(1);
  inner = channels * batch > 0 ? x.numel() / (batch * channels) : 0;
}
}  // namespace detail

/// softmax over dimension 1 (numerically stable: the channel maximum is subtracted first).
template <Scalar T>
Tensor<T> softmax_channels(const Tensor<T>& x) {
  x.require_cpu("softmax_channels");
  std::int64_t n, c, inner;
  detail::channel_layout(x, n, c, inner);
  Tensor<T> y(x.shape());
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (x.numel() > (1 << 15))
  for (std::int64_t b = 0; b < n; ++b) {
    const T* in = x.data() + b * c * inner;
    T* out = y.data() + b * c * inner;
    for (std::int64_t i = 0; i < inner; ++i) {
      T m = in[i];
      for (std::int64_t k = 1; k < c; ++k) m = std::max(m, in[k * inner + i]);
      T sum = 0;
      for (std::int64_t k = 0; k < c; ++k) sum += (out[k * inner + i] = std::exp(in[k * inner + i] - m));
      for (std::int64_t k = 0; k < c; ++k) out[k * inner + i] /= sum;
    }
  }
  return y;
}

/// Gradient of softmax_channels from its output y: dx = y·(dy − Σ_c dy·y).
template <Scalar T>
Tensor<T> softmax_channels_backward(const Tensor<T>& y, const Tensor<T>& grad_y) {
  check_cpu_operands(y, grad_y, "softmax_channels_backward");
  std::int64_t n, c, inner;
  detail::channel_layout(y, n, c, inner);
  Tensor<T> grad_x(y.shape());
  for (std::int64_t b = 0; b < n; ++b) {
    const T* out = y.data() + b * c * inner;
    const T* dy = grad_y.data() + b * c * inner;
    T* dx = grad_x.data() + b * c * inner;
    for (std::int64_t i = 0; i < inner; ++i) {
      T dot = 0;
      for (std::int64_t k = 0; k < c; ++k) dot += dy[k * inner + i] * out[k * inner + i];
      for (std::int64_t k = 0; k < c; ++k) dx[k * inner + i] = out[k * inner + i] * (dy[k * inner + i] - dot);
    }
  }
  return grad_x;
}

}  // namespace fcam

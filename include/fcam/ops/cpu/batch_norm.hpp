/// \file
/// \brief CPU kernels of batch normalisation and its gradients (contracts in fcam/ops/batch_norm.hpp).
///
/// Tensors are seen as N×C×plane (plane = H·W, or 1 for N×C input). The per-channel loops run in
/// parallel over the channels, so no two threads write the same statistic or gradient.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/cpu/elementwise.hpp"

namespace fcam::cpu {

/// Training-mode forward: normalises with the batch mean and biased variance, writes the batch
/// mean and 1/√(var + eps) into `mean` and `invstd`, and the unbiased variance into `unbiased_var`.
/// With `residual` (x's shape) and/or `relu`, returns relu(bn(x) + residual) from the same pass:
/// the same roundings as the three ops one after the other, without two more passes over memory.
template <Scalar T>
Tensor<T> batch_norm_train(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta, T eps,
                           std::int64_t plane, Tensor<T>& mean_out, Tensor<T>& invstd_out, Tensor<T>& unbiased_var,
                           const Tensor<T>& residual = Tensor<T>(), bool relu = false) {
  const std::int64_t n = x.size(0), c = x.size(1), count = n * plane;
  auto y = Tensor<T>::uninitialized(x.shape());  // every element written
  mean_out = Tensor<T>({c});
  invstd_out = Tensor<T>({c});
  unbiased_var = Tensor<T>({c});
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (std::int64_t ch = 0; ch < c; ++ch) {
    // Double accumulators keep float statistics close to PyTorch's; `omp simd` lets them run
    // as vector lanes (a fixed order, so the result is still the same every run).
    double sum = 0;
    for (std::int64_t b = 0; b < n; ++b) {
      const T* in = x.data() + (b * c + ch) * plane;
#pragma omp simd reduction(+ : sum)
      for (std::int64_t i = 0; i < plane; ++i) sum += in[i];
    }
    const double mean = sum / static_cast<double>(count);
    double sq = 0;
    for (std::int64_t b = 0; b < n; ++b) {
      const T* in = x.data() + (b * c + ch) * plane;
#pragma omp simd reduction(+ : sq)
      for (std::int64_t i = 0; i < plane; ++i) sq += (in[i] - mean) * (in[i] - mean);
    }
    const double var = sq / static_cast<double>(count);
    const double invstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
    mean_out.data()[ch] = static_cast<T>(mean);
    invstd_out.data()[ch] = static_cast<T>(invstd);
    unbiased_var.data()[ch] = static_cast<T>(sq / static_cast<double>(count - 1));
    const T scale = static_cast<T>(invstd) * gamma.data()[ch];
    const T shift = beta.data()[ch] - static_cast<T>(mean) * scale;
    for (std::int64_t b = 0; b < n; ++b) {
      const std::int64_t offset = (b * c + ch) * plane;
      const T* in = x.data() + offset;
      const T* res = residual.defined() ? residual.data() + offset : nullptr;
      T* out = y.data() + offset;
      if (!res && !relu) {
        for (std::int64_t i = 0; i < plane; ++i) out[i] = in[i] * scale + shift;
      } else if (!res) {
        for (std::int64_t i = 0; i < plane; ++i) out[i] = std::max(in[i] * scale + shift, T(0));
      } else if (!relu) {
        for (std::int64_t i = 0; i < plane; ++i) out[i] = (in[i] * scale + shift) + res[i];
      } else {
        for (std::int64_t i = 0; i < plane; ++i) out[i] = std::max((in[i] * scale + shift) + res[i], T(0));
      }
    }
  }
  return y;
}

namespace detail {

/// One channel of batch_norm_train_backward: its n runs of `plane` values `stride` apart, dy
/// masked by the ReLU's output where `Masked`.
template <bool Masked, Scalar T>
void batch_norm_train_backward_channel(const T* x, const T* dy, const T* relu_output, T* dx, std::int64_t n,
                                       std::int64_t stride, std::int64_t plane, double mean, double invstd,
                                       double gamma, T& grad_gamma, T& grad_beta) {
  // Σ dy·x̂ = (Σ dy·x − mean·Σ dy)·invstd: one multiply-add per value instead of four, in
  // double (where products of floats are exact).
  double sum_dy = 0, sum_dy_x = 0;
  for (std::int64_t b = 0; b < n; ++b) {
    const std::int64_t begin = b * stride, end = begin + plane;
#pragma omp simd reduction(+ : sum_dy, sum_dy_x)
    for (std::int64_t i = begin; i < end; ++i) {
      const double d = Masked ? detail::relu_gate(dy[i], relu_output[i]) : dy[i];
      sum_dy += d;
      sum_dy_x += d * x[i];
    }
  }
  const double count = static_cast<double>(n * plane);
  const double sum_dy_xhat = (sum_dy_x - mean * sum_dy) * invstd;
  grad_gamma += static_cast<T>(sum_dy_xhat);
  grad_beta += static_cast<T>(sum_dy);
  // dx = γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)), in double: with few values per channel the
  // bracket nearly cancels (two values: exactly, up to eps), and float would lose its digits.
  const double k = gamma * invstd, mean_dy = sum_dy / count, mean_dy_xhat = sum_dy_xhat / count;
  for (std::int64_t b = 0; b < n; ++b) {
    const std::int64_t begin = b * stride, end = begin + plane;
#pragma omp simd
    for (std::int64_t i = begin; i < end; ++i) {
      const double d = Masked ? detail::relu_gate(dy[i], relu_output[i]) : dy[i];
      dx[i] = static_cast<T>(k * (d - mean_dy - (x[i] - mean) * invstd * mean_dy_xhat));
    }
  }
}

}  // namespace detail

/// Gradient of batch_norm_train from the saved `mean` and `invstd`: returns dL/dx and adds
/// dL/dgamma, dL/dbeta (double sums, as in the forward). With `relu_output` (the output of a ReLU
/// that followed, x's shape), grad_y is that ReLU's output gradient and is masked on the fly.
template <Scalar T>
Tensor<T> batch_norm_train_backward(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& saved_mean,
                                    const Tensor<T>& saved_invstd, const Tensor<T>& grad_y, std::int64_t plane,
                                    Tensor<T>& grad_gamma, Tensor<T>& grad_beta,
                                    const Tensor<T>& relu_output = Tensor<T>()) {
  const std::int64_t n = x.size(0), c = x.size(1);
  auto grad_x = Tensor<T>::uninitialized(x.shape());  // every element written
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (std::int64_t ch = 0; ch < c; ++ch) {
    const std::int64_t first = ch * plane;  // channel ch of image 0; image b is b·c·plane further
    const T* mask = relu_output.defined() ? relu_output.data() + first : nullptr;
    const auto run = [&]<bool Masked>() {
      detail::batch_norm_train_backward_channel<Masked>(
          x.data() + first, grad_y.data() + first, mask, grad_x.data() + first, n, c * plane, plane,
          saved_mean.data()[ch], saved_invstd.data()[ch], gamma.data()[ch], grad_gamma.data()[ch],
          grad_beta.data()[ch]);
    };
    if (mask) run.template operator()<true>();
    else run.template operator()<false>();
  }
  return grad_x;
}

/// Inference-mode forward with the running statistics. Small inputs stay on one thread.
template <Scalar T>
Tensor<T> batch_norm_eval(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta,
                          const Tensor<T>& running_mean, const Tensor<T>& running_var, T eps, std::int64_t plane) {
  const std::int64_t n = x.size(0), c = x.size(1);
  auto y = Tensor<T>::uninitialized(x.shape());  // every element written
#pragma omp parallel for collapse(2) num_threads(num_threads()) schedule(static) if (x.numel() > (1 << 15))
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const T scale = gamma.data()[ch] / std::sqrt(running_var.data()[ch] + eps);
      const T shift = beta.data()[ch] - running_mean.data()[ch] * scale;
      const T* in = x.data() + (b * c + ch) * plane;
      T* out = y.data() + (b * c + ch) * plane;
      for (std::int64_t i = 0; i < plane; ++i) out[i] = in[i] * scale + shift;
    }
  return y;
}

/// Gradient of batch_norm_eval: returns dL/dx and adds dL/dgamma, dL/dbeta.
template <Scalar T>
Tensor<T> batch_norm_eval_backward(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& running_mean,
                                   const Tensor<T>& running_var, T eps, const Tensor<T>& grad_y, std::int64_t plane,
                                   Tensor<T>& grad_gamma, Tensor<T>& grad_beta) {
  const std::int64_t n = x.size(0), c = x.size(1);
  auto grad_x = Tensor<T>::uninitialized(x.shape());  // every element written
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (std::int64_t ch = 0; ch < c; ++ch) {
    const T invstd = T(1) / std::sqrt(running_var.data()[ch] + eps);
    const T k = gamma.data()[ch] * invstd;
    double sum_dy = 0, sum_dy_xhat = 0;
    for (std::int64_t b = 0; b < n; ++b) {
      const T* in = x.data() + (b * c + ch) * plane;
      const T* dy = grad_y.data() + (b * c + ch) * plane;
      T* dx = grad_x.data() + (b * c + ch) * plane;
#pragma omp simd reduction(+ : sum_dy, sum_dy_xhat)
      for (std::int64_t i = 0; i < plane; ++i) {
        sum_dy += dy[i];
        sum_dy_xhat += dy[i] * (in[i] - running_mean.data()[ch]) * invstd;
        dx[i] = dy[i] * k;
      }
    }
    grad_gamma.data()[ch] += static_cast<T>(sum_dy_xhat);
    grad_beta.data()[ch] += static_cast<T>(sum_dy);
  }
  return grad_x;
}

/// In place: mean ← (1 − m)·mean + m·batch_mean, var ← (1 − m)·var + m·unbiased_var,
/// batches_tracked += 1 (a handful of values: one thread).
template <Scalar T>
void batch_norm_update_running_stats(Tensor<T>& running_mean, Tensor<T>& running_var, Tensor<T>& batches_tracked,
                                     const Tensor<T>& batch_mean, const Tensor<T>& unbiased_var, T momentum) {
  T* mean = running_mean.data();
  T* var = running_var.data();
  for (std::int64_t c = 0; c < running_mean.numel(); ++c) {
    mean[c] = (1 - momentum) * mean[c] + momentum * batch_mean.data()[c];
    var[c] = (1 - momentum) * var[c] + momentum * unbiased_var.data()[c];
  }
  batches_tracked.data()[0] += T(1);
}

/// {scale, shift} per channel: scale = γ/√(running_var + eps), shift = β − running_mean·scale.
template <Scalar T>
std::pair<Tensor<T>, Tensor<T>> batch_norm_eval_affine(const Tensor<T>& gamma, const Tensor<T>& beta,
                                                       const Tensor<T>& running_mean, const Tensor<T>& running_var,
                                                       T eps) {
  Tensor<T> scale(gamma.shape()), shift(gamma.shape());
  for (std::int64_t ch = 0; ch < gamma.numel(); ++ch) {
    scale.data()[ch] = gamma.data()[ch] / std::sqrt(running_var.data()[ch] + eps);
    shift.data()[ch] = beta.data()[ch] - running_mean.data()[ch] * scale.data()[ch];
  }
  return {scale, shift};
}

}  // namespace fcam::cpu

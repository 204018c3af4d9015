/// \file
/// \brief Batch normalisation over N, H, W per channel: training and inference forms and gradients.
#pragma once

#include <cmath>
#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"

namespace fcam {

/// Per-channel statistics a training-mode forward leaves for its backward.
template <Scalar T>
struct BatchNormSaved {
  Tensor<T> mean;    ///< batch mean per channel
  Tensor<T> invstd;  ///< 1 / sqrt(biased batch variance + eps) per channel
};

namespace detail {
template <Scalar T>
void check_batch_norm_args(const Tensor<T>& x, const Tensor<T>& gamma, const char* what) {
  x.require_cpu(what);
  FCAM_CHECK(x.ndim() == 4 || x.ndim() == 2, what, ": expects N×C×H×W or N×C input, got ", to_string(x.shape()));
  FCAM_CHECK(gamma.numel() == x.size(1), what, ": input has ", x.size(1), " channels but the layer has ",
             gamma.numel());
}
template <Scalar T>
std::int64_t plane_size(const Tensor<T>& x) {
  return x.ndim() == 4 ? x.size(2) * x.size(3) : 1;
}
}  // namespace detail

/// Training-mode forward: normalises with the batch mean and biased variance, fills `saved`, and
/// returns the batch's unbiased variance per channel in `unbiased_var` (for the running average).
template <Scalar T>
Tensor<T> batch_norm_train(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta, T eps,
                           BatchNormSaved<T>& saved, Tensor<T>& unbiased_var) {
  detail::check_batch_norm_args(x, gamma, "batch_norm");
  const std::int64_t n = x.size(0), c = x.size(1), plane = detail::plane_size(x), count = n * plane;
  FCAM_CHECK(count > 1, "batch_norm: training needs more than one value per channel, got input ",
             to_string(x.shape()));
  Tensor<T> y(x.shape());
  saved.mean = Tensor<T>({c});
  saved.invstd = Tensor<T>({c});
  unbiased_var = Tensor<T>({c});
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double sum = 0;  // double accumulators keep float statistics close to PyTorch's
    for (std::int64_t b = 0; b < n; ++b) {
      const T* in = x.data() + (b * c + ch) * plane;
      for (std::int64_t i = 0; i < plane; ++i) sum += in[i];
    }
    const double mean = sum / static_cast<double>(count);
    double sq = 0;
    for (std::int64_t b = 0; b < n; ++b) {
      const T* in = x.data() + (b * c + ch) * plane;
      for (std::int64_t i = 0; i < plane; ++i) sq += (in[i] - mean) * (in[i] - mean);
    }
    const double var = sq / static_cast<double>(count);
    const double invstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
    saved.mean.data()[ch] = static_cast<T>(mean);
    saved.invstd.data()[ch] = static_cast<T>(invstd);
    unbiased_var.data()[ch] = static_cast<T>(sq / static_cast<double>(count - 1));
    const T scale = static_cast<T>(invstd) * gamma.data()[ch];
    const T shift = beta.data()[ch] - static_cast<T>(mean) * scale;
    for (std::int64_t b = 0; b < n; ++b) {
      const T* in = x.data() + (b * c + ch) * plane;
      T* out = y.data() + (b * c + ch) * plane;
      for (std::int64_t i = 0; i < plane; ++i) out[i] = in[i] * scale + shift;
    }
  }
  return y;
}

/// Gradient of batch_norm_train: returns dL/dx and adds dL/dgamma, dL/dbeta.
template <Scalar T>
Tensor<T> batch_norm_train_backward(const Tensor<T>& x, const Tensor<T>& gamma, const BatchNormSaved<T>& saved,
                                    const Tensor<T>& grad_y, Tensor<T>& grad_gamma, Tensor<T>& grad_beta) {
  check_same_shape(x, grad_y, "batch_norm_backward");
  const std::int64_t n = x.size(0), c = x.size(1), plane = detail::plane_size(x);
  const double count = static_cast<double>(n * plane);
  Tensor<T> grad_x(x.shape());
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (std::int64_t ch = 0; ch < c; ++ch) {
    const double mean = saved.mean.data()[ch], invstd = saved.invstd.data()[ch];
    double sum_dy = 0, sum_dy_xhat = 0;
    for (std::int64_t b = 0; b < n; ++b) {
      const T* in = x.data() + (b * c + ch) * plane;
      const T* dy = grad_y.data() + (b * c + ch) * plane;
      for (std::int64_t i = 0; i < plane; ++i) {
        sum_dy += dy[i];
        sum_dy_xhat += dy[i] * (in[i] - mean) * invstd;
      }
    }
    grad_gamma.data()[ch] += static_cast<T>(sum_dy_xhat);
    grad_beta.data()[ch] += static_cast<T>(sum_dy);
    const double k = gamma.data()[ch] * invstd;
    const double mean_dy = sum_dy / count, mean_dy_xhat = sum_dy_xhat / count;
    for (std::int64_t b = 0; b < n; ++b) {
      const T* in = x.data() + (b * c + ch) * plane;
      const T* dy = grad_y.data() + (b * c + ch) * plane;
      T* dx = grad_x.data() + (b * c + ch) * plane;
      for (std::int64_t i = 0; i < plane; ++i) {
        const double xhat = (in[i] - mean) * invstd;
        dx[i] = static_cast<T>(k * (dy[i] - mean_dy - xhat * mean_dy_xhat));
      }
    }
  }
  return grad_x;
}

/// Inference-mode forward with the running statistics.
template <Scalar T>
Tensor<T> batch_norm_eval(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta,
                          const Tensor<T>& running_mean, const Tensor<T>& running_var, T eps) {
  detail::check_batch_norm_args(x, gamma, "batch_norm");
  const std::int64_t n = x.size(0), c = x.size(1), plane = detail::plane_size(x);
  Tensor<T> y(x.shape());
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
                                   const Tensor<T>& running_var, T eps, const Tensor<T>& grad_y,
                                   Tensor<T>& grad_gamma, Tensor<T>& grad_beta) {
  check_same_shape(x, grad_y, "batch_norm_backward");
  const std::int64_t n = x.size(0), c = x.size(1), plane = detail::plane_size(x);
  Tensor<T> grad_x(x.shape());
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (std::int64_t ch = 0; ch < c; ++ch) {
    const T invstd = T(1) / std::sqrt(running_var.data()[ch] + eps);
    const T k = gamma.data()[ch] * invstd;
    double sum_dy = 0, sum_dy_xhat = 0;
    for (std::int64_t b = 0; b < n; ++b) {
      const T* in = x.data() + (b * c + ch) * plane;
      const T* dy = grad_y.data() + (b * c + ch) * plane;
      T* dx = grad_x.data() + (b * c + ch) * plane;
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

}  // namespace fcam

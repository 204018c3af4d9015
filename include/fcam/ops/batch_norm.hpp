/// \file
/// \brief Batch normalisation over N, H, W per channel: training and inference forms and gradients.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <utility>

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

namespace detail {
/// The checks of both backward forms: the forward's arguments plus the gradients, every tensor
/// on the CPU, dy shaped like x and the per-channel tensors of length C.
template <Scalar T>
void check_batch_norm_backward_args(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& grad_y,
                                    const Tensor<T>& grad_gamma, const Tensor<T>& grad_beta,
                                    std::initializer_list<const Tensor<T>*> per_channel, const char* what) {
  check_batch_norm_args(x, gamma, what);
  for (const Tensor<T>* t : {&grad_y, &grad_gamma, &grad_beta}) t->require_cpu(what);
  check_same_shape(x, grad_y, what);
  const std::int64_t c = x.size(1);
  FCAM_CHECK(grad_gamma.numel() == c && grad_beta.numel() == c, what, ": parameter gradients of ",
             grad_gamma.numel(), " and ", grad_beta.numel(), " values for ", c, " channels");
  for (const Tensor<T>* t : per_channel) {
    t->require_cpu(what);
    FCAM_CHECK(t->numel() == c, what, ": a per-channel statistic has ", t->numel(), " values for ", c, " channels");
  }
}
}  // namespace detail

/// Gradient of batch_norm_train: returns dL/dx and adds dL/dgamma, dL/dbeta.
template <Scalar T>
Tensor<T> batch_norm_train_backward(const Tensor<T>& x, const Tensor<T>& gamma, const BatchNormSaved<T>& saved,
                                    const Tensor<T>& grad_y, Tensor<T>& grad_gamma, Tensor<T>& grad_beta) {
  detail::check_batch_norm_backward_args(x, gamma, grad_y, grad_gamma, grad_beta, {&saved.mean, &saved.invstd},
                                         "batch_norm_train_backward");
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
  detail::check_batch_norm_backward_args(x, gamma, grad_y, grad_gamma, grad_beta, {&running_mean, &running_var},
                                         "batch_norm_eval_backward");
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

/// The running statistics' update of a training-mode forward (PyTorch's): mean ← (1 − m)·mean +
/// m·batch_mean, var ← (1 − m)·var + m·unbiased_batch_var, batches_tracked += 1.
template <Scalar T>
void batch_norm_update_running_stats(Tensor<T>& running_mean, Tensor<T>& running_var, Tensor<T>& batches_tracked,
                                     const Tensor<T>& batch_mean, const Tensor<T>& unbiased_var, T momentum) {
  const char* what = "batch_norm_update_running_stats";
  for (const Tensor<T>* t : std::initializer_list<const Tensor<T>*>{&running_mean, &running_var, &batches_tracked, &batch_mean, &unbiased_var})
    t->require_cpu(what);
  check_same_shape(running_mean, running_var, what);
  check_same_shape(running_mean, batch_mean, what);
  check_same_shape(running_mean, unbiased_var, what);
  FCAM_CHECK(batches_tracked.numel() == 1, what, ": the batch counter must hold one value");
  T* mean = running_mean.data();
  T* var = running_var.data();
  for (std::int64_t c = 0; c < running_mean.numel(); ++c) {
    mean[c] = (1 - momentum) * mean[c] + momentum * batch_mean.data()[c];
    var[c] = (1 - momentum) * var[c] + momentum * unbiased_var.data()[c];
  }
  batches_tracked.data()[0] += T(1);
}

/// Evaluation mode as a per-channel affine map y = x·scale + shift: scale = γ/√(running_var +
/// eps), shift = β − running_mean·scale (batch_norm_eval's arithmetic); returns {scale, shift}.
template <Scalar T>
std::pair<Tensor<T>, Tensor<T>> batch_norm_eval_affine(const Tensor<T>& gamma, const Tensor<T>& beta,
                                                       const Tensor<T>& running_mean, const Tensor<T>& running_var,
                                                       T eps) {
  const char* what = "batch_norm_eval_affine";
  for (const Tensor<T>* t : {&gamma, &beta, &running_mean, &running_var}) {
    t->require_cpu(what);
    check_same_shape(gamma, *t, what);
  }
  Tensor<T> scale(gamma.shape()), shift(gamma.shape());
  for (std::int64_t ch = 0; ch < gamma.numel(); ++ch) {
    scale.data()[ch] = gamma.data()[ch] / std::sqrt(running_var.data()[ch] + eps);
    shift.data()[ch] = beta.data()[ch] - running_mean.data()[ch] * scale.data()[ch];
  }
  return {scale, shift};
}

}  // namespace fcam

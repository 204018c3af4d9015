/// \file
/// \brief Batch normalisation over N, H, W per channel: training and inference forms and gradients.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <utility>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/batch_norm.hpp"
#include "fcam/ops/dispatch.hpp"

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
  FCAM_CHECK(x.ndim() == 4 || x.ndim() == 2, what, ": expects N×C×H×W or N×C input, got ", to_string(x.shape()));
  FCAM_CHECK(gamma.numel() == x.size(1), what, ": input has ", x.size(1), " channels but the layer has ",
             gamma.numel());
}
/// Throws unless every tensor of `per_channel` holds one value per channel of x (`kind` names
/// them in the message: the kernels read C values from each).
template <Scalar T>
void check_per_channel(const Tensor<T>& x, std::initializer_list<const Tensor<T>*> per_channel, const char* kind,
                       const char* what) {
  const std::int64_t c = x.size(1);
  for (const Tensor<T>* t : per_channel)
    FCAM_CHECK(t->numel() == c, what, ": a per-channel ", kind, " has ", t->numel(), " values for ", c, " channels");
}
template <Scalar T>
std::int64_t plane_size(const Tensor<T>& x) {
  return x.ndim() == 4 ? x.size(2) * x.size(3) : 1;
}
}  // namespace detail

/// Training-mode forward: normalises with the batch mean and biased variance, fills `saved`, and
/// returns the batch's unbiased variance per channel in `unbiased_var` (for the running average).
/// With a `residual` (x's shape) and/or `relu`, returns relu(bn(x) + residual), on the CPU in the
/// same pass over memory.
template <Scalar T>
Tensor<T> batch_norm_train(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta, T eps,
                           BatchNormSaved<T>& saved, Tensor<T>& unbiased_var, const Tensor<T>& residual = Tensor<T>(),
                           bool relu = false) {
  const Device device = operand_device<T>("batch_norm_train", {&x, &gamma, &beta}, {if_defined(residual)});
  detail::check_batch_norm_args(x, gamma, "batch_norm");
  detail::check_per_channel<T>(x, {&beta}, "parameter", "batch_norm");
  if (residual.defined()) check_same_shape(x, residual, "batch_norm (residual)");
  const std::int64_t plane = detail::plane_size(x), count = x.size(0) * plane;
  FCAM_CHECK(count > 1, "batch_norm: training needs more than one value per channel, got input ",
             to_string(x.shape()));
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      Tensor<T> y = cuda::batch_norm_train(x, gamma, beta, eps, plane, saved.mean, saved.invstd, unbiased_var);
      if (residual.defined()) y = cuda::add(y, residual);
      return relu ? cuda::relu(y) : y;
    } else {
      cuda::unavailable_for<T>("batch_norm_train");
    }
  }
  return cpu::batch_norm_train(x, gamma, beta, eps, plane, saved.mean, saved.invstd, unbiased_var,
                               residual, relu);
}

namespace detail {
/// The checks of both backward forms: the forward's arguments plus the gradients, dy shaped like
/// x and the per-channel tensors of length C.
template <Scalar T>
void check_batch_norm_backward_args(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& grad_y,
                                    const Tensor<T>& grad_gamma, const Tensor<T>& grad_beta,
                                    std::initializer_list<const Tensor<T>*> per_channel, const char* what) {
  check_batch_norm_args(x, gamma, what);
  check_same_shape(x, grad_y, what);
  const std::int64_t c = x.size(1);
  FCAM_CHECK(grad_gamma.numel() == c && grad_beta.numel() == c, what, ": parameter gradients of ",
             grad_gamma.numel(), " and ", grad_beta.numel(), " values for ", c, " channels");
  check_per_channel(x, per_channel, "statistic", what);
}
}  // namespace detail

/// Gradient of batch_norm_train: returns dL/dx and adds dL/dgamma, dL/dbeta. With `relu_output`
/// (the output of a ReLU that followed the BatchNorm), grad_y is the gradient of that output: the
/// ReLU's backward runs inside the BatchNorm's (on the CPU, without a pass of its own).
template <Scalar T>
Tensor<T> batch_norm_train_backward(const Tensor<T>& x, const Tensor<T>& gamma, const BatchNormSaved<T>& saved,
                                    const Tensor<T>& grad_y, Tensor<T>& grad_gamma, Tensor<T>& grad_beta,
                                    const Tensor<T>& relu_output = Tensor<T>()) {
  const char* what = "batch_norm_train_backward";
  const Device device = operand_device<T>(
      what, {&x, &gamma, &saved.mean, &saved.invstd, &grad_y, &grad_gamma, &grad_beta}, {if_defined(relu_output)});
  detail::check_batch_norm_backward_args(x, gamma, grad_y, grad_gamma, grad_beta, {&saved.mean, &saved.invstd}, what);
  if (relu_output.defined()) check_same_shape(x, relu_output, what);
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>)
      return cuda::batch_norm_train_backward(x, gamma, saved.mean, saved.invstd,
                                             relu_output.defined() ? cuda::relu_backward(relu_output, grad_y) : grad_y,
                                             detail::plane_size(x), grad_gamma, grad_beta);
    else cuda::unavailable_for<T>(what);
  }
  return cpu::batch_norm_train_backward(x, gamma, saved.mean, saved.invstd, grad_y, detail::plane_size(x), grad_gamma,
                                        grad_beta, relu_output);
}

/// Inference-mode forward with the running statistics.
template <Scalar T>
Tensor<T> batch_norm_eval(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta,
                          const Tensor<T>& running_mean, const Tensor<T>& running_var, T eps) {
  const Device device = operand_device<T>("batch_norm_eval", {&x, &gamma, &beta, &running_mean, &running_var});
  detail::check_batch_norm_args(x, gamma, "batch_norm");
  detail::check_per_channel<T>(x, {&beta}, "parameter", "batch_norm");
  detail::check_per_channel<T>(x, {&running_mean, &running_var}, "statistic", "batch_norm");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>)
      return cuda::batch_norm_eval(x, gamma, beta, running_mean, running_var, eps, detail::plane_size(x));
    else cuda::unavailable_for<T>("batch_norm_eval");
  }
  return cpu::batch_norm_eval(x, gamma, beta, running_mean, running_var, eps, detail::plane_size(x));
}

/// Gradient of batch_norm_eval: returns dL/dx and adds dL/dgamma, dL/dbeta.
template <Scalar T>
Tensor<T> batch_norm_eval_backward(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& running_mean,
                                   const Tensor<T>& running_var, T eps, const Tensor<T>& grad_y,
                                   Tensor<T>& grad_gamma, Tensor<T>& grad_beta) {
  const char* what = "batch_norm_eval_backward";
  const Device device =
      operand_device<T>(what, {&x, &gamma, &running_mean, &running_var, &grad_y, &grad_gamma, &grad_beta});
  detail::check_batch_norm_backward_args(x, gamma, grad_y, grad_gamma, grad_beta, {&running_mean, &running_var}, what);
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>)
      return cuda::batch_norm_eval_backward(x, gamma, running_mean, running_var, eps, grad_y, detail::plane_size(x),
                                            grad_gamma, grad_beta);
    else cuda::unavailable_for<T>(what);
  }
  return cpu::batch_norm_eval_backward(x, gamma, running_mean, running_var, eps, grad_y, detail::plane_size(x),
                                       grad_gamma, grad_beta);
}

/// The running statistics' update of a training-mode forward (PyTorch's): mean ← (1 − m)·mean +
/// m·batch_mean, var ← (1 − m)·var + m·unbiased_batch_var, batches_tracked += 1.
template <Scalar T>
void batch_norm_update_running_stats(Tensor<T>& running_mean, Tensor<T>& running_var, Tensor<T>& batches_tracked,
                                     const Tensor<T>& batch_mean, const Tensor<T>& unbiased_var, T momentum) {
  const char* what = "batch_norm_update_running_stats";
  const Device device =
      operand_device<T>(what, {&running_mean, &running_var, &batches_tracked, &batch_mean, &unbiased_var});
  check_same_shape(running_mean, running_var, what);
  check_same_shape(running_mean, batch_mean, what);
  check_same_shape(running_mean, unbiased_var, what);
  FCAM_CHECK(batches_tracked.numel() == 1, what, ": the batch counter must hold one value");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      cuda::batch_norm_update_running_stats(running_mean, running_var, batches_tracked, batch_mean, unbiased_var,
                                            momentum);
      return;
    } else cuda::unavailable_for<T>(what);
  }
  cpu::batch_norm_update_running_stats(running_mean, running_var, batches_tracked, batch_mean, unbiased_var, momentum);
}

/// Evaluation mode as a per-channel affine map y = x·scale + shift: scale = γ/√(running_var +
/// eps), shift = β − running_mean·scale (batch_norm_eval's arithmetic); returns {scale, shift}.
template <Scalar T>
std::pair<Tensor<T>, Tensor<T>> batch_norm_eval_affine(const Tensor<T>& gamma, const Tensor<T>& beta,
                                                       const Tensor<T>& running_mean, const Tensor<T>& running_var,
                                                       T eps) {
  const char* what = "batch_norm_eval_affine";
  const Device device = operand_device<T>(what, {&gamma, &beta, &running_mean, &running_var});
  for (const Tensor<T>* t : {&beta, &running_mean, &running_var}) check_same_shape(gamma, *t, what);
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>)
      return cuda::batch_norm_eval_affine(gamma, beta, running_mean, running_var, eps);
    else cuda::unavailable_for<T>(what);
  }
  return cpu::batch_norm_eval_affine(gamma, beta, running_mean, running_var, eps);
}

}  // namespace fcam

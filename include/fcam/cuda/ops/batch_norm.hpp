/// \file
/// \brief CUDA kernels of batch normalisation (ops/batch_norm.hpp), float tensors: the arguments
/// and results of the CPU kernels of fcam/ops/cpu/batch_norm.hpp (x is N×C×plane).
#pragma once

#include <cstdint>
#include <utility>

#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// Training-mode forward; allocates and fills `mean`, `invstd` = 1/√(biased var + eps) and the
/// unbiased variance, per channel (statistics accumulated in double).
Tensor<float> batch_norm_train(const Tensor<float>& x, const Tensor<float>& gamma, const Tensor<float>& beta,
                               float eps, std::int64_t plane, Tensor<float>& mean, Tensor<float>& invstd,
                               Tensor<float>& unbiased_var);
/// Gradient of batch_norm_train from the saved mean and invstd: returns dL/dx and adds dL/dgamma,
/// dL/dbeta.
Tensor<float> batch_norm_train_backward(const Tensor<float>& x, const Tensor<float>& gamma,
                                        const Tensor<float>& saved_mean, const Tensor<float>& saved_invstd,
                                        const Tensor<float>& grad_y, std::int64_t plane, Tensor<float>& grad_gamma,
                                        Tensor<float>& grad_beta);
/// Inference-mode forward with the running statistics.
Tensor<float> batch_norm_eval(const Tensor<float>& x, const Tensor<float>& gamma, const Tensor<float>& beta,
                              const Tensor<float>& running_mean, const Tensor<float>& running_var, float eps,
                              std::int64_t plane);
/// Gradient of batch_norm_eval: returns dL/dx and adds dL/dgamma, dL/dbeta.
Tensor<float> batch_norm_eval_backward(const Tensor<float>& x, const Tensor<float>& gamma,
                                       const Tensor<float>& running_mean, const Tensor<float>& running_var, float eps,
                                       const Tensor<float>& grad_y, std::int64_t plane, Tensor<float>& grad_gamma,
                                       Tensor<float>& grad_beta);
/// In place: the running averages' momentum update, batches_tracked += 1.
void batch_norm_update_running_stats(Tensor<float>& running_mean, Tensor<float>& running_var,
                                     Tensor<float>& batches_tracked, const Tensor<float>& batch_mean,
                                     const Tensor<float>& unbiased_var, float momentum);
/// {scale, shift} per channel: scale = γ/√(running_var + eps), shift = β − running_mean·scale.
std::pair<Tensor<float>, Tensor<float>> batch_norm_eval_affine(const Tensor<float>& gamma, const Tensor<float>& beta,
                                                               const Tensor<float>& running_mean,
                                                               const Tensor<float>& running_var, float eps);

}  // namespace fcam::cuda

/// \file
/// \brief Private to cuda/: raw-pointer launchers of the batch-normalisation kernels
/// (batch_norm.cu). Tensors are n × c × plane, float; per-channel arrays hold c values.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fcam::cuda::launch {

/// Training-forward statistics, one block per channel, in double: writes the batch mean,
/// invstd = 1/√(biased var + eps) and the unbiased variance, and the channel's affine map
/// scale = invstd·γ, shift = β − mean·scale (float, as the CPU rounds them).
void batch_norm_train_stats(const float* x, const float* gamma, const float* beta, float eps, std::int64_t n,
                            std::int64_t c, std::int64_t plane, float* mean, float* invstd, float* unbiased_var,
                            float* scale, float* shift, cudaStream_t stream);

/// y[i] = x[i]·scale[ch] + shift[ch] over `numel` values (no shift when `shift` is null).
void channel_affine(const float* x, const float* scale, const float* shift, float* y, std::int64_t c,
                    std::int64_t plane, std::int64_t numel, cudaStream_t stream);

/// Evaluation's affine map per channel: scale = γ/√(running_var + eps), shift = β − running_mean·scale.
void batch_norm_eval_affine(const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, float eps, float* scale, float* shift, std::int64_t c,
                            cudaStream_t stream);

/// Training backward, one block per channel: Σdy and Σdy·x̂ in double, added (rounded to float)
/// into grad_gamma and grad_beta; coefficients[3·ch ..] = {γ·invstd, mean(dy), mean(dy·x̂)} for
/// batch_norm_train_dx.
void batch_norm_train_backward_sums(const float* x, const float* gamma, const float* mean, const float* invstd,
                                    const float* grad_y, std::int64_t n, std::int64_t c, std::int64_t plane,
                                    float* grad_gamma, float* grad_beta, double* coefficients, cudaStream_t stream);

/// dx = γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)) element-wise, in double, from the coefficients.
void batch_norm_train_dx(const float* x, const float* mean, const float* invstd, const float* grad_y,
                         const double* coefficients, float* grad_x, std::int64_t c, std::int64_t plane,
                         std::int64_t numel, cudaStream_t stream);

/// Evaluation backward, one block per channel: Σdy and Σdy·x̂ (x̂ from the running statistics)
/// added into grad_gamma and grad_beta; k[ch] = γ/√(running_var + eps), the factor of dx = dy·k.
void batch_norm_eval_backward_sums(const float* x, const float* gamma, const float* running_mean,
                                   const float* running_var, float eps, const float* grad_y, std::int64_t n,
                                   std::int64_t c, std::int64_t plane, float* grad_gamma, float* grad_beta, float* k,
                                   cudaStream_t stream);

/// In place: mean ← (1 − m)·mean + m·batch_mean, var ← (1 − m)·var + m·unbiased_var over c
/// channels, and batches_tracked[0] += 1.
void batch_norm_update_running_stats(float* running_mean, float* running_var, float* batches_tracked,
                                     const float* batch_mean, const float* unbiased_var, float momentum,
                                     std::int64_t c, cudaStream_t stream);

}  // namespace fcam::cuda::launch

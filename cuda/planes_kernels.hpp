/// \file
/// \brief Private to cuda/: raw-pointer launchers of the per-plane ops behind ops/planes.hpp
/// (planes.cu), float data.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fcam::cuda::launch {

/// out[b·plane + i] = Σ_k float(weights[b·channels + k]·features[(b·channels + k)·plane + i]),
/// added in k order from 0, then clamped at 0 when `relu`.
void weighted_channel_sum(const float* features, const double* weights, std::int64_t batch, std::int64_t channels,
                          std::int64_t plane, bool relu, float* out, cudaStream_t stream);

/// sums[p] = Σ_i x[p·plane + i] in double, added in order from 0 as the CPU's plane_sums does
/// (one thread per plane: the CAM layer has few, small planes), for p < planes.
void ordered_plane_sums(const float* x, std::int64_t planes, std::int64_t plane, double* sums, cudaStream_t stream);

/// weights[b·channels + k] = class_channel_weight(ClassWeight(rule), fc[classes[b]·channels + k], plane,
/// sums[b·channels + k]) for b < batch, k < channels; `sums` may be null for the rules that do
/// not read it.
void class_channel_weights(const float* fc, const std::int32_t* classes, const double* sums, std::int64_t batch,
                           std::int64_t channels, std::int64_t plane, int rule, double* weights, cudaStream_t stream);

/// alpha_sum[b·channels + k] += float(gradcampp_alpha(fc[classes[b]·channels + k] / plane, sums[b·channels + k],
/// reference_alpha)) for b < batch, k < channels; `sums` may be null with the reference α.
void add_gradcampp_alpha(const float* fc, const std::int32_t* classes, const double* sums, std::int64_t batch,
                         std::int64_t channels, std::int64_t plane, bool reference_alpha, float* alpha_sum,
                         cudaStream_t stream);

/// weights[b·channels + k] = smoothed_gradcampp_weight(fc[classes[b]·channels + k], plane,
/// alpha_sum[b·channels + k], passes) for b < batch, k < channels.
void smoothed_gradcampp_weights(const float* fc, const std::int32_t* classes, const float* alpha_sum,
                                std::int64_t batch, std::int64_t channels, std::int64_t plane, int passes,
                                double* weights, cudaStream_t stream);

/// Each run r < count of `length` values: out = (x − lo) / hi with lo = min x and
/// hi = max (x − lo), or 0 everywhere when hi is not positive. One block per run.
void normalize_runs(const float* x, std::int64_t count, std::int64_t length, float* out, cudaStream_t stream);

/// out[i] = values[i / run] for i < n.
void fill_runs(const float* values, std::int64_t run, std::int64_t n, float* out, cudaStream_t stream);

}  // namespace fcam::cuda::launch

/// \file
/// \brief Private to cuda/: launchers of the one-thread kernels that finish a loss term on the
/// device (loss_terms.cu), so that a training step adds its losses to running sums there
/// (core/loss_sums.hpp) instead of copying each back.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fcam::cuda::launch {

/// slot[0] += f·(values[0] + … + values[count − 1]) / divisor, summed in order, with
/// f = device_factor[0] when device_factor is not null, else `factor`.
void add_sum(const double* values, std::int64_t count, double factor, const double* device_factor, double divisor,
             double* slot, cudaStream_t stream);

/// scale[0] = weight / Σ counts (0 when the sum is 0; NaN when a count is negative: a CAM that held
/// NaN), the partial cross-entropy's factor from the sampler's per-image labelled counts.
void label_scale(const std::int64_t* counts, std::int64_t images, double weight, double* scale, cudaStream_t stream);

/// The size loss of ops/log_barrier_rules.hpp from the `planes` plane sums `sizes`:
/// slopes[i] = float(−scale·ψ_t'(−sizes[i])) and slot[0] += scale·Σ_i ψ_t(−sizes[i]).
void size_barrier(const double* sizes, std::int64_t planes, double t, double scale, float* slopes, double* slot,
                  cudaStream_t stream);

}  // namespace fcam::cuda::launch

/// \file
/// \brief Private to cuda/: launchers of the small kernels of the linear layer, the optimiser and
/// the padding ops.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fcam::cuda::launch {

/// sums[c] += Σ_r x[r·cols + c] for a rows×cols matrix, one thread per column, rows in order.
void add_column_sums(const float* x, std::int64_t rows, std::int64_t cols, float* sums, cudaStream_t stream);

/// The SGD update of ops/cpu/sgd_update.hpp on n elements (buffer null without momentum).
void sgd_update(float* value, const float* grad, float* buffer, float lr, float mu, float wd, bool nesterov,
                bool fresh_buffer, std::int64_t n, cudaStream_t stream);

/// y (planes × out_h × out_w) with y[p, i, j] = x[p, i + off_h, j + off_w] inside x (planes × h ×
/// w), else 0: padding for negative offsets, cropping for positive ones.
void copy_window(const float* x, float* y, std::int64_t planes, std::int64_t h, std::int64_t w, std::int64_t out_h,
                 std::int64_t out_w, std::int64_t off_h, std::int64_t off_w, cudaStream_t stream);

}  // namespace fcam::cuda::launch

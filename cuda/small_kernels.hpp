/// \file
/// \brief Private to cuda/: launchers of the small kernels of the linear layer and the optimiser.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fcam::cuda::launch {

/// sums[c] += Σ_r x[r·cols + c] for a rows×cols matrix, one thread per column, rows in order.
void add_column_sums(const float* x, std::int64_t rows, std::int64_t cols, float* sums, cudaStream_t stream);

/// The SGD update of ops/cpu/sgd_update.hpp on n elements (buffer null without momentum).
void sgd_update(float* value, const float* grad, float* buffer, float lr, float mu, float wd, bool nesterov,
                bool fresh_buffer, std::int64_t n, cudaStream_t stream);

}  // namespace fcam::cuda::launch

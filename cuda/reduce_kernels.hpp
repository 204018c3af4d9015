/// \file
/// \brief Private to cuda/: raw-pointer launchers of the reductions behind ops/reduce.hpp
/// (reduce.cu), float input. Whole-tensor reductions run in two launches: `partial_blocks`
/// blocks write one partial each into scratch, then one block combines them.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fcam::cuda::launch {

/// The most partial results of a whole-tensor reduction: its scratch holds this many, plus one
/// for the result.
inline constexpr unsigned partial_blocks = 1024;

/// out[r] = Σ_i a[r·length + i] (·b[r·length + i] when b is not null) for r < runs, in double.
void run_sums(const float* a, const float* b, std::int64_t runs, std::int64_t length, double* out,
              cudaStream_t stream);

/// out[r] = top_index(logits + r·classes, classes) for r < rows (ops/top_class_rule.hpp).
void top_class(const float* logits, std::int64_t rows, std::int64_t classes, std::int32_t* out, cudaStream_t stream);

/// scratch[partial_blocks] = max |a[i] − b[i]| over n > 0 values (a NaN difference skipped).
void max_abs_difference(const float* a, const float* b, std::int64_t n, float* scratch, cudaStream_t stream);

/// scratch[partial_blocks] = the smallest i < n with x[i] NaN or ±∞, or n when there is none (n > 0).
void first_non_finite(const float* x, std::int64_t n, std::int64_t* scratch, cudaStream_t stream);

}  // namespace fcam::cuda::launch

/// \file
/// \brief Private to cuda/: raw-pointer launchers of the element-wise kernels (elementwise.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fcam::cuda::launch {

/// The unary and binary maps of elementwise.cu.
enum class Map { relu, relu_backward, relu6, relu6_backward, add, multiply };

/// y[i] = f(a[i]) for the unary maps (b unused) or f(a[i], b[i]) for the binary ones.
void map(Map f, const float* a, const float* b, float* y, std::int64_t n, cudaStream_t stream);
/// y[i] = x[i] * factor, computed in double as the CPU does.
void scale(const float* x, double factor, float* y, std::int64_t n, cudaStream_t stream);

/// y[i] = x[i] rounded to bfloat16 (to nearest even; NaN stays NaN), as raw bits, for i < n.
void to_bfloat16(const float* x, std::uint16_t* y, std::int64_t n, cudaStream_t stream);
/// y[i] = the bfloat16 bits x[i] widened to float (exact), for i < n.
void from_bfloat16(const std::uint16_t* x, float* y, std::int64_t n, cudaStream_t stream);

/// t[i] += float(sigma · keyed_normal(key, i)) for i < n.
void add_keyed_normal_noise(float* t, double sigma, std::uint64_t key, std::int64_t n, cudaStream_t stream);
/// mask[i] = keyed_dropout_value(key, i, p, keep_scale) for i < n.
void keyed_dropout_mask(float* mask, double p, float keep_scale, std::uint64_t key, std::int64_t n,
                        cudaStream_t stream);
/// y = y·scale[c] + shift[c] (+ residual), then min(max(y, 0), relu_max) when `relu`; null scale /
/// shift / residual are absent.
void channel_epilogue(float* y, const float* scale, const float* shift, const float* residual, bool relu,
                      float relu_max, std::int64_t channels, std::int64_t plane, std::int64_t n, cudaStream_t stream);

}  // namespace fcam::cuda::launch

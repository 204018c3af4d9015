// Element-wise kernels: one thread per element in a grid-stride loop (memory-bound, so the
// only goal is full-width coalesced loads and stores).
#include <cuda_bf16.h>

#include "elementwise_kernels.hpp"
#include "fcam/ops/keyed_noise_rule.hpp"
#include "launch.hpp"

namespace fcam::cuda::launch {

namespace {

template <Map f>
__device__ float apply(float a, float b) {
  if constexpr (f == Map::relu) return a > 0.0f ? a : 0.0f;
  else if constexpr (f == Map::relu_backward) return a > 0.0f ? b : 0.0f;  // a = y, b = dy
  else if constexpr (f == Map::relu6) return fminf(fmaxf(a, 0.0f), 6.0f);
  else if constexpr (f == Map::relu6_backward) return (a > 0.0f && a < 6.0f) ? b : 0.0f;  // a = x
  else if constexpr (f == Map::add) return a + b;
  else return a * b;
}

template <Map f>
__global__ void map_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y,
                           std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] = apply<f>(a[i], b ? b[i] : 0.0f);
}

// relu(NaN) must stay NaN, as on the CPU (max(NaN, 0) in PyTorch is NaN): the comparisons above
// send NaN to 0 for relu, so relu and relu6 pass NaN through explicitly.
template <Map f>
__global__ void clamp_kernel(const float* __restrict__ a, float* __restrict__ y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const float v = a[i];
    y[i] = v != v ? v : apply<f>(v, 0.0f);
  }
}

__global__ void scale_kernel(const float* __restrict__ x, double factor, float* __restrict__ y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] = static_cast<float>(factor * x[i]);
}

__global__ void to_bfloat16_kernel(const float* __restrict__ x, std::uint16_t* __restrict__ y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] = __bfloat16_as_ushort(__float2bfloat16_rn(x[i]));
}

__global__ void from_bfloat16_kernel(const std::uint16_t* __restrict__ x, float* __restrict__ y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] = __bfloat162float(__ushort_as_bfloat16(x[i]));
}

__global__ void keyed_noise_kernel(float* __restrict__ t, double sigma, std::uint64_t key, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    t[i] += static_cast<float>(sigma * keyed_normal(key, static_cast<std::uint64_t>(i)));
}

__global__ void keyed_dropout_kernel(float* __restrict__ mask, double p, float keep_scale, std::uint64_t key,
                                     std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    mask[i] = keyed_dropout_value(key, static_cast<std::uint64_t>(i), p, keep_scale);
}

__global__ void epilogue_kernel(float* __restrict__ y, const float* __restrict__ scale,
                                const float* __restrict__ shift, const float* __restrict__ residual, bool relu,
                                float relu_max, std::int64_t channels, std::int64_t plane, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t c = (i / plane) % channels;
    float v = y[i];
    if (scale) v *= scale[c];
    if (shift) v += shift[c];
    if (residual) v += residual[i];
    if (relu) {
      v = v < 0.0f ? 0.0f : v;
      v = relu_max < v ? relu_max : v;
    }
    y[i] = v;
  }
}

}  // namespace

void map(Map f, const float* a, const float* b, float* y, std::int64_t n, cudaStream_t stream) {
  const unsigned grid = grid_for(n);
  switch (f) {
    case Map::relu: clamp_kernel<Map::relu><<<grid, block_threads, 0, stream>>>(a, y, n); break;
    case Map::relu6: clamp_kernel<Map::relu6><<<grid, block_threads, 0, stream>>>(a, y, n); break;
    case Map::relu_backward: map_kernel<Map::relu_backward><<<grid, block_threads, 0, stream>>>(a, b, y, n); break;
    case Map::relu6_backward: map_kernel<Map::relu6_backward><<<grid, block_threads, 0, stream>>>(a, b, y, n); break;
    case Map::add: map_kernel<Map::add><<<grid, block_threads, 0, stream>>>(a, b, y, n); break;
    case Map::multiply: map_kernel<Map::multiply><<<grid, block_threads, 0, stream>>>(a, b, y, n); break;
  }
}

void scale(const float* x, double factor, float* y, std::int64_t n, cudaStream_t stream) {
  scale_kernel<<<grid_for(n), block_threads, 0, stream>>>(x, factor, y, n);
}

void to_bfloat16(const float* x, std::uint16_t* y, std::int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  to_bfloat16_kernel<<<grid_for(n), block_threads, 0, stream>>>(x, y, n);
}

void from_bfloat16(const std::uint16_t* x, float* y, std::int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  from_bfloat16_kernel<<<grid_for(n), block_threads, 0, stream>>>(x, y, n);
}

void add_keyed_normal_noise(float* t, double sigma, std::uint64_t key, std::int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  keyed_noise_kernel<<<grid_for(n), block_threads, 0, stream>>>(t, sigma, key, n);
}

void keyed_dropout_mask(float* mask, double p, float keep_scale, std::uint64_t key, std::int64_t n,
                        cudaStream_t stream) {
  if (n == 0) return;
  keyed_dropout_kernel<<<grid_for(n), block_threads, 0, stream>>>(mask, p, keep_scale, key, n);
}

void channel_epilogue(float* y, const float* scale, const float* shift, const float* residual, bool relu,
                      float relu_max, std::int64_t channels, std::int64_t plane, std::int64_t n, cudaStream_t stream) {
  epilogue_kernel<<<grid_for(n), block_threads, 0, stream>>>(y, scale, shift, residual, relu, relu_max, channels, plane,
                                                             n);
}

}  // namespace fcam::cuda::launch

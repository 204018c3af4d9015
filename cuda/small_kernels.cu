// The small kernels of the linear layer (bias gradient), of the optimiser (SGD update) and of
// the padding ops (a shifted window of each plane).
#include "launch.hpp"
#include "small_kernels.hpp"

namespace fcam::cuda::launch {

namespace {

__global__ void column_sums_kernel(const float* __restrict__ x, std::int64_t rows, std::int64_t cols,
                                   float* __restrict__ sums) {
  for (std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; c < cols;
       c += std::int64_t(gridDim.x) * blockDim.x) {
    float s = 0.0f;
    for (std::int64_t r = 0; r < rows; ++r) s += x[r * cols + c];
    sums[c] += s;
  }
}

// __fmul_rn / __fadd_rn keep nvcc from contracting into fused multiply-adds, so every value
// is rounded as in the CPU's loop (compiled without contraction) and the bits agree.
__global__ void sgd_kernel(float* __restrict__ p, const float* __restrict__ dp, float* __restrict__ b, float lr,
                           float mu, float wd, bool nesterov, bool fresh, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    float g = __fadd_rn(dp[i], __fmul_rn(wd, p[i]));
    if (b) {
      b[i] = fresh ? g : __fadd_rn(__fmul_rn(mu, b[i]), g);
      g = nesterov ? __fadd_rn(g, __fmul_rn(mu, b[i])) : b[i];
    }
    p[i] = __fsub_rn(p[i], __fmul_rn(lr, g));
  }
}

__global__ void copy_window_kernel(const float* __restrict__ x, float* __restrict__ y, std::int64_t planes,
                                   std::int64_t h, std::int64_t w, std::int64_t out_h, std::int64_t out_w,
                                   std::int64_t off_h, std::int64_t off_w) {
  const std::int64_t n = planes * out_h * out_w;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t col = i % out_w + off_w, row = (i / out_w) % out_h + off_h, p = i / (out_w * out_h);
    y[i] = row >= 0 && row < h && col >= 0 && col < w ? x[(p * h + row) * w + col] : 0.0f;
  }
}

}  // namespace

void add_column_sums(const float* x, std::int64_t rows, std::int64_t cols, float* sums, cudaStream_t stream) {
  column_sums_kernel<<<grid_for(cols), block_threads, 0, stream>>>(x, rows, cols, sums);
}

void sgd_update(float* value, const float* grad, float* buffer, float lr, float mu, float wd, bool nesterov,
                bool fresh_buffer, std::int64_t n, cudaStream_t stream) {
  sgd_kernel<<<grid_for(n), block_threads, 0, stream>>>(value, grad, buffer, lr, mu, wd, nesterov, fresh_buffer, n);
}

void copy_window(const float* x, float* y, std::int64_t planes, std::int64_t h, std::int64_t w, std::int64_t out_h,
                 std::int64_t out_w, std::int64_t off_h, std::int64_t off_w, cudaStream_t stream) {
  const std::int64_t n = planes * out_h * out_w;
  if (n == 0) return;
  copy_window_kernel<<<grid_for(n), block_threads, 0, stream>>>(x, y, planes, h, w, out_h, out_w, off_h, off_w);
}

}  // namespace fcam::cuda::launch

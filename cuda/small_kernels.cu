// The small kernels of the linear layer (bias gradient) and of the optimiser (SGD update).
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

}  // namespace

void add_column_sums(const float* x, std::int64_t rows, std::int64_t cols, float* sums, cudaStream_t stream) {
  column_sums_kernel<<<grid_for(cols), block_threads, 0, stream>>>(x, rows, cols, sums);
}

void sgd_update(float* value, const float* grad, float* buffer, float lr, float mu, float wd, bool nesterov,
                bool fresh_buffer, std::int64_t n, cudaStream_t stream) {
  sgd_kernel<<<grid_for(n), block_threads, 0, stream>>>(value, grad, buffer, lr, mu, wd, nesterov, fresh_buffer, n);
}

}  // namespace fcam::cuda::launch

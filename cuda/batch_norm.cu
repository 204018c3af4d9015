// Batch-normalisation kernels. The per-channel statistics take one block per channel: its
// threads stride over the channel's n·plane values accumulating in double, as the CPU does (so
// a large mean costs no precision), and block_reduce combines them in a fixed tree, so that the
// statistics are the same bits on every run. The per-element maps are grid-stride loops.
#include "batch_norm_kernels.hpp"
#include "block_reduce.cuh"
#include "launch.hpp"

namespace fcam::cuda::launch {

namespace {

// Blocks of the one-block-per-channel kernels; each block loops over channels when c is larger.
unsigned channel_blocks(std::int64_t c) { return static_cast<unsigned>(c < 65535 ? c : 65535); }

// Offset in an n × c × plane tensor of the j-th value (batch-major) of channel ch.
__device__ std::int64_t channel_offset(std::int64_t j, std::int64_t ch, std::int64_t c, std::int64_t plane) {
  const std::int64_t b = j / plane;
  return (b * c + ch) * plane + (j - b * plane);
}

// Two passes, mean first and then the centred squares: a one-pass Σx² − (Σx)²/n loses the
// variance of values with a large mean.
__global__ void train_stats_kernel(const float* __restrict__ x, const float* __restrict__ gamma,
                                   const float* __restrict__ beta, float eps, std::int64_t n, std::int64_t c,
                                   std::int64_t plane, float* __restrict__ mean, float* __restrict__ invstd,
                                   float* __restrict__ unbiased_var, float* __restrict__ scale,
                                   float* __restrict__ shift) {
  const std::int64_t count = n * plane;
  for (std::int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
    double sum = 0;
    for (std::int64_t j = threadIdx.x; j < count; j += blockDim.x) sum += x[channel_offset(j, ch, c, plane)];
    const double mu = block_reduce(sum, Sum{}) / static_cast<double>(count);
    double sq = 0;
    for (std::int64_t j = threadIdx.x; j < count; j += blockDim.x) {
      const double d = x[channel_offset(j, ch, c, plane)] - mu;
      sq += d * d;
    }
    sq = block_reduce(sq, Sum{});
    if (threadIdx.x == 0) {
      const double is = 1.0 / sqrt(sq / static_cast<double>(count) + static_cast<double>(eps));
      mean[ch] = static_cast<float>(mu);
      invstd[ch] = static_cast<float>(is);
      unbiased_var[ch] = static_cast<float>(sq / static_cast<double>(count - 1));
      // Rounded to float before use, exactly as the CPU forms its scale and shift.
      const float s = static_cast<float>(is) * gamma[ch];
      scale[ch] = s;
      shift[ch] = beta[ch] - static_cast<float>(mu) * s;
    }
  }
}

__global__ void affine_kernel(const float* __restrict__ x, const float* __restrict__ scale,
                              const float* __restrict__ shift, float* __restrict__ y, std::int64_t c,
                              std::int64_t plane, std::int64_t numel) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < numel;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t ch = (i / plane) % c;
    const float v = x[i] * scale[ch];
    y[i] = shift ? v + shift[ch] : v;
  }
}

__global__ void eval_affine_kernel(const float* __restrict__ gamma, const float* __restrict__ beta,
                                   const float* __restrict__ running_mean, const float* __restrict__ running_var,
                                   float eps, float* __restrict__ scale, float* __restrict__ shift, std::int64_t c) {
  for (std::int64_t ch = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; ch < c;
       ch += std::int64_t(gridDim.x) * blockDim.x) {
    const float s = gamma[ch] / sqrtf(running_var[ch] + eps);
    scale[ch] = s;
    shift[ch] = beta[ch] - running_mean[ch] * s;
  }
}

__global__ void train_backward_sums_kernel(const float* __restrict__ x, const float* __restrict__ gamma,
                                           const float* __restrict__ mean, const float* __restrict__ invstd,
                                           const float* __restrict__ grad_y, std::int64_t n, std::int64_t c,
                                           std::int64_t plane, float* __restrict__ grad_gamma,
                                           float* __restrict__ grad_beta, double* __restrict__ coefficients) {
  const std::int64_t count = n * plane;
  for (std::int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
    const double mu = mean[ch], is = invstd[ch];
    double sum_dy = 0, sum_dy_xhat = 0;
    for (std::int64_t j = threadIdx.x; j < count; j += blockDim.x) {
      const std::int64_t at = channel_offset(j, ch, c, plane);
      const float dy = grad_y[at];
      sum_dy += dy;
      sum_dy_xhat += dy * (x[at] - mu) * is;  // in double, in the CPU's order of operations
    }
    sum_dy = block_reduce(sum_dy, Sum{});
    sum_dy_xhat = block_reduce(sum_dy_xhat, Sum{});
    if (threadIdx.x == 0) {
      grad_gamma[ch] += static_cast<float>(sum_dy_xhat);
      grad_beta[ch] += static_cast<float>(sum_dy);
      double* k = coefficients + 3 * ch;
      k[0] = gamma[ch] * is;
      k[1] = sum_dy / static_cast<double>(count);
      k[2] = sum_dy_xhat / static_cast<double>(count);
    }
  }
}

__global__ void train_dx_kernel(const float* __restrict__ x, const float* __restrict__ mean,
                                const float* __restrict__ invstd, const float* __restrict__ grad_y,
                                const double* __restrict__ coefficients, float* __restrict__ grad_x, std::int64_t c,
                                std::int64_t plane, std::int64_t numel) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < numel;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t ch = (i / plane) % c;
    const double* k = coefficients + 3 * ch;
    const double xhat = (x[i] - static_cast<double>(mean[ch])) * static_cast<double>(invstd[ch]);
    grad_x[i] = static_cast<float>(k[0] * (grad_y[i] - k[1] - xhat * k[2]));
  }
}

// The CPU forms x̂·dy in float here (invstd from the float running variance) and sums in double.
__global__ void eval_backward_sums_kernel(const float* __restrict__ x, const float* __restrict__ gamma,
                                          const float* __restrict__ running_mean,
                                          const float* __restrict__ running_var, float eps,
                                          const float* __restrict__ grad_y, std::int64_t n, std::int64_t c,
                                          std::int64_t plane, float* __restrict__ grad_gamma,
                                          float* __restrict__ grad_beta, float* __restrict__ k) {
  const std::int64_t count = n * plane;
  for (std::int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
    const float is = 1.0f / sqrtf(running_var[ch] + eps), mu = running_mean[ch];
    double sum_dy = 0, sum_dy_xhat = 0;
    for (std::int64_t j = threadIdx.x; j < count; j += blockDim.x) {
      const std::int64_t at = channel_offset(j, ch, c, plane);
      const float dy = grad_y[at];
      sum_dy += dy;
      sum_dy_xhat += dy * (x[at] - mu) * is;
    }
    sum_dy = block_reduce(sum_dy, Sum{});
    sum_dy_xhat = block_reduce(sum_dy_xhat, Sum{});
    if (threadIdx.x == 0) {
      grad_gamma[ch] += static_cast<float>(sum_dy_xhat);
      grad_beta[ch] += static_cast<float>(sum_dy);
      k[ch] = gamma[ch] * is;
    }
  }
}

__global__ void update_running_stats_kernel(float* __restrict__ running_mean, float* __restrict__ running_var,
                                            float* __restrict__ batches_tracked,
                                            const float* __restrict__ batch_mean,
                                            const float* __restrict__ unbiased_var, float momentum,
                                            std::int64_t c) {
  const std::int64_t first = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  for (std::int64_t ch = first; ch < c; ch += std::int64_t(gridDim.x) * blockDim.x) {
    running_mean[ch] = (1 - momentum) * running_mean[ch] + momentum * batch_mean[ch];
    running_var[ch] = (1 - momentum) * running_var[ch] + momentum * unbiased_var[ch];
  }
  if (first == 0) batches_tracked[0] += 1.0f;
}

}  // namespace

void batch_norm_train_stats(const float* x, const float* gamma, const float* beta, float eps, std::int64_t n,
                            std::int64_t c, std::int64_t plane, float* mean, float* invstd, float* unbiased_var,
                            float* scale, float* shift, cudaStream_t stream) {
  if (c == 0) return;
  train_stats_kernel<<<channel_blocks(c), block_threads, 0, stream>>>(x, gamma, beta, eps, n, c, plane, mean, invstd,
                                                                      unbiased_var, scale, shift);
}

void channel_affine(const float* x, const float* scale, const float* shift, float* y, std::int64_t c,
                    std::int64_t plane, std::int64_t numel, cudaStream_t stream) {
  if (numel == 0) return;
  affine_kernel<<<grid_for(numel), block_threads, 0, stream>>>(x, scale, shift, y, c, plane, numel);
}

void batch_norm_eval_affine(const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, float eps, float* scale, float* shift, std::int64_t c,
                            cudaStream_t stream) {
  if (c == 0) return;
  eval_affine_kernel<<<grid_for(c), block_threads, 0, stream>>>(gamma, beta, running_mean, running_var, eps, scale,
                                                                shift, c);
}

void batch_norm_train_backward_sums(const float* x, const float* gamma, const float* mean, const float* invstd,
                                    const float* grad_y, std::int64_t n, std::int64_t c, std::int64_t plane,
                                    float* grad_gamma, float* grad_beta, double* coefficients, cudaStream_t stream) {
  if (c == 0) return;
  train_backward_sums_kernel<<<channel_blocks(c), block_threads, 0, stream>>>(
      x, gamma, mean, invstd, grad_y, n, c, plane, grad_gamma, grad_beta, coefficients);
}

void batch_norm_train_dx(const float* x, const float* mean, const float* invstd, const float* grad_y,
                         const double* coefficients, float* grad_x, std::int64_t c, std::int64_t plane,
                         std::int64_t numel, cudaStream_t stream) {
  if (numel == 0) return;
  train_dx_kernel<<<grid_for(numel), block_threads, 0, stream>>>(x, mean, invstd, grad_y, coefficients, grad_x, c,
                                                                 plane, numel);
}

void batch_norm_eval_backward_sums(const float* x, const float* gamma, const float* running_mean,
                                   const float* running_var, float eps, const float* grad_y, std::int64_t n,
                                   std::int64_t c, std::int64_t plane, float* grad_gamma, float* grad_beta, float* k,
                                   cudaStream_t stream) {
  if (c == 0) return;
  eval_backward_sums_kernel<<<channel_blocks(c), block_threads, 0, stream>>>(
      x, gamma, running_mean, running_var, eps, grad_y, n, c, plane, grad_gamma, grad_beta, k);
}

void batch_norm_update_running_stats(float* running_mean, float* running_var, float* batches_tracked,
                                     const float* batch_mean, const float* unbiased_var, float momentum,
                                     std::int64_t c, cudaStream_t stream) {
  update_running_stats_kernel<<<grid_for(c), block_threads, 0, stream>>>(running_mean, running_var, batches_tracked,
                                                                         batch_mean, unbiased_var, momentum, c);
}

}  // namespace fcam::cuda::launch

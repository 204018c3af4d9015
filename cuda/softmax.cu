// Channel softmax, its gradient and the cross-entropy: one thread per position (batch index b,
// inner index i) runs over the channels in order, exactly as the CPU does, so the float sums
// round the same way; inner is the fastest dimension, so neighbouring threads read neighbouring
// addresses. The loss is summed per thread, then per block (block_reduce), then over the
// blocks by one block: a fixed order, the same bits on every run.
#include "block_reduce.cuh"
#include "launch.hpp"
#include "softmax_kernels.hpp"

namespace fcam::cuda::launch {

namespace {

// The channel maximum at one position (z points at channel 0, channels `inner` apart), by the
// CPU's std::max chain: a NaN in channel 0 is kept, a later one skipped (the sum is NaN anyway).
__device__ float channel_max(const float* z, std::int64_t channels, std::int64_t inner) {
  float m = z[0];
  for (std::int64_t k = 1; k < channels; ++k) {
    const float v = z[k * inner];
    m = m < v ? v : m;
  }
  return m;
}

// out = softmax of z at one position, the CPU's float arithmetic; returns the maximum it subtracted.
__device__ float softmax_at(const float* z, float* out, std::int64_t channels, std::int64_t inner) {
  const float m = channel_max(z, channels, inner);
  float sum = 0.0f;
  for (std::int64_t k = 0; k < channels; ++k) {
    const float e = expf(z[k * inner] - m);
    out[k * inner] = e;
    sum += e;
  }
  for (std::int64_t k = 0; k < channels; ++k) out[k * inner] /= sum;
  return m;
}

// Offset of channel 0 at position p of a batch × channels × inner tensor.
__device__ std::int64_t position_offset(std::int64_t p, std::int64_t channels, std::int64_t inner) {
  const std::int64_t b = p / inner;
  return b * channels * inner + (p - b * inner);
}

__global__ void softmax_kernel(const float* __restrict__ x, float* __restrict__ y, std::int64_t positions,
                               std::int64_t channels, std::int64_t inner) {
  for (std::int64_t p = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; p < positions;
       p += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t at = position_offset(p, channels, inner);
    softmax_at(x + at, y + at, channels, inner);
  }
}

__global__ void softmax_backward_kernel(const float* __restrict__ y, const float* __restrict__ grad_y,
                                        float* __restrict__ grad_x, std::int64_t positions, std::int64_t channels,
                                        std::int64_t inner) {
  for (std::int64_t p = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; p < positions;
       p += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t at = position_offset(p, channels, inner);
    const float *out = y + at, *dy = grad_y + at;
    float* dx = grad_x + at;
    float dot = 0.0f;
    for (std::int64_t k = 0; k < channels; ++k) dot += dy[k * inner] * out[k * inner];
    for (std::int64_t k = 0; k < channels; ++k) dx[k * inner] = out[k * inner] * (dy[k * inner] - dot);
  }
}

// The CPU's order: the gradient starts as the softmax, the target's entry loses 1, then every
// entry is scaled by 1/count; the loss term is computed from the logits in double (log-softmax).
__global__ void cross_entropy_kernel(const float* __restrict__ logits, const std::int64_t* __restrict__ targets,
                                     std::int64_t ignore_index, float scale, float* __restrict__ grad,
                                     double* __restrict__ partial_loss, std::int64_t positions,
                                     std::int64_t channels, std::int64_t inner) {
  double loss = 0;
  for (std::int64_t p = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; p < positions;
       p += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t at = position_offset(p, channels, inner), t = targets[p];
    const float* z = logits + at;
    float* g = grad + at;
    if (t == ignore_index) {
      for (std::int64_t k = 0; k < channels; ++k) g[k * inner] = 0.0f;
      continue;
    }
    const float m = softmax_at(z, g, channels, inner);
    double sum = 0;
    for (std::int64_t k = 0; k < channels; ++k) sum += exp(static_cast<double>(z[k * inner] - m));
    loss += log(sum) - static_cast<double>(z[t * inner] - m);
    for (std::int64_t k = 0; k < channels; ++k) {
      float v = g[k * inner];
      if (k == t) v -= 1.0f;
      g[k * inner] = v * scale;
    }
  }
  loss = block_reduce(loss, Sum{});
  if (threadIdx.x == 0) partial_loss[blockIdx.x] = loss;
}

// The partial cross-entropy of two-class logits (ops/labelled_cross_entropy.hpp): the CPU's
// double arithmetic per labelled pixel; unlabelled pixels (label > 1) get a zero gradient.
__global__ void labelled_cross_entropy_kernel(const float* __restrict__ logits, const std::uint8_t* __restrict__ labels,
                                              double grad_scale, const double* __restrict__ device_scale,
                                              float* __restrict__ grad, double* __restrict__ partial_loss,
                                              std::int64_t positions, std::int64_t plane) {
  if (device_scale) grad_scale = device_scale[0];
  double loss = 0;
  for (std::int64_t p = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; p < positions;
       p += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t at = position_offset(p, 2, plane);
    const std::uint8_t label = labels[p];
    if (label > 1) {
      grad[at] = 0.0f;
      grad[at + plane] = 0.0f;
      continue;
    }
    const double z0 = logits[at], z1 = logits[at + plane], top = z0 < z1 ? z1 : z0;
    const double log_sum = top + log(exp(z0 - top) + exp(z1 - top));
    loss += log_sum - (label == 1 ? z1 : z0);
    const double p1 = exp(z1 - log_sum);
    grad[at] = static_cast<float>(grad_scale * ((1 - p1) - (label == 0 ? 1 : 0)));
    grad[at + plane] = static_cast<float>(grad_scale * (p1 - (label == 1 ? 1 : 0)));
  }
  loss = block_reduce(loss, Sum{});
  if (threadIdx.x == 0) partial_loss[blockIdx.x] = loss;
}

__global__ void sum_kernel(const double* __restrict__ values, std::int64_t count, double* __restrict__ total) {
  double sum = 0;
  for (std::int64_t i = threadIdx.x; i < count; i += blockDim.x) sum += values[i];
  sum = block_reduce(sum, Sum{});
  if (threadIdx.x == 0) total[0] = sum;
}

}  // namespace

void softmax_channels(const float* x, float* y, std::int64_t batch, std::int64_t channels, std::int64_t inner,
                      cudaStream_t stream) {
  const std::int64_t positions = batch * inner;
  if (positions == 0 || channels == 0) return;
  softmax_kernel<<<grid_for(positions), block_threads, 0, stream>>>(x, y, positions, channels, inner);
}

void softmax_channels_backward(const float* y, const float* grad_y, float* grad_x, std::int64_t batch,
                               std::int64_t channels, std::int64_t inner, cudaStream_t stream) {
  const std::int64_t positions = batch * inner;
  if (positions == 0 || channels == 0) return;
  softmax_backward_kernel<<<grid_for(positions), block_threads, 0, stream>>>(y, grad_y, grad_x, positions, channels,
                                                                             inner);
}

unsigned cross_entropy_blocks(std::int64_t positions) { return grid_for(positions); }

void cross_entropy(const float* logits, const std::int64_t* targets, std::int64_t ignore_index, float scale,
                   float* grad, double* partial_loss, std::int64_t batch, std::int64_t channels, std::int64_t inner,
                   cudaStream_t stream) {
  const std::int64_t positions = batch * inner;
  cross_entropy_kernel<<<cross_entropy_blocks(positions), block_threads, 0, stream>>>(
      logits, targets, ignore_index, scale, grad, partial_loss, positions, channels, inner);
}

void labelled_cross_entropy(const float* logits, const std::uint8_t* labels, double grad_scale,
                            const double* device_scale, float* grad, double* partial_loss, std::int64_t batch,
                            std::int64_t plane, cudaStream_t stream) {
  const std::int64_t positions = batch * plane;
  labelled_cross_entropy_kernel<<<cross_entropy_blocks(positions), block_threads, 0, stream>>>(
      logits, labels, grad_scale, device_scale, grad, partial_loss, positions, plane);
}

void sum_partial_losses(const double* partial_loss, std::int64_t count, double* total, cudaStream_t stream) {
  sum_kernel<<<1, block_threads, 0, stream>>>(partial_loss, count, total);
}

}  // namespace fcam::cuda::launch

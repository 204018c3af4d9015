// Per-plane kernels of the CAM methods. Both give the CPU's bits: the weighted sum keeps its
// channel order per pixel (one thread per pixel), and min/max are exact in any order, while
// fl(x − lo) is monotonic in x, so max(fl(x − lo)) = fl(max x − lo) is the CPU's hi.
#include "block_reduce.cuh"
#include "fcam/ops/channel_weight_rules.hpp"
#include "launch.hpp"
#include "planes_kernels.hpp"

namespace fcam::cuda::launch {

namespace {

__global__ void weighted_channel_sum_kernel(const float* __restrict__ features, const double* __restrict__ weights,
                                            std::int64_t batch, std::int64_t channels, std::int64_t plane, bool relu,
                                            float* __restrict__ out) {
  const std::int64_t total = batch * plane;
  for (std::int64_t at = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; at < total;
       at += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t b = at / plane, i = at - b * plane;
    const float* a = features + b * channels * plane + i;
    const double* w = weights + b * channels;
    float sum = 0.0f;
    for (std::int64_t k = 0; k < channels; ++k) sum += static_cast<float>(w[k] * static_cast<double>(a[k * plane]));
    out[at] = relu && sum < 0.0f ? 0.0f : sum;  // std::max(sum, 0): a NaN stays
  }
}

__global__ void ordered_plane_sums_kernel(const float* __restrict__ x, std::int64_t planes, std::int64_t plane,
                                          double* __restrict__ sums) {
  for (std::int64_t p = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; p < planes;
       p += std::int64_t(gridDim.x) * blockDim.x) {
    const float* a = x + p * plane;
    double sum = 0;
    for (std::int64_t i = 0; i < plane; ++i) sum += a[i];
    sums[p] = sum;
  }
}

/// fc[classes[b]·channels + k] for the flat index at = b·channels + k, in double: the class's
/// fc value of channel k.
__device__ double class_row_value(const float* fc, const std::int32_t* classes, std::int64_t at,
                                  std::int64_t channels) {
  const std::int64_t b = at / channels, k = at - b * channels;
  return static_cast<double>(fc[static_cast<std::int64_t>(classes[b]) * channels + k]);
}

__global__ void class_channel_weights_kernel(const float* __restrict__ fc, const std::int32_t* __restrict__ classes,
                                             const double* __restrict__ sums, std::int64_t batch,
                                             std::int64_t channels, std::int64_t plane, int rule,
                                             double* __restrict__ weights) {
  const std::int64_t total = batch * channels;
  for (std::int64_t at = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; at < total;
       at += std::int64_t(gridDim.x) * blockDim.x) {
    weights[at] = class_channel_weight(static_cast<ClassWeight>(rule), class_row_value(fc, classes, at, channels),
                                       plane, sums != nullptr ? sums[at] : 0.0);
  }
}

__global__ void add_gradcampp_alpha_kernel(const float* __restrict__ fc, const std::int32_t* __restrict__ classes,
                                           const double* __restrict__ sums, std::int64_t batch, std::int64_t channels,
                                           std::int64_t plane, bool reference_alpha, float* __restrict__ alpha_sum) {
  const std::int64_t total = batch * channels;
  for (std::int64_t at = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; at < total;
       at += std::int64_t(gridDim.x) * blockDim.x) {
    const double g = class_row_value(fc, classes, at, channels) / static_cast<double>(plane);
    alpha_sum[at] += static_cast<float>(gradcampp_alpha(g, sums != nullptr ? sums[at] : 0.0, reference_alpha));
  }
}

__global__ void smoothed_gradcampp_weights_kernel(const float* __restrict__ fc,
                                                  const std::int32_t* __restrict__ classes,
                                                  const float* __restrict__ alpha_sum, std::int64_t batch,
                                                  std::int64_t channels, std::int64_t plane, int passes,
                                                  double* __restrict__ weights) {
  const std::int64_t total = batch * channels;
  for (std::int64_t at = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; at < total;
       at += std::int64_t(gridDim.x) * blockDim.x) {
    weights[at] = smoothed_gradcampp_weight(class_row_value(fc, classes, at, channels), plane,
                                            static_cast<double>(alpha_sum[at]), passes);
  }
}

__global__ void normalize_runs_kernel(const float* __restrict__ x, std::int64_t count, std::int64_t length,
                                      float* __restrict__ out) {
  for (std::int64_t r = blockIdx.x; r < count; r += gridDim.x) {
    const float* in = x + r * length;
    float* o = out + r * length;
    float lo = in[0];
    for (std::int64_t i = threadIdx.x; i < length; i += blockDim.x) lo = Min{}(lo, in[i]);
    lo = block_reduce(lo, Min{});
    // Both extremes as the CPU's std::min_element / max_element find them: from the first value,
    // skipping later NaNs. A NaN first value, or a first difference −∞ − (−∞), makes the item 0.
    // (Of equal minima the tree may keep another than the first: only −0 and +0 can tell, and
    // then an output's zero may differ in sign.)
    float hi = in[0] - lo;
    for (std::int64_t i = threadIdx.x; i < length; i += blockDim.x) hi = Larger{}(hi, in[i] - lo);
    hi = block_reduce(hi, Larger{});
    for (std::int64_t i = threadIdx.x; i < length; i += blockDim.x) o[i] = hi > 0.0f ? (in[i] - lo) / hi : 0.0f;
  }
}

__global__ void fill_runs_kernel(const float* __restrict__ values, std::int64_t run, std::int64_t n,
                                 float* __restrict__ out) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    out[i] = values[i / run];
}

}  // namespace

void weighted_channel_sum(const float* features, const double* weights, std::int64_t batch, std::int64_t channels,
                          std::int64_t plane, bool relu, float* out, cudaStream_t stream) {
  const std::int64_t total = batch * plane;
  if (total == 0) return;
  weighted_channel_sum_kernel<<<grid_for(total), block_threads, 0, stream>>>(features, weights, batch, channels, plane,
                                                                             relu, out);
}

void ordered_plane_sums(const float* x, std::int64_t planes, std::int64_t plane, double* sums, cudaStream_t stream) {
  if (planes == 0) return;
  ordered_plane_sums_kernel<<<grid_for(planes), block_threads, 0, stream>>>(x, planes, plane, sums);
}

void class_channel_weights(const float* fc, const std::int32_t* classes, const double* sums, std::int64_t batch,
                           std::int64_t channels, std::int64_t plane, int rule, double* weights, cudaStream_t stream) {
  const std::int64_t total = batch * channels;
  if (total == 0) return;
  class_channel_weights_kernel<<<grid_for(total), block_threads, 0, stream>>>(fc, classes, sums, batch, channels,
                                                                              plane, rule, weights);
}

void add_gradcampp_alpha(const float* fc, const std::int32_t* classes, const double* sums, std::int64_t batch,
                         std::int64_t channels, std::int64_t plane, bool reference_alpha, float* alpha_sum,
                         cudaStream_t stream) {
  const std::int64_t total = batch * channels;
  if (total == 0) return;
  add_gradcampp_alpha_kernel<<<grid_for(total), block_threads, 0, stream>>>(fc, classes, sums, batch, channels, plane,
                                                                            reference_alpha, alpha_sum);
}

void smoothed_gradcampp_weights(const float* fc, const std::int32_t* classes, const float* alpha_sum,
                                std::int64_t batch, std::int64_t channels, std::int64_t plane, int passes,
                                double* weights, cudaStream_t stream) {
  const std::int64_t total = batch * channels;
  if (total == 0) return;
  smoothed_gradcampp_weights_kernel<<<grid_for(total), block_threads, 0, stream>>>(fc, classes, alpha_sum, batch,
                                                                                   channels, plane, passes, weights);
}

void normalize_runs(const float* x, std::int64_t count, std::int64_t length, float* out, cudaStream_t stream) {
  if (count == 0 || length == 0) return;
  const unsigned blocks = static_cast<unsigned>(count < 65535 ? count : 65535);
  normalize_runs_kernel<<<blocks, block_threads, 0, stream>>>(x, count, length, out);
}

void fill_runs(const float* values, std::int64_t run, std::int64_t n, float* out, cudaStream_t stream) {
  fill_runs_kernel<<<grid_for(n), block_threads, 0, stream>>>(values, run, n, out);
}

}  // namespace fcam::cuda::launch

// Resizing kernels: one thread per output element forward, one per input element backward. The
// backward passes are gathers (each input sums the output gradients that read it, in the order
// the CPU adds them), so no float atomics are needed and the results repeat bit for bit.
#include "launch.hpp"
#include "resize_kernels.hpp"

namespace fcam::cuda::launch {

namespace {

__global__ void nearest_kernel(const float* __restrict__ x, float* __restrict__ y, std::int64_t h, std::int64_t w,
                               std::int64_t factor, std::int64_t n) {
  const std::int64_t oh = h * factor, ow = w * factor;
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < n;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t j = o % ow, i = (o / ow) % oh, plane = o / (ow * oh);
    y[o] = x[(plane * h + i / factor) * w + j / factor];
  }
}

__global__ void nearest_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, std::int64_t h,
                                        std::int64_t w, std::int64_t factor, std::int64_t n) {
  const std::int64_t ow = w * factor;
  for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < n;
       e += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t c = e % w, r = (e / w) % h, plane = e / (w * h);
    const float* g = dy + ((plane * h + r) * factor) * ow + c * factor;
    float sum = 0.0f;
    for (std::int64_t a = 0; a < factor; ++a)
      for (std::int64_t b = 0; b < factor; ++b) sum += g[a * ow + b];
    dx[e] = sum;
  }
}

__global__ void bilinear_kernel(const float* __restrict__ x, float* __restrict__ y, std::int64_t h, std::int64_t w,
                                std::int64_t out_h, std::int64_t out_w, AxisTaps ty, AxisTaps tx, std::int64_t n) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < n;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t j = o % out_w, i = (o / out_w) % out_h, plane = o / (out_w * out_h);
    const float* r0 = x + (plane * h + ty.i0[i]) * w;
    const float* r1 = x + (plane * h + ty.i1[i]) * w;
    // The CPU's expression, term for term.
    y[o] = ty.w0[i] * (tx.w0[j] * r0[tx.i0[j]] + tx.w1[j] * r0[tx.i1[j]]) +
           ty.w1[i] * (tx.w0[j] * r1[tx.i0[j]] + tx.w1[j] * r1[tx.i1[j]]);
  }
}

/// End of the group of entries from `first` (before `end`) that belong to the same output.
__device__ std::int32_t group_end(const std::int32_t* out, std::int32_t first, std::int32_t end) {
  std::int32_t e = first + 1;
  while (e < end && out[e] == out[first]) ++e;
  return e;
}

// The CPU visits outputs (i, j) in row-major order and adds, for each, its four tap products in
// the order (y tap, x tap); walking the row fans by output row, then the column fans by output
// column, then both taps reproduces that order for this input element.
__global__ void bilinear_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, std::int64_t h,
                                         std::int64_t w, std::int64_t out_h, std::int64_t out_w, AxisFans fy,
                                         AxisFans fx, std::int64_t n) {
  for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < n;
       e += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t c = e % w, r = (e / w) % h, plane = e / (w * h);
    const float* g = dy + plane * out_h * out_w;
    const std::int32_t y_end = fy.begin[r + 1], x_begin = fx.begin[c], x_end = fx.begin[c + 1];
    float sum = 0.0f;
    for (std::int32_t ya = fy.begin[r], yb; ya < y_end; ya = yb) {
      yb = group_end(fy.out, ya, y_end);
      const float* row = g + std::int64_t(fy.out[ya]) * out_w;
      for (std::int32_t xa = x_begin, xb; xa < x_end; xa = xb) {
        xb = group_end(fx.out, xa, x_end);
        const float grad = row[fx.out[xa]];
        for (std::int32_t a = ya; a < yb; ++a)
          for (std::int32_t b = xa; b < xb; ++b) sum += fy.weight[a] * fx.weight[b] * grad;
      }
    }
    dx[e] = sum;
  }
}

}  // namespace

void upsample_nearest(const float* x, float* y, std::int64_t planes, std::int64_t h, std::int64_t w,
                      std::int64_t factor, cudaStream_t stream) {
  const std::int64_t n = planes * h * factor * w * factor;
  nearest_kernel<<<grid_for(n), block_threads, 0, stream>>>(x, y, h, w, factor, n);
}

void upsample_nearest_backward(const float* dy, float* dx, std::int64_t planes, std::int64_t h, std::int64_t w,
                               std::int64_t factor, cudaStream_t stream) {
  const std::int64_t n = planes * h * w;
  nearest_backward_kernel<<<grid_for(n), block_threads, 0, stream>>>(dy, dx, h, w, factor, n);
}

void resize_bilinear(const float* x, float* y, std::int64_t planes, std::int64_t h, std::int64_t w,
                     std::int64_t out_h, std::int64_t out_w, AxisTaps ty, AxisTaps tx, cudaStream_t stream) {
  const std::int64_t n = planes * out_h * out_w;
  bilinear_kernel<<<grid_for(n), block_threads, 0, stream>>>(x, y, h, w, out_h, out_w, ty, tx, n);
}

void resize_bilinear_backward(const float* dy, float* dx, std::int64_t planes, std::int64_t h, std::int64_t w,
                              std::int64_t out_h, std::int64_t out_w, AxisFans fy, AxisFans fx, cudaStream_t stream) {
  const std::int64_t n = planes * h * w;
  bilinear_backward_kernel<<<grid_for(n), block_threads, 0, stream>>>(dy, dx, h, w, out_h, out_w, fy, fx, n);
}

}  // namespace fcam::cuda::launch

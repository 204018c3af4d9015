// Pooling kernels. Forward: one thread per output (max, average) or one warp per plane (global
// average). Backward: gathers, so that no two threads write one element and no float atomics
// are needed: every input element sums, in output order, the gradients of the outputs that
// reach it, and the results are the same bits on every run. Max pooling's backward of indices
// given from the host, which need not lie in their windows, sorts them instead.
#include <cub/device/device_radix_sort.cuh>
#include <math_constants.h>

#include "launch.hpp"
#include "pooling_kernels.hpp"

namespace fcam::cuda::launch {

namespace {

/// One window along one axis: [lo, hi) clipped to the input, and `padded`, its length clipped to
/// the padded input only (PyTorch's count_include_pad divisor: a ceil_mode window that hangs
/// past the padding counts only up to the padding's end).
struct Span {
  std::int64_t lo, hi, padded;
};

__device__ Span window(std::int64_t o, std::int64_t in, const PoolShape& s) {
  const std::int64_t start = o * s.stride - s.padding;
  const std::int64_t end = min(start + s.kernel, in + s.padding);
  return {max(start, std::int64_t(0)), min(end, in), end - start};
}

/// The outputs [first, last) along one axis whose windows contain input position i.
struct Reach {
  std::int64_t first, last;
};

__device__ Reach reach(std::int64_t i, std::int64_t out, const PoolShape& s) {
  const std::int64_t p = i + s.padding;  // window o covers p when o·stride ≤ p < o·stride + kernel
  return {p < s.kernel ? 0 : (p - s.kernel) / s.stride + 1, min(p / s.stride + 1, out)};
}

/// Divisor of the average over the windows `y` and `x` (0 for an empty window).
__device__ std::int64_t divisor(const Span& y, const Span& x, bool count_include_pad) {
  return count_include_pad ? y.padded * x.padded : (y.hi - y.lo) * (x.hi - x.lo);
}

__global__ void max_pool_kernel(const float* __restrict__ x, float* __restrict__ y,
                                std::int32_t* __restrict__ argmax, PoolShape s, std::int64_t n) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < n;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t j = o % s.ow, i = (o / s.ow) % s.oh, plane = o / (s.ow * s.oh);
    const Span sy = window(i, s.h, s), sx = window(j, s.w, s);
    const float* in = x + plane * s.h * s.w;
    // The CPU's scan exactly: a later value replaces the best only when strictly greater, or NaN.
    float best = -CUDART_INF_F;
    std::int64_t best_index = sy.lo * s.w + sx.lo;
    for (std::int64_t yy = sy.lo; yy < sy.hi; ++yy)
      for (std::int64_t xx = sx.lo; xx < sx.hi; ++xx) {
        const float v = in[yy * s.w + xx];
        if (v > best || isnan(v)) {
          best = v;
          best_index = yy * s.w + xx;
        }
      }
    y[o] = best;
    if (argmax) argmax[o] = static_cast<std::int32_t>(best_index);  // H·W < 2^31: MaxPoolArgmax checks
  }
}

// Each input element visits the windows that contain it in output order and adds the gradients
// of those whose maximum it is, from 0 as the CPU's += does: the CPU's sum, with no sort and no
// workspace. Only for the indices of max_pool_kernel, which lie in their windows.
__global__ void max_pool_backward_kernel(const std::int32_t* __restrict__ argmax, const float* __restrict__ dy,
                                         float* __restrict__ dx, PoolShape s, std::int64_t n) {
  for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < n;
       e += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t xx = e % s.w, yy = (e / s.w) % s.h, plane = e / (s.w * s.h);
    const Reach ry = reach(yy, s.oh, s), rx = reach(xx, s.ow, s);
    const std::int32_t* a = argmax + plane * s.oh * s.ow;
    const float* g = dy + plane * s.oh * s.ow;
    const auto self = static_cast<std::int32_t>(yy * s.w + xx);
    float sum = 0.0f;
    for (std::int64_t i = ry.first; i < ry.last; ++i)
      for (std::int64_t j = rx.first; j < rx.last; ++j)
        if (a[i * s.ow + j] == self) sum += g[i * s.ow + j];
    dx[e] = sum;
  }
}

// Sort key of each output: the global position its gradient goes to; the values are the output
// indices, so that after a stable sort each position's outputs are consecutive and in order.
__global__ void target_kernel(const std::int32_t* __restrict__ argmax, std::uint64_t* __restrict__ key,
                              std::int64_t* __restrict__ order, std::int64_t n, std::int64_t in_plane,
                              std::int64_t out_plane) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < n;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    key[o] = static_cast<std::uint64_t>((o / out_plane) * in_plane + argmax[o]);
    order[o] = o;
  }
}

// The first entry of each run of equal keys sums the run's gradients in output order, from 0 as
// the CPU's += does, and writes the position once.
__global__ void run_sum_kernel(const std::uint64_t* __restrict__ key, const std::int64_t* __restrict__ order,
                               const float* __restrict__ dy, float* __restrict__ dx, std::int64_t n) {
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < n;
       k += std::int64_t(gridDim.x) * blockDim.x) {
    const std::uint64_t target = key[k];
    if (k > 0 && key[k - 1] == target) continue;
    float sum = 0.0f;
    for (std::int64_t m = k; m < n && key[m] == target; ++m) sum += dy[order[m]];
    dx[target] = sum;
  }
}

__global__ void avg_pool_kernel(const float* __restrict__ x, float* __restrict__ y, PoolShape s, std::int64_t n) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < n;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t j = o % s.ow, i = (o / s.ow) % s.oh, plane = o / (s.ow * s.oh);
    const Span sy = window(i, s.h, s), sx = window(j, s.w, s);
    const float* in = x + plane * s.h * s.w;
    float sum = 0.0f;
    for (std::int64_t yy = sy.lo; yy < sy.hi; ++yy)
      for (std::int64_t xx = sx.lo; xx < sx.hi; ++xx) sum += in[yy * s.w + xx];
    const std::int64_t d = divisor(sy, sx, s.count_include_pad);
    y[o] = d > 0 ? sum / static_cast<float>(d) : 0.0f;
  }
}

// Each input element visits the windows that contain it in output order, adding dy / divisor
// as the CPU adds each window's share.
__global__ void avg_pool_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, PoolShape s,
                                         std::int64_t n) {
  for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < n;
       e += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t xx = e % s.w, yy = (e / s.w) % s.h, plane = e / (s.w * s.h);
    const Reach ry = reach(yy, s.oh, s), rx = reach(xx, s.ow, s);
    const float* g = dy + plane * s.oh * s.ow;
    float sum = 0.0f;
    for (std::int64_t i = ry.first; i < ry.last; ++i) {
      const Span sy = window(i, s.h, s);
      for (std::int64_t j = rx.first; j < rx.last; ++j) {
        const std::int64_t d = divisor(sy, window(j, s.w, s), s.count_include_pad);
        if (d > 0) sum += g[i * s.ow + j] / static_cast<float>(d);
      }
    }
    dx[e] = sum;
  }
}

// One warp per plane: strided partial sums, then a fixed shuffle tree (the same order every run).
__global__ void plane_mean_kernel(const float* __restrict__ x, float* __restrict__ y, std::int64_t planes,
                                  std::int64_t plane) {
  const int lane = threadIdx.x % warp_size;
  const std::int64_t warps = std::int64_t(gridDim.x) * blockDim.x / warp_size;
  for (std::int64_t p = (blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x) / warp_size; p < planes; p += warps) {
    const float* in = x + p * plane;
    float sum = 0.0f;
    for (std::int64_t i = lane; i < plane; i += warp_size) sum += in[i];
    for (int offset = warp_size / 2; offset > 0; offset /= 2) sum += __shfl_down_sync(full_warp, sum, offset);
    if (lane == 0) y[p] = sum / static_cast<float>(plane);
  }
}

__global__ void plane_spread_kernel(const float* __restrict__ dy, float* __restrict__ dx, std::int64_t plane,
                                    std::int64_t n) {
  for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < n;
       e += std::int64_t(gridDim.x) * blockDim.x)
    dx[e] = dy[e / plane] / static_cast<float>(plane);
}

/// The buffers of max_pool2d_backward's sort, carved from one workspace.
struct SortBuffers {
  cub::DoubleBuffer<std::uint64_t> keys;
  cub::DoubleBuffer<std::int64_t> order;
  void* temp = nullptr;
  std::size_t temp_bytes = 0;
  std::size_t total_bytes = 0;
  int end_bit = 1;  // keys are < planes·in_plane: sorting fewer bits saves passes
};

constexpr std::size_t aligned(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

/// Lays out the sort's buffers in `workspace` (null: only measures).
SortBuffers sort_buffers(void* workspace, std::int64_t outputs, std::int64_t targets) {
  SortBuffers b;
  while (b.end_bit < 64 && (std::uint64_t(1) << b.end_bit) < static_cast<std::uint64_t>(targets)) ++b.end_bit;
  const std::size_t key_bytes = aligned(sizeof(std::uint64_t) * outputs);
  const std::size_t order_bytes = aligned(sizeof(std::int64_t) * outputs);
  char* base = static_cast<char*>(workspace);
  const auto at = [&](std::size_t offset) { return base ? base + offset : nullptr; };
  b.keys = {reinterpret_cast<std::uint64_t*>(at(0)), reinterpret_cast<std::uint64_t*>(at(key_bytes))};
  b.order = {reinterpret_cast<std::int64_t*>(at(2 * key_bytes)),
             reinterpret_cast<std::int64_t*>(at(2 * key_bytes + order_bytes))};
  const std::size_t fixed = 2 * key_bytes + 2 * order_bytes;
  cub::DeviceRadixSort::SortPairs(nullptr, b.temp_bytes, b.keys, b.order, outputs, 0, b.end_bit);
  b.temp = at(fixed);
  b.total_bytes = fixed + b.temp_bytes;
  return b;
}

}  // namespace

void max_pool2d(const float* x, float* y, std::int32_t* argmax, const PoolShape& s, cudaStream_t stream) {
  const std::int64_t n = s.planes * s.oh * s.ow;
  max_pool_kernel<<<grid_for(n), block_threads, 0, stream>>>(x, y, argmax, s, n);
}

void max_pool2d_backward_of_windows(const std::int32_t* argmax, const float* dy, float* dx, const PoolShape& s,
                                    cudaStream_t stream) {
  const std::int64_t n = s.planes * s.h * s.w;
  max_pool_backward_kernel<<<grid_for(n), block_threads, 0, stream>>>(argmax, dy, dx, s, n);
}

std::size_t max_pool2d_backward_workspace(std::int64_t outputs, std::int64_t targets) {
  return sort_buffers(nullptr, outputs, targets).total_bytes;
}

cudaError_t max_pool2d_backward(const std::int32_t* argmax, const float* dy, float* dx, std::int64_t planes,
                                std::int64_t in_plane, std::int64_t out_plane, void* workspace,
                                std::size_t workspace_bytes, cudaStream_t stream) {
  const std::int64_t n = planes * out_plane;
  SortBuffers b = sort_buffers(workspace, n, planes * in_plane);
  if (b.total_bytes > workspace_bytes) return cudaErrorInvalidValue;
  target_kernel<<<grid_for(n), block_threads, 0, stream>>>(argmax, b.keys.Current(), b.order.Current(), n, in_plane,
                                                           out_plane);
  // A radix sort is stable: equal keys keep the output order that the CPU adds them in.
  const cudaError_t status =
      cub::DeviceRadixSort::SortPairs(b.temp, b.temp_bytes, b.keys, b.order, n, 0, b.end_bit, stream);
  if (status != cudaSuccess) return status;
  run_sum_kernel<<<grid_for(n), block_threads, 0, stream>>>(b.keys.Current(), b.order.Current(), dy, dx, n);
  return cudaSuccess;
}

void avg_pool2d(const float* x, float* y, const PoolShape& s, cudaStream_t stream) {
  const std::int64_t n = s.planes * s.oh * s.ow;
  avg_pool_kernel<<<grid_for(n), block_threads, 0, stream>>>(x, y, s, n);
}

void avg_pool2d_backward(const float* dy, float* dx, const PoolShape& s, cudaStream_t stream) {
  const std::int64_t n = s.planes * s.h * s.w;
  avg_pool_backward_kernel<<<grid_for(n), block_threads, 0, stream>>>(dy, dx, s, n);
}

void global_avg_pool(const float* x, float* y, std::int64_t planes, std::int64_t plane, cudaStream_t stream) {
  plane_mean_kernel<<<grid_for(planes * warp_size), block_threads, 0, stream>>>(x, y, planes, plane);
}

void global_avg_pool_backward(const float* dy, float* dx, std::int64_t planes, std::int64_t plane,
                              cudaStream_t stream) {
  const std::int64_t n = planes * plane;
  plane_spread_kernel<<<grid_for(n), block_threads, 0, stream>>>(dy, dx, plane, n);
}

}  // namespace fcam::cuda::launch

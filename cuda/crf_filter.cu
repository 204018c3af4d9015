// The GPU permutohedral lattice: the CPU lattice's arithmetic (ops/cpu/permutohedral.hpp, compiled
// here without fused multiply-adds, see cuda/CMakeLists.txt), with
// its hash tables replaced by a sort, so that every step is deterministic. Every point writes its
// D+1 vertex keys; a stable radix sort groups equal keys with their entries in point order; the
// distinct keys become the vertices. The splat is then a gather that adds each vertex's
// contributions in the CPU's order (point by point; a long run is split over a warp and summed in
// a fixed tree, splat_kernel), the blur reads neighbours found by binary search, and the slice
// reads each point's vertices. No atomics anywhere.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "crf_kernels.hpp"
#include "launch.hpp"

namespace fcam::cuda::launch {

namespace {

constexpr int D = lattice_dims;
constexpr int coordinate_bits = 11;  // 5 coordinates in 55 bits, the image index in the top 9
constexpr std::int32_t coordinate_bias = 1 << (coordinate_bits - 1);

// The key of a vertex of image `image` with first-D coordinates `c`; false when a coordinate
// does not fit.
__device__ bool pack(std::int64_t image, const std::int32_t* c, std::uint64_t& key) {
  std::uint64_t k = static_cast<std::uint64_t>(image);
  for (int i = 0; i < D; ++i) {
    const std::int32_t biased = c[i] + coordinate_bias;
    if (biased < 0 || biased >= (1 << coordinate_bits)) return false;
    k = (k << coordinate_bits) | static_cast<std::uint64_t>(biased);
  }
  key = k;
  return true;
}

__device__ void unpack(std::uint64_t key, std::int64_t& image, std::int32_t* c) {
  for (int i = D - 1; i >= 0; --i) {
    c[i] = static_cast<std::int32_t>(key & ((1u << coordinate_bits) - 1)) - coordinate_bias;
    key >>= coordinate_bits;
  }
  image = static_cast<std::int64_t>(key);
}

// Rounds half away from zero (the CPU's round_to_int).
__device__ std::int32_t round_to_int(float v) {
  return static_cast<std::int32_t>(v >= 0 ? floorf(v + 0.5f) : ceilf(v - 0.5f));
}

__global__ void embed_kernel(const float* __restrict__ images, std::int64_t points, std::int64_t h, std::int64_t w,
                             LatticeConstants c, std::uint64_t* __restrict__ keys, std::int32_t* __restrict__ entries,
                             float* __restrict__ weights, int* __restrict__ out_of_range) {
  const std::int64_t n = h * w;
  for (std::int64_t p = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; p < points;
       p += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t b = p / n, i = p - b * n, y = i / w, x = i - y * w;
    const float* image = images + b * 3 * n + i;
    float f[D];
    f[0] = static_cast<float>(x) * c.inv_xy;  // column first, as the CPU
    f[1] = static_cast<float>(y) * c.inv_xy;
    for (int k = 0; k < 3; ++k) f[2 + k] = image[k * n] * c.inv_rgb;
    // The CPU's embed, operation by operation.
    float elevated[D + 1];
    float sum = 0;
    for (int j = D; j > 0; --j) {
      const float cf = f[j - 1] * c.scale[j - 1];
      elevated[j] = sum - static_cast<float>(j) * cf;
      sum += cf;
    }
    elevated[0] = sum;
    bool fits = true;  // NaN, infinities and huge pixels: no simplex (the rounding below would overflow)
    for (int k = 0; k <= D; ++k) fits = fits && fabsf(elevated[k]) < 1024.0f;
    if (!fits) {
      *out_of_range = 1;
      for (int r = 0; r <= D; ++r) {
        const std::int64_t e = p * (D + 1) + r;
        keys[e] = 0;
        entries[e] = static_cast<std::int32_t>(e);
        weights[e] = 0.0f;
      }
      continue;
    }
    std::int32_t rem0[D + 1], rank[D + 1];
    std::int32_t off_plane = 0;
    for (int k = 0; k <= D; ++k) {
      const std::int32_t rounded = round_to_int(elevated[k] / (D + 1));
      rem0[k] = rounded * (D + 1);
      off_plane += rounded;
      rank[k] = 0;
    }
    float diff[D + 1];
    for (int k = 0; k <= D; ++k) diff[k] = elevated[k] - static_cast<float>(rem0[k]);
    for (int a = 0; a < D; ++a)
      for (int bb = a + 1; bb <= D; ++bb) {
        const std::int32_t a_first = diff[a] < diff[bb];
        rank[a] += a_first;
        rank[bb] += 1 - a_first;
      }
    for (int k = 0; k <= D; ++k) {
      rank[k] += off_plane;
      if (rank[k] < 0) {
        rank[k] += D + 1;
        rem0[k] += D + 1;
      } else if (rank[k] > D) {
        rank[k] -= D + 1;
        rem0[k] -= D + 1;
      }
    }
    float bary[D + 2];
    for (int k = 0; k < D + 2; ++k) bary[k] = 0;
    for (int k = 0; k <= D; ++k) {
      const float v = (elevated[k] - static_cast<float>(rem0[k])) / (D + 1);
      const int r = D - rank[k];
      bary[r] += v;
      bary[r + 1] -= v;
    }
    bary[0] += 1.0f + bary[D + 1];
    for (int r = 0; r <= D; ++r) {
      std::int32_t key[D];
      for (int k = 0; k < D; ++k) key[k] = rem0[k] + (rank[k] <= D - r ? r : r - (D + 1));
      const std::int64_t e = p * (D + 1) + r;
      if (!pack(b, key, keys[e])) {
        *out_of_range = 1;
        keys[e] = 0;
      }
      entries[e] = static_cast<std::int32_t>(e);
      weights[e] = bary[r];
    }
  }
}

__global__ void heads_kernel(const std::uint64_t* __restrict__ sorted_keys, std::int64_t count,
                             std::int32_t* __restrict__ heads) {
  for (std::int64_t j = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; j < count;
       j += std::int64_t(gridDim.x) * blockDim.x)
    heads[j] = j == 0 || sorted_keys[j] != sorted_keys[j - 1];
}

// vertex_count points at the last id of lattice_number's inclusive scan: the number of vertices,
// known only on the device. The vertex tables are sized for the most there can be (every entry its
// own vertex), so the host never reads the count; threads past it do nothing.

__global__ void compact_kernel(const std::uint64_t* __restrict__ sorted_keys,
                               const std::int32_t* __restrict__ sorted_entries, const std::int32_t* __restrict__ ids,
                               std::int64_t count, std::uint64_t* __restrict__ vertex_keys,
                               std::int32_t* __restrict__ first, std::int32_t* __restrict__ vertex_of) {
  for (std::int64_t j = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; j < count;
       j += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int32_t v = ids[j] - 1;
    if (j == 0 || sorted_keys[j] != sorted_keys[j - 1]) {
      vertex_keys[v] = sorted_keys[j];
      first[v] = static_cast<std::int32_t>(j);
    }
    if (j == count - 1) first[ids[j]] = static_cast<std::int32_t>(count);  // first[vertices]
    vertex_of[sorted_entries[j]] = v;
  }
}

// The index of `key` among the sorted vertex keys, −1 when absent.
__device__ std::int32_t find_vertex(const std::uint64_t* keys, std::int64_t vertices, std::uint64_t key) {
  std::int64_t lo = 0, hi = vertices;
  while (lo < hi) {
    const std::int64_t mid = (lo + hi) / 2;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo < vertices && keys[lo] == key ? static_cast<std::int32_t>(lo) : -1;
}

/// The longest run of a vertex's contributions that one thread adds alone, in the CPU's order.
constexpr std::int32_t serial_entries = 32;

/// sum[k] += weight · probs[k] of each entry j in [begin, end) with the step `step` (the vertex's
/// contributions, point by point).
__device__ void add_entries(const std::int32_t* __restrict__ sorted_entries, const float* __restrict__ weights,
                            const float* __restrict__ probs, std::int64_t channels, std::int64_t points_per_image,
                            std::int32_t begin, std::int32_t end, std::int32_t step, float* sum) {
  // j is 64-bit: with `end` near INT32_MAX, a 32-bit j + step would overflow before the test.
  for (std::int64_t j = begin; j < end; j += step) {
    const std::int32_t e = sorted_entries[j];
    const std::int64_t p = e / (D + 1), b = p / points_per_image, i = p - b * points_per_image;
    const float weight = weights[e];
    const float* in = probs + b * channels * points_per_image + i;
    for (std::int64_t k = 0; k < channels; ++k) sum[k] += weight * in[k * points_per_image];
  }
}

// The splat, one thread per vertex: up to serial_entries contributions are added by the vertex's
// thread in the CPU's order (point by point: the CPU's bits). Longer runs, which flat regions at
// large σ_xy give (a vertex of a uniform 224² image at σ_xy 100 gathers thousands of points),
// would leave one thread adding them all: the warp takes them one by one, lane l adding entries
// l, l + 32, …, and combines the lanes' sums by a fixed shuffle tree. Deterministic either way,
// and within float rounding of the CPU's sum. A warp's 32 vertices are consecutive and its loop
// is uniform (block_threads is a multiple of 32), so every lane reaches the ballot and shuffles.
__global__ void splat_kernel(const std::int32_t* __restrict__ first, const std::int32_t* __restrict__ sorted_entries,
                             const float* __restrict__ weights, const float* __restrict__ probs,
                             const std::int32_t* __restrict__ vertex_count, std::int64_t capacity,
                             std::int64_t channels, std::int64_t points_per_image, float* __restrict__ values) {
  const std::int64_t vertices = *vertex_count;
  const int lane = static_cast<int>(threadIdx.x % warp_size);
  for (std::int64_t base = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x - lane;
       base <= capacity && base <= vertices; base += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t v = base + lane;
    const bool vertex = v < vertices;
    const std::int32_t begin = vertex ? first[v] : 0, end = vertex ? first[v + 1] : 0;
    const bool long_run = end - begin > serial_entries;
    if (v == vertices) {  // row 0: the zero of missing neighbours
      for (std::int64_t k = 0; k < channels; ++k) values[k] = 0.0f;
    } else if (vertex && !long_run) {
      float sum[8] = {};  // channels ≤ 8 (checked by the caller)
      add_entries(sorted_entries, weights, probs, channels, points_per_image, begin, end, 1, sum);
      for (std::int64_t k = 0; k < channels; ++k) values[(v + 1) * channels + k] = sum[k];
    }
    for (unsigned pending = __ballot_sync(full_warp, long_run); pending != 0; pending &= pending - 1) {
      const int owner = __ffs(static_cast<int>(pending)) - 1;
      const std::int32_t run_begin = __shfl_sync(full_warp, begin, owner), run_end = __shfl_sync(full_warp, end, owner);
      float sum[8] = {};
      add_entries(sorted_entries, weights, probs, channels, points_per_image, run_begin + lane, run_end, warp_size,
                  sum);
      for (int offset = warp_size / 2; offset > 0; offset /= 2)
        for (std::int64_t k = 0; k < channels; ++k) sum[k] += __shfl_down_sync(full_warp, sum[k], offset);
      if (lane == 0)
        for (std::int64_t k = 0; k < channels; ++k) values[(base + owner + 1) * channels + k] = sum[k];
    }
  }
}

// One blur direction j: each vertex adds half of its two neighbours along j, the vertices
// v ∓ (1, …, 1, −D at j, 1, …) of the same image (by binary search; absent ones read row 0).
__global__ void blur_kernel(const float* __restrict__ in, const std::uint64_t* __restrict__ vertex_keys,
                            const std::int32_t* __restrict__ vertex_count, std::int64_t capacity, int j,
                            std::int64_t channels, float* __restrict__ out) {
  const std::int64_t vertices = *vertex_count;
  for (std::int64_t v = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; v <= capacity && v <= vertices;
       v += std::int64_t(gridDim.x) * blockDim.x) {
    if (v == vertices) {
      for (std::int64_t k = 0; k < channels; ++k) out[k] = 0.0f;
      continue;
    }
    std::int64_t image = 0;
    std::int32_t key[D], n1[D], n2[D];
    unpack(vertex_keys[v], image, key);
    for (int k = 0; k < D; ++k) {
      n1[k] = key[k] - 1;
      n2[k] = key[k] + 1;
    }
    if (j < D) {
      n1[j] = key[j] + D;
      n2[j] = key[j] - D;
    }
    std::uint64_t packed = 0;
    const std::int32_t na = pack(image, n1, packed) ? find_vertex(vertex_keys, vertices, packed) : -1;
    const std::int32_t nb = pack(image, n2, packed) ? find_vertex(vertex_keys, vertices, packed) : -1;
    const float* self = in + (v + 1) * channels;
    const float* a = in + (static_cast<std::int64_t>(na) + 1) * channels;
    const float* b = in + (static_cast<std::int64_t>(nb) + 1) * channels;
    float* dst = out + (v + 1) * channels;
    for (std::int64_t k = 0; k < channels; ++k) dst[k] = self[k] + 0.5f * (a[k] + b[k]);
  }
}

__global__ void slice_kernel(const std::int32_t* __restrict__ vertex_of, const float* __restrict__ weights,
                             const float* __restrict__ values, float alpha, const int* __restrict__ out_of_range,
                             std::int64_t points, std::int64_t channels, std::int64_t points_per_image,
                             float* __restrict__ out) {
  const bool poisoned = *out_of_range != 0;  // a key did not fit: no lattice, NaN rather than a wrong W·S
  for (std::int64_t p = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; p < points;
       p += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t b = p / points_per_image, i = p - b * points_per_image;
    if (poisoned) {
      for (std::int64_t k = 0; k < channels; ++k)
        out[(b * channels + k) * points_per_image + i] = __int_as_float(0x7fc00000);  // NaN
      continue;
    }
    float sum[8] = {};
    for (int r = 0; r <= D; ++r) {
      const std::int64_t e = p * (D + 1) + r;
      const float* v = values + (static_cast<std::int64_t>(vertex_of[e]) + 1) * channels;
      const float weight = weights[e] * alpha;
      for (std::int64_t k = 0; k < channels; ++k) sum[k] += weight * v[k];
    }
    for (std::int64_t k = 0; k < channels; ++k) out[(b * channels + k) * points_per_image + i] = sum[k];
  }
}

}  // namespace

void lattice_embed(const float* images, std::int64_t batch, std::int64_t h, std::int64_t w, const LatticeConstants& c,
                   std::uint64_t* keys, std::int32_t* entries, float* weights, int* out_of_range, cudaStream_t stream) {
  const std::int64_t points = batch * h * w;
  if (points == 0) return;
  embed_kernel<<<grid_for(points), block_threads, 0, stream>>>(images, points, h, w, c, keys, entries, weights,
                                                                out_of_range);
}

std::size_t lattice_sort_workspace(std::int64_t count) {
  std::size_t sort_bytes = 0, scan_bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, static_cast<const std::uint64_t*>(nullptr),
                                  static_cast<std::uint64_t*>(nullptr), static_cast<const std::int32_t*>(nullptr),
                                  static_cast<std::int32_t*>(nullptr), static_cast<int>(count));
  cub::DeviceScan::InclusiveSum(nullptr, scan_bytes, static_cast<const std::int32_t*>(nullptr),
                                static_cast<std::int32_t*>(nullptr), static_cast<int>(count));
  return sort_bytes > scan_bytes ? sort_bytes : scan_bytes;
}

cudaError_t lattice_sort(const std::uint64_t* keys, const std::int32_t* entries, std::uint64_t* sorted_keys,
                         std::int32_t* sorted_entries, std::int64_t count, void* temp, std::size_t temp_bytes,
                         cudaStream_t stream) {
  return cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys, sorted_keys, entries, sorted_entries,
                                         static_cast<int>(count), 0, 64, stream);
}

cudaError_t lattice_number(const std::uint64_t* sorted_keys, std::int32_t* heads, std::int32_t* ids,
                           std::int64_t count, void* temp, std::size_t temp_bytes, cudaStream_t stream) {
  heads_kernel<<<grid_for(count), block_threads, 0, stream>>>(sorted_keys, count, heads);
  if (const cudaError_t launched = cudaGetLastError(); launched != cudaSuccess) return launched;
  return cub::DeviceScan::InclusiveSum(temp, temp_bytes, heads, ids, static_cast<int>(count), stream);
}

void lattice_compact(const std::uint64_t* sorted_keys, const std::int32_t* sorted_entries, const std::int32_t* ids,
                     std::int64_t count, std::uint64_t* vertex_keys, std::int32_t* first, std::int32_t* vertex_of,
                     cudaStream_t stream) {
  compact_kernel<<<grid_for(count), block_threads, 0, stream>>>(sorted_keys, sorted_entries, ids, count, vertex_keys,
                                                                 first, vertex_of);
}

void lattice_splat(const std::int32_t* first, const std::int32_t* sorted_entries, const float* weights,
                   const float* probs, const std::int32_t* vertex_count, std::int64_t capacity, std::int64_t channels,
                   std::int64_t points_per_image, float* values, cudaStream_t stream) {
  splat_kernel<<<grid_for(capacity + 1), block_threads, 0, stream>>>(first, sorted_entries, weights, probs,
                                                                     vertex_count, capacity, channels,
                                                                     points_per_image, values);
}

void lattice_blur(const float* in, const std::uint64_t* vertex_keys, const std::int32_t* vertex_count,
                  std::int64_t capacity, int direction, std::int64_t channels, float* out, cudaStream_t stream) {
  blur_kernel<<<grid_for(capacity + 1), block_threads, 0, stream>>>(in, vertex_keys, vertex_count, capacity,
                                                                    direction, channels, out);
}

void lattice_slice(const std::int32_t* vertex_of, const float* weights, const float* values, float alpha,
                   const int* out_of_range, std::int64_t points, std::int64_t channels, std::int64_t points_per_image,
                   float* out, cudaStream_t stream) {
  slice_kernel<<<grid_for(points), block_threads, 0, stream>>>(vertex_of, weights, values, alpha, out_of_range,
                                                               points, channels, points_per_image, out);
}

}  // namespace fcam::cuda::launch

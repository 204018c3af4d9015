// The keyed pseudo-label sampler (ops/region_labels.hpp), one block per CAM, in the order of the
// CPU reference sampling::keyed_region_labels: quantise and histogram, Otsu, erosion, the
// background candidates, the keyed draws, the dilation. It gives the CPU's bits: the histograms
// count integers (shared atomics on integers do not depend on their order), Otsu and the keys use
// the shared rules of fcam/ops/region_rules.hpp, and the k-th smallest key is found by a radix
// select whose histograms are integer counts too. No float is ever added, so contraction into
// fused multiply-adds cannot change anything here.
#include "block_reduce.cuh"
#include "fcam/ops/region_rules.hpp"
#include "launch.hpp"
#include "region_labels_kernels.hpp"

namespace fcam::cuda::launch {

namespace {

using region_rules::draw_key;
using region_rules::value_key;

/// The key of rank `rank` (0-based) among key(i) of the pixels i < plane with member(i), by an
/// 8-bit radix select from the top byte. requires: rank < the number of members; every thread
/// of the block calls it.
template <class Key, class Member>
__device__ std::uint64_t select_key(std::int64_t plane, std::uint64_t rank, Key key, Member member) {
  __shared__ unsigned counts[256];
  __shared__ std::uint64_t prefix, remaining;
  if (threadIdx.x == 0) prefix = 0, remaining = rank;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (unsigned d = threadIdx.x; d < 256; d += blockDim.x) counts[d] = 0;
    __syncthreads();
    const std::uint64_t known = prefix, high = shift == 56 ? 0 : ~0ull << (shift + 8);
    for (std::int64_t i = threadIdx.x; i < plane; i += blockDim.x) {
      if (!member(i)) continue;
      const std::uint64_t k = key(i);
      if ((k & high) == known) atomicAdd(&counts[(k >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (threadIdx.x == 0) {  // the digit whose bin holds the rank
      unsigned d = 0;
      while (counts[d] <= remaining) remaining -= counts[d], ++d;
      prefix = known | (static_cast<std::uint64_t>(d) << shift);
    }
    __syncthreads();
  }
  const std::uint64_t result = prefix;
  __syncthreads();  // a following call resets prefix only after everyone has read it
  return result;
}

/// out = the OR (`any`) or the AND of in over a window of ±r pixels along x (step 1) or y (step
/// w), inside the image: the dilation's passes, and the erosion's, whose border does not erode (as
/// sampling::erode_square).
template <bool any>
__device__ void window_pass(const std::uint8_t* in, std::uint8_t* out, std::int64_t h, std::int64_t w,
                            std::int64_t r, bool along_x) {
  for (std::int64_t i = threadIdx.x; i < h * w; i += blockDim.x) {
    const std::int64_t y = i / w, x = i - y * w, at = along_x ? x : y, len = along_x ? w : h;
    const std::int64_t step = along_x ? 1 : w;
    std::uint8_t v = any ? 0 : 1;
    for (std::int64_t j = at > r ? at - r : 0; j <= (at + r < len ? at + r : len - 1); ++j) {
      const std::uint8_t u = in[i + (j - at) * step];
      v = static_cast<std::uint8_t>(any ? (v | u) : (v & u));
    }
    out[i] = v;
  }
}

__device__ void fill_unlabelled(std::uint8_t* out, std::int64_t plane) {
  for (std::int64_t i = threadIdx.x; i < plane; i += blockDim.x) out[i] = 255;
}

__global__ void keyed_region_labels_kernel(const float* __restrict__ cams, std::int64_t h, std::int64_t w,
                                           RegionParams p, std::uint64_t seed, std::uint8_t* __restrict__ work,
                                           std::uint8_t* __restrict__ labels, std::int64_t* __restrict__ labelled) {
  const std::int64_t plane = h * w, image = blockIdx.x;
  const float* cam = cams + image * plane;
  std::uint8_t* out = labels + image * plane;
  std::uint8_t* a = work + image * 3 * plane;  // 8-bit CAM, then the eroded candidates
  std::uint8_t* b = a + plane;                 // foreground candidates, then the row pass of the dilation
  std::uint8_t* c = b + plane;                 // row pass of the erosion, then the drawn pixels

  __shared__ std::uint32_t histogram[256];
  __shared__ int has_nan, threshold;
  for (unsigned d = threadIdx.x; d < 256; d += blockDim.x) histogram[d] = 0;
  if (threadIdx.x == 0) has_nan = 0;
  __syncthreads();
  for (std::int64_t i = threadIdx.x; i < plane; i += blockDim.x) {
    const float v = cam[i];
    if (v != v) {
      has_nan = 1;
      continue;
    }
    const std::uint8_t u = region_rules::quantise(v);
    a[i] = u;
    atomicAdd(&histogram[u], 1u);
  }
  __syncthreads();
  if (threadIdx.x == 0) {  // -1: no labels (a constant 8-bit map, or NaN)
    int bins = 0;
    for (int d = 0; d < 256; ++d) bins += histogram[d] != 0;
    const int t = has_nan || bins < 2 ? -1 : region_rules::otsu_threshold_of_counts(histogram);
    threshold = t < 0 ? -1 : (t < 1 ? 1 : (t > 254 ? 254 : t));
  }
  __syncthreads();
  if (threshold < 0) {
    fill_unlabelled(out, plane);
    if (threadIdx.x == 0) labelled[image] = has_nan ? -1 : 0;
    return;
  }

  // Foreground candidates, eroded unless that empties them.
  for (std::int64_t i = threadIdx.x; i < plane; i += blockDim.x) b[i] = a[i] > threshold;
  __syncthreads();
  const std::uint8_t* members = b;
  if (p.erosion > 1) {
    window_pass<false>(b, c, h, w, p.erosion / 2, true);
    __syncthreads();
    window_pass<false>(c, a, h, w, p.erosion / 2, false);
    unsigned any = 0;
    for (std::int64_t i = threadIdx.x; i < plane; i += blockDim.x) any |= a[i];
    if (block_reduce(any, Sum{}) != 0) members = a;  // block_reduce synchronises the block
  }
  unsigned long long members_count = 0;
  for (std::int64_t i = threadIdx.x; i < plane; i += blockDim.x) members_count += members[i];
  const auto pool = static_cast<std::int64_t>(block_reduce(members_count, Sum{}));

  // Background candidates: the p.candidates smallest (value, pixel) keys.
  const auto value_of = [cam](std::int64_t i) { return value_key(cam[i], static_cast<std::uint32_t>(i)); };
  const auto everyone = [](std::int64_t) { return true; };
  const std::uint64_t last_candidate =
      p.candidates > 0 ? select_key(plane, static_cast<std::uint64_t>(p.candidates - 1), value_of, everyone) : 0;
  const auto candidate = [&](std::int64_t i) { return p.candidates > 0 && value_of(i) <= last_candidate; };

  // The draws: the keys up to the take-th smallest of each pool (all of a pool that is not larger).
  const auto fg_key = [&](std::int64_t i) { return draw_key(seed, image, 0, static_cast<std::uint32_t>(i)); };
  const auto bg_key = [&](std::int64_t i) { return draw_key(seed, image, 1, static_cast<std::uint32_t>(i)); };
  const auto is_member = [members](std::int64_t i) { return members[i] != 0; };
  const std::int64_t fg_take = p.n_foreground < pool ? p.n_foreground : pool;
  const std::int64_t bg_take = p.n_background < p.candidates ? p.n_background : p.candidates;
  const std::uint64_t fg_last = fg_take <= 0 ? 0
                                : fg_take == pool
                                    ? ~0ull
                                    : select_key(plane, static_cast<std::uint64_t>(fg_take - 1), fg_key, is_member);
  const std::uint64_t bg_last = bg_take <= 0 ? 0
                                : bg_take == p.candidates
                                    ? ~0ull
                                    : select_key(plane, static_cast<std::uint64_t>(bg_take - 1), bg_key, candidate);
  for (std::int64_t i = threadIdx.x; i < plane; i += blockDim.x) {
    const bool fg = fg_take > 0 && members[i] && fg_key(i) <= fg_last;
    const bool bg = bg_take > 0 && candidate(i) && bg_key(i) <= bg_last;
    c[i] = static_cast<std::uint8_t>((fg ? 1 : 0) | (bg ? 2 : 0));
  }
  __syncthreads();

  // Dilation: which sides reach each pixel (an OR over the square, row then column).
  window_pass<true>(c, b, h, w, p.dilation / 2, true);
  __syncthreads();
  window_pass<true>(b, c, h, w, p.dilation / 2, false);
  __syncthreads();
  unsigned long long count = 0;
  for (std::int64_t i = threadIdx.x; i < plane; i += blockDim.x) {
    out[i] = c[i] == 1 ? 1 : (c[i] == 2 ? 0 : 255);
    count += c[i] == 1 || c[i] == 2;
  }
  count = block_reduce(count, Sum{});
  if (threadIdx.x == 0) labelled[image] = static_cast<std::int64_t>(count);
}

}  // namespace

void keyed_region_labels(const float* cams, std::int64_t count, std::int64_t h, std::int64_t w,
                         const RegionParams& params, std::uint64_t seed, std::uint8_t* work, std::uint8_t* labels,
                         std::int64_t* labelled, cudaStream_t stream) {
  if (count == 0) return;
  keyed_region_labels_kernel<<<static_cast<unsigned>(count), block_threads, 0, stream>>>(cams, h, w, params, seed,
                                                                                         work, labels, labelled);
}

}  // namespace fcam::cuda::launch

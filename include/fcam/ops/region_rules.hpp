/// \file
/// \brief The arithmetic that the CPU and the GPU samplers of F-CAM's pseudo-labels share, so that
/// both give the same bits: Otsu's threshold from a 256-bin histogram and the random key of the
/// keyed draws (both used by either side), and the 8-bit quantisation and (value, pixel) order of
/// the GPU, which the CPU's sampling_pools states with std::clamp and a sort comparator (the same
/// results for float CAMs; tests/test_region_labels.cpp checks the order). C++17 with no other
/// fcam header, because nvcc compiles it too (cuda/region_labels.cu).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define FCAM_REGION_RULE __host__ __device__
#else
#define FCAM_REGION_RULE
#endif

namespace fcam::region_rules {

/// Otsu's threshold of an 8-bit image from its histogram (`counts[v]` pixels of value v, at least
/// one non-zero): skimage.filters.threshold_otsu on an integer image, i.e. one bin per value
/// between the image's min and max, the bin maximising w1·w2·(m1 − m2)² (first maximum); a
/// constant image returns its value. The class sums are integers below 2^53, so they are exact
/// in double whether accumulated from below or from above, and the upper class is taken as the
/// total minus the lower one; this is why fused multiply-adds cannot change the result either.
FCAM_REGION_RULE inline int otsu_threshold_of_counts(const std::uint32_t* counts) {
  int lo = 0, hi = 255;
  while (counts[lo] == 0) ++lo;
  while (counts[hi] == 0) --hi;
  if (lo == hi) return lo;
  double total_w = 0, total_s = 0;
  for (int v = lo; v <= hi; ++v) total_w += counts[v], total_s += static_cast<double>(counts[v]) * v;
  double w1 = 0, s1 = 0, best_variance = -1;
  int best = lo;
  for (int v = lo; v < hi; ++v) {  // split between v and v + 1
    w1 += counts[v];
    s1 += static_cast<double>(counts[v]) * v;
    const double w2 = total_w - w1;
    const double d = s1 / w1 - (total_s - s1) / w2;
    const double variance = w1 * w2 * d * d;
    if (variance > best_variance) best_variance = variance, best = v;
  }
  return best;
}

/// The 8-bit value of a CAM value: ⌊255·v⌋ clamped to [0, 255] (v is not NaN).
FCAM_REGION_RULE inline std::uint8_t quantise(float v) {
  const float scaled = v * 255.0f;
  return static_cast<std::uint8_t>(scaled < 0.0f ? 0.0f : (scaled > 255.0f ? 255.0f : scaled));
}

/// A 64-bit key whose unsigned order is the order (value, pixel) of a CAM's pixels: the value's
/// bits made monotone in the high half (−0 counts as +0, as `<` on floats does), the pixel index
/// in the low half. The ⌊n_minus·N⌋ smallest keys are the background candidates.
FCAM_REGION_RULE inline std::uint64_t value_key(float value, std::uint32_t pixel) {
  std::uint32_t bits = 0;
  const float v = value == 0.0f ? 0.0f : value;
  std::memcpy(&bits, &v, sizeof bits);
  bits = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<std::uint64_t>(bits) << 32) | pixel;
}

/// splitmix64's output function: a bijection of 64-bit words that mixes every input bit.
FCAM_REGION_RULE inline std::uint64_t mix64(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// The random key of `pixel` in `pool` (0 foreground, 1 background) of image `image` for the
/// draws of a step seeded `seed`: 32 random bits above the pixel index, so that keys of one pool
/// are distinct. Drawing the `count` candidates with the smallest keys is a uniform draw without
/// replacement that any thread can evaluate in any order (the GPU's rule).
FCAM_REGION_RULE inline std::uint64_t draw_key(std::uint64_t seed, std::uint64_t image, std::uint32_t pool,
                                               std::uint32_t pixel) {
  const std::uint64_t stream = mix64(seed ^ mix64(2 * image + pool + 1));
  const std::uint64_t random = mix64(stream + 0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(pixel) + 1));
  return (random & 0xFFFFFFFF00000000ull) | pixel;
}

}  // namespace fcam::region_rules

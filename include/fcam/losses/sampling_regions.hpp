/// \file
/// \brief F-CAM's pseudo-labels from a CAM (docs/method.md §5.1): Otsu foreground, eroded; the
/// lowest-CAM fraction as background; a few pixels sampled from each, dilated; conflicts ignored.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/core/rng.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"

namespace fcam::losses {

/// Label values of a pseudo-label map.
enum PixelLabel : std::uint8_t { background = 0, foreground = 1, unlabelled = 255 };

/// Settings of the sampling (the authors' CUB run: 1 + 1 pixels, 3×3 dilation).
struct SamplingOptions {
  std::int64_t n_foreground = 1;  ///< pixels sampled from the foreground candidates
  std::int64_t n_background = 1;  ///< pixels sampled from the background candidates
  double n_minus = 0.1;           ///< fraction of pixels (lowest CAM) that are background candidates
  std::int64_t erosion = 11;      ///< square erosion of the foreground candidates (1: none)
  std::int64_t dilation = 3;      ///< square dilation of each sampled pixel (1: none)
};

/// Otsu's threshold of an 8-bit image the way skimage.filters.threshold_otsu computes it on an
/// integer image: one histogram bin per integer value between the image's min and max, the
/// threshold is the bin value maximising the between-class variance (first maximum); a constant
/// image returns its value.
inline int otsu_threshold(std::span<const std::uint8_t> values) {
  FCAM_CHECK(!values.empty(), "otsu_threshold: empty image");
  std::array<double, 256> counts{};
  for (const std::uint8_t v : values) counts[v] += 1;
  int lo = 0, hi = 255;
  while (counts[static_cast<std::size_t>(lo)] == 0) ++lo;
  while (counts[static_cast<std::size_t>(hi)] == 0) --hi;
  if (lo == hi) return lo;
  // Class weights and means below and above each split (bins lo..hi).
  const int bins = hi - lo + 1;
  std::vector<double> w1(static_cast<std::size_t>(bins)), m1(static_cast<std::size_t>(bins));
  std::vector<double> w2(static_cast<std::size_t>(bins)), m2(static_cast<std::size_t>(bins));
  double cw = 0, cs = 0;
  for (int b = 0; b < bins; ++b) {
    cw += counts[static_cast<std::size_t>(lo + b)];
    cs += counts[static_cast<std::size_t>(lo + b)] * (lo + b);
    w1[static_cast<std::size_t>(b)] = cw;
    m1[static_cast<std::size_t>(b)] = cs / cw;
  }
  cw = 0, cs = 0;
  for (int b = bins - 1; b >= 0; --b) {
    cw += counts[static_cast<std::size_t>(lo + b)];
    cs += counts[static_cast<std::size_t>(lo + b)] * (lo + b);
    w2[static_cast<std::size_t>(b)] = cw;
    m2[static_cast<std::size_t>(b)] = cs / cw;
  }
  int best = 0;
  double best_variance = -1;
  for (int b = 0; b + 1 < bins; ++b) {
    const double d = m1[static_cast<std::size_t>(b)] - m2[static_cast<std::size_t>(b + 1)];
    const double v = w1[static_cast<std::size_t>(b)] * w2[static_cast<std::size_t>(b + 1)] * d * d;
    if (v > best_variance) best_variance = v, best = b;
  }
  return lo + best;
}

/// Erosion of a binary h×w mask by a k×k square (k odd), pixels outside the image counting as
/// set (so the border does not erode). Separable: a row pass, then a column pass.
inline std::vector<std::uint8_t> erode_square(const std::vector<std::uint8_t>& mask, std::int64_t h, std::int64_t w,
                                              std::int64_t k) {
  const std::int64_t r = k / 2;
  std::vector<std::uint8_t> rows(mask.size()), out(mask.size());
  // A pixel survives a 1-D pass when no unset pixel lies within r of it (inside the image).
  // The line of `len` pixels from `first`, `stride` apart, of `in` into the same pixels of `o`.
  auto pass = [r](const std::vector<std::uint8_t>& in, std::vector<std::uint8_t>& o, std::int64_t first,
                  std::int64_t len, std::int64_t stride) {
    auto at = [&](std::int64_t i) { return static_cast<std::size_t>(first + i * stride); };
    std::int64_t last_unset = -(1 << 30);
    std::vector<std::int64_t> next_unset(static_cast<std::size_t>(len));
    std::int64_t next = 1 << 30;
    for (std::int64_t i = len - 1; i >= 0; --i) {
      if (!in[at(i)]) next = i;
      next_unset[static_cast<std::size_t>(i)] = next;
    }
    for (std::int64_t i = 0; i < len; ++i) {
      if (!in[at(i)]) last_unset = i;
      o[at(i)] = i - last_unset > r && next_unset[static_cast<std::size_t>(i)] - i > r;
    }
  };
  for (std::int64_t y = 0; y < h; ++y) pass(mask, rows, y * w, w, 1);
  for (std::int64_t x = 0; x < w; ++x) pass(rows, out, x, h, w);
  return out;
}

/// The candidates of one CAM (sample_regions' first phase): foreground and background pixel
/// indices, which draw_samples cuts down to the drawn pixels. `constant` marks a map without
/// labels (no draws).
struct SamplingPools {
  bool constant = true;
  std::vector<std::int64_t> foreground;
  std::vector<std::int64_t> background;
};

/// sample_regions' candidates of one h×w CAM (no draws): Otsu foreground, eroded, and the
/// lowest-CAM background fraction.
template <Scalar T>
SamplingPools sampling_pools(std::span<const T> cam, std::int64_t h, std::int64_t w, const SamplingOptions& o) {
  FCAM_CHECK(h > 0 && w > 0, "sample_regions: empty CAM");
  FCAM_CHECK(static_cast<std::int64_t>(cam.size()) == h * w, "sample_regions: ", cam.size(), " values for a ", h,
             "x", w, " CAM");
  FCAM_CHECK(o.erosion >= 1 && o.erosion % 2 == 1 && o.dilation >= 1 && o.dilation % 2 == 1,
             "sample_regions: erosion and dilation must be odd and >= 1");
  FCAM_CHECK(o.n_minus >= 0 && o.n_minus <= 1 && o.n_foreground >= 0 && o.n_background >= 0,
             "sample_regions: n_minus must be in [0, 1] and the sample counts >= 0");
  const std::int64_t n = h * w;
  std::vector<std::uint8_t> u8(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const T v = cam[i];
    FCAM_CHECK(v == v, "sample_regions: the CAM holds NaN");
    u8[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(std::clamp(v * T(255), T(0), T(255)));
  }
  SamplingPools pools;
  if (std::all_of(u8.begin(), u8.end(), [&](std::uint8_t v) { return v == u8[0]; })) return pools;
  pools.constant = false;

  const int threshold = std::clamp(otsu_threshold(u8), 1, 254);
  std::vector<std::uint8_t> fg(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < fg.size(); ++i) fg[i] = u8[i] > threshold;
  if (o.erosion > 1) {
    std::vector<std::uint8_t> eroded = erode_square(fg, h, w, o.erosion);
    if (std::any_of(eroded.begin(), eroded.end(), [](std::uint8_t v) { return v != 0; })) fg.swap(eroded);
  }
  for (std::int64_t i = 0; i < n; ++i)
    if (fg[static_cast<std::size_t>(i)]) pools.foreground.push_back(i);

  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const auto n_bg = static_cast<std::int64_t>(std::floor(o.n_minus * static_cast<double>(n)));
  std::partial_sort(order.begin(), order.begin() + n_bg, order.end(), [&](std::int64_t a, std::int64_t b) {
    return cam[a] < cam[b] || (cam[a] == cam[b] && a < b);
  });
  pools.background.assign(order.begin(), order.begin() + n_bg);
  return pools;
}

/// sample_regions' draws: n_foreground and n_background pixels of each pool, without replacement
/// (a partial Fisher–Yates shuffle, one rng.uniform() per drawn pixel); nothing for a constant map.
inline void draw_samples(SamplingPools& pools, const SamplingOptions& o, Rng& rng) {
  if (pools.constant) return;
  auto draw = [&rng](std::vector<std::int64_t>& pool, std::int64_t count) {
    count = std::min<std::int64_t>(count, static_cast<std::int64_t>(pool.size()));
    const auto size = static_cast<std::int64_t>(pool.size());
    for (std::int64_t k = 0; k < count; ++k) {  // uniform() < 1, so k <= j < size
      const auto j = k + static_cast<std::int64_t>(rng.uniform() * static_cast<double>(size - k));
      std::swap(pool[static_cast<std::size_t>(k)], pool[static_cast<std::size_t>(j)]);
    }
    pool.resize(static_cast<std::size_t>(count));
  };
  draw(pools.foreground, o.n_foreground);
  draw(pools.background, o.n_background);
}

/// sample_regions' labels from the drawn pixels: each dilated by a square; a pixel reached by
/// both sides stays unlabelled.
inline std::vector<std::uint8_t> labels_of_samples(const SamplingPools& drawn, std::int64_t h, std::int64_t w,
                                                   const SamplingOptions& o) {
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(h * w), unlabelled);
  if (drawn.constant) return labels;
  std::vector<std::uint8_t> reached(labels.size(), 0);  // bit 1: foreground, bit 2: background
  const std::int64_t r = o.dilation / 2;
  auto paint = [&](const std::vector<std::int64_t>& seeds, std::uint8_t bit) {
    for (const std::int64_t s : seeds)
      for (std::int64_t y = std::max<std::int64_t>(0, s / w - r); y <= std::min(h - 1, s / w + r); ++y)
        for (std::int64_t x = std::max<std::int64_t>(0, s % w - r); x <= std::min(w - 1, s % w + r); ++x)
          reached[static_cast<std::size_t>(y * w + x)] |= bit;
  };
  paint(drawn.foreground, 1);
  paint(drawn.background, 2);
  for (std::size_t i = 0; i < labels.size(); ++i)
    labels[i] = reached[i] == 1 ? foreground : reached[i] == 2 ? background : unlabelled;
  return labels;
}

/// The pseudo-labels of one h×w CAM (values in [0, 1], docs/method.md §5.1): foreground candidates
/// are u8 = ⌊255·C⌋ > Otsu(u8) (threshold clamped to [1, 254]), eroded (kept un-eroded when
/// erosion empties them); background candidates are the ⌊n_minus·N⌋ pixels of lowest C (ties:
/// lower index first). n_foreground and n_background pixels are drawn uniformly without
/// replacement from each (all of them when there are fewer), every sample is dilated by a
/// square, and pixels claimed by both sides stay unlabelled. A constant u8 map yields no labels.
/// `cam` holds the map's h·w values in host memory (host_values() of a tensor). Returns h·w labels
/// (PixelLabel).
template <Scalar T>
std::vector<std::uint8_t> sample_regions(std::span<const T> cam, std::int64_t h, std::int64_t w,
                                         const SamplingOptions& o, Rng& rng) {
  SamplingPools pools = sampling_pools(cam, h, w, o);
  draw_samples(pools, o, rng);
  return labels_of_samples(pools, h, w, o);
}

/// sample_regions of each of the `count` h×w CAMs stored one after the other in `cams`, with one
/// generator: the labels, concatenated, and the draws are those of calling sample_regions image
/// by image. The candidates and the dilation run on the kernel threads, image by image; only the
/// draws, which use `rng` in image order, run on this thread.
template <Scalar T>
std::vector<std::uint8_t> sample_regions_of_batch(std::span<const T> cams, std::int64_t count, std::int64_t h,
                                                  std::int64_t w, const SamplingOptions& o, Rng& rng) {
  FCAM_CHECK(count >= 0 && static_cast<std::int64_t>(cams.size()) == count * h * w, "sample_regions_of_batch: ",
             cams.size(), " values for ", count, " CAMs of ", h, "x", w);
  const auto plane = static_cast<std::size_t>(h * w);
  std::vector<SamplingPools> pools(static_cast<std::size_t>(count));
  parallel_items(count, [&](std::int64_t b) {
    pools[static_cast<std::size_t>(b)] = sampling_pools(cams.subspan(static_cast<std::size_t>(b) * plane, plane), h, w, o);
  });
  for (SamplingPools& p : pools) draw_samples(p, o, rng);
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(count) * plane);
  parallel_items(count, [&](std::int64_t b) {
    const std::vector<std::uint8_t> one = labels_of_samples(pools[static_cast<std::size_t>(b)], h, w, o);
    std::copy(one.begin(), one.end(), labels.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(b) * plane));
  });
  return labels;
}

}  // namespace fcam::losses

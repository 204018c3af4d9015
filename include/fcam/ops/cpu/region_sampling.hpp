/// \file
/// \brief CPU kernels of F-CAM's pseudo-labels (docs/method.md §5.1): the candidates of a CAM
/// (Otsu foreground, eroded; the lowest-CAM fraction as background), the keyed draws of the GPU's
/// rule, and the dilated labels. losses/sampling_regions.hpp adds the CPU's own draws (a generator,
/// image by image); ops/region_labels.hpp runs the keyed sampler on the CAMs' device.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/core/label_map.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/region_rules.hpp"
#include "fcam/ops/sampling_options.hpp"

namespace fcam::sampling {

/// Otsu's threshold of an 8-bit image the way skimage.filters.threshold_otsu computes it on an
/// integer image: one histogram bin per integer value between the image's min and max, the
/// threshold is the bin value maximising the between-class variance (first maximum); a constant
/// image returns its value.
inline int otsu_threshold(std::span<const std::uint8_t> values) {
  FCAM_CHECK(!values.empty(), "otsu_threshold: empty image");
  FCAM_CHECK(values.size() < (std::size_t{1} << 32), "otsu_threshold: ", values.size(), " pixels (at most 2^32 - 1)");
  std::array<std::uint32_t, 256> counts{};
  for (const std::uint8_t v : values) ++counts[v];
  return region_rules::otsu_threshold_of_counts(counts.data());
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
    std::int64_t last_unset = -(r + 1);  // unset pixels just outside the reach: none inside the line
    std::vector<std::int64_t> next_unset(static_cast<std::size_t>(len));
    std::int64_t next = len + r;
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

/// Throws fcam::Error unless erosion and dilation are odd and >= 1, n_minus is in [0, 1] and the
/// sample counts are >= 0.
inline void check_sampling_options(const SamplingOptions& o) {
  FCAM_CHECK(o.erosion >= 1 && o.erosion % 2 == 1 && o.dilation >= 1 && o.dilation % 2 == 1,
             "sample_regions: erosion and dilation must be odd and >= 1");
  FCAM_CHECK(o.n_minus >= 0 && o.n_minus <= 1 && o.n_foreground >= 0 && o.n_background >= 0,
             "sample_regions: n_minus must be in [0, 1] and the sample counts >= 0");
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
  check_sampling_options(o);
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

/// The draws of the GPU's sampler (ops/region_labels.hpp): from each pool the min(count, size)
/// candidates with the smallest region_rules::draw_key(seed, image, pool, pixel), pool 0 the
/// foreground and 1 the background; nothing for a constant map. A uniform draw without
/// replacement, as the generator's draws of losses::draw_samples, but other pixels.
inline void draw_keyed(SamplingPools& pools, const SamplingOptions& o, std::uint64_t seed, std::int64_t image) {
  if (pools.constant) return;
  auto draw = [&](std::vector<std::int64_t>& pool, std::int64_t count, std::uint32_t which) {
    count = std::min<std::int64_t>(count, static_cast<std::int64_t>(pool.size()));
    std::vector<std::uint64_t> keys(pool.size());  // the pixel index sits in the key's low half
    for (std::size_t i = 0; i < pool.size(); ++i)
      keys[i] = region_rules::draw_key(seed, static_cast<std::uint64_t>(image), which,
                                       static_cast<std::uint32_t>(pool[i]));
    std::partial_sort(keys.begin(), keys.begin() + count, keys.end());
    pool.resize(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < pool.size(); ++i) pool[i] = static_cast<std::int64_t>(keys[i] & 0xFFFFFFFFu);
  };
  draw(pools.foreground, o.n_foreground, 0);
  draw(pools.background, o.n_background, 1);
}

/// The labels of the GPU's sampler, computed on the CPU (its reference): each of the `count` h×w
/// CAMs stored one after the other in `cams` gets sampling_pools, draw_keyed as image b of a step
/// seeded `seed`, and labels_of_samples; the images run on the kernel threads. Returns the
/// labels, concatenated.
template <Scalar T>
std::vector<std::uint8_t> keyed_labels_of_batch(std::span<const T> cams, std::int64_t count, std::int64_t h,
                                              std::int64_t w, const SamplingOptions& o, std::uint64_t seed) {
  FCAM_CHECK(count >= 0 && static_cast<std::int64_t>(cams.size()) == count * h * w, "keyed_labels_of_batch: ",
             cams.size(), " values for ", count, " CAMs of ", h, "x", w);
  FCAM_CHECK(h * w < (std::int64_t{1} << 32), "keyed_labels_of_batch: ", h, "x", w,
             " pixels per CAM (at most 2^32 - 1)");
  const auto plane = static_cast<std::size_t>(h * w);
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(count) * plane);
  parallel_items(count, [&](std::int64_t b) {
    const std::size_t first = static_cast<std::size_t>(b) * plane;
    SamplingPools pools = sampling_pools(cams.subspan(first, plane), h, w, o);
    draw_keyed(pools, o, seed, b);
    const std::vector<std::uint8_t> one = labels_of_samples(pools, h, w, o);
    std::copy(one.begin(), one.end(), labels.begin() + static_cast<std::ptrdiff_t>(first));
  });
  return labels;
}
/// keyed_labels_of_batch of the N×H×W CAMs of a CPU tensor, as a LabelMap on the CPU.
template <Scalar T>
LabelMap keyed_label_map(const Tensor<T>& cams, const SamplingOptions& o, std::uint64_t seed) {
  const std::span<const T> values(cams.data(), static_cast<std::size_t>(cams.numel()));
  return LabelMap::from_host(keyed_labels_of_batch(values, cams.size(0), cams.size(1), cams.size(2), o, seed),
                             Device::cpu);
}

}  // namespace fcam::sampling

/// \file
/// \brief F-CAM's pseudo-labels from a CAM (docs/method.md §5.1): Otsu foreground, eroded; the
/// lowest-CAM fraction as background; a few pixels drawn from each by a generator, dilated;
/// conflicts ignored. The CPU's sampler; ops/region_labels.hpp has the keyed one of the GPU.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/core/rng.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/cpu/region_sampling.hpp"

namespace fcam::losses {

// The candidates, the labels and the option and label types are the ops' (ops/cpu/region_sampling.hpp),
// which the GPU sampler shares; they are named here as the loss's.
using sampling::background;
using sampling::draw_keyed;
using sampling::erode_square;
using sampling::foreground;
using sampling::labels_of_samples;
using sampling::otsu_threshold;
using sampling::PixelLabel;
using sampling::SamplingOptions;
using sampling::SamplingPools;
using sampling::sampling_pools;
using sampling::unlabelled;

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

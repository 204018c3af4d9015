/// \file
/// \brief The paper's downscale simulation (supplementary Fig. D.3 / E.4): how much a CAM's
/// resolution alone limits PxAP. The "CAM" is the ground-truth mask itself, averaged over z×z
/// blocks (a perfect low-resolution map at downscale factor z) and bilinearly upsampled back
/// (align_corners false, as CAMs are); its PxAP against the mask is the ceiling of any CAM of
/// that resolution.
#pragma once

#include <cstdint>
#include <filesystem>
#include <utility>
#include <vector>

#include "fcam/data/wsol_metadata.hpp"
#include "fcam/metrics/masks.hpp"
#include "fcam/metrics/pxap.hpp"
#include "fcam/ops/pooling.hpp"
#include "fcam/ops/resize.hpp"

namespace fcam::metrics {

/// The simulated full-resolution score map of an H×W mask (values 0/1) at downscale factor z:
/// the z×z block means (H and W must be multiples of z), upsampled bilinearly to H×W.
inline Tensor<float> downscaled_mask_scores(const Tensor<float>& mask, std::int64_t z) {
  FCAM_CHECK(mask.ndim() == 2, "downscaled_mask_scores: expected an H×W mask, got ", to_string(mask.shape()));
  const std::int64_t h = mask.size(0), w = mask.size(1);
  FCAM_CHECK(z >= 1 && h % z == 0 && w % z == 0, "downscaled_mask_scores: factor ", z, " does not divide ", h, "x", w);
  Pool2dGeometry blocks;
  blocks.kernel = z;
  const Tensor<float> low = avg_pool2d(mask.reshape({1, 1, h, w}), blocks);
  return resize_bilinear(low, h, w, false).reshape({h, w});  // as cam::upsample_maps does
}

/// \brief The downscale simulation over a split: (z, PxAP) per factor z.
///
/// For each factor z of `factors` that divides `size` (the others are skipped), the PxAP
/// (thresholds every `interval`) of the simulated maps of the split's masks `masks`, loaded from
/// `openimages_dir` at size×size by load_pixel_masks. Returns (z, PxAP) in the order of `factors`.
/// Each image's masks are read once for all factors; every factor still adds the images in the
/// split's order, so its PxAP is that of a pass of its own.
inline std::vector<std::pair<int, double>> downscale_simulation_pxap(const std::filesystem::path& openimages_dir,
                                                                     const std::vector<data::MaskSet>& masks, int size,
                                                                     const std::vector<int>& factors, double interval) {
  FCAM_CHECK(!masks.empty(), "downscale_simulation_pxap: the split has no masks");
  std::vector<int> kept;
  for (const int z : factors) {
    FCAM_CHECK(z >= 1, "downscale_simulation_pxap: factor ", z, " must be >= 1");
    if (size % z == 0) kept.push_back(z);
  }
  std::vector<PxapAccumulator> pixels(kept.size(), PxapAccumulator(interval));
  for (const data::MaskSet& set : masks) {
    const PixelMasks m = load_pixel_masks(openimages_dir, set, size);
    for (std::size_t k = 0; k < kept.size(); ++k)
      pixels[k].add(downscaled_mask_scores(m.foreground, kept[k]), m.foreground, m.ignore);
  }
  std::vector<std::pair<int, double>> result;
  for (std::size_t k = 0; k < kept.size(); ++k) result.emplace_back(kept[k], pixels[k].pxap());
  return result;
}

}  // namespace fcam::metrics

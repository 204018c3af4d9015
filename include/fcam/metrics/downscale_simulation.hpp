/// \file
/// \brief The paper's downscale simulation (supplementary Fig. D.3 / E.4): how much a CAM's
/// resolution alone limits PxAP. The "CAM" is the ground-truth mask itself, averaged over z×z
/// blocks (a perfect low-resolution map at downscale factor z) and bilinearly upsampled back
/// (align_corners false, as CAMs are); its PxAP against the mask is the ceiling of any CAM of
/// that resolution.
#pragma once

#include <cstdint>

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

}  // namespace fcam::metrics

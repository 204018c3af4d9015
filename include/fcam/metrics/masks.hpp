/// \file
/// \brief Ground-truth pixel masks of an image at the evaluation size, as wsolevaluation builds them.
#pragma once

#include <filesystem>

#include "fcam/core/tensor.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/data/wsol_metadata.hpp"

namespace fcam::metrics {

/// Foreground and ignore masks (size×size, values 0/1).
struct PixelMasks {
  Tensor<float> foreground;  ///< union of the instance masks
  Tensor<float> ignore;      ///< ignore region minus the foreground (all zero without an ignore mask)
};

/// Loads the instance masks and the ignore mask of `set` from `openimages_dir` (the
/// `<mask_root>/OpenImages` folder), nearest-resizes each to size×size (OpenCV's rule) and
/// thresholds at > 0.5 — i.e. gray > 0 for 8-bit files; foreground is their union and ignore
/// excludes it. An empty ignore path means no ignore region. Missing files are errors naming them.
inline PixelMasks load_pixel_masks(const std::filesystem::path& openimages_dir, const data::MaskSet& set,
                                   int size = 224) {
  FCAM_CHECK(!set.instances.empty(), "load_pixel_masks: the image has no instance mask");
  PixelMasks m{Tensor<float>({size, size}), Tensor<float>({size, size})};
  for (const std::string& path : set.instances) {
    const data::Gray8 mask = data::resize_nearest(data::read_gray8(openimages_dir / path), size, size);
    for (std::size_t i = 0; i < mask.pixels.size(); ++i)
      if (mask.pixels[i] > 0) m.foreground.data()[i] = 1.0f;
  }
  if (!set.ignore.empty()) {
    const data::Gray8 ignore = data::resize_nearest(data::read_gray8(openimages_dir / set.ignore), size, size);
    for (std::size_t i = 0; i < ignore.pixels.size(); ++i)
      if (ignore.pixels[i] > 0 && m.foreground.data()[i] == 0.0f) m.ignore.data()[i] = 1.0f;
  }
  return m;
}

}  // namespace fcam::metrics

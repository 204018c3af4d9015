/// \file
/// \brief The --max_image_pixels flag every program that reads images declares: the pixel limit
/// above which an image file is refused from its header, before decoding (data/image_io.hpp).
#pragma once

#include <fcam/app/flags.hpp>
#include <fcam/data/image_io.hpp>

namespace fcam::examples {

/// Declares --max_image_pixels (default data::default_max_image_pixels).
inline void add_image_limit_flag(app::Flags& flags) {
  flags.add_int("max_image_pixels", static_cast<int>(data::default_max_image_pixels),
                "refuse image files above this many pixels, read from their header before decoding (1 or more)");
}

/// Applies --max_image_pixels to every image read from now on; a value below 1 is an error.
inline void apply_image_limit_flag(const app::Flags& flags) {
  data::set_max_image_pixels(flags.integer("max_image_pixels"));
}

}  // namespace fcam::examples

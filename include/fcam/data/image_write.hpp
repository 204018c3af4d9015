/// \file
/// \brief Writing 8-bit RGB images as PNG (stb_image_write), atomically.
///
/// stb_image_write is compiled with internal linkage (STB_IMAGE_WRITE_STATIC) in every
/// translation unit that includes this header, like stb_image in image_io.hpp.
#pragma once

#include <filesystem>
#include <string>

#ifndef FCAM_STB_IMAGE_WRITE_INCLUDED
#define FCAM_STB_IMAGE_WRITE_INCLUDED
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#endif

#include "fcam/core/error.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/io/atomic_file.hpp"

namespace fcam::data {

/// Writes `image` as a PNG file (atomically: a reader never sees a partial file).
inline void write_png(const std::filesystem::path& path, const Rgb8& image) {
  FCAM_CHECK(image.width > 0 && image.height > 0 &&
                 image.pixels.size() == static_cast<std::size_t>(image.width) * image.height * 3,
             "write_png: inconsistent ", image.width, "x", image.height, " image");
  std::string bytes;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
  };
  FCAM_CHECK(stbi_write_png_to_func(append, &bytes, image.width, image.height, 3, image.pixels.data(),
                                    image.width * 3) != 0,
             path.string(), ": PNG encoding failed");
  io::write_file_atomic(path, bytes);
}

}  // namespace fcam::data

/// \file
/// \brief Writing 8-bit RGB and gray images as PNG (stb_image_write), atomically.
///
/// stb_image_write is compiled with internal linkage (STB_IMAGE_WRITE_STATIC) in every
/// translation unit that includes this header, like stb_image in image_io.hpp.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

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

namespace detail {
inline void write_png_channels(const std::filesystem::path& path, int width, int height, int channels,
                               const std::vector<std::uint8_t>& pixels) {
  FCAM_CHECK(width > 0 && height > 0 && pixels.size() == static_cast<std::size_t>(width) * height * channels,
             "write_png: inconsistent ", width, "x", height, " image");
  std::string bytes;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
  };
  FCAM_CHECK(stbi_write_png_to_func(append, &bytes, width, height, channels, pixels.data(), width * channels) != 0,
             path.string(), ": PNG encoding failed");
  io::write_file_atomic(path, bytes);
}
}  // namespace detail

/// Writes `image` as a PNG file (atomically: a reader never sees a partial file).
inline void write_png(const std::filesystem::path& path, const Rgb8& image) {
  detail::write_png_channels(path, image.width, image.height, 3, image.pixels);
}

/// Writes a gray image as a PNG file (atomically).
inline void write_png(const std::filesystem::path& path, const Gray8& image) {
  detail::write_png_channels(path, image.width, image.height, 1, image.pixels);
}

}  // namespace fcam::data

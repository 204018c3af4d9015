/// \file
/// \brief Writing 8-bit RGB and gray images as PNG (stb_image_write), atomically.
///
/// stb_image_write is compiled once, inside fcam::runtime (src/data/stb.cpp), like stb_image.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/io/atomic_file.hpp"

namespace fcam::data {

namespace detail {
/// Appends the PNG encoding of `pixels` (width·height·channels values) to `bytes`; false when
/// stb_image_write fails (fcam::runtime).
bool encode_png(int width, int height, int channels, const std::uint8_t* pixels, std::string& bytes);

inline void write_png_channels(const std::filesystem::path& path, int width, int height, int channels,
                               const std::vector<std::uint8_t>& pixels) {
  FCAM_CHECK(width > 0 && height > 0 && pixels.size() == static_cast<std::size_t>(width) * height * channels,
             "write_png: inconsistent ", width, "x", height, " image");
  std::string bytes;
  FCAM_CHECK(encode_png(width, height, channels, pixels.data(), bytes), path.string(), ": PNG encoding failed");
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

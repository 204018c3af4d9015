/// \file
/// \brief Image files (PNG, JPEG, BMP, … via stb_image) as 8-bit grayscale, and OpenCV's
/// INTER_NEAREST resize rule.
///
/// stb_image is compiled once, inside the fcam::runtime library (src/data/stb.cpp), with
/// internal linkage: this header does not include it, and a program may use its own stb.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "fcam/core/error.hpp"

namespace fcam::data {

/// The largest image fcam decodes by default: 64 megapixels (8192 × 8192), above any WSOL
/// dataset's photos and masks. A file claiming more is refused from its header, before
/// decoding, so a small hostile file cannot make fcam allocate gigabytes.
inline constexpr std::int64_t default_max_image_pixels = std::int64_t{1} << 26;

namespace detail {
inline std::atomic<std::int64_t>& max_image_pixels_setting() {
  static std::atomic<std::int64_t> limit{default_max_image_pixels};
  return limit;
}
}  // namespace detail

/// The pixel limit every image read in this process obeys (thread-safe).
inline std::int64_t max_image_pixels() { return detail::max_image_pixels_setting().load(); }

/// Sets the pixel limit (programs: --max_image_pixels). requires: pixels >= 1.
inline void set_max_image_pixels(std::int64_t pixels) {
  FCAM_CHECK(pixels >= 1, "max_image_pixels must be at least 1, got ", pixels);
  detail::max_image_pixels_setting().store(pixels);
}

namespace detail {
/// Pixels decoded by stb_image: width·height·channels values, channels interleaved.
struct DecodedImage {
  int width = 0, height = 0;         ///< size in pixels
  std::vector<std::uint8_t> pixels;  ///< decoded values
};
/// Decodes an image file into `channels` (1: stb's luminance, 3: RGB) 8-bit channels; a
/// missing or corrupt file, or one whose header claims more than `max_pixels` pixels, is an
/// error naming it (fcam::runtime).
DecodedImage decode_image_file(const std::filesystem::path& path, int channels, std::int64_t max_pixels);
}  // namespace detail

/// An 8-bit single-channel image, row-major.
struct Gray8 {
  int width = 0, height = 0;          ///< size in pixels
  std::vector<std::uint8_t> pixels;   ///< width·height values
  /// Pixel (x, y).
  std::uint8_t at(int x, int y) const { return pixels[static_cast<std::size_t>(y) * width + x]; }
};

/// Reads an image file as 8-bit grayscale (stb's luminance of RGB; alpha dropped; 1-bit PNGs
/// become 0/255). For images whose channels are 0 or 255 — WSOL masks — "gray > 0" is the same
/// as with OpenCV's IMREAD_GRAYSCALE. A missing or corrupt file, or one above
/// max_image_pixels(), is an error naming it.
inline Gray8 read_gray8(const std::filesystem::path& path) {
  detail::DecodedImage image = detail::decode_image_file(path, 1, max_image_pixels());
  return Gray8{image.width, image.height, std::move(image.pixels)};
}

/// An 8-bit RGB image, row-major, channels interleaved.
struct Rgb8 {
  int width = 0, height = 0;          ///< size in pixels
  std::vector<std::uint8_t> pixels;   ///< width·height·3 values
};

/// Reads an image file as 8-bit RGB (grayscale replicated, alpha dropped). A missing or corrupt
/// file, or one above max_image_pixels(), is an error naming it.
inline Rgb8 read_rgb8(const std::filesystem::path& path) {
  detail::DecodedImage image = detail::decode_image_file(path, 3, max_image_pixels());
  return Rgb8{image.width, image.height, std::move(image.pixels)};
}

/// Resizes with OpenCV's INTER_NEAREST index rule: source x = min(⌊x · (1 / (dst_w / src_w))⌋,
/// src_w − 1), the scale computed in double exactly as cv::resize does; likewise for y.
inline Gray8 resize_nearest(const Gray8& src, int width, int height) {
  FCAM_CHECK(src.width > 0 && src.height > 0 && width > 0 && height > 0, "resize_nearest: empty image or size");
  const double fx = 1.0 / (static_cast<double>(width) / src.width);
  const double fy = 1.0 / (static_cast<double>(height) / src.height);
  Gray8 out{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height)};
  std::vector<int> xs(static_cast<std::size_t>(width));
  for (int x = 0; x < width; ++x)
    xs[static_cast<std::size_t>(x)] = std::min(static_cast<int>(std::floor(x * fx)), src.width - 1);
  for (int y = 0; y < height; ++y) {
    const int sy = std::min(static_cast<int>(std::floor(y * fy)), src.height - 1);
    for (int x = 0; x < width; ++x)
      out.pixels[static_cast<std::size_t>(y) * width + x] = src.at(xs[static_cast<std::size_t>(x)], sy);
  }
  return out;
}

}  // namespace fcam::data

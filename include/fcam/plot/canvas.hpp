/// \file
/// \brief Drawing on 8-bit RGB images: filled and translucent rectangles, thick lines, text in
/// the 5×7 font, pasting and nearest-neighbour enlargement. Enough for the demo's charts and
/// picture grids without any plotting dependency.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fcam/core/error.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/plot/font.hpp"

namespace fcam::plot {

/// An RGB colour.
using Colour = std::array<std::uint8_t, 3>;

inline constexpr Colour white{255, 255, 255};       ///< paper
inline constexpr Colour black{0, 0, 0};             ///< ink
inline constexpr Colour light_gray{225, 225, 225};  ///< grid lines
inline constexpr Colour orange{230, 120, 20};       ///< the paper's colour for CAM*
inline constexpr Colour green{30, 150, 60};         ///< the paper's colour for CAM* + F-CAM

/// A `width`×`height` image filled with `colour`.
inline data::Rgb8 blank(int width, int height, Colour colour = white) {
  FCAM_CHECK(width > 0 && height > 0, "blank: image size ", width, "x", height, " must be positive");
  data::Rgb8 image{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height * 3)};
  for (std::size_t i = 0; i < image.pixels.size(); i += 3) std::copy(colour.begin(), colour.end(), image.pixels.begin() + static_cast<std::ptrdiff_t>(i));
  return image;
}

/// Blends `colour` into pixel (x, y) with weight `opacity` (1: replaces it); outside: nothing.
inline void put_pixel(data::Rgb8& image, int x, int y, Colour colour, float opacity = 1.0f) {
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
  std::uint8_t* p = image.pixels.data() + (static_cast<std::size_t>(y) * image.width + static_cast<std::size_t>(x)) * 3;
  for (std::size_t c = 0; c < 3; ++c)
    p[c] = static_cast<std::uint8_t>(std::lround((1.0f - opacity) * static_cast<float>(p[c]) + opacity * static_cast<float>(colour[c])));
}

/// Fills the pixels x0 ≤ x < x1, y0 ≤ y < y1 (clipped), blended with weight `opacity`.
inline void fill_rect(data::Rgb8& image, int x0, int y0, int x1, int y1, Colour colour, float opacity = 1.0f) {
  for (int y = std::max(y0, 0); y < std::min(y1, image.height); ++y)
    for (int x = std::max(x0, 0); x < std::min(x1, image.width); ++x) put_pixel(image, x, y, colour, opacity);
}

/// A straight line from (x0, y0) to (x1, y1), `thickness` pixels wide (a square brush).
inline void draw_line(data::Rgb8& image, int x0, int y0, int x1, int y1, Colour colour, int thickness = 1) {
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  const int lo = -(thickness - 1) / 2, hi = thickness / 2;
  int error = dx + dy;
  for (;;) {  // Bresenham
    fill_rect(image, x0 + lo, y0 + lo, x0 + hi + 1, y0 + hi + 1, colour);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * error;
    if (e2 >= dy) error += dy, x0 += sx;
    if (e2 <= dx) error += dx, y0 += sy;
  }
}

/// Width in pixels of `text` drawn at `scale` (6·scale per character, the last gap dropped).
inline int text_width(std::string_view text, int scale = 1) {
  return text.empty() ? 0 : static_cast<int>(text.size()) * 6 * scale - scale;
}

/// Height in pixels of a line of text at `scale`.
inline int text_height(int scale = 1) { return 7 * scale; }

/// Draws `text` with its top-left corner at (x, y), each font cell a scale×scale block.
inline void draw_text(data::Rgb8& image, int x, int y, std::string_view text, Colour colour = black, int scale = 1) {
  for (const char c : text) {
    for (int row = 0; row < 7; ++row)
      for (int col = 0; col < 5; ++col)
        if (glyph_ink(c, col, row))
          fill_rect(image, x + col * scale, y + row * scale, x + (col + 1) * scale, y + (row + 1) * scale, colour);
    x += 6 * scale;
  }
}

/// Copies `source` into `target` with its top-left corner at (x, y) (clipped).
inline void paste(data::Rgb8& target, const data::Rgb8& source, int x, int y) {
  for (int sy = 0; sy < source.height; ++sy)
    for (int sx = 0; sx < source.width; ++sx) {
      const std::uint8_t* p = source.pixels.data() + (static_cast<std::size_t>(sy) * source.width + static_cast<std::size_t>(sx)) * 3;
      put_pixel(target, x + sx, y + sy, {p[0], p[1], p[2]});
    }
}

/// `image` enlarged `factor` times by pixel replication (small maps stay crisp).
inline data::Rgb8 enlarge(const data::Rgb8& image, int factor) {
  FCAM_CHECK(factor >= 1, "enlarge: factor ", factor, " must be >= 1");
  data::Rgb8 out = blank(image.width * factor, image.height * factor);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x)
      std::copy_n(image.pixels.data() + (static_cast<std::size_t>(y / factor) * image.width + static_cast<std::size_t>(x / factor)) * 3, 3,
                  out.pixels.data() + (static_cast<std::size_t>(y) * out.width + static_cast<std::size_t>(x)) * 3);
  return out;
}

}  // namespace fcam::plot

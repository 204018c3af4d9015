/// \file
/// \brief Pictures of maps: a heat map blended over an image, and boxes drawn on it.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/metrics/box_iou.hpp"

namespace fcam::plot {

/// A blue → cyan → yellow → red colour for v in [0, 1] (a "jet"-like ramp).
inline std::array<std::uint8_t, 3> heat_colour(float v) {
  v = std::clamp(v, 0.0f, 1.0f);
  auto ramp = [](float x) { return static_cast<std::uint8_t>(255.0f * std::clamp(x, 0.0f, 1.0f)); };
  return {ramp(1.5f - std::abs(4.0f * v - 3.0f)), ramp(1.5f - std::abs(4.0f * v - 2.0f)),
          ramp(1.5f - std::abs(4.0f * v - 1.0f))};
}

/// `image` with the H×W map (values in [0, 1], same size as the image) blended on top:
/// (1 − alpha)·image + alpha·colour.
inline data::Rgb8 overlay_heatmap(const data::Rgb8& image, const Tensor<float>& map, float alpha = 0.5f) {
  FCAM_CHECK(map.ndim() == 2 && map.size(0) == image.height && map.size(1) == image.width,
             "overlay_heatmap: map ", to_string(map.shape()), " does not match the ", image.width, "x",
             image.height, " image");
  map.require_cpu("overlay_heatmap");
  data::Rgb8 out = image;
  for (std::int64_t i = 0; i < map.numel(); ++i) {
    const auto colour = heat_colour(map.data()[i]);
    for (int c = 0; c < 3; ++c) {
      auto& p = out.pixels[static_cast<std::size_t>(i * 3 + c)];
      p = static_cast<std::uint8_t>(std::lround((1.0f - alpha) * p + alpha * colour[static_cast<std::size_t>(c)]));
    }
  }
  return out;
}

/// Draws the outline of `box` (inclusive corners, clipped to the image), `thickness` pixels wide.
inline void draw_box(data::Rgb8& image, const metrics::IntBox& box, std::array<std::uint8_t, 3> colour,
                     int thickness = 2) {
  auto put = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
    for (int c = 0; c < 3; ++c)
      image.pixels[(static_cast<std::size_t>(y) * image.width + x) * 3 + static_cast<std::size_t>(c)] =
          colour[static_cast<std::size_t>(c)];
  };
  for (int t = 0; t < thickness; ++t) {
    for (int x = box.x0; x <= box.x1; ++x) {
      put(x, box.y0 + t);
      put(x, box.y1 - t);
    }
    for (int y = box.y0; y <= box.y1; ++y) {
      put(box.x0 + t, y);
      put(box.x1 - t, y);
    }
  }
}

}  // namespace fcam::plot

/// \file
/// \brief Box IoU with wsolevaluation's +1 pixel convention, and box rescaling to the evaluation size.
#pragma once

#include <algorithm>

#include "fcam/core/error.hpp"
#include "fcam/data/wsol_metadata.hpp"

namespace fcam::metrics {

/// An integer box in inclusive pixel coordinates at the evaluation resolution.
struct IntBox {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  ///< corners
  /// Equal corners.
  bool operator==(const IntBox&) const = default;
};

/// IoU with the +1 convention: area = (x1 − x0 + 1)(y1 − y0 + 1), the intersection likewise.
/// A box with x1 < x0 or y1 < y0 is an error; a non-positive union gives 0.
inline double box_iou(const IntBox& a, const IntBox& b) {
  for (const IntBox* box : {&a, &b})
    FCAM_CHECK(box->x1 >= box->x0 && box->y1 >= box->y0, "box_iou: inverted box (", box->x0, ", ", box->y0, ", ",
               box->x1, ", ", box->y1, ")");
  const double iw = std::max(0, std::min(a.x1, b.x1) - std::max(a.x0, b.x0) + 1);
  const double ih = std::max(0, std::min(a.y1, b.y1) - std::max(a.y0, b.y0) + 1);
  const double inter = iw * ih;
  const double area_a = static_cast<double>(a.x1 - a.x0 + 1) * (a.y1 - a.y0 + 1);
  const double area_b = static_cast<double>(b.x1 - b.x0 + 1) * (b.y1 - b.y0 + 1);
  const double uni = area_a + area_b - inter;
  return uni > 0 ? inter / uni : 0.0;
}

/// Rescales a box from an image of (width, height) to (new_width, new_height): each coordinate
/// multiplied by the size ratio and truncated toward zero, as the reference does.
inline IntBox resize_box(const data::Box& box, int width, int height, int new_width, int new_height) {
  FCAM_CHECK(width > 0 && height > 0 && new_width > 0 && new_height > 0, "resize_box: sizes must be positive");
  const double sx = static_cast<double>(new_width) / width, sy = static_cast<double>(new_height) / height;
  return {static_cast<int>(box.x0 * sx), static_cast<int>(box.y0 * sy), static_cast<int>(box.x1 * sx),
          static_cast<int>(box.y1 * sy)};
}

}  // namespace fcam::metrics

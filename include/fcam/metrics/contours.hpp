/// \file
/// \brief Contours of a binary image with the semantics of OpenCV's
/// `findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)`, plus `contourArea` and `boundingRect`.
///
/// Suzuki & Abe (1985) raster-scan border following: every 8-connected foreground component has
/// an outer border and every 4-connected background region inside it a hole border. fcam returns
/// the same contours as OpenCV, with the same points, in the same order: a pre-order walk of the
/// border tree where siblings are listed from the last discovered to the first (OpenCV inserts
/// each new contour at the head of its parent's list). The order matters to the reference
/// evaluation, which keeps the first contour of largest area.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/metrics/border_following.hpp"

namespace fcam::metrics {

/// One border of a binary image.
struct Contour {
  std::vector<Point> points;  ///< CHAIN_APPROX_SIMPLE polygon, starting at the border's first pixel
  bool is_hole = false;       ///< a hole border (else an outer border)
  int parent = -1;            ///< index of the enclosing contour in the returned list, −1 for none
};

/// An axis-aligned rectangle: top-left corner and size, as cv::Rect.
struct Rect {
  int x = 0, y = 0, width = 0, height = 0;  ///< corner and size
  /// Equal fields.
  bool operator==(const Rect&) const = default;
};

/// |shoelace area| of the closed polygon (OpenCV's contourArea, not oriented); 0 for < 3 points.
inline double contour_area(const std::vector<Point>& points) {
  if (points.empty()) return 0.0;
  std::int64_t twice = 0;
  Point previous = points.back();
  for (const Point& p : points) {
    twice += static_cast<std::int64_t>(previous.x) * p.y - static_cast<std::int64_t>(previous.y) * p.x;
    previous = p;
  }
  return static_cast<double>(std::llabs(twice)) * 0.5;
}

/// The smallest rectangle holding every point (cv::boundingRect: width = max x − min x + 1);
/// all zero for no points.
inline Rect bounding_rect(const std::vector<Point>& points) {
  if (points.empty()) return {};
  Point lo = points.front(), hi = points.front();
  for (const Point& p : points) {
    lo = {std::min(lo.x, p.x), std::min(lo.y, p.y)};
    hi = {std::max(hi.x, p.x), std::max(hi.y, p.y)};
  }
  return {lo.x, lo.y, hi.x - lo.x + 1, hi.y - lo.y + 1};
}

namespace detail {

/// The labelled plane of the full Suzuki scan: 0 background, 1 unvisited foreground, +label a
/// visited border pixel, −label a "right bound" one. Labels are unbounded ints (OpenCV folds
/// them into 7 bits and disambiguates; the tree is the same).
struct LabelPlane {
  std::int32_t* pixels;
  std::int32_t label = 2;
  bool foreground(std::int64_t i) const { return pixels[i] != 0; }
  void mark_right(std::int64_t i) { pixels[i] = -label; }
  void mark_visited(std::int64_t i) {
    if (pixels[i] == 1) pixels[i] = label;
  }
};

}  // namespace detail

/// The contours of a width×height binary image (row-major, nonzero = foreground), as OpenCV's
/// findContours(RETR_TREE, CHAIN_APPROX_SIMPLE): pixels on the image edge are handled as if the
/// image were surrounded by background.
inline std::vector<Contour> find_contours(const std::uint8_t* mask, int width, int height) {
  FCAM_CHECK(width >= 0 && height >= 0, "find_contours: negative image size ", width, "x", height);
  FCAM_CHECK(mask != nullptr || width * height == 0, "find_contours: null image");
  const std::int64_t stride = width + 2;
  std::vector<std::int32_t> pixels(static_cast<std::size_t>(stride * (height + 2)), 0);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      pixels[static_cast<std::size_t>((y + 1) * stride + x + 1)] = mask[static_cast<std::size_t>(y) * width + x] != 0;

  const auto offsets = detail::chain_offsets(stride);
  detail::LabelPlane plane{pixels.data()};
  std::vector<Contour> found;  // discovery order; contour k carries label k + 2
  for (int y = 1; y <= height; ++y) {
    const std::int32_t* row = pixels.data() + y * stride;
    int last_border_x = 0;  // Suzuki's LNBD: the last border pixel met on this row (0: the frame)
    std::int32_t previous = 0;
    for (int x = 1; x <= width; ++x) {
      const std::int32_t p = row[x];
      if (p == previous) continue;
      bool is_hole = false;
      if (previous == 0 && p == 1) {
        is_hole = false;  // an unvisited pixel after background: a new outer border
      } else if (p == 0 && previous >= 1) {
        is_hole = true;  // background after a pixel not yet known as a right bound: a new hole
        if (previous >= 2) last_border_x = x - 1;
      } else {
        previous = p;
        if (p != 0 && p != 1) last_border_x = x;
        continue;
      }
      // The parent follows from the border last met: a border of the other kind encloses the
      // new one, one of the same kind shares its parent.
      int parent = -1;
      if (last_border_x > 0) {
        const int last = std::abs(row[last_border_x]) - 2;
        parent = found[static_cast<std::size_t>(last)].is_hole == is_hole ? found[static_cast<std::size_t>(last)].parent
                                                                          : last;
      }
      const int start_x = x - (is_hole ? 1 : 0);
      last_border_x = start_x;
      Contour contour;
      contour.is_hole = is_hole;
      contour.parent = parent;
      plane.label = static_cast<std::int32_t>(found.size()) + 2;
      detail::follow_border(plane, offsets, y * stride + start_x, Point{start_x - 1, y - 1}, is_hole,
                            [&](Point q) { contour.points.push_back(q); });
      found.push_back(std::move(contour));
      previous = row[x];  // the scan resumes after the start, reading the now-labelled plane
    }
  }

  // OpenCV's order: pre-order, each parent's children from the last discovered to the first.
  const int n = static_cast<int>(found.size());
  std::vector<std::vector<int>> children(static_cast<std::size_t>(n) + 1);  // slot n: the frame
  for (int k = n - 1; k >= 0; --k) {
    const int parent = found[static_cast<std::size_t>(k)].parent;
    children[static_cast<std::size_t>(parent < 0 ? n : parent)].push_back(k);
  }
  std::vector<int> order, position(static_cast<std::size_t>(n));
  std::vector<int> stack(children[static_cast<std::size_t>(n)].rbegin(), children[static_cast<std::size_t>(n)].rend());
  while (!stack.empty()) {
    const int k = stack.back();
    stack.pop_back();
    position[static_cast<std::size_t>(k)] = static_cast<int>(order.size());
    order.push_back(k);
    const auto& c = children[static_cast<std::size_t>(k)];
    stack.insert(stack.end(), c.rbegin(), c.rend());
  }
  std::vector<Contour> result;
  result.reserve(found.size());
  for (int k : order) {
    Contour& c = found[static_cast<std::size_t>(k)];
    if (c.parent >= 0) c.parent = position[static_cast<std::size_t>(c.parent)];
    result.push_back(std::move(c));
  }
  return result;
}

}  // namespace fcam::metrics

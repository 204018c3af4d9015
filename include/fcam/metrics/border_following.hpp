/// \file
/// \brief Suzuki–Abe border following (one border of a binary image), the step shared by
/// fcam's contour extraction and its fast per-threshold box search.
///
/// The conventions are OpenCV's `findContours` ones, so that fcam reproduces its contours point
/// for point: chain codes 0…7 run counter-clockwise on screen starting east (0 = +x, 2 = −y,
/// 4 = −x, 6 = +y); an outer border starts its neighbour search at west (code 4), a hole border
/// at east (code 0); the next border pixel is the first foreground neighbour met turning
/// counter-clockwise from the one after the previous pixel; a pixel whose east neighbour was
/// examined and found empty is marked "right bound" (Suzuki's −NBD), otherwise an unvisited pixel
/// is marked visited (NBD); points are emitted only where the chain code changes
/// (CHAIN_APPROX_SIMPLE), beginning with the start pixel.
#pragma once

#include <array>
#include <cstdint>

namespace fcam::metrics {

/// A pixel position (x = column, y = row).
struct Point {
  int x = 0, y = 0;  ///< coordinates
  /// Equal coordinates.
  bool operator==(const Point&) const = default;
};

namespace detail {

/// Unit steps of chain codes 0…7.
inline constexpr std::array<Point, 8> kChainStep{
    {{1, 0}, {1, -1}, {0, -1}, {-1, -1}, {-1, 0}, {-1, 1}, {0, 1}, {1, 1}}};

/// Memory offsets of chain codes 0…15 (two turns, so a search may run past code 7) in a plane
/// with row stride `stride`.
inline std::array<std::int64_t, 16> chain_offsets(std::int64_t stride) {
  std::array<std::int64_t, 16> d{};
  for (int k = 0; k < 16; ++k) d[static_cast<std::size_t>(k)] = kChainStep[k & 7].x + kChainStep[k & 7].y * stride;
  return d;
}

/// Follows one border from pixel offset `start` (at image position `origin`) of `plane` and
/// calls `emit(Point)` for each point of its CHAIN_APPROX_SIMPLE polygon, in order.
///
/// The plane must have a background frame at least one pixel wide around every foreground pixel
/// (the search never leaves it). `Plane` supplies: `foreground(offset)`, `mark_right(offset)`
/// (the pixel's east neighbour is background seen by this border) and `mark_visited(offset)`
/// (only applied by the plane when the pixel is still unvisited).
template <class Plane, class Emit>
void follow_border(Plane& plane, const std::array<std::int64_t, 16>& offsets, std::int64_t start, Point origin,
                   bool is_hole, Emit&& emit) {
  int s = is_hole ? 0 : 4;
  int s_end = s;
  std::int64_t second = start;  // the neighbour the border will return through: marks the end
  do {
    s = (s - 1) & 7;
    second = start + offsets[static_cast<std::size_t>(s)];
  } while (!plane.foreground(second) && s != s_end);

  if (s == s_end) {  // an isolated pixel: a one-point contour
    plane.mark_right(start);
    emit(origin);
    return;
  }
  std::int64_t current = start, next = start;
  int previous_code = s ^ 4;  // differs from the first code, so the start point is emitted
  Point point = origin;
  for (;;) {
    s_end = s;
    while (s < 15) {  // counter-clockwise from the code after the one we arrived from
      next = current + offsets[static_cast<std::size_t>(++s)];
      if (plane.foreground(next)) break;
    }
    s &= 7;
    // The east neighbour (code 8 = 0) was passed over as background.
    if (s != 0 && s <= s_end)
      plane.mark_right(current);
    else
      plane.mark_visited(current);
    if (s != previous_code) {
      emit(point);
      previous_code = s;
    }
    point.x += kChainStep[static_cast<std::size_t>(s)].x;
    point.y += kChainStep[static_cast<std::size_t>(s)].y;
    if (next == start && current == second) break;
    current = next;
    s = (s + 4) & 7;
  }
}

}  // namespace detail
}  // namespace fcam::metrics

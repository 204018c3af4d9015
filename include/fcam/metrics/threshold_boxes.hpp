/// \file
/// \brief Boxes of a score map at each threshold, as wsolevaluation's
/// `compute_bboxes_from_scoremaps`, computed once per distinct binary mask.
///
/// The reference binarises the uint8-quantised map at every threshold and runs OpenCV's
/// findContours on each mask. fcam gets the same boxes faster: (1) a threshold only matters
/// through its integer level, and levels between two consecutive values present in the map give
/// the same mask, so each distinct mask is processed once; (2) each mask is built as a bit plane
/// (one SIMD comparison per 32 pixels, only over the rows holding foreground at that level);
/// the Suzuki scan takes its border starts from the plane's bit transitions and the border
/// follower reads it, and its visit marks, from L1; (3) no point lists are built: each border
/// yields its bounding box and shoelace area while it is followed.
///
/// The largest-contour box (MaxBoxAcc) needs only the outermost borders: OpenCV lists the
/// top-level outer borders from the last discovered to the first, each before its descendants,
/// and a descendant never has a larger area than its ancestor (a hole lies inside its outer
/// border, a border in a hole strictly inside that hole). So the reference's choice — the first
/// contour of largest area — is the last-discovered top-level border of largest area, and
/// Suzuki's second algorithm (outermost borders, OpenCV's RETR_EXTERNAL) finds those without
/// following any hole.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "fcam/core/tensor.hpp"
#include "fcam/metrics/border_following.hpp"
#include "fcam/metrics/box_iou.hpp"
#include "fcam/metrics/score_map.hpp"

namespace fcam::metrics {

/// One border found at a level: its bounding box (inclusive corners) and twice its area.
struct BorderSummary {
  IntBox bounds;             ///< min/max of the border's points
  std::int64_t twice_area;   ///< 2 × contourArea
  bool is_hole;              ///< hole border (else outer)
};

namespace detail {

/// Vector width of foreground_bits: rows handed to it must stay readable this far past `n`.
inline constexpr int kBitsReadAhead = 32;

/// Bits x of `words` set where row[x] > level, for x in [0, n). Reads whole vectors: up to
/// kBitsReadAhead − 1 bytes past row + n must be readable (their bits are discarded).
inline void foreground_bits(const std::uint8_t* row, int n, std::uint8_t level, std::uint64_t* words) {
  const int word_count = (n + 63) / 64;
  std::fill(words, words + word_count, 0);
#if defined(__AVX2__)
  const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i threshold = _mm256_xor_si256(_mm256_set1_epi8(static_cast<char>(level)), bias);
  for (int x = 0; x < n; x += 32) {
    const __m256i v = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + x)), bias);
    const auto bits = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpgt_epi8(v, threshold)));
    words[x >> 6] |= static_cast<std::uint64_t>(bits) << (x & 63);
  }
#elif defined(__SSE2__)
  const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80));
  const __m128i threshold = _mm_xor_si128(_mm_set1_epi8(static_cast<char>(level)), bias);
  for (int x = 0; x < n; x += 16) {
    const __m128i v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x)), bias);
    const auto bits = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpgt_epi8(v, threshold)));
    words[x >> 6] |= static_cast<std::uint64_t>(bits) << (x & 63);
  }
#else
  for (int x = 0; x < n; ++x)
    if (row[x] > level) words[x >> 6] |= std::uint64_t{1} << (x & 63);
#endif
  if (n & 63) words[word_count - 1] &= (std::uint64_t{1} << (n & 63)) - 1;  // drop the read-ahead
}

inline bool test_bit(const std::uint64_t* bits, std::int64_t i) { return (bits[i >> 6] >> (i & 63)) & 1u; }
inline void set_bit(std::uint64_t* bits, std::int64_t i) { bits[i >> 6] |= std::uint64_t{1} << (i & 63); }

/// The plane of one level as three bit planes (a bit per pixel, so the border follower works in
/// L1): the mask, "visited" (Suzuki's ±NBD) and "right bound" (−NBD). A right-bound pixel
/// stays right bound, as a −NBD label is only overwritten by another −NBD.
struct LevelPlane {
  const std::uint64_t* mask;
  std::uint64_t* visited;
  std::uint64_t* right;
  bool foreground(std::int64_t i) const { return test_bit(mask, i); }
  void mark_right(std::int64_t i) {
    set_bit(visited, i);
    set_bit(right, i);
  }
  void mark_visited(std::int64_t i) { set_bit(visited, i); }
  bool unvisited(std::int64_t i) const { return !test_bit(visited, i); }
  bool right_bound(std::int64_t i) const { return test_bit(right, i); }
};

}  // namespace detail

/// Finds the borders of {quantised map > level} for any level of one map, reusing its buffers
/// across levels and maps (one instance per thread).
class LevelContourFinder {
public:
  /// Loads a quantised map (row-major width×height uint8).
  void reset(const std::uint8_t* values, int width, int height) {
    FCAM_CHECK(width > 0 && height > 0, "LevelContourFinder: empty map ", width, "x", height);
    width_ = width;
    height_ = height;
    stride_ = width + 2;
    const auto size = static_cast<std::size_t>(stride_ * (height + 2));
    plane_.assign(size + 64 + detail::kBitsReadAhead, 0);  // whole words of bits, plus read-ahead
    for (auto* bits : {&mask_bits_, &visited_bits_, &right_bits_}) bits->assign(size / 64 + 2, 0);
    // Largest value of each row (padded coordinates): the rows a level's mask occupies.
    row_max_.assign(static_cast<std::size_t>(height + 2), 0);
    for (int y = 0; y < height; ++y) {
      std::uint8_t* dst = plane_.data() + (y + 1) * stride_ + 1;
      std::memcpy(dst, values + static_cast<std::size_t>(y) * width, static_cast<std::size_t>(width));
      row_max_[static_cast<std::size_t>(y + 1)] = *std::max_element(dst, dst + width);
    }
    offsets_ = detail::chain_offsets(stride_);
  }

  /// Calls `visit(const BorderSummary&)` for every border of {value > level}, in OpenCV's
  /// discovery order (raster order of the border starts). With `OuterOnly`, only the outermost
  /// borders (the top level of the tree: OpenCV's RETR_EXTERNAL), found by Suzuki's second
  /// algorithm without following holes or what lies inside them.
  template <bool OuterOnly = false, class Visit>
  void for_each_border(std::uint8_t level, Visit&& visit) {
    int y_first = 1, y_last = height_;
    while (y_first <= y_last && row_max_[static_cast<std::size_t>(y_first)] <= level) ++y_first;
    while (y_last >= y_first && row_max_[static_cast<std::size_t>(y_last)] <= level) --y_last;
    if (y_first > y_last) return;
    // The planes of rows y_first − 1 … y_last + 1, in the padded row-major order of the map: a
    // border never leaves those rows.
    const std::int64_t word_begin = (y_first - 1) * stride_ / 64;
    const std::int64_t word_end = ((y_last + 2) * stride_ + 63) / 64;
    detail::foreground_bits(plane_.data() + word_begin * 64, static_cast<int>((word_end - word_begin) * 64), level,
                            mask_bits_.data() + word_begin);
    std::fill(visited_bits_.begin() + word_begin, visited_bits_.begin() + word_end, 0);
    std::fill(right_bits_.begin() + word_begin, right_bits_.begin() + word_end, 0);
    detail::LevelPlane plane{mask_bits_.data(), visited_bits_.data(), right_bits_.data()};
    // Border starts: bit transitions in raster order. Consecutive rows meet between two padding
    // pixels (both background), so the plane scans as one long row.
    int y = y_first;
    std::int64_t row_start = y * stride_;
    std::uint64_t carry = 0;
    for (std::int64_t w = y_first * stride_ / 64; w < word_end; ++w) {
      const std::uint64_t bits = mask_bits_[static_cast<std::size_t>(w)];
      std::uint64_t changes = bits ^ ((bits << 1) | carry);
      if constexpr (OuterOnly) changes &= bits;  // rising edges only: no hole borders
      carry = bits >> 63;
      while (changes) {
        const std::int64_t i = w * 64 + std::countr_zero(changes);
        changes &= changes - 1;
        while (i >= row_start + stride_) {
          ++y;
          row_start += stride_;
        }
        const int x = static_cast<int>(i - row_start);
        if (y > y_last || x > width_) continue;  // OpenCV never starts a border in the right padding
        if (plane.foreground(i)) {
          if (!plane.unvisited(i)) continue;
          // Outermost borders only: skip a start whose last met border pixel on this row is
          // a visited one that is not a right bound (Suzuki's LNBD > 0): it lies inside.
          if constexpr (OuterOnly) {
            const std::int64_t last = last_visited_before(i, row_start);
            if (last >= 0 && !plane.right_bound(last)) continue;
          }
          visit(follow(plane, i, x, y, false));
        } else if (!plane.right_bound(i - 1)) {
          visit(follow(plane, i - 1, x - 1, y, true));
        }
      }
    }
  }

private:
  /// The last visited pixel in [row_start, i), or −1.
  std::int64_t last_visited_before(std::int64_t i, std::int64_t row_start) const {
    for (std::int64_t w = (i - 1) >> 6; w >= (row_start >> 6); --w) {
      std::uint64_t bits = visited_bits_[static_cast<std::size_t>(w)];
      if (w == ((i - 1) >> 6)) bits &= ~std::uint64_t{0} >> (63 - ((i - 1) & 63));  // positions < i
      if (bits) {
        const std::int64_t j = w * 64 + 63 - std::countl_zero(bits);
        return j >= row_start ? j : -1;
      }
    }
    return -1;
  }

  /// Follows one border from padded pixel (x, y) at offset `start`: its bounds and area.
  BorderSummary follow(detail::LevelPlane& plane, std::int64_t start, int x, int y, bool is_hole) {
    const Point first{x - 1, y - 1};
    int x0 = first.x, y0 = first.y, x1 = first.x, y1 = first.y;
    std::int64_t twice_area = 0;
    Point previous = first;
    detail::follow_border(plane, offsets_, start, first, is_hole, [&](Point p) {
      x0 = p.x < x0 ? p.x : x0;
      x1 = p.x > x1 ? p.x : x1;
      y0 = p.y < y0 ? p.y : y0;
      y1 = p.y > y1 ? p.y : y1;
      twice_area += static_cast<std::int64_t>(previous.x) * p.y - static_cast<std::int64_t>(previous.y) * p.x;
      previous = p;
    });
    twice_area += static_cast<std::int64_t>(previous.x) * first.y - static_cast<std::int64_t>(previous.y) * first.x;
    return {{x0, y0, x1, y1}, twice_area < 0 ? -twice_area : twice_area, is_hole};
  }

  int width_ = 0, height_ = 0;
  std::int64_t stride_ = 0;
  std::vector<std::uint8_t> plane_;
  std::vector<std::uint8_t> row_max_;
  std::vector<std::uint64_t> mask_bits_, visited_bits_, right_bits_;
  std::array<std::int64_t, 16> offsets_{};
};

/// The reference's box of a border: (x, y, min(x + w, W − 1), min(y + h, H − 1)) from its
/// bounding rectangle (x, y, w, h).
inline IntBox reference_box(const IntBox& bounds, int width, int height) {
  return {bounds.x0, bounds.y0, std::min(bounds.x1 + 1, width - 1), std::min(bounds.y1 + 1, height - 1)};
}

/// The boxes of one level: the largest contour's (multi_contour false) or every contour's, and
/// [0, 0, 0, 0] when the mask is empty.
template <class Finder>
std::vector<IntBox> boxes_at_level(Finder& finder, std::uint8_t level, int width, int height, bool multi_contour) {
  std::vector<IntBox> boxes;
  if (multi_contour) {
    finder.for_each_border(level,
                           [&](const BorderSummary& b) { boxes.push_back(reference_box(b.bounds, width, height)); });
  } else {  // the largest top-level border (see the file comment), ties: the last discovered
    std::int64_t best_area = -1;
    IntBox best{};
    finder.template for_each_border<true>(level, [&](const BorderSummary& b) {
      if (b.twice_area >= best_area) {
        best_area = b.twice_area;
        best = b.bounds;
      }
    });
    if (best_area >= 0) boxes.push_back(reference_box(best, width, height));
  }
  if (boxes.empty()) boxes.push_back({0, 0, 0, 0});
  return boxes;
}

/// The boxes of one score map at any threshold, each distinct binary mask processed once.
/// Reusable across maps (one instance per thread).
class ThresholdBoxes {
public:
  /// Loads `map` (H×W in [0, 1], no NaN: checked) for boxes of the largest contour, or of all
  /// contours with `multi_contour`.
  void reset(const Tensor<float>& map, bool multi_contour) {
    check_score_map(map, "ThresholdBoxes");
    height_ = static_cast<int>(map.size(0));
    width_ = static_cast<int>(map.size(1));
    multi_contour_ = multi_contour;
    quantized_ = quantize_score_map(map);
    present_.fill(false);
    for (std::uint8_t v : quantized_) present_[v] = true;
    max_u8_ = *std::max_element(quantized_.begin(), quantized_.end());
    finder_.reset(quantized_.data(), width_, height_);
    computed_.fill(false);
  }

  /// A key of the binary mask of threshold τ: equal keys, equal masks (the mask of level L is
  /// that of the largest value present at or below L, as no pixel lies in between).
  int mask_key(double tau) const {
    int key = threshold_level(tau, max_u8_);
    while (key > 0 && !present_[static_cast<std::size_t>(key)]) --key;
    return key;
  }

  /// The reference's boxes at threshold τ (computed on the first request for its mask).
  const std::vector<IntBox>& boxes(double tau) {
    const auto key = static_cast<std::size_t>(mask_key(tau));
    if (!computed_[key]) {
      boxes_[key] = boxes_at_level(finder_, static_cast<std::uint8_t>(key), width_, height_, multi_contour_);
      computed_[key] = true;
    }
    return boxes_[key];
  }

private:
  int height_ = 0, width_ = 0;
  bool multi_contour_ = false;
  std::vector<std::uint8_t> quantized_;
  std::array<bool, 256> present_{};
  std::uint8_t max_u8_ = 0;
  LevelContourFinder finder_;
  std::array<bool, 256> computed_{};
  std::array<std::vector<IntBox>, 256> boxes_;
};

/// wsolevaluation's compute_bboxes_from_scoremaps: for each threshold τ, the boxes of
/// {uint8(255·map) > int(τ · max)} — the largest contour's, or all contours' with
/// `multi_contour` — and [0, 0, 0, 0] for an empty mask. `map` is H×W in [0, 1] without NaN.
inline std::vector<std::vector<IntBox>> boxes_at_thresholds(const Tensor<float>& map,
                                                            const std::vector<double>& thresholds,
                                                            bool multi_contour) {
  ThresholdBoxes finder;
  finder.reset(map, multi_contour);
  std::vector<std::vector<IntBox>> result;
  for (double tau : thresholds) result.push_back(finder.boxes(tau));
  return result;
}

}  // namespace fcam::metrics

// Contours against OpenCV's findContours(RETR_TREE, CHAIN_APPROX_SIMPLE) on 2,416 random masks
// (tests/contours_reference.py, run by ctest as a fixture; FCAM_CONTOURS_REFERENCE is its
// folder): blobs, nested rings, one-pixel lines, diagonal contacts, noise, shapes on the image
// edge, 1×N images and 224×224 masks with thousands of contours. Every contour's points, kind,
// parent, area and bounding rectangle, the contour order and the largest-contour choice.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include <fcam/fcam.hpp>

using namespace fcam;

namespace {
template <class T>
Tensor<T> load(const std::string& name) {
  const char* dir = std::getenv("FCAM_CONTOURS_REFERENCE");
  if (!dir) FAIL("FCAM_CONTOURS_REFERENCE is not set: run this test through ctest (it runs tests/contours_reference.py)");
  return io::read_npy<T>(std::filesystem::path(dir) / name);
}

int at(const Tensor<double>& t, std::int64_t row, int col) {
  return static_cast<int>(t.data()[row * t.size(1) + col]);
}
}  // namespace

TEST_CASE("contours equal OpenCV's on random masks", "[metrics][contours]") {
  const Tensor<float> pixels = load<float>("masks.npy");
  const Tensor<double> sizes = load<double>("sizes.npy"), rows = load<double>("contours.npy");
  const Tensor<double> points = load<double>("points.npy"), largest = load<double>("largest.npy");
  REQUIRE(sizes.size(0) >= 2000);

  std::int64_t pixel_offset = 0, row = 0, point_offset = 0, mismatched_masks = 0;
  for (std::int64_t m = 0; m < sizes.size(0); ++m) {
    const int h = at(sizes, m, 0), w = at(sizes, m, 1);
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(h) * w);
    for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = pixels.data()[pixel_offset + static_cast<std::int64_t>(i)] != 0;
    pixel_offset += h * w;
    const auto contours = metrics::find_contours(mask.data(), w, h);

    std::int64_t expected_count = 0;
    while (row + expected_count < rows.size(0) && at(rows, row + expected_count, 0) == m) ++expected_count;
    INFO("mask " << m << " (" << h << "x" << w << ")");
    bool same = static_cast<std::int64_t>(contours.size()) == expected_count;
    CHECK(static_cast<std::int64_t>(contours.size()) == expected_count);
    for (std::int64_t k = 0; same && k < expected_count; ++k, ++row) {
      const metrics::Contour& c = contours[static_cast<std::size_t>(k)];
      const metrics::Rect rect = metrics::bounding_rect(c.points);
      const int n = at(rows, row, 8);
      bool ok = c.is_hole == (at(rows, row, 1) == 1) && c.parent == at(rows, row, 2) &&
                metrics::contour_area(c.points) == rows.data()[row * 9 + 3] &&
                rect == metrics::Rect{at(rows, row, 4), at(rows, row, 5), at(rows, row, 6), at(rows, row, 7)} &&
                static_cast<int>(c.points.size()) == n;
      for (int i = 0; ok && i < n; ++i)
        ok = c.points[static_cast<std::size_t>(i)] == metrics::Point{at(points, point_offset + i, 0), at(points, point_offset + i, 1)};
      point_offset += n;
      if (!ok) {
        UNSCOPED_INFO("contour " << k << " differs");
        same = false;
      }
    }
    if (!same) {
      ++mismatched_masks;
      // Resynchronise on the next mask.
      while (row < rows.size(0) && at(rows, row, 0) == m) point_offset += at(rows, row++, 8);
    }
    CHECK(same);
    if (!contours.empty()) {
      std::size_t best = 0;  // Python's max(): the first of largest area
      for (std::size_t k = 1; k < contours.size(); ++k)
        if (metrics::contour_area(contours[k].points) > metrics::contour_area(contours[best].points)) best = k;
      CHECK(static_cast<double>(best) == largest.data()[m]);
    } else {
      CHECK(largest.data()[m] == -1.0);
    }
  }
  CHECK(mismatched_masks == 0);
  CHECK(row == rows.size(0));
}

TEST_CASE("contours of small known shapes", "[metrics][contours]") {
  // A 3×3 ring: the outer border goes round the corners, the hole border (8-connected) cuts
  // them. Expected values as printed by cv2 4.6 for this mask.
  const std::uint8_t ring[] = {1, 1, 1, 1, 0, 1, 1, 1, 1};
  const auto c = metrics::find_contours(ring, 3, 3);
  REQUIRE(c.size() == 2);
  CHECK_FALSE(c[0].is_hole);
  CHECK(c[1].is_hole);
  CHECK(c[1].parent == 0);
  CHECK(c[0].points == std::vector<metrics::Point>{{0, 0}, {0, 2}, {2, 2}, {2, 0}});
  CHECK(c[1].points == std::vector<metrics::Point>{{0, 1}, {1, 0}, {2, 1}, {1, 2}});
  CHECK(metrics::contour_area(c[0].points) == 4.0);
  CHECK(metrics::contour_area(c[1].points) == 2.0);
  CHECK(metrics::bounding_rect(c[0].points) == metrics::Rect{0, 0, 3, 3});
  const std::uint8_t empty[] = {0, 0, 0, 0};
  CHECK(metrics::find_contours(empty, 2, 2).empty());
  CHECK(metrics::find_contours(nullptr, 0, 0).empty());
  CHECK_THROWS_WITH(metrics::find_contours(ring, -1, 3), Catch::Contains("negative image size"));
}

// Boxes per threshold, MaxBoxAcc, MaxBoxAccV2 and top-k localization against the reference
// formulas transcribed with numpy + OpenCV (tests/box_reference.py, run by ctest as a fixture;
// FCAM_BOX_REFERENCE is its folder) on 120 random maps (CAM-like, noise, plateaus with tied
// contours, blobs; 224×224 and smaller; an all-zero and a constant map), at intervals 0.01 and
// 0.001; plus the public reference vectors of docs/method.md §8.8 and the fast per-level border search
// against find_contours.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include <fcam/fcam.hpp>

using namespace fcam;
using metrics::IntBox;

namespace {
Tensor<double> load(const std::string& name) {
  const char* dir = std::getenv("FCAM_BOX_REFERENCE");
  if (!dir) FAIL("FCAM_BOX_REFERENCE is not set: run this test through ctest (it runs tests/box_reference.py)");
  return io::read_npy<double>(std::filesystem::path(dir) / name);
}

double cell(const Tensor<double>& t, std::int64_t row, std::int64_t col) { return t.data()[row * t.size(1) + col]; }

struct ReferenceSet {
  std::vector<Tensor<float>> maps;
  std::vector<std::vector<IntBox>> gt;
  std::vector<std::pair<bool, bool>> flags;
};

ReferenceSet load_reference() {
  ReferenceSet set;
  const Tensor<double> values = load("maps.npy"), sizes = load("sizes.npy"), gt = load("gt.npy"), flags = load("flags.npy");
  std::int64_t offset = 0;
  for (std::int64_t m = 0; m < sizes.size(0); ++m) {
    const auto h = static_cast<std::int64_t>(cell(sizes, m, 0)), w = static_cast<std::int64_t>(cell(sizes, m, 1));
    Tensor<float> map({h, w});
    for (std::int64_t i = 0; i < h * w; ++i) map.data()[i] = static_cast<float>(values.data()[offset + i]);
    offset += h * w;
    set.maps.push_back(map);
    set.flags.emplace_back(cell(flags, m, 0) != 0, cell(flags, m, 1) != 0);
  }
  set.gt.resize(set.maps.size());
  for (std::int64_t r = 0; r < gt.size(0); ++r)
    set.gt[static_cast<std::size_t>(cell(gt, r, 0))].push_back(
        {static_cast<int>(cell(gt, r, 1)), static_cast<int>(cell(gt, r, 2)), static_cast<int>(cell(gt, r, 3)),
         static_cast<int>(cell(gt, r, 4))});
  return set;
}

Tensor<float> map_from(std::initializer_list<std::initializer_list<float>> rows) {
  std::vector<float> v;
  for (const auto& r : rows) v.insert(v.end(), r);
  return Tensor<float>::from({static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows.begin()->size())}, v);
}

std::vector<IntBox> largest_boxes(const Tensor<float>& map) {
  std::vector<IntBox> first;
  for (const auto& boxes : metrics::boxes_at_thresholds(map, {0.0, 0.2, 0.4, 0.6, 0.8}, false)) {
    REQUIRE(boxes.size() == 1);
    first.push_back(boxes.front());
  }
  return first;
}
}  // namespace

TEST_CASE("boxes per threshold equal the reference's", "[metrics][boxes]") {
  const ReferenceSet set = load_reference();
  const Tensor<double> boxes = load("boxes.npy");
  const auto thresholds = metrics::threshold_list(0.01);
  std::int64_t row = 0;
  for (std::size_t m = 0; m < 40; ++m) {
    for (bool multi : {false, true}) {
      const auto ours = metrics::boxes_at_thresholds(set.maps[m], thresholds, multi);
      for (std::size_t t = 0; t < thresholds.size(); ++t) {
        std::vector<IntBox> expected;
        while (row < boxes.size(0) && cell(boxes, row, 0) == static_cast<double>(m) &&
               cell(boxes, row, 1) == static_cast<double>(t) && (cell(boxes, row, 2) != 0) == multi) {
          expected.push_back({static_cast<int>(cell(boxes, row, 3)), static_cast<int>(cell(boxes, row, 4)),
                              static_cast<int>(cell(boxes, row, 5)), static_cast<int>(cell(boxes, row, 6))});
          ++row;
        }
        INFO("map " << m << " threshold " << t << " multi_contour " << multi);
        // The reference lists all-contour boxes in OpenCV's order, fcam in discovery order.
        auto key = [](const IntBox& b) { return std::tuple(b.x0, b.y0, b.x1, b.y1); };
        auto sorted = [&](std::vector<IntBox> v) {
          std::sort(v.begin(), v.end(), [&](const IntBox& a, const IntBox& b) { return key(a) < key(b); });
          return v;
        };
        CHECK(sorted(ours[t]) == sorted(expected));
      }
    }
  }
  CHECK(row == boxes.size(0));
}

TEST_CASE("MaxBoxAcc, MaxBoxAccV2 and top-k localization equal the reference's", "[metrics][boxes]") {
  const ReferenceSet set = load_reference();
  const Tensor<double> results = load("results.npy");
  REQUIRE(set.maps.size() >= 100);
  for (std::int64_t r = 0; r < results.size(0); r += 3) {
    metrics::BoxEvaluationOptions options;
    options.cam_curve_interval = cell(results, r, 0);
    options.multi_contour = cell(results, r, 1) != 0;
    // Two accumulators merged, as threads use them.
    metrics::BoxAccumulator a(options), b(options);
    for (std::size_t m = 0; m < set.maps.size(); ++m)
      (m % 2 ? a : b).add(set.maps[m], set.gt[m], set.flags[m].first, set.flags[m].second);
    a.merge(b);
    REQUIRE(a.count() == static_cast<std::int64_t>(set.maps.size()));
    const std::vector<double> got[3] = {a.max_box_acc(), a.top1_localization(), a.top5_localization()};
    for (int kind = 0; kind < 3; ++kind)
      for (int s = 0; s < 3; ++s) {
        INFO("interval " << options.cam_curve_interval << " multi_contour " << options.multi_contour << " kind "
                         << kind << " sigma index " << s);
        CHECK(std::abs(got[kind][static_cast<std::size_t>(s)] - cell(results, r + kind, 3 + s)) <= 1e-9);
      }
  }
}

TEST_CASE("the public reference vectors of the evaluation code", "[metrics][boxes]") {
  // docs/method.md §8.8: score maps with rows = y, thresholds 0, .2, .4, .6, .8.
  const Tensor<float> a = map_from({{0, 0, 0, 0, 0}, {0, .4f, .4f, .4f, .6f}, {0, .4f, 1, .8f, .6f}, {0, .4f, .4f, .4f, .6f}});
  CHECK(largest_boxes(a) == std::vector<IntBox>{{1, 1, 4, 3}, {1, 1, 4, 3}, {2, 1, 4, 3}, {2, 2, 4, 3}, {2, 2, 3, 3}});
  const Tensor<float> b = map_from({{.4f, 0, .2f, .2f, .2f}, {.4f, .4f, 0, .4f, 0}, {0, 0, 0, .4f, 0}, {1, .6f, .8f, .2f, .2f}});
  CHECK(largest_boxes(b) == std::vector<IntBox>{{0, 0, 4, 3}, {0, 0, 2, 2}, {0, 3, 3, 3}, {2, 3, 3, 3}, {0, 3, 1, 3}});
  CHECK(largest_boxes(Tensor<float>({4, 5})) == std::vector<IntBox>(5, IntBox{0, 0, 0, 0}));
  CHECK_THROWS_WITH(metrics::boxes_at_thresholds(Tensor<float>::full({3, 3}, std::nanf("")), {0.5}, false),
                    Catch::Contains("NaN"));
  CHECK(metrics::box_iou({1, 2, 5, 6}, {3, 1, 4, 5}) == Approx(8.0 / 27.0));
  CHECK(metrics::box_iou({0, 0, 0, 0}, {0, 0, 0, 0}) == 1.0);
}

TEST_CASE("the per-level border search finds find_contours' borders", "[metrics][boxes]") {
  Rng rng(3);
  metrics::LevelContourFinder finder;
  for (int trial = 0; trial < 300; ++trial) {
    const int w = 1 + static_cast<int>(rng.below(90)), h = 1 + static_cast<int>(rng.below(90));
    std::vector<std::uint8_t> values(static_cast<std::size_t>(w) * h);
    const int coarse = 1 + static_cast<int>(rng.below(12));  // blocky maps: plateaus and many borders
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        values[static_cast<std::size_t>(y) * w + x] = static_cast<std::uint8_t>(
            (((x / coarse) * 7919 + (y / coarse) * 104729 + trial * 31) % 251 + rng.below(4)) % 256);
    finder.reset(values.data(), w, h);
    for (int level : {0, 40, 128, 200, 250}) {
      std::vector<std::uint8_t> mask(values.size());
      for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = values[i] > level;
      const auto contours = metrics::find_contours(mask.data(), w, h);
      std::vector<IntBox> expected;
      for (const auto& c : contours) {
        const metrics::Rect r = metrics::bounding_rect(c.points);
        expected.push_back(metrics::reference_box({r.x, r.y, r.x + r.width - 1, r.y + r.height - 1}, w, h));
      }
      INFO("trial " << trial << " level " << level);
      auto all = metrics::boxes_at_level(finder, static_cast<std::uint8_t>(level), w, h, true);
      if (contours.empty()) {
        CHECK(all == std::vector<IntBox>{{0, 0, 0, 0}});
        continue;
      }
      auto order = [](const IntBox& a, const IntBox& b) {
        return std::tuple(a.x0, a.y0, a.x1, a.y1) < std::tuple(b.x0, b.y0, b.x1, b.y1);
      };
      std::sort(all.begin(), all.end(), order);
      auto sorted_expected = expected;
      std::sort(sorted_expected.begin(), sorted_expected.end(), order);
      CHECK(all == sorted_expected);
      std::size_t best = 0;  // the reference's choice: the first of largest area in OpenCV's order
      for (std::size_t k = 1; k < contours.size(); ++k)
        if (metrics::contour_area(contours[k].points) > metrics::contour_area(contours[best].points)) best = k;
      CHECK(metrics::boxes_at_level(finder, static_cast<std::uint8_t>(level), w, h, false) ==
            std::vector<IntBox>{expected[best]});
    }
  }
}

TEST_CASE("box accumulator input errors", "[metrics][boxes]") {
  metrics::BoxAccumulator acc({});
  CHECK_THROWS_WITH(acc.max_box_acc(), Catch::Contains("no image was added"));
  CHECK_THROWS_WITH(acc.add(Tensor<float>({4, 4}), {}), Catch::Contains("no ground-truth box"));
  const std::vector<IntBox> inverted{{3, 3, 1, 1}};
  CHECK_THROWS_WITH(acc.add(Tensor<float>({4, 4}), inverted), Catch::Contains("inverted box"));
  CHECK_THROWS_WITH(acc.add(Tensor<float>::full({4, 4}, 2.0f), std::vector<IntBox>{{0, 0, 1, 1}}),
                    Catch::Contains("outside [0, 1]"));
  metrics::BoxEvaluationOptions bad;
  bad.iou_thresholds = {};
  CHECK_THROWS_WITH(metrics::BoxAccumulator(bad), Catch::Contains("empty IoU threshold list"));
}

// The keyed pseudo-label sampler of ops/region_labels.hpp on the CPU (the GPU's reference; the
// GPU's bits are compared with it in backend_ops/test_region_labels_on_cuda.cpp): the shared
// rules (value order, draw keys, uniform draws), the labels' candidates and counts, determinism
// across seeds and thread counts, its refusals, and LabelMap in the partial cross-entropy.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <set>
#include <vector>

#include <fcam/fcam.hpp>
#include <fcam/losses/sampling_regions.hpp>
#include <fcam/ops/region_labels.hpp>

using namespace fcam;

namespace {
// N smooth h×w maps in [0, 1] with many exact ties at 0: a coarse random map, ReLU'd around its
// mean and upsampled bilinearly, as a CAM is.
Tensor<float> smooth_cams(std::int64_t n, std::int64_t h, std::int64_t w, std::uint64_t seed) {
  Tensor<float> coarse({n, 1, 7, 7});
  Rng rng(seed);
  fill_uniform(coarse, -1.0, 1.0, rng);
  Tensor<float> up = resize_bilinear(relu(coarse), h, w, false).reshape({n, h, w});
  return normalize_items(up);
}
}  // namespace

TEST_CASE("region rules: value keys order pixels by (value, index), -0 as +0", "[ops][sampling]") {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> values{0.5f, -0.0f, 0.0f, -1.5f, 1e-30f, 0.5f, inf, -inf, 0.0f, -1e-30f, 1.0f, -0.0f};
  std::vector<std::uint32_t> by_key(values.size()), by_value(values.size());
  std::iota(by_key.begin(), by_key.end(), 0u);
  std::iota(by_value.begin(), by_value.end(), 0u);
  std::sort(by_key.begin(), by_key.end(), [&](std::uint32_t a, std::uint32_t b) {
    return region_rules::value_key(values[a], a) < region_rules::value_key(values[b], b);
  });
  std::stable_sort(by_value.begin(), by_value.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return values[a] < values[b]; });
  CHECK(by_key == by_value);
  CHECK(by_value[3] == 1);  // not vacuous: -0 (pixel 1) ties with +0 and comes before pixel 2's +0
}

TEST_CASE("region rules: quantise and Otsu of counts match the 8-bit rules", "[ops][sampling]") {
  CHECK(int(region_rules::quantise(-0.5f)) == 0);
  CHECK(int(region_rules::quantise(0.999f)) == 254);
  CHECK(int(region_rules::quantise(1.0f)) == 255);
  CHECK(int(region_rules::quantise(7.0f)) == 255);
  // Two clusters, 10 pixels of 20 and 30 of 200: every split between them has the same class
  // means, so the first one, 20, wins; one pixel of 100 between them moves the split to 100.
  std::uint32_t counts[256] = {};
  counts[20] = 10, counts[200] = 30;
  CHECK(region_rules::otsu_threshold_of_counts(counts) == 20);
  counts[100] = 1;
  CHECK(region_rules::otsu_threshold_of_counts(counts) == 100);
  std::uint32_t one[256] = {};
  one[77] = 5;
  CHECK(region_rules::otsu_threshold_of_counts(one) == 77);
}

TEST_CASE("keyed draws are uniform without replacement", "[ops][sampling]") {
  // 3 of 10 candidates over 4000 seeds: each is drawn 30 % of the time (σ ≈ 0.7 %), each pair
  // 3/10·2/9 ≈ 6.7 %, and every draw holds 3 different pixels of the pool.
  losses::SamplingOptions o;
  o.n_foreground = 3;
  o.n_background = 2;
  const int seeds = 4000;
  std::vector<int> drawn(10, 0);
  int pair = 0;
  for (int seed = 0; seed < seeds; ++seed) {
    losses::SamplingPools pools;
    pools.constant = false;
    pools.foreground = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    pools.background = {0, 1};
    losses::draw_keyed(pools, o, static_cast<std::uint64_t>(seed), 5);
    REQUIRE(pools.foreground.size() == 3);
    REQUIRE(std::set<std::int64_t>(pools.foreground.begin(), pools.foreground.end()).size() == 3);
    for (const std::int64_t p : pools.foreground) ++drawn[static_cast<std::size_t>(p - 10)];
    pair += std::count(pools.foreground.begin(), pools.foreground.end(), 10) *
            std::count(pools.foreground.begin(), pools.foreground.end(), 11);
    CHECK(std::set<std::int64_t>(pools.background.begin(), pools.background.end()) == std::set<std::int64_t>{0, 1});
  }
  for (const int d : drawn) CHECK(std::abs(d / double(seeds) - 0.3) < 0.035);
  CHECK(std::abs(pair / double(seeds) - 3.0 / 10 * 2 / 9) < 0.02);
}

TEST_CASE("keyed_region_labels on the CPU: drawn candidates, counts, determinism on any thread count",
          "[ops][sampling]") {
  const std::int64_t n = 5, h = 40, w = 56, plane = h * w;
  Tensor<float> cams = smooth_cams(n, h, w, 9);
  std::fill(cams.data() + 4 * plane, cams.data() + 5 * plane, 0.3f);  // a constant map: no labels
  losses::SamplingOptions o;
  o.n_foreground = 5;
  o.n_background = 4;
  o.dilation = 1;  // each labelled pixel is a drawn one
  const LabelMap labels = keyed_region_labels(cams, o, 1234);
  REQUIRE(labels.device() == Device::cpu);
  REQUIRE(labels.size() == n * plane);
  const std::vector<std::uint8_t> got = labels.host_values();
  CHECK(labels.labelled() == std::count_if(got.begin(), got.end(), [](std::uint8_t l) { return l <= 1; }));
  int maps_with_labels = 0;
  for (std::int64_t b = 0; b < n; ++b) {
    INFO("CAM " << b);
    const std::span<const float> cam(cams.data() + b * plane, static_cast<std::size_t>(plane));
    const losses::SamplingPools pools = losses::sampling_pools(cam, h, w, o);
    const std::set<std::int64_t> fg(pools.foreground.begin(), pools.foreground.end());
    const std::set<std::int64_t> bg(pools.background.begin(), pools.background.end());
    std::int64_t n_fg = 0, n_bg = 0;
    for (std::int64_t i = 0; i < plane; ++i) {
      const std::uint8_t l = got[static_cast<std::size_t>(b * plane + i)];
      if (l == losses::foreground) {
        CHECK(fg.count(i) == 1);
        ++n_fg;
      }
      if (l == losses::background) {
        CHECK(bg.count(i) == 1);
        ++n_bg;
      }
    }
    CHECK(n_fg == (pools.constant ? 0 : std::min<std::int64_t>(5, static_cast<std::int64_t>(fg.size()))));
    CHECK(n_bg == (pools.constant ? 0 : 4));
    maps_with_labels += n_fg > 0 && n_bg > 0;
  }
  CHECK(maps_with_labels == 4);  // not vacuous: only the constant map has none
  // The same seed gives the same labels on any thread count; another seed other pixels.
  const int threads = num_threads();
  for (const int t : {1, 2, 3}) {
    set_num_threads(t);
    CHECK(keyed_region_labels(cams, o, 1234).host_values() == got);
  }
  set_num_threads(threads);
  CHECK(keyed_region_labels(cams, o, 1235).host_values() != got);
  // With the default dilation every drawn pixel becomes a 3x3 square (clipped at the border).
  const LabelMap dilated = keyed_region_labels(cams, losses::SamplingOptions{}, 77);
  CHECK(dilated.labelled() > 4 * 2);
  CHECK(dilated.labelled() <= 4 * 2 * 9);
}

TEST_CASE("keyed_region_labels refuses bad input", "[ops][sampling]") {
  Tensor<float> cams = smooth_cams(2, 8, 8, 3);
  losses::SamplingOptions even;
  even.erosion = 4;
  CHECK_THROWS_WITH(keyed_region_labels(cams, even, 1), Catch::Contains("odd"));
  CHECK_THROWS_WITH(keyed_region_labels(cams.reshape({2, 64}), losses::SamplingOptions{}, 1),
                    Catch::Contains("keyed_region_labels cams"));
  CHECK_THROWS_WITH(keyed_region_labels(Tensor<float>({2, 0, 8}), losses::SamplingOptions{}, 1),
                    Catch::Contains("empty CAMs"));
  CHECK(keyed_region_labels(Tensor<float>({0, 8, 8}), losses::SamplingOptions{}, 1).size() == 0);
  cams.data()[70] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(keyed_region_labels(cams, losses::SamplingOptions{}, 1), Catch::Contains("NaN"));
}

TEST_CASE("LabelMap: checked, counted, and read by the partial cross-entropy like host labels", "[ops][sampling]") {
  Tensor<double> logits({2, 2, 3, 3});
  Rng rng(5);
  fill_uniform(logits, -2.0, 2.0, rng);
  const std::vector<std::uint8_t> host{0, 1, 255, 255, 1, 0, 255, 255, 255, 1, 1, 1, 255, 0, 255, 255, 255, 0};
  const LabelMap map = LabelMap::from_host(host, Device::cpu);
  CHECK(map.labelled() == 9);
  CHECK(map.host_values() == host);
  Tensor<double> grad_vector, grad_map;
  const double from_vector = labelled_cross_entropy(logits, host, 0.7, &grad_vector);
  CHECK(labelled_cross_entropy(logits, map, 0.7, &grad_map) == from_vector);
  CHECK(max_abs_difference(grad_vector, grad_map) == 0.0);
  CHECK(from_vector > 0.0);
  std::vector<std::uint8_t> bad = host;
  bad[4] = 7;
  CHECK_THROWS_WITH(LabelMap::from_host(bad, Device::cpu), Catch::Contains("label 7"));
  CHECK_THROWS_WITH(labelled_cross_entropy(logits, LabelMap::from_host(std::vector<std::uint8_t>(4, 0), Device::cpu),
                                           1.0),
                    Catch::Contains("4 labels for logits"));
}

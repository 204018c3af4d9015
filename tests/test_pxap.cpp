// PxAP against the wsolevaluation formulas written in numpy (tests/pxap_reference.py, run by
// ctest as a fixture; FCAM_PXAP_REFERENCE is its folder): 100 random maps with values on bin
// edges, at intervals 0.01 and 0.001, equal within 1e-9.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include <fcam/fcam.hpp>

using namespace fcam;

namespace {
Tensor<float> load(const std::string& name) {
  const char* dir = std::getenv("FCAM_PXAP_REFERENCE");
  if (!dir) FAIL("FCAM_PXAP_REFERENCE is not set: run this test through ctest (it runs tests/pxap_reference.py)");
  return io::read_npy<float>(std::filesystem::path(dir) / name);
}
}  // namespace

TEST_CASE("PxAP equals the reference formulas", "[metrics][pxap]") {
  const Tensor<float> scores = load("scores.npy"), fg = load("foreground.npy"), ignore = load("ignore.npy");
  const char* dir = std::getenv("FCAM_PXAP_REFERENCE");
  const Tensor<double> expected = io::read_npy<double>(std::filesystem::path(dir) / "pxap.npy");
  REQUIRE(scores.ndim() == 3);
  const double intervals[] = {0.01, 0.001};
  for (int k = 0; k < 2; ++k) {
    metrics::PxapAccumulator acc(intervals[k]);
    for (std::int64_t i = 0; i < scores.size(0); ++i) {
      const Shape plane{scores.size(1), scores.size(2)};
      acc.add(scores.batch(i).reshape(plane), fg.batch(i).reshape(plane), ignore.batch(i).reshape(plane));
    }
    INFO("interval " << intervals[k]);
    CHECK(std::abs(acc.pxap() - expected.data()[k]) <= 1e-9);
  }
}

TEST_CASE("PxAP edge cases", "[metrics][pxap]") {
  CHECK(metrics::threshold_list(0.001).size() == 1000);
  CHECK(metrics::threshold_list(0.3).size() == 4);  // numpy.arange(0, 1, 0.3): 0, .3, .6, .9
  CHECK_THROWS_WITH(metrics::threshold_list(0.0), Catch::Contains("cam_curve_interval must be in [1e-06, 1)"));
  CHECK_THROWS_WITH(metrics::threshold_list(1.0), Catch::Contains("cam_curve_interval must be in [1e-06, 1)"));
  // 1e-300 once overflowed the threshold count (⌈1/interval⌉ cast to 64 bits) and crashed.
  CHECK_THROWS_WITH(metrics::threshold_list(1e-300), Catch::Contains("got 1e-300"));
  CHECK(metrics::threshold_list(metrics::min_cam_curve_interval).size() == 1000000);
  metrics::PxapAccumulator acc(0.01);
  acc.add(Tensor<float>::full({2, 2}, 0.5f), Tensor<float>({2, 2}));
  CHECK_THROWS_WITH(acc.pxap(), Catch::Contains("no foreground pixel"));
  // A perfect separation gives 100; a constant map gives the foreground fraction.
  metrics::PxapAccumulator perfect(0.01), constant(0.01);
  const Tensor<float> fg = Tensor<float>::from({1, 4}, {1, 1, 0, 0});
  perfect.add(Tensor<float>::from({1, 4}, {0.9f, 0.8f, 0.1f, 0.2f}), fg);
  constant.add(Tensor<float>::full({1, 4}, 0.5f), fg);
  CHECK(perfect.pxap() == Approx(100.0));
  CHECK(constant.pxap() == Approx(50.0));
  CHECK_THROWS_WITH(perfect.add(Tensor<float>({2, 2}), Tensor<float>({2, 3})), Catch::Contains("shape mismatch"));
}

TEST_CASE("score-map quantisation and threshold levels equal the reference's", "[metrics][score_map]") {
  const Tensor<float> scores = load("scores.npy"), u8 = load("u8.npy"), levels = load("levels.npy");
  const auto taus = metrics::threshold_list(0.01);
  REQUIRE(levels.size(1) == static_cast<std::int64_t>(taus.size()));
  const Shape plane{scores.size(1), scores.size(2)};
  for (std::int64_t i = 0; i < scores.size(0); ++i) {
    const auto q = metrics::quantize_score_map(scores.batch(i).reshape(plane));
    std::uint8_t max_u8 = 0;
    for (std::size_t p = 0; p < q.size(); ++p) {
      REQUIRE(q[p] == static_cast<std::uint8_t>(u8.batch(i).data()[p]));
      max_u8 = std::max(max_u8, q[p]);
    }
    for (std::size_t t = 0; t < taus.size(); ++t)
      REQUIRE(metrics::threshold_level(taus[t], max_u8) == static_cast<int>(levels(i, static_cast<std::int64_t>(t))));
  }
}

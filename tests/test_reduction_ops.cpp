// The ops that took over the loops of the losses and CAM methods ([backend]): reductions,
// per-plane ops, the scaled tensor and the labelled cross-entropy, each against a plain
// computation written here, plus their contract checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include <fcam/fcam.hpp>

using namespace fcam;

namespace {
Tensor<double> ramp(const Shape& shape, double start, double step) {
  Tensor<double> t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = start + step * static_cast<double>(i % 7) * (i % 2 ? -1 : 1);
  return t;
}
}  // namespace

TEST_CASE("plane_sums, item_dots, max_abs_difference and host_values", "[ops]") {
  const Tensor<double> a = ramp({2, 3, 2, 2}, 0.5, 0.25), b = ramp({2, 3, 2, 2}, -1.0, 0.125);
  const std::vector<double> sums = plane_sums(a);
  REQUIRE(sums.size() == 6);
  for (std::int64_t p = 0; p < 6; ++p) {
    double want = 0;
    for (std::int64_t i = 0; i < 4; ++i) want += a.data()[p * 4 + i];
    CHECK(sums[static_cast<std::size_t>(p)] == want);
  }
  const std::vector<double> dots = item_dots(a, b);
  REQUIRE(dots.size() == 2);
  for (std::int64_t n = 0; n < 2; ++n) {
    double want = 0;
    for (std::int64_t i = 0; i < 12; ++i) want += a.data()[n * 12 + i] * b.data()[n * 12 + i];
    CHECK(dots[static_cast<std::size_t>(n)] == want);
  }
  double worst = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a.data()[i] - b.data()[i]));
  CHECK(max_abs_difference(a, b) == worst);
  CHECK(max_abs_difference(a, a) == 0.0);
  const std::vector<double> values = host_values(a);
  REQUIRE(values.size() == 24);
  CHECK(values[5] == a.data()[5]);
  CHECK_THROWS_WITH(item_dots(a, Tensor<double>({2, 3})), Catch::Contains("item_dots: shape mismatch"));
  CHECK_THROWS_WITH(plane_sums(Tensor<double>({4})), Catch::Contains("plane_sums: expects at least N×C"));
}

TEST_CASE("weighted_channel_sum, normalize_items, fill_planes and scaled", "[ops]") {
  const Tensor<float> features = ramp({2, 3, 2, 2}, 0.5, 0.75).cast<float>();
  const std::vector<double> weights = {1.0, -2.0, 0.5, 0.25, 3.0, -1.0};
  for (const bool relu : {false, true}) {
    const Tensor<float> maps = weighted_channel_sum(features, weights, relu);
    REQUIRE(maps.shape() == Shape{2, 2, 2});
    for (std::int64_t b = 0; b < 2; ++b)
      for (std::int64_t i = 0; i < 4; ++i) {
        float want = 0;
        for (std::int64_t k = 0; k < 3; ++k)
          want += static_cast<float>(weights[static_cast<std::size_t>(b * 3 + k)] * features.data()[(b * 3 + k) * 4 + i]);
        CHECK(maps.data()[b * 4 + i] == (relu ? std::max(want, 0.0f) : want));
      }
  }
  CHECK_THROWS_WITH(weighted_channel_sum(features, {1.0}, false), Catch::Contains("1 weights for features"));

  Tensor<double> maps({2, 3});
  const double raw[] = {2, 4, 6, 5, 5, 5};
  std::copy(raw, raw + 6, maps.data());
  const Tensor<double> normal = normalize_items(maps);
  const double want[] = {0, 0.5, 1, 0, 0, 0};  // a constant item becomes 0
  for (int i = 0; i < 6; ++i) CHECK(normal.data()[i] == want[i]);

  const Tensor<float> filled = fill_planes<float>({2, 2, 3}, {1.f, 2.f, 3.f, 4.f});
  for (std::int64_t i = 0; i < 12; ++i) CHECK(filled.data()[i] == static_cast<float>(i / 3 + 1));
  CHECK_THROWS_WITH(fill_planes<float>({2, 2, 3}, {1.f}), Catch::Contains("1 values for shape"));

  const Tensor<float> x = ramp({5}, 1.0, 0.5).cast<float>();
  const Tensor<float> y = scaled(x, 1e-9);
  for (std::int64_t i = 0; i < 5; ++i) CHECK(y.data()[i] == static_cast<float>(1e-9 * x.data()[i]));
}

TEST_CASE("class_weighted_channel_sum: the weights of each rule from the class's fc row", "[ops]") {
  const Tensor<float> features = ramp({3, 3, 2, 2}, 0.5, 0.75).cast<float>();
  // Class 1's row holds a negative value and -0: LayerCAM's max(g, 0) clamps the first, keeps -0.
  const Tensor<float> fc = Tensor<float>::from({2, 3}, {0.5f, 2.0f, -1.0f, -3.0f, -0.0f, 4.0f});
  const std::vector<int> classes{1, 0, 1};
  for (const auto& [rule, relu] : {std::pair{ClassWeight::row, false}, std::pair{ClassWeight::row_over_plane, true},
                                  std::pair{ClassWeight::positive_row_over_plane, true}}) {
    INFO("rule " << static_cast<int>(rule));
    std::vector<double> weights;
    for (const int cls : classes)
      for (std::int64_t k = 0; k < 3; ++k) {
        const double w = fc.data()[cls * 3 + k], g = w / 4.0;
        weights.push_back(rule == ClassWeight::row ? w : rule == ClassWeight::row_over_plane ? g : std::max(g, 0.0));
      }
    const Tensor<float> want = weighted_channel_sum(features, weights, relu);
    const Tensor<float> got = class_weighted_channel_sum(features, fc, classes, rule, relu);
    REQUIRE(got.shape() == want.shape());
    for (std::int64_t i = 0; i < got.numel(); ++i) CHECK(got.data()[i] == want.data()[i]);
  }
  CHECK(class_channel_weight(ClassWeight::positive_row_over_plane, -8.0, 4) == 0.0);
  // GradCAM++ (either α) and XGradCAM read each plane's sum: plane 1 of image 1 sums to 0 (XGradCAM's
  // weight 0) and class 1's -0 makes GradCAM++'s denominator 0 (α = 0).
  Tensor<float> signed_features = features.clone();
  for (std::int64_t i = 0; i < 4; ++i) signed_features.data()[16 + i] = i % 2 == 0 ? 1.5f : -1.5f;
  const std::vector<double> sums = plane_sums(signed_features);
  REQUIRE(sums[4] == 0.0);
  for (const auto rule : {ClassWeight::gradcampp, ClassWeight::gradcampp_reference, ClassWeight::xgradcam}) {
    INFO("rule " << static_cast<int>(rule));
    std::vector<double> weights;
    for (std::size_t b = 0; b < classes.size(); ++b)
      for (std::int64_t k = 0; k < 3; ++k) {
        const double g = fc.data()[classes[b] * 3 + k] / 4.0, s = sums[b * 3 + static_cast<std::size_t>(k)];
        const double denominator = 2 * g * g + s * g * g * g;
        const double alpha = rule == ClassWeight::gradcampp_reference ? g * g
                             : denominator != 0                       ? g * g / denominator
                                                                      : 0.0;
        weights.push_back(rule == ClassWeight::xgradcam ? (s != 0 ? g : 0.0) : 4.0 * alpha * std::max(g, 0.0));
      }
    CHECK(std::count(weights.begin(), weights.end(), 0.0) >= 1);  // the zero cases are hit
    const Tensor<float> want = weighted_channel_sum(signed_features, weights, true);
    const Tensor<float> got = class_weighted_channel_sum(signed_features, fc, classes, rule, true);
    REQUIRE(got.shape() == want.shape());
    for (std::int64_t i = 0; i < got.numel(); ++i) CHECK(got.data()[i] == want.data()[i]);
  }
  CHECK(class_channel_weight(ClassWeight::xgradcam, 8.0, 4, 0.0) == 0.0);
  CHECK(class_channel_weight(ClassWeight::gradcampp, 8.0, 4, 1.0) == 4.0 * (4.0 / (8.0 + 8.0)) * 2.0);
  CHECK(std::signbit(class_channel_weight(ClassWeight::positive_row_over_plane, -0.0, 4)));  // as std::max
  CHECK_THROWS_WITH(class_weighted_channel_sum(features, fc, {1, 2, 0}, ClassWeight::row, false),
                    Catch::Contains("class 2 outside [0, 2)"));
  CHECK_THROWS_WITH(class_weighted_channel_sum(features, fc, {1}, ClassWeight::row, false),
                    Catch::Contains("1 classes for 3 images"));
}

TEST_CASE("add_gradcampp_alpha and smoothed_gradcampp_sum: Smooth-GradCAM++'s α over passes, then its weights",
          "[ops]") {
  // Three passes of 7×7 planes (49 pixels and 3 passes: weights computed in float would differ in
  // their last bits from these, in double); image 1's plane 1 is 0 in the second pass, and class
  // 1's -0 makes the paper's denominator 0 (α = 0).
  const Tensor<float> first = ramp({3, 3, 7, 7}, 0.5, 0.75).cast<float>();
  Tensor<float> second = ramp({3, 3, 7, 7}, -0.25, 0.5).cast<float>();
  std::fill(second.data() + 4 * 49, second.data() + 5 * 49, 0.0f);
  const Tensor<float> third = ramp({3, 3, 7, 7}, 0.125, 0.375).cast<float>();
  const Tensor<float> fc = Tensor<float>::from({2, 3}, {0.5f, 2.0f, -1.0f, -3.0f, -0.0f, 4.0f});
  const std::vector<int> classes{1, 0, 1};
  const std::vector<const Tensor<float>*> passes{&first, &second, &third};
  for (const bool reference : {false, true}) {
    INFO((reference ? "the reference's α" : "the paper's α"));
    std::vector<float> alpha(9, 0.0f);  // by hand: α = g² / (2g² + S·g³), or g²
    for (const Tensor<float>* pass : passes) {
      const std::vector<double> sums = plane_sums(*pass);
      for (std::size_t b = 0; b < 3; ++b)
        for (std::size_t k = 0; k < 3; ++k) {
          const double g = fc.data()[classes[b] * 3 + static_cast<int>(k)] / 49.0, s = sums[b * 3 + k];
          const double denominator = 2 * g * g + s * g * g * g;
          alpha[b * 3 + k] += static_cast<float>(reference ? g * g : denominator != 0 ? g * g / denominator : 0.0);
        }
    }
    Tensor<float> alpha_sum({3, 3});
    for (const Tensor<float>* pass : passes) add_gradcampp_alpha(alpha_sum, *pass, fc, classes, reference);
    for (std::size_t i = 0; i < 9; ++i) CHECK(alpha_sum.data()[i] == alpha[i]);
    CHECK(std::count(alpha.begin(), alpha.end(), 0.0f) == 2);  // class 1's -0: the zero case is hit
    std::vector<double> weights;  // 49 pixels · mean α · max(g, 0), in double
    for (std::size_t b = 0; b < 3; ++b)
      for (std::size_t k = 0; k < 3; ++k) {
        const double g = fc.data()[classes[b] * 3 + static_cast<int>(k)] / 49.0;
        weights.push_back(49.0 * (static_cast<double>(alpha[b * 3 + k]) / 3) * std::max(g, 0.0));
      }
    const Tensor<float> want = weighted_channel_sum(third, weights, true);
    const Tensor<float> got = smoothed_gradcampp_sum(third, fc, classes, alpha_sum, 3);
    REQUIRE(got.shape() == want.shape());
    for (std::int64_t i = 0; i < got.numel(); ++i) CHECK(got.data()[i] == want.data()[i]);
  }
  Tensor<float> alpha_sum({3, 3});
  CHECK_THROWS_WITH(add_gradcampp_alpha(alpha_sum, first, fc, {1, 2, 0}, false), Catch::Contains("class 2 outside [0, 2)"));
  Tensor<float> wrong({3, 2});
  CHECK_THROWS_WITH(add_gradcampp_alpha(wrong, first, fc, classes, false),
                    Catch::Contains("add_gradcampp_alpha: α sums [3, 2] for features [3, 3, 7, 7]"));
  CHECK_THROWS_WITH(smoothed_gradcampp_sum(first, fc, classes, alpha_sum, 0), Catch::Contains("passes must be >= 1"));
  CHECK_THROWS_WITH(smoothed_gradcampp_sum(first, Tensor<float>({2, 4}), classes, alpha_sum, 1),
                    Catch::Contains("smoothed_gradcampp_sum: fc weight [2, 4] for features [3, 3, 7, 7]"));
}

TEST_CASE("labelled_cross_entropy: weight · mean −log p over labelled pixels; gradient by finite differences",
          "[ops][losses]") {
  Tensor<double> logits = ramp({2, 2, 2, 2}, 0.3, 0.4);
  const std::vector<std::uint8_t> labels = {0, 1, 255, 1, 255, 0, 0, 1};
  Tensor<double> grad;
  const double mean = labelled_cross_entropy(logits, labels, 0.5, &grad);
  double want = 0;
  for (std::int64_t b = 0; b < 2; ++b)
    for (std::int64_t i = 0; i < 4; ++i) {
      const std::uint8_t l = labels[static_cast<std::size_t>(b * 4 + i)];
      if (l == 255) continue;
      const double z0 = logits.data()[b * 8 + i], z1 = logits.data()[b * 8 + 4 + i];
      want -= std::log(std::exp(l ? z1 : z0) / (std::exp(z0) + std::exp(z1)));
    }
  CHECK(mean == Approx(0.5 * want / 6).epsilon(1e-12));  // 6 labelled pixels
  CHECK(labelled_cross_entropy(logits, std::vector<std::uint8_t>(8, 255), 0.5) == 0.0);
  for (std::int64_t i = 0; i < logits.numel(); ++i) {
    const double saved = logits.data()[i], eps = 1e-6;
    logits.data()[i] = saved + eps;
    const double up = labelled_cross_entropy(logits, labels, 1.0);
    logits.data()[i] = saved - eps;
    const double down = labelled_cross_entropy(logits, labels, 1.0);
    logits.data()[i] = saved;
    CHECK(grad.data()[i] == Approx(0.5 * (up - down) / (2 * eps)).margin(1e-9));
  }
  CHECK_THROWS_WITH(labelled_cross_entropy(logits, {0, 1}, 1.0), Catch::Contains("2 labels for logits"));
  std::vector<std::uint8_t> bad = labels;
  bad[3] = 7;
  CHECK_THROWS_WITH(labelled_cross_entropy(logits, bad, 1.0), Catch::Contains("label 7"));
}

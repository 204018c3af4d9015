// test_backend_ops: the CAM methods' per-plane ops (channel-weighted sums, per-map min–max
// normalisation) and top_k on CUDA give the CPU's bits.
#include <algorithm>
#include <limits>

#include "backend_ops/compare.hpp"

using namespace fcam;
using namespace fcam::test;

namespace {
constexpr Device gpu = Device::cuda;

// Every element of `cuda` equals the CPU's `reference` (NaN where it has NaN).
void expect_same_bits(const Tensor<float>& reference, const Tensor<float>& cuda, const std::string& what) {
  INFO(what);
  REQUIRE(cuda.shape() == reference.shape());
  REQUIRE(cuda.device() == gpu);
  const Tensor<float> got = cuda.to(Device::cpu);
  std::int64_t differing = 0;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const float a = reference.data()[i], b = got.data()[i];
    differing += (a == b || (std::isnan(a) && std::isnan(b))) ? 0 : 1;
  }
  CHECK(differing == 0);
}

std::vector<double> random_weights(std::size_t count, std::uint64_t seed) {
  const Tensor<float> t = random_tensor({static_cast<std::int64_t>(count)}, seed, -0.05, 0.05);
  return {t.data(), t.data() + t.numel()};
}
}  // namespace

TEST_CASE("weighted_channel_sum gives the CPU's bits, with and without the ReLU", "[cuda]") {
  std::uint64_t seed = 2000;
  for (const Shape& shape : std::vector<Shape>{{1, 1, 1, 1}, {2, 3, 7, 7}, {3, 2048, 7, 7}, {2, 512, 28, 28},
                                               {1, 5, 1, 300}, {2, 3, 0, 4}}) {
    const Tensor<float> features = random_tensor(shape, ++seed);  // sums of both signs: the ReLU has work
    const std::vector<double> weights = random_weights(static_cast<std::size_t>(shape[0] * shape[1]), ++seed);
    for (const bool relu : {false, true}) {
      const Tensor<float> cpu = weighted_channel_sum(features, weights, relu);
      expect_same_bits(cpu, weighted_channel_sum(features.to(gpu), weights, relu),
                       "weighted_channel_sum " + shape_text(shape) + (relu ? " relu" : ""));
      if (relu && cpu.numel() > 8) {  // the case is not vacuous: the ReLU clamped something and kept something
        const auto [lo, hi] = std::minmax_element(cpu.data(), cpu.data() + cpu.numel());
        CHECK(*lo == 0.0f);
        CHECK(*hi > 0.0f);
      }
    }
  }
  // A NaN feature stays NaN through the ReLU on both devices.
  Tensor<float> features = random_tensor({1, 2, 3, 3}, 2100);
  features.data()[4] = std::numeric_limits<float>::quiet_NaN();
  expect_same_bits(weighted_channel_sum(features, {0.5, -0.25}, true),
                   weighted_channel_sum(features.to(gpu), {0.5, -0.25}, true), "weighted_channel_sum with a NaN");
}

TEST_CASE("class_weighted_channel_sum and the CAM methods built on it give the CPU's bits", "[cuda]") {
  Tensor<float> features = random_tensor({4, 2048, 7, 7}, 2300);
  std::fill(features.data() + 5 * 49, features.data() + 6 * 49, 0.0f);  // a plane summing to 0 (XGradCAM's 0)
  const Tensor<float> fc = random_tensor({200, 2048}, 2301, -0.05, 0.05);
  const Tensor<float> gpu_features = features.to(gpu), gpu_fc = fc.to(gpu);
  const std::vector<int> classes{3, 199, 3, 0};
  const ClassIndices device_classes = ClassIndices::uploaded(classes, 200);
  CHECK(device_classes.host_values() == classes);
  for (const auto rule : {ClassWeight::row, ClassWeight::row_over_plane, ClassWeight::positive_row_over_plane,
                          ClassWeight::gradcampp, ClassWeight::gradcampp_reference, ClassWeight::xgradcam})
    for (const bool relu : {false, true}) {
      const Tensor<float> cpu = class_weighted_channel_sum(features, fc, classes, rule, relu);
      const std::string what = "class_weighted_channel_sum rule " + std::to_string(static_cast<int>(rule));
      expect_same_bits(cpu, class_weighted_channel_sum(gpu_features, gpu_fc, classes, rule, relu), what);
      expect_same_bits(cpu, class_weighted_channel_sum(gpu_features, gpu_fc, device_classes, rule, relu),
                       what + ", device classes");
    }
  for (const cam::Method method : {cam::Method::cam, cam::Method::gradcam, cam::Method::gradcampp,
                                   cam::Method::xgradcam, cam::Method::layercam})
    expect_same_bits(cam::class_activation_maps(features, fc, classes, method),
                     cam::class_activation_maps(gpu_features, gpu_fc, device_classes, method),
                     std::string("class_activation_maps ") + std::string(cam::method_name(method)));
  CHECK_THROWS_WITH(class_weighted_channel_sum(gpu_features, fc, classes, ClassWeight::row, false),
                    Catch::Contains("operands on different devices"));
  CHECK_THROWS_WITH(class_weighted_channel_sum(features, fc, device_classes, ClassWeight::row, false),
                    Catch::Contains("the classes are on the GPU but the features on the CPU"));
  CHECK_THROWS_WITH(class_weighted_channel_sum(gpu_features, gpu_fc.batch(0), device_classes,
                                               ClassWeight::row, false),
                    Catch::Contains("classes chosen among 200 for 1 fc rows"));
  CHECK_THROWS_WITH(ClassIndices::uploaded({3, 200}, 200), Catch::Contains("class 200 outside [0, 200)"));
}

TEST_CASE("Smooth-GradCAM++'s α sums and maps give the CPU's bits, with host and device classes", "[cuda]") {
  const Tensor<float> fc = random_tensor({200, 2048}, 2311, -0.05, 0.05);
  const Tensor<float> gpu_fc = fc.to(gpu);
  const std::vector<int> classes{3, 199, 3, 0};
  const ClassIndices device_classes = ClassIndices::uploaded(classes, 200);
  std::vector<Tensor<float>> passes;
  for (std::uint64_t p = 0; p < 3; ++p) passes.push_back(random_tensor({4, 2048, 7, 7}, 2312 + p));
  std::fill(passes[1].data() + 5 * 49, passes[1].data() + 6 * 49, 0.0f);  // a plane summing to 0
  for (const bool reference : {false, true})
    for (const bool on_device : {false, true}) {
      const std::string what = std::string(reference ? "reference α" : "paper's α") +
                               (on_device ? ", device classes" : ", host classes");
      Tensor<float> cpu_alpha({4, 2048}), gpu_alpha({4, 2048}, gpu);
      for (const Tensor<float>& a : passes) {
        add_gradcampp_alpha(cpu_alpha, a, fc, classes, reference);
        add_gradcampp_alpha(gpu_alpha, a.to(gpu), gpu_fc, on_device ? device_classes : ClassIndices(classes), reference);
      }
      expect_same_bits(cpu_alpha, gpu_alpha, "α sums, " + what);
      expect_same_bits(smoothed_gradcampp_sum(passes.back(), fc, classes, cpu_alpha, 3),
                       smoothed_gradcampp_sum(passes.back().to(gpu), gpu_fc,
                                              on_device ? device_classes : ClassIndices(classes), gpu_alpha, 3),
                       "smoothed_gradcampp_sum, " + what);
    }
  Tensor<float> cpu_alpha({4, 2048});
  CHECK_THROWS_WITH(add_gradcampp_alpha(cpu_alpha, passes[0].to(gpu), gpu_fc, classes, false),
                    Catch::Contains("operands on different devices"));
}

TEST_CASE("top_class on the GPU gives the CPU's classes and reads nothing back", "[cuda]") {
  Tensor<float> logits = random_tensor({300, 200}, 2310, -4.0, 4.0);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (std::int64_t r = 0; r < 300; r += 7) logits.data()[r * 200 + 190] = logits.data()[r * 200 + 10] + 10;  // ties
  for (std::int64_t r = 0; r < 300; r += 7) logits.data()[r * 200 + 10] += 10;
  logits.data()[3 * 200 + 50] = nan;
  logits.data()[3 * 200 + 20] = nan;  // the first NaN wins
  std::fill(logits.data() + 4 * 200, logits.data() + 5 * 200, -inf);
  const ClassIndices cpu = top_class(logits), cuda = top_class(logits.to(gpu));
  REQUIRE(cuda.device() == gpu);
  CHECK(cuda.bound() == 200);
  CHECK(cuda.host_values() == cpu.host());
  CHECK(cpu.host()[0] == 10);
  CHECK(cpu.host()[3] == 20);
  CHECK(cpu.host()[4] == 0);
  CHECK(top_class(Tensor<float>({0, 5}, gpu)).size() == 0);
}

TEST_CASE("normalize_items gives the CPU's bits; a constant item becomes 0", "[cuda]") {
  std::uint64_t seed = 2200;
  for (const Shape& shape : std::vector<Shape>{{1, 1}, {3, 7, 7}, {32, 224, 224}, {2, 1, 28, 28}, {5, 1000}}) {
    const Tensor<float> x = random_tensor(shape, ++seed, -5.0, 20.0);
    const Tensor<float> cpu = normalize_items(x);
    expect_same_bits(cpu, normalize_items(x.to(gpu)), "normalize_items " + shape_text(shape));
    const auto [lo, hi] = std::minmax_element(cpu.data(), cpu.data() + cpu.numel());
    CHECK(*lo == 0.0f);
    CHECK(*hi == (cpu.numel() / shape[0] > 1 ? 1.0f : 0.0f));
  }
  Tensor<float> x = random_tensor({3, 4, 4}, 2300);
  std::fill(x.data() + 16, x.data() + 32, 2.5f);  // item 1 is constant
  const Tensor<float> gpu_out = normalize_items(x.to(gpu)).to(Device::cpu);
  CHECK(std::all_of(gpu_out.data() + 16, gpu_out.data() + 32, [](float v) { return v == 0.0f; }));
  expect_same_bits(normalize_items(x), normalize_items(x.to(gpu)), "normalize_items with a constant item");
  CHECK(normalize_items(Tensor<float>({0, 5}, gpu)).numel() == 0);
}

TEST_CASE("normalize_items treats NaN and infinities as the CPU does", "[cuda]") {
  // The CPU takes std::min_element and std::max_element: a NaN or −∞ first value makes the whole
  // item 0, a later NaN stays NaN, a later −∞ is the minimum (every difference then +∞ or NaN).
  constexpr float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  Tensor<float> x = random_tensor({6, 300}, 2350);
  float* item = x.data();
  item[0] = nan;                     // item 0: a NaN first
  item[300] = -inf;                  // item 1: −∞ first
  item[600 + 17] = nan;              // item 2: a NaN later
  item[900 + 250] = -inf;            // item 3: −∞ later
  item[1200] = inf;                  // item 4: +∞ first
  item[1500 + 299] = inf;            // item 5: +∞ last
  const Tensor<float> cpu = normalize_items(x);
  expect_same_bits(cpu, normalize_items(x.to(gpu)), "normalize_items with NaN and infinities");
  CHECK(std::all_of(cpu.data(), cpu.data() + 600, [](float v) { return v == 0.0f; }));
  CHECK(std::isnan(cpu.data()[600 + 17]));
}

TEST_CASE("top_k of a CUDA tensor gives the CPU's values and indices", "[cuda]") {
  Tensor<float> logits = random_tensor({3, 200}, 2400, -4.0, 4.0);
  logits.data()[17] = logits.data()[5];  // a tie: the lower index first
  const TopK<float> cpu = top_k(logits, 5), cuda = top_k(logits.to(gpu), 5);
  CHECK(cuda.indices == cpu.indices);
  CHECK(host_values(cuda.values) == host_values(cpu.values));
}

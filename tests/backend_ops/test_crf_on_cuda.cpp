// test_backend_ops: the GPU permutohedral lattice (crf_filter on CUDA, [cuda-train]) against the
// CPU lattice. The GPU rounds operation by operation in the CPU's order, without fused
// multiply-adds (cuda/CMakeLists.txt), except where a vertex gathers more than 32 points (flat
// regions): a warp sums those in a tree. This program's CPU code is compiled without
// contraction (-ffp-contract=off, tests/CMakeLists.txt), so it gives the same bits for random
// colours. The tree's sums, and a copy of this test built with contraction (a point on a simplex
// boundary may then fall in the neighbouring simplex), are not bit for bit: the bounds are those of
// the CPU lattice's own test against the reference filter (tests/test_crf_reference.cpp): at most 0.1 % of the
// values further than 1e-5·max|W·S|, none further than 1e-2·max|W·S|, and the CRF loss within
// 1e-5 relative. The lattice is deterministic: a second run gives the same bits. With
// FCAM_DATA_DIR set (../shared/data), the CRF loss's value and gradient on the reference images.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "backend_ops/compare.hpp"

using namespace fcam;
using namespace fcam::test;

namespace {

float largest_magnitude(const Tensor<float>& a) {
  const Tensor<float> x = a.to(Device::cpu);
  float m = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) m = std::max(m, std::abs(x.data()[i]));
  return m;
}

std::int64_t identical_values(const Tensor<float>& a, const Tensor<float>& b) {
  const Tensor<float> x = a.to(Device::cpu), y = b.to(Device::cpu);
  std::int64_t same = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) same += x.data()[i] == y.data()[i];
  return same;
}

// 8-bit-like colours (whole numbers 0–255: equal colours share vertices, as in photos).
Tensor<float> random_images(const Shape& shape, std::uint64_t seed) {
  Tensor<float> t = random_tensor(shape, seed, 0.0, 256.0);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = std::floor(t.data()[i]);
  return t;
}

// Two-channel softmax maps, as the CRF loss filters.
Tensor<float> random_probs(std::int64_t n, std::int64_t h, std::int64_t w, std::uint64_t seed) {
  return softmax_channels(random_tensor({n, 2, h, w}, seed, -3.0, 3.0));
}

// The values of `cpu` and `gpu` further apart than `bound`.
std::int64_t values_apart(const Tensor<float>& a, const Tensor<float>& b, float bound) {
  const Tensor<float> x = a.to(Device::cpu), y = b.to(Device::cpu);
  std::int64_t apart = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) apart += !(std::abs(x.data()[i] - y.data()[i]) <= bound);  // NaN: apart
  return apart;
}

void expect_same_filter(const Tensor<float>& cpu, const Tensor<float>& gpu, const std::string& what) {
  REQUIRE(gpu.device() == Device::cuda);
  const float scale = largest_magnitude(cpu), worst = largest_difference(cpu, gpu);
  const std::int64_t apart = values_apart(cpu, gpu, 1e-5f * scale);
  INFO(what << ": largest difference " << worst << " of max |W·S| " << scale << "; " << identical_values(cpu, gpu)
            << " of " << cpu.numel() << " values identical, " << apart << " further than 1e-5 of max");
  CHECK(scale > 0.0f);
  CHECK(static_cast<double>(apart) <= 1e-3 * static_cast<double>(cpu.numel()));
  CHECK(worst <= 1e-2f * scale);
}

}  // namespace

TEST_CASE("the GPU lattice gives the CPU lattice's W·S and Wᵀ·S, and the same bits on every run", "[cuda]") {
  struct Case {
    Shape shape;
    double sigma_rgb, sigma_xy;
  };
  std::uint64_t seed = 60;
  for (const Case& c : {Case{{1, 3, 17, 23}, 15, 100}, Case{{3, 3, 64, 48}, 15, 5}, Case{{2, 3, 224, 224}, 30, 10},
                        Case{{4, 3, 96, 96}, 15, 100 * 96.0 / 224.0}, Case{{1, 3, 1, 1}, 15, 100}}) {
    const Tensor<float> images = random_images(c.shape, seed++);
    const Tensor<float> probs = random_probs(c.shape[0], c.shape[2], c.shape[3], seed++);
    const Tensor<float> images_gpu = images.to(Device::cuda), probs_gpu = probs.to(Device::cuda);
    for (const bool transposed : {false, true}) {
      const std::string what = shape_text(c.shape) + " σ_rgb " + std::to_string(c.sigma_rgb) + " σ_xy " +
                               std::to_string(c.sigma_xy) + (transposed ? " transposed" : "");
      const Tensor<float> cpu = crf_filter(images, probs, c.sigma_rgb, c.sigma_xy, transposed);
      const Tensor<float> gpu = crf_filter(images_gpu, probs_gpu, c.sigma_rgb, c.sigma_xy, transposed);
      expect_same_filter(cpu, gpu, what);
      INFO(what);
      CHECK(largest_difference(gpu, crf_filter(images_gpu, probs_gpu, c.sigma_rgb, c.sigma_xy, transposed)) == 0.0f);
    }
  }
}

TEST_CASE("the GPU lattice on flat images, whose vertices gather thousands of points", "[cuda]") {
  // Two flat halves per image: at σ_xy 100 a vertex takes a large part of a half, so the splat
  // splits its sum over a warp. Probabilities stay random, so the sums have work.
  Tensor<float> images({2, 3, 96, 96});
  for (std::int64_t i = 0; i < images.numel(); ++i) images.data()[i] = (i % 96) < 48 ? 128.0f : 40.0f;
  const Tensor<float> probs = random_probs(2, 96, 96, 75);
  const Tensor<float> images_gpu = images.to(Device::cuda), probs_gpu = probs.to(Device::cuda);
  for (const bool transposed : {false, true}) {
    const std::string what = std::string("flat halves 2x3x96x96") + (transposed ? " transposed" : "");
    const Tensor<float> gpu = crf_filter(images_gpu, probs_gpu, 15.0, 100.0, transposed);
    expect_same_filter(crf_filter(images, probs, 15.0, 100.0, transposed), gpu, what);
    INFO(what);
    CHECK(largest_difference(gpu, crf_filter(images_gpu, probs_gpu, 15.0, 100.0, transposed)) == 0.0f);
  }
}

TEST_CASE("the CRF loss on the GPU: value and gradient of the reference images within 1e-5", "[cuda]") {
  const char* data = std::getenv("FCAM_DATA_DIR");
  const std::filesystem::path dir = data ? std::filesystem::path(data) / "crf-reference" : std::filesystem::path();
  if (dir.empty() || !std::filesystem::exists(dir / "albatross224_image.npy")) {
    WARN("FCAM_DATA_DIR/crf-reference is absent: the reference images were not compared (random ones were)");
  }
  std::vector<std::pair<Tensor<float>, Tensor<float>>> cases;  // images, probs
  if (!dir.empty() && std::filesystem::exists(dir / "albatross224_image.npy"))
    for (const std::string name : {"bobolink64", "albatross224"}) {
      const Tensor<float> rgb = io::read_npy<float>(dir / (name + "_image.npy"));
      const Tensor<float> s = io::read_npy<float>(dir / (name + "_S.npy"));
      cases.emplace_back(rgb.reshape({1, 3, s.size(1), s.size(2)}), s.reshape({1, 2, s.size(1), s.size(2)}));
    }
  cases.emplace_back(random_images({3, 3, 224, 224}, 70), random_probs(3, 224, 224, 71));
  for (const auto& [images, probs] : cases) {
    const std::string what = "CRF loss on " + shape_text(probs.shape());
    const losses::CrfLossOptions o;
    Tensor<float> grad_cpu, grad_gpu;
    const double cpu = losses::crf_loss(probs, images, o, &grad_cpu);
    const double gpu = losses::crf_loss(probs.to(Device::cuda), images.to(Device::cuda), o, &grad_gpu);
    INFO(what << ": CPU " << cpu << ", GPU " << gpu);
    CHECK(cpu != 0.0);
    CHECK(std::abs(cpu - gpu) <= 1e-5 * std::abs(cpu));
    expect_same_filter(grad_cpu, grad_gpu, what + " gradient");
  }
}

TEST_CASE("the GPU lattice refuses what its keys cannot hold, with errors that say why", "[cuda]") {
  const Tensor<float> images = random_images({1, 3, 8, 8}, 80).to(Device::cuda);
  const Tensor<float> probs = random_probs(1, 8, 8, 81).to(Device::cuda);
  CHECK_THROWS_WITH(crf_filter(images, probs, 0.01, 100.0), Catch::Contains("too small for the GPU lattice"));
  CHECK_THROWS_WITH(crf_filter(images, Tensor<float>({1, 9, 8, 8}, Device::cuda), 15.0, 100.0),
                    Catch::Contains("1 to 8 channels"));
  // Pixels far outside [0, 255] with σ's whose keys fit that range: the GPU reads nothing back
  // then, so it gives NaN rather than a wrong W·S.
  Tensor<float> bright = random_images({1, 3, 8, 8}, 82);
  bright.data()[5] = 1e5f;
  const std::vector<float> poisoned = host_values(crf_filter(bright.to(Device::cuda), probs, 15.0, 100.0));
  CHECK(std::all_of(poisoned.begin(), poisoned.end(), [](float v) { return std::isnan(v); }));
  // CUDA keeps working after the refusals.
  expect_same_filter(crf_filter(images.to(Device::cpu), probs.to(Device::cpu), 15.0, 100.0),
                     crf_filter(images, probs, 15.0, 100.0), "after the errors");
}

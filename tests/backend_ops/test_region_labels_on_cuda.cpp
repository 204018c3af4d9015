// test_backend_ops: the keyed pseudo-label sampler (ops/region_labels.hpp) on CUDA gives the
// CPU's labels bit for bit, for the same seed: smooth CAMs with ties, every option at its edges,
// odd shapes, constant maps, an erosion that empties the candidates, a NaN; and the partial
// cross-entropy reads the GPU's labels where they are.
#include <cmath>
#include <limits>

#include "backend_ops/compare.hpp"

using namespace fcam;
using namespace fcam::test;

namespace {
constexpr Device gpu = Device::cuda;

// N smooth maps in [0, 1] with exact ties at 0: a coarse random map, ReLU'd and upsampled
// bilinearly, as a CAM is.
Tensor<float> smooth_cams(std::int64_t n, std::int64_t h, std::int64_t w, std::uint64_t seed) {
  const Tensor<float> coarse = random_tensor({n, 1, 7, 7}, seed);
  return normalize_items(resize_bilinear(relu(coarse), h, w, false).reshape({n, h, w}));
}

// The GPU's labels of `cams` equal the CPU's, and so does the labelled count. Returns the count.
std::int64_t expect_cpu_labels(const Tensor<float>& cams, const losses::SamplingOptions& o, std::uint64_t seed,
                               const std::string& what) {
  INFO(what << ", CAMs " << shape_text(cams.shape()));
  const LabelMap cpu = keyed_region_labels(cams, o, seed);
  const LabelMap cuda = keyed_region_labels(cams.to(gpu), o, seed);
  REQUIRE(cuda.device() == gpu);
  REQUIRE(cuda.size() == cpu.size());
  const std::vector<std::uint8_t> want = cpu.host_values(), got = cuda.host_values();
  std::int64_t differing = 0;
  for (std::size_t i = 0; i < want.size(); ++i) differing += want[i] != got[i];
  CHECK(differing == 0);
  CHECK(cuda.labelled() == cpu.labelled());
  return cpu.labelled();
}
}  // namespace

TEST_CASE("keyed_region_labels on CUDA gives the CPU's labels for the same seed", "[cuda]") {
  const Tensor<float> cams = smooth_cams(8, 224, 224, 31);
  const losses::SamplingOptions defaults;
  CHECK(expect_cpu_labels(cams, defaults, 1, "defaults, seed 1") > 0);
  expect_cpu_labels(cams, defaults, 2, "defaults, seed 2");

  losses::SamplingOptions many;
  many.n_foreground = 50, many.n_background = 40, many.dilation = 5, many.erosion = 1;
  CHECK(expect_cpu_labels(cams, many, 3, "50 + 40 pixels, 5x5 dilation, no erosion") > 1000);

  losses::SamplingOptions edges;
  edges.n_minus = 0;  // no background candidates
  expect_cpu_labels(cams, edges, 4, "n_minus 0");
  edges.n_minus = 1, edges.n_background = 100;  // every pixel is a background candidate
  expect_cpu_labels(cams, edges, 5, "n_minus 1");
  edges.n_foreground = 0;
  expect_cpu_labels(cams, edges, 6, "no foreground draw");
  edges.n_foreground = 1000000, edges.n_background = 1000000;  // more than any pool: all drawn
  expect_cpu_labels(cams, edges, 7, "every candidate drawn");
}

TEST_CASE("keyed_region_labels on CUDA: odd shapes, constant maps, erosion that empties, determinism", "[cuda]") {
  const losses::SamplingOptions defaults;
  for (const Shape& shape : std::vector<Shape>{{1, 1, 1}, {2, 1, 57}, {3, 13, 7}, {2, 3, 300}, {4, 28, 28}})
    expect_cpu_labels(smooth_cams(shape[0], shape[1], shape[2], 40 + shape[2]), defaults, 9, "shape");

  // Values outside [0, 1], -0 and infinities: the clamping of the 8-bit map and the order of the
  // background candidates (-0 ties with +0, -inf comes first).
  Tensor<float> odd = smooth_cams(2, 20, 30, 45);
  const std::vector<float> specials{-0.0f, 0.0f, -2.5f, 1.75f, std::numeric_limits<float>::infinity(),
                                    -std::numeric_limits<float>::infinity(), -0.0f, 3e-39f, -3e-39f, 255.0f};
  for (std::size_t k = 0; k < specials.size(); ++k) odd.data()[37 * k] = specials[k];
  losses::SamplingOptions wide;
  wide.n_minus = 0.3, wide.n_background = 50, wide.dilation = 1;
  CHECK(expect_cpu_labels(odd, wide, 8, "values outside [0, 1]") > 0);

  // Pixel noise: Otsu's foreground has no 11x11 square, so the un-eroded candidates are used.
  const Tensor<float> noise = random_tensor({3, 56, 56}, 50, 0.0, 1.0);
  CHECK(expect_cpu_labels(noise, defaults, 10, "noise") > 0);

  // A constant map and a two-valued one between smooth ones.
  Tensor<float> mixed = smooth_cams(4, 64, 48, 60);
  const std::int64_t plane = 64 * 48;
  std::fill(mixed.data() + plane, mixed.data() + 2 * plane, 0.4f);
  for (std::int64_t i = 0; i < plane; ++i) mixed.data()[2 * plane + i] = i % 48 < 20 ? 0.0f : 1.0f;
  expect_cpu_labels(mixed, defaults, 11, "constant and two-valued maps");

  // The same seed gives the same bits on a second run; another seed other pixels.
  const Tensor<float> cams = smooth_cams(6, 96, 96, 70).to(gpu);
  const std::vector<std::uint8_t> first = keyed_region_labels(cams, defaults, 12).host_values();
  CHECK(keyed_region_labels(cams, defaults, 12).host_values() == first);
  CHECK(keyed_region_labels(cams, defaults, 13).host_values() != first);
}

TEST_CASE("keyed_region_labels on CUDA names the CAM that holds a NaN when its count is read", "[cuda]") {
  Tensor<float> cams = smooth_cams(3, 16, 16, 80);
  cams.data()[256 + 17] = std::numeric_limits<float>::quiet_NaN();
  const LabelMap labels = keyed_region_labels(cams.to(gpu), losses::SamplingOptions{}, 1);  // does not wait
  REQUIRE(labels.device_counts() != nullptr);
  CHECK_THROWS_WITH(labels.labelled(), Catch::Contains("CAM 1 holds NaN"));
  // A partial cross-entropy into a running sum, which does not read the count, adds NaN.
  const LossSums sums(1, gpu);
  labelled_cross_entropy_into(random_tensor({3, 2, 16, 16}, 82).to(gpu), labels, 1.0, sums.slot(0));
  CHECK(std::isnan(sums.read()[0]));
  // CUDA keeps working.
  expect_cpu_labels(smooth_cams(2, 16, 16, 81), losses::SamplingOptions{}, 1, "after the NaN");
}

TEST_CASE("the partial cross-entropy of labels sampled on the GPU equals the CPU's", "[cuda]") {
  const Tensor<float> cams = smooth_cams(4, 32, 32, 90);
  losses::SamplingOptions o;
  o.n_foreground = 20, o.n_background = 20;
  const LabelMap on_cpu = keyed_region_labels(cams, o, 5), on_gpu = keyed_region_labels(cams.to(gpu), o, 5);
  const Tensor<float> logits = random_tensor({4, 2, 32, 32}, 91, -3.0, 3.0);
  Tensor<float> grad_cpu, grad_gpu;
  const double cpu = labelled_cross_entropy(logits, on_cpu, 0.7, &grad_cpu);
  const double cuda = labelled_cross_entropy(logits.to(gpu), on_gpu, 0.7, &grad_gpu);
  CHECK(cpu > 0.0);
  CHECK(std::abs(cuda - cpu) <= 1e-6 * std::abs(cpu));
  expect_close(grad_cpu, grad_gpu, "the gradient");
  CHECK_THROWS_WITH(labelled_cross_entropy(logits, on_gpu, 0.7), Catch::Contains("labels on cuda, logits on cpu"));
}

// Batch normalisation, the channel softmax, the cross-entropy, the host-facing reductions, the
// random fills and dropout's keyed masks: CPU against CUDA from the same inputs, on awkward shapes (N×C and N×C×H×W,
// 1×1 planes, C = 1, 3, 64, 2048, odd planes, batch 1 and 3) and values with a large mean.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "backend_ops/compare.hpp"

using namespace fcam;
using fcam::test::expect_close;
using fcam::test::Guarded;
using fcam::test::largest_difference;
using fcam::test::random_tensor;
using fcam::test::shape_text;

namespace {

const Device gpu = Device::cuda;

/// The batch-norm input shapes: N×C and N×C×H×W with 1×1 and odd planes, C = 1, 3, 64, 2048.
/// Each has more than one value per channel, as training needs.
const std::vector<Shape> norm_shapes = {{2, 1},          {3, 3},         {3, 64},         {3, 2048},
                                        {2, 3, 1, 1},    {1, 1, 7, 7},   {3, 3, 7, 7},    {1, 64, 28, 28},
                                        {3, 2048, 1, 1}, {2, 2048, 7, 7}, {3, 1, 28, 28}, {1, 3, 2, 1}};

/// Input centres: 0, and 100 to catch a one-pass variance (Σx² − (Σx)²/n cancels at a large mean).
const std::vector<double> centres = {0.0, 100.0};

/// "what 3x64x7x7 centre 100".
std::string label(const std::string& what, const Shape& shape, double centre) {
  return what + " " + shape_text(shape) + " centre " + std::to_string(static_cast<int>(centre));
}

/// Fails unless both tensors hold the same bits (values compared as floats; no NaN expected).
void expect_identical(const Tensor<float>& cpu, const Tensor<float>& other, const std::string& what) {
  INFO(what);
  REQUIRE(other.shape() == cpu.shape());
  const Tensor<float> got = other.to(Device::cpu);
  std::int64_t differing = 0;
  for (std::int64_t i = 0; i < cpu.numel(); ++i) differing += cpu.data()[i] != got.data()[i];
  CHECK(differing == 0);
}

/// Fails unless every double-accumulated sum agrees with the CPU's to 1e-12 of its magnitude
/// (`scale` holds Σ|terms| per sum: the bound for two summation orders in double).
void expect_sums_close(const std::vector<double>& cpu, const std::vector<double>& cuda,
                       const std::vector<double>& scale, const std::string& what) {
  INFO(what);
  REQUIRE(cuda.size() == cpu.size());
  std::size_t far = 0;
  for (std::size_t i = 0; i < cpu.size(); ++i) far += std::abs(cpu[i] - cuda[i]) > 1e-12 * scale[i] ? 1 : 0;
  CHECK(far == 0);
}

/// Per-channel values for the batch-norm parameters and statistics.
Tensor<float> per_channel(const Shape& shape, std::uint64_t seed, double lo, double hi) {
  return random_tensor({shape[1]}, seed, lo, hi);
}

}  // namespace

TEST_CASE("batch_norm_train forward matches the CPU, statistics included", "[cuda]") {
  std::uint64_t seed = 100;
  for (const double centre : centres)
    for (const Shape& shape : norm_shapes) {
      const std::string what = label("batch_norm_train", shape, centre);
      const Tensor<float> x = random_tensor(shape, ++seed, centre - 1.0, centre + 1.0);
      const Tensor<float> gamma = per_channel(shape, ++seed, 0.5, 1.5), beta = per_channel(shape, ++seed, -1, 1);
      BatchNormSaved<float> saved, gpu_saved;
      Tensor<float> unbiased, gpu_unbiased;
      const Tensor<float> y = batch_norm_train(x, gamma, beta, 1e-5f, saved, unbiased);
      const Tensor<float> gpu_y =
          batch_norm_train(x.to(gpu), gamma.to(gpu), beta.to(gpu), 1e-5f, gpu_saved, gpu_unbiased);
      CHECK(gpu_saved.mean.device() == gpu);
      expect_close(y, gpu_y, what + ": y");
      expect_close(saved.mean, gpu_saved.mean, what + ": saved mean");
      expect_close(saved.invstd, gpu_saved.invstd, what + ": saved invstd");
      expect_close(unbiased, gpu_unbiased, what + ": unbiased variance");
    }
}

TEST_CASE("batch_norm_train_backward matches the CPU and adds into the parameter gradients", "[cuda]") {
  std::uint64_t seed = 200;
  for (const double centre : centres)
    for (const Shape& shape : norm_shapes) {
      const std::string what = label("batch_norm_train_backward", shape, centre);
      const Tensor<float> x = random_tensor(shape, ++seed, centre - 1.0, centre + 1.0);
      const Tensor<float> gamma = per_channel(shape, ++seed, 0.5, 1.5), beta = per_channel(shape, ++seed, -1, 1);
      const Tensor<float> dy = random_tensor(shape, ++seed);
      BatchNormSaved<float> saved;
      Tensor<float> unbiased;
      batch_norm_train(x, gamma, beta, 1e-5f, saved, unbiased);
      // The CPU's saved statistics on both sides, so that only the backward is compared.
      const BatchNormSaved<float> gpu_saved{saved.mean.to(gpu), saved.invstd.to(gpu)};
      const Tensor<float> dgamma0 = per_channel(shape, ++seed, -2, 2), dbeta0 = per_channel(shape, ++seed, -2, 2);
      Tensor<float> dgamma = dgamma0.clone(), dbeta = dbeta0.clone();
      Guarded gpu_dgamma(dgamma0, gpu), gpu_dbeta(dbeta0, gpu);
      const Tensor<float> dx = batch_norm_train_backward(x, gamma, saved, dy, dgamma, dbeta);
      const Tensor<float> gpu_dx =
          batch_norm_train_backward(x.to(gpu), gamma.to(gpu), gpu_saved, dy.to(gpu), gpu_dgamma.view, gpu_dbeta.view);
      expect_close(dx, gpu_dx, what + ": dx");
      expect_close(dgamma, gpu_dgamma.view, what + ": dgamma");
      expect_close(dbeta, gpu_dbeta.view, what + ": dbeta");
      gpu_dgamma.check_guards(what + ": dgamma");
      gpu_dbeta.check_guards(what + ": dbeta");
    }
}

TEST_CASE("batch_norm_eval and its backward match the CPU", "[cuda]") {
  std::uint64_t seed = 300;
  for (const double centre : centres)
    for (const Shape& shape : norm_shapes) {
      const std::string what = label("batch_norm_eval", shape, centre);
      const Tensor<float> x = random_tensor(shape, ++seed, centre - 1.0, centre + 1.0);
      const Tensor<float> gamma = per_channel(shape, ++seed, 0.5, 1.5), beta = per_channel(shape, ++seed, -1, 1);
      const Tensor<float> mean = per_channel(shape, ++seed, centre - 0.5, centre + 0.5);
      const Tensor<float> var = per_channel(shape, ++seed, 0.05, 2.0);
      const Tensor<float> y = batch_norm_eval(x, gamma, beta, mean, var, 1e-5f);
      expect_close(y, batch_norm_eval(x.to(gpu), gamma.to(gpu), beta.to(gpu), mean.to(gpu), var.to(gpu), 1e-5f),
                   what + ": y");

      const Tensor<float> dy = random_tensor(shape, ++seed);
      const Tensor<float> dgamma0 = per_channel(shape, ++seed, -2, 2), dbeta0 = per_channel(shape, ++seed, -2, 2);
      Tensor<float> dgamma = dgamma0.clone(), dbeta = dbeta0.clone();
      Guarded gpu_dgamma(dgamma0, gpu), gpu_dbeta(dbeta0, gpu);
      const Tensor<float> dx = batch_norm_eval_backward(x, gamma, mean, var, 1e-5f, dy, dgamma, dbeta);
      const Tensor<float> gpu_dx = batch_norm_eval_backward(x.to(gpu), gamma.to(gpu), mean.to(gpu), var.to(gpu), 1e-5f,
                                                            dy.to(gpu), gpu_dgamma.view, gpu_dbeta.view);
      expect_close(dx, gpu_dx, what + ": dx");
      expect_close(dgamma, gpu_dgamma.view, what + ": dgamma");
      expect_close(dbeta, gpu_dbeta.view, what + ": dbeta");
      gpu_dgamma.check_guards(what + ": dgamma");
      gpu_dbeta.check_guards(what + ": dbeta");
    }
}

TEST_CASE("batch_norm_eval_affine matches the CPU", "[cuda]") {
  std::uint64_t seed = 400;
  for (const std::int64_t c : {1, 3, 64, 2048}) {
    const std::string what = "batch_norm_eval_affine C=" + std::to_string(c);
    const Tensor<float> gamma = random_tensor({c}, ++seed, 0.5, 1.5), beta = random_tensor({c}, ++seed);
    const Tensor<float> mean = random_tensor({c}, ++seed, 99, 101), var = random_tensor({c}, ++seed, 0.05, 2.0);
    const auto [scale, shift] = batch_norm_eval_affine(gamma, beta, mean, var, 1e-5f);
    const auto [gpu_scale, gpu_shift] =
        batch_norm_eval_affine(gamma.to(gpu), beta.to(gpu), mean.to(gpu), var.to(gpu), 1e-5f);
    expect_close(scale, gpu_scale, what + ": scale");
    expect_close(shift, gpu_shift, what + ": shift");
  }
}

TEST_CASE("batch_norm_update_running_stats matches the CPU in place", "[cuda]") {
  std::uint64_t seed = 500;
  for (const std::int64_t c : {1, 3, 64, 2048}) {
    const std::string what = "batch_norm_update_running_stats C=" + std::to_string(c);
    Tensor<float> mean = random_tensor({c}, ++seed), var = random_tensor({c}, ++seed, 0.5, 2.0);
    Tensor<float> tracked = Tensor<float>::full({}, 7.0f);
    const Tensor<float> batch_mean = random_tensor({c}, ++seed, 99, 101), unbiased = random_tensor({c}, ++seed, 0, 3);
    Guarded gpu_mean(mean, gpu), gpu_var(var, gpu), gpu_tracked(tracked, gpu);
    batch_norm_update_running_stats(mean, var, tracked, batch_mean, unbiased, 0.1f);
    batch_norm_update_running_stats(gpu_mean.view, gpu_var.view, gpu_tracked.view, batch_mean.to(gpu), unbiased.to(gpu),
                                    0.1f);
    expect_close(mean, gpu_mean.view, what + ": running mean");
    expect_close(var, gpu_var.view, what + ": running var");
    expect_identical(tracked, gpu_tracked.view, what + ": batches tracked");
    CHECK(tracked.data()[0] == 8.0f);
    gpu_mean.check_guards(what + ": running mean");
    gpu_var.check_guards(what + ": running var");
    gpu_tracked.check_guards(what + ": batches tracked");
  }
}

TEST_CASE("batch_norm statistics are the same bits on every run", "[cuda]") {
  const Shape shape{3, 64, 28, 28};
  const Tensor<float> x = random_tensor(shape, 600, 99, 101).to(gpu), dy = random_tensor(shape, 601).to(gpu);
  const Tensor<float> gamma = random_tensor({64}, 602, 0.5, 1.5).to(gpu), beta = random_tensor({64}, 603).to(gpu);
  BatchNormSaved<float> first, second;
  Tensor<float> unbiased_first, unbiased_second;
  const Tensor<float> y_first = batch_norm_train(x, gamma, beta, 1e-5f, first, unbiased_first).to(Device::cpu);
  const Tensor<float> y_second = batch_norm_train(x, gamma, beta, 1e-5f, second, unbiased_second);
  expect_identical(y_first, y_second, "y");
  expect_identical(first.mean.to(Device::cpu), second.mean, "mean");
  expect_identical(first.invstd.to(Device::cpu), second.invstd, "invstd");
  expect_identical(unbiased_first.to(Device::cpu), unbiased_second, "unbiased variance");
  Tensor<float> dgamma_first({64}, gpu), dbeta_first({64}, gpu), dgamma_second({64}, gpu), dbeta_second({64}, gpu);
  const Tensor<float> dx_first =
      batch_norm_train_backward(x, gamma, first, dy, dgamma_first, dbeta_first).to(Device::cpu);
  const Tensor<float> dx_second = batch_norm_train_backward(x, gamma, first, dy, dgamma_second, dbeta_second);
  expect_identical(dx_first, dx_second, "dx");
  expect_identical(dgamma_first.to(Device::cpu), dgamma_second, "dgamma");
  expect_identical(dbeta_first.to(Device::cpu), dbeta_second, "dbeta");
}

namespace {
/// Softmax and cross-entropy shapes: N×C (inner 1) and N×C×H×W, C = 1, 3, 64, 2048.
const std::vector<Shape> softmax_shapes = {{1, 1},        {3, 1},         {2, 3},        {3, 2048},
                                           {1, 64},       {1, 1, 1, 1},   {3, 5, 1, 1},  {1, 2048, 1, 1},
                                           {3, 64, 7, 7}, {2, 3, 28, 28}, {1, 1, 7, 7},  {3, 3, 2, 5}};
/// Logit ranges: ordinary, and ±80 (e^80 overflows float unless the maximum is subtracted).
const std::vector<double> logit_ranges = {1.0, 80.0};
}  // namespace

TEST_CASE("softmax_channels and its backward match the CPU", "[cuda]") {
  std::uint64_t seed = 700;
  for (const double range : logit_ranges)
    for (const Shape& shape : softmax_shapes) {
      const std::string what = "softmax_channels " + shape_text(shape) + " logits ±" + std::to_string(int(range));
      const Tensor<float> x = random_tensor(shape, ++seed, -range, range);
      const Tensor<float> y = softmax_channels(x);
      const Tensor<float> gpu_y = softmax_channels(x.to(gpu));
      expect_close(y, gpu_y, what + ": y");
      const Tensor<float> dy = random_tensor(shape, ++seed);
      expect_close(softmax_channels_backward(y, dy), softmax_channels_backward(y.to(gpu), dy.to(gpu)), what + ": dx");
    }
}

namespace {
/// Random targets for `shape`'s N·H·W positions: classes in [0, C), about one in four `ignore`.
std::vector<std::int64_t> random_targets(const Shape& shape, std::uint64_t seed, std::int64_t ignore) {
  Rng rng(seed);
  std::int64_t positions = shape[0];
  for (std::size_t d = 2; d < shape.size(); ++d) positions *= shape[d];
  std::vector<std::int64_t> targets(static_cast<std::size_t>(positions));
  for (auto& t : targets)
    t = rng.uniform() < 0.25 ? ignore : static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(shape[1])));
  return targets;
}

void expect_same_cross_entropy(const Tensor<float>& logits, const std::vector<std::int64_t>& targets,
                               std::int64_t ignore, const std::string& what) {
  INFO(what);
  const CrossEntropyResult<float> cpu = cross_entropy(logits, targets, ignore);
  const CrossEntropyResult<float> cuda = cross_entropy(logits.to(gpu), targets, ignore);
  CHECK(cuda.count == cpu.count);
  // Both sum the same double terms (in another order) and round the mean to float once.
  CHECK(std::abs(cuda.loss - cpu.loss) <= 1e-6f * std::max(1.0f, std::abs(cpu.loss)));
  expect_close(cpu.grad, cuda.grad, what + ": gradient");
}
}  // namespace

TEST_CASE("cross_entropy matches the CPU, ignored targets included", "[cuda]") {
  std::uint64_t seed = 800;
  for (const double range : logit_ranges)
    for (const Shape& shape : softmax_shapes) {
      const std::string what = "cross_entropy " + shape_text(shape) + " logits ±" + std::to_string(int(range));
      const Tensor<float> logits = random_tensor(shape, ++seed, -range, range);
      expect_same_cross_entropy(logits, random_targets(shape, ++seed, -100), -100, what);
      // An ignore index that is also a class: those targets are ignored, not scored.
      expect_same_cross_entropy(logits, random_targets(shape, ++seed, 0), 0, what + ", ignore_index 0");
    }
}

TEST_CASE("cross_entropy with every target ignored gives loss 0, count 0 and a zero gradient", "[cuda]") {
  for (const Shape& shape : std::vector<Shape>{{3, 5}, {2, 3, 7, 7}, {1, 2048}}) {
    INFO(shape_text(shape));
    const Tensor<float> logits = random_tensor(shape, 900, -80, 80);
    std::vector<std::int64_t> targets(static_cast<std::size_t>(logits.numel() / shape[1]), -100);
    const CrossEntropyResult<float> r = cross_entropy(logits.to(gpu), targets);
    CHECK(r.loss == 0.0f);
    CHECK(r.count == 0);
    expect_identical(Tensor<float>(shape), r.grad, "gradient");
  }
}

TEST_CASE("cross_entropy's loss is the same bits on every run", "[cuda]") {
  const Shape shape{3, 64, 28, 28};
  const Tensor<float> logits = random_tensor(shape, 950, -5, 5).to(gpu);
  const std::vector<std::int64_t> targets = random_targets(shape, 951, -100);
  const CrossEntropyResult<float> first = cross_entropy(logits, targets), second = cross_entropy(logits, targets);
  CHECK(first.loss == second.loss);
  expect_identical(first.grad.to(Device::cpu), second.grad, "gradient");
}

namespace {
/// Σ|x| of each of `count` runs (the scale of a double sum's rounding), of x·y when y is given.
std::vector<double> run_magnitudes(const Tensor<float>& x, const Tensor<float>* y, std::int64_t count) {
  std::vector<double> m(static_cast<std::size_t>(count), 0.0);
  const std::int64_t length = count > 0 ? x.numel() / count : 0;
  for (std::int64_t i = 0; i < x.numel(); ++i)
    m[static_cast<std::size_t>(i / length)] += std::abs(double(x.data()[i]) * (y ? y->data()[i] : 1.0f));
  return m;
}
}  // namespace

TEST_CASE("plane_sums and item_dots match the CPU's double sums", "[cuda]") {
  const std::vector<Shape> shapes = {{1, 1},          {3, 1, 1, 1},     {2, 3, 7, 7}, {3, 64, 28, 28},
                                     {1, 2048, 1, 1}, {2, 3, 5},        {3, 2048},    {1, 1, 224, 224},
                                     {2, 3, 0, 4}};
  std::uint64_t seed = 1000;
  for (const double centre : centres)
    for (const Shape& shape : shapes) {
      const std::string what = label("plane_sums", shape, centre);
      const Tensor<float> x = random_tensor(shape, ++seed, centre - 1.0, centre + 1.0);
      const Tensor<float> y = random_tensor(shape, ++seed);
      expect_sums_close(plane_sums(x), plane_sums(x.to(gpu)), run_magnitudes(x, nullptr, shape[0] * shape[1]), what);
      expect_sums_close(item_dots(x, y), item_dots(x.to(gpu), y.to(gpu)), run_magnitudes(x, &y, shape[0]),
                        label("item_dots", shape, centre));
    }
  // item_dots on 1-D tensors: one value per item.
  const Tensor<float> a = random_tensor({5}, 1100), b = random_tensor({5}, 1101);
  expect_sums_close(item_dots(a, b), item_dots(a.to(gpu), b.to(gpu)), run_magnitudes(a, &b, 5), "item_dots 5");
}

TEST_CASE("max_abs_difference matches the CPU exactly", "[cuda]") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::uint64_t seed = 1200;
  for (const Shape& shape : std::vector<Shape>{{1}, {7}, {3, 64, 28, 28}, {3, 2048}, {1, 1, 1, 1}, {2, 3, 0, 4}}) {
    const std::string what = "max_abs_difference " + shape_text(shape);
    INFO(what);
    const Tensor<float> a = random_tensor(shape, ++seed, 99, 101), b = random_tensor(shape, ++seed, 99, 101);
    CHECK(max_abs_difference(a.to(gpu), b.to(gpu)) == max_abs_difference(a, b));
    CHECK(max_abs_difference(a.to(gpu), a.to(gpu)) == 0.0f);
  }
  // A NaN difference is skipped on the CPU (std::max keeps the running maximum); an infinity wins.
  Tensor<float> a = random_tensor({1000}, 1300), b = random_tensor({1000}, 1301);
  a.data()[10] = nan;
  CHECK(max_abs_difference(a.to(gpu), b.to(gpu)) == max_abs_difference(a, b));
  a.data()[999] = inf;
  CHECK(max_abs_difference(a, b) == inf);
  CHECK(max_abs_difference(a.to(gpu), b.to(gpu)) == inf);
}

TEST_CASE("first_non_finite finds the CPU's index", "[cuda]") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (const std::int64_t n : {std::int64_t{1}, std::int64_t{7}, std::int64_t{1000}, std::int64_t{(1 << 20) + 3}}) {
    const Tensor<float> clean = random_tensor({n}, 1400, -1e30, 1e30);
    INFO("n = " << n);
    CHECK(first_non_finite(clean.to(gpu)) == -1);
    for (const float bad : {nan, inf, -inf})
      for (const std::int64_t at : {std::int64_t{0}, n / 2, n - 1}) {
        INFO("value " << bad << " at " << at);
        Tensor<float> x = clean.clone();
        x.data()[at] = bad;
        CHECK(first_non_finite(x.to(gpu)) == at);
        CHECK(first_non_finite(x) == at);
        // A later one does not matter; an earlier one wins.
        if (at + 1 < n) {
          x.data()[n - 1] = inf;
          CHECK(first_non_finite(x.to(gpu)) == at);
        }
        if (at > 0) {
          x.data()[at - 1] = nan;
          CHECK(first_non_finite(x.to(gpu)) == at - 1);
        }
      }
  }
  CHECK(first_non_finite(Tensor<float>({2, 0}, gpu)) == -1);
}

TEST_CASE("random fills of a CUDA tensor are the CPU's values bit for bit", "[cuda]") {
  for (const Shape& shape : std::vector<Shape>{{1}, {3, 64, 7, 7}, {2, 3, 28, 28}}) {
    INFO(shape_text(shape));
    Tensor<float> cpu(shape), cuda(shape, gpu);
    Rng cpu_rng(1500), cuda_rng(1500);
    fill_uniform(cpu, -3.0, 5.0, cpu_rng);
    fill_uniform(cuda, -3.0, 5.0, cuda_rng);
    expect_identical(cpu, cuda, "fill_uniform");
    add_normal_noise(cpu, 0.7, cpu_rng);
    add_normal_noise(cuda, 0.7, cuda_rng);
    expect_identical(cpu, cuda, "add_normal_noise");
    CHECK(cpu_rng.next_u64() == cuda_rng.next_u64());  // both generators advanced alike
  }
}

TEST_CASE("keyed noise on the GPU: the CPU's draws, up to a float's last bit in rare elements", "[cuda]") {
  for (const Shape& shape : std::vector<Shape>{{1}, {3, 3, 224, 224}, {128, 3, 224, 224}}) {
    INFO(shape_text(shape));
    const Tensor<float> x = random_tensor(shape, 1600, -2.0, 2.0);
    Tensor<float> cpu = x.clone(), cuda = x.to(gpu);
    add_keyed_normal_noise(cpu, 0.3, 77);
    add_keyed_normal_noise(cuda, 0.3, 77);
    const Tensor<float> got = cuda.to(Device::cpu);
    std::int64_t differing = 0;
    double worst = 0;
    for (std::int64_t i = 0; i < got.numel(); ++i) {
      differing += got.data()[i] == cpu.data()[i] ? 0 : 1;
      worst = std::max(worst, std::abs(static_cast<double>(got.data()[i]) - cpu.data()[i]));
    }
    INFO(differing << " of " << got.numel() << " elements differ, by at most " << worst);
    CHECK(differing <= got.numel() / 10000);  // CUDA's and glibc's log and cos differ in rare last bits
    CHECK(worst <= 1e-6);
    // Not vacuous: the noise is there (σ 0.3: some draw beyond 1σ among the large shapes' elements).
    CHECK(largest_difference(cpu, x) > (x.numel() > 1 ? 0.3f : 0.0f));
  }
}

TEST_CASE("keyed dropout masks and nn::Dropout on the GPU: the CPU's bits", "[cuda]") {
  for (const Shape& shape : std::vector<Shape>{{1}, {32, 768, 29, 29}}) {  // InceptionV3's SPG dropout at 32
    INFO(shape_text(shape));
    for (const double p : {0.0, 0.5, 1.0}) {
      const Tensor<float> cpu = keyed_dropout_mask<float>(shape, p, 0xd0);
      const Tensor<float> cuda = keyed_dropout_mask<float>(shape, p, 0xd0, gpu);
      REQUIRE(cuda.device() == gpu);
      expect_identical(cpu, cuda, "keyed_dropout_mask p " + std::to_string(p));
    }
  }
  // The module: a seed gives the same masks on both devices, forward and backward.
  nn::Dropout<float> on_cpu(0.5, 21), on_gpu(0.5, 21);
  on_cpu.train();
  on_gpu.train();
  const Tensor<float> x = random_tensor({4, 8, 5, 5}, 1700), dy = random_tensor({4, 8, 5, 5}, 1701);
  for (int pass = 0; pass < 2; ++pass) {  // a new key every pass, alike on both
    expect_identical(on_cpu.forward(x), on_gpu.forward(x.to(gpu)), "Dropout forward");
    expect_identical(on_cpu.backward(dy), on_gpu.backward(dy.to(gpu)), "Dropout backward");
  }
}

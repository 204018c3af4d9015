// test_backend_ops: convolution (cuDNN), linear (cuBLAS), the element-wise ops and the SGD update
// on the CPU and on CUDA from the same inputs.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <tuple>

#include "backend_ops/compare.hpp"
#include "backend_ops/conv_cases.hpp"

using namespace fcam;
using namespace fcam::test;

namespace {

// Batch 2 for small cases, 1 for large ones, so the CPU side stays quick.
std::int64_t batch_for(const ConvCase& c) { return c.in * c.height * c.width > 2'000'000 ? 1 : 2; }

// Forward (also with the ReLU fused), then backward (input, weight and bias gradients, the
// latter two added into guarded tensors that start non-zero) for one case; `bound` is the NMSE
// bound.
void compare_conv(const ConvCase& c, std::uint64_t seed, double bound) {
  const std::int64_t n = batch_for(c);
  const Tensor<float> x = random_tensor({n, c.in, c.height, c.width}, seed);
  const Tensor<float> w = random_tensor({c.out, c.in / c.g.groups, c.g.kernel_h, c.g.kernel_w}, seed + 1, -0.1, 0.1);
  const Tensor<float> b = random_tensor({c.out}, seed + 2);
  const Tensor<float> y = conv2d(x, w, b, c.g);
  const Tensor<float> xd = x.to(Device::cuda), wd = w.to(Device::cuda), bd = b.to(Device::cuda);
  expect_close(y, conv2d(xd, wd, bd, c.g), c.name + " forward", bound);
  expect_close(conv2d_relu(x, w, b, c.g), conv2d_relu(xd, wd, bd, c.g), c.name + " forward with ReLU", bound);

  const Tensor<float> dy = random_tensor(y.shape(), seed + 3);
  Tensor<float> dw = random_tensor(w.shape(), seed + 4), db = random_tensor(b.shape(), seed + 5);
  Guarded dw_d(dw, Device::cuda), db_d(db, Device::cuda);
  const Tensor<float> dx = conv2d_backward(x, w, dy, c.g, true, &dw, &db);
  const Tensor<float> dx_d = conv2d_backward(xd, wd, dy.to(Device::cuda), c.g, true, &dw_d.view, &db_d.view);
  expect_close(dx, dx_d, c.name + " input gradient", bound);
  expect_close(dw, dw_d.view, c.name + " weight gradient", bound);
  expect_close(db, db_d.view, c.name + " bias gradient", bound);
  dw_d.check_guards(c.name + " weight gradient");
  db_d.check_guards(c.name + " bias gradient");
}

}  // namespace

TEST_CASE("conv2d forward and backward: every backbone, decoder and MobileNetV2 geometry", "[cuda]") {
  cuda::set_tf32(false);
  std::uint64_t seed = 100;
  for (const ConvCase& c : conv_cases()) compare_conv(c, seed += 10, nmse_bound);
}

TEST_CASE("conv2d with TF32 stays within the documented looser bound", "[cuda]") {
  const ModeScope tf32(cuda::set_tf32, cuda::tf32_enabled);
  const auto cases = conv_cases();
  for (std::size_t i = 0; i < cases.size(); i += 4) compare_conv(cases[i], 7000 + i, nmse_bound_tf32);
}

namespace {

// x rounded to bfloat16 (to nearest even), as float.
Tensor<float> rounded_to_bf16(const Tensor<float>& x) {
  Tensor<float> r = x.clone();
  for (std::int64_t i = 0; i < r.numel(); ++i) r.data()[i] = io::bfloat16_to_float(io::float_to_bfloat16(r.data()[i]));
  return r;
}

/// Benchmark mode (algorithms chosen by timing with cudnnFind, through the legacy API) while alive.
struct TimedAlgorithms {
  TimedAlgorithms() { cuda::set_benchmark_algorithms(true); }
  ~TimedAlgorithms() { cuda::set_benchmark_algorithms(false); }
  TimedAlgorithms(const TimedAlgorithms&) = delete;
  TimedAlgorithms& operator=(const TimedAlgorithms&) = delete;
};

Tensor<float> absolute(const Tensor<float>& x) {
  Tensor<float> r = x.clone();
  for (std::int64_t i = 0; i < r.numel(); ++i) r.data()[i] = std::abs(r.data()[i]);
  return r;
}

}  // namespace

TEST_CASE("conv2d in bfloat16: the CPU's product of the rounded operands, at most rounded to bfloat16", "[cuda]") {
  // cuDNN multiplies the bfloat16 operands exactly and adds in float in its own order, then keeps
  // the float sum (graph API with a float output) or rounds it to bfloat16: within half a bfloat16
  // step (2^-8 relative) of the CPU's float convolution of the rounded operands, plus
  // float-accumulation error (1e-4 of Σ|x·w|). Backward passes stay float.
  const auto cases = conv_cases();
  std::uint64_t seed = 9500;
  for (std::size_t i = 0; i < cases.size(); i += 3) {
    const ConvCase& c = cases[i];
    INFO(c.name);
    const std::int64_t n = batch_for(c);
    const Tensor<float> x = random_tensor({n, c.in, c.height, c.width}, seed += 10);
    const Tensor<float> w = random_tensor({c.out, c.in / c.g.groups, c.g.kernel_h, c.g.kernel_w}, seed + 1, -0.1, 0.1);
    const Tensor<float> b = random_tensor({c.out}, seed + 2);
    const Tensor<float> x16 = rounded_to_bf16(x), w16 = rounded_to_bf16(w);
    const Tensor<float> want = conv2d(x16, w16, Tensor<float>(), c.g);
    const Tensor<float> spread = conv2d(absolute(x16), absolute(w16), Tensor<float>(), c.g);
    const Tensor<float> unrounded = conv2d(x, w, Tensor<float>(), c.g);
    Tensor<float> got, with_bias, timed;
    {
      // Deterministic: the bias check below compares two calls bit for bit (a split-K engine
      // could round them differently).
      const ModeScope deterministic(cuda::set_deterministic, cuda::deterministic);
      const ModeScope bf16(cuda::set_bf16, cuda::bf16_enabled);
      got = conv2d(x.to(Device::cuda), w.to(Device::cuda), Tensor<float>(), c.g).to(Device::cpu);
      with_bias = conv2d(x.to(Device::cuda), w.to(Device::cuda), b.to(Device::cuda), c.g);
      const TimedAlgorithms timing;  // the legacy API's path, with a bfloat16 output
      timed = conv2d(x.to(Device::cuda), w.to(Device::cuda), Tensor<float>(), c.g).to(Device::cpu);
    }
    REQUIRE(got.shape() == want.shape());
    std::int64_t outside = 0, timed_outside = 0;
    double from_unrounded = 0;  // the largest difference from the float product of x and w, per Σ|x·w|
    for (std::int64_t k = 0; k < got.numel(); ++k) {
      const double bound = std::ldexp(std::abs(want.data()[k]), -8) + 1e-4 * spread.data()[k];
      outside += std::abs(static_cast<double>(got.data()[k]) - want.data()[k]) <= bound ? 0 : 1;
      timed_outside += std::abs(static_cast<double>(timed.data()[k]) - want.data()[k]) <= bound ? 0 : 1;
      if (spread.data()[k] > 0)
        from_unrounded = std::max(from_unrounded, std::abs(static_cast<double>(got.data()[k]) - unrounded.data()[k]) /
                                                      spread.data()[k]);
    }
    CHECK(outside == 0);
    CHECK(timed_outside == 0);
    // The mode was on: bfloat16 operands (2^-9 relative each) move the sums far beyond float rounding.
    CHECK(from_unrounded > 1e-5);
    const Tensor<float> biased = with_bias.to(Device::cpu);
    std::int64_t bias_wrong = 0;
    const std::int64_t plane = got.size(2) * got.size(3);
    for (std::int64_t k = 0; k < got.numel(); ++k)
      bias_wrong += biased.data()[k] == got.data()[k] + b.data()[(k / plane) % c.out] ? 0 : 1;
    CHECK(bias_wrong == 0);
  }
  // Backward passes stay float: the same bits with the mode on as off (deterministic algorithms).
  {
    const ModeScope deterministic(cuda::set_deterministic, cuda::deterministic);
    const ConvCase& c = cases[1];
    const Tensor<float> x = random_tensor({1, c.in, c.height, c.width}, 9997).to(Device::cuda);
    const Tensor<float> w = random_tensor({c.out, c.in / c.g.groups, c.g.kernel_h, c.g.kernel_w}, 9996, -0.1, 0.1)
                                .to(Device::cuda);
    const Tensor<float> dy = random_tensor({1, c.out, c.g.out_h(c.height), c.g.out_w(c.width)}, 9995).to(Device::cuda);
    Tensor<float> dw_float(w.shape(), Device::cuda), dw_bf16(w.shape(), Device::cuda);
    const Tensor<float> dx_float = conv2d_backward(x, w, dy, c.g, true, &dw_float, nullptr);
    Tensor<float> dx_bf16;
    {
      const ModeScope bf16(cuda::set_bf16, cuda::bf16_enabled);
      dx_bf16 = conv2d_backward(x, w, dy, c.g, true, &dw_bf16, nullptr);
    }
    CHECK(largest_difference(dx_float, dx_bf16) == 0.0f);
    CHECK(largest_difference(dw_float, dw_bf16) == 0.0f);
  }
  // Off again: float convolutions, within the float bound of the CPU.
  const ConvCase& c = cases.front();
  const Tensor<float> x = random_tensor({1, c.in, c.height, c.width}, 9999);
  const Tensor<float> w = random_tensor({c.out, c.in / c.g.groups, c.g.kernel_h, c.g.kernel_w}, 9998, -0.1, 0.1);
  expect_close(conv2d(x, w, Tensor<float>(), c.g), conv2d(x.to(Device::cuda), w.to(Device::cuda), Tensor<float>(), c.g),
               "float after bfloat16", nmse_bound);
}

TEST_CASE("conv2d with fast convolutions (FFT, non-fused Winograd) stays within the looser bound", "[cuda]") {
  const ModeScope fast(cuda::set_fast_convolutions, cuda::fast_convolutions);
  std::uint64_t seed = 9000;
  for (const ConvCase& c : conv_cases()) compare_conv(c, seed += 10, nmse_bound_tf32);
}

TEST_CASE("conv2d with algorithms chosen by timing (cudnnFind) stays within the float bound", "[cuda]") {
  const TimedAlgorithms timing;
  const auto cases = conv_cases();
  for (std::size_t i = 1; i < cases.size(); i += 4) compare_conv(cases[i], 8000 + i, nmse_bound);
}

TEST_CASE("conv2d in deterministic mode gives the same bits on every run", "[cuda]") {
  const ModeScope deterministic(cuda::set_deterministic, cuda::deterministic);
  const ConvCase c{"resnet50 l4 3x3 512-512 at 28", 512, 512, 28, 28, Conv2dGeometry::square(3, 1, 1)};
  const Tensor<float> x = random_tensor({2, c.in, c.height, c.width}, 1).to(Device::cuda);
  const Tensor<float> w = random_tensor({c.out, c.in, 3, 3}, 2, -0.1, 0.1).to(Device::cuda);
  const Tensor<float> dy = random_tensor({2, c.out, 28, 28}, 3).to(Device::cuda);
  const auto run = [&] {
    Tensor<float> dw({c.out, c.in, 3, 3}, Device::cuda);
    const Tensor<float> dx = conv2d_backward(x, w, dy, c.g, true, &dw, nullptr);
    return std::pair{host_values(dx), host_values(dw)};
  };
  const auto first = run();
  for (int i = 0; i < 3; ++i) CHECK(run() == first);
}

TEST_CASE("a warmed-up convolution step allocates no device memory", "[cuda]") {
  const Conv2dGeometry g = Conv2dGeometry::square(3, 1, 1);
  const Tensor<float> x = random_tensor({4, 64, 56, 56}, 1).to(Device::cuda);
  const Tensor<float> w = random_tensor({64, 64, 3, 3}, 2, -0.1, 0.1).to(Device::cuda);
  Tensor<float> dw({64, 64, 3, 3}, Device::cuda);
  const auto step = [&] {
    const Tensor<float> y = relu(conv2d(x, w, Tensor<float>(), g));
    conv2d_backward(x, w, relu_backward(y, y), g, true, &dw, nullptr);
  };
  expect_steady_device_memory(step, 1, 10);
  const std::size_t reserved = cuda::memory_stats().reserved_bytes;
  cuda::empty_cache();
  CHECK(cuda::memory_stats().reserved_bytes < reserved);
}

TEST_CASE("conv2d_prepared: scale, shift, residual and ReLU / ReLU6 after cuDNN's convolution", "[cuda]") {
  const Conv2dGeometry g = Conv2dGeometry::square(3, 2, 1);
  const Tensor<float> x = random_tensor({3, 16, 15, 15}, 1), w = random_tensor({24, 16, 3, 3}, 2, -0.2, 0.2);
  const Tensor<float> scale = random_tensor({24}, 3, 0.5, 1.5), shift = random_tensor({24}, 4);
  const Tensor<float> residual = random_tensor({3, 24, 8, 8}, 5);
  const float no_cap = std::numeric_limits<float>::infinity();
  // ReLU6 on values scaled up so that some reach the cap.
  for (const auto& [relu_last, cap, gain] : {std::tuple{false, no_cap, 1.0}, std::tuple{true, no_cap, 1.0},
                                            std::tuple{true, 6.0f, 8.0}}) {
    const Tensor<float> s = scaled(scale, gain);
    const ConvEpilogue<float> on_cpu{s, shift, relu_last, cap};
    const ConvEpilogue<float> on_gpu{s.to(Device::cuda), shift.to(Device::cuda), relu_last, cap};
    const Tensor<float> want = conv2d_prepared(x, PreparedConvWeights<float>(w, 1), g, on_cpu, residual);
    const Tensor<float> got = conv2d_prepared(x.to(Device::cuda), PreparedConvWeights<float>(w.to(Device::cuda), 1),
                                              g, on_gpu, residual.to(Device::cuda));
    const std::string name = !relu_last       ? "prepared without ReLU"
                             : cap == no_cap ? "prepared with ReLU"
                                             : "prepared with ReLU6";
    expect_close(want, got, name);
    if (cap != no_cap) CHECK(std::count(want.data(), want.data() + want.numel(), 6.0f) > 0);
  }
}

TEST_CASE("linear forward and backward (cuBLAS)", "[cuda]") {
  struct Case { std::int64_t n, in, out; };
  for (const Case c : {Case{1, 2048, 200}, Case{8, 2048, 1000}, Case{3, 7, 5}, Case{32, 1280, 3}, Case{5, 1, 1}}) {
    const std::string name = "linear " + std::to_string(c.n) + "x" + std::to_string(c.in) + "->" + std::to_string(c.out);
    const Tensor<float> x = random_tensor({c.n, c.in}, 1), w = random_tensor({c.out, c.in}, 2), b = random_tensor({c.out}, 3);
    expect_close(linear(x, w, b), linear(x.to(Device::cuda), w.to(Device::cuda), b.to(Device::cuda)), name);
    const Tensor<float> dy = random_tensor({c.n, c.out}, 4);
    Tensor<float> dw = random_tensor(w.shape(), 5), db = random_tensor(b.shape(), 6);
    Guarded dw_d(dw, Device::cuda), db_d(db, Device::cuda);
    const Tensor<float> dx = linear_backward(x, w, dy, &dw, &db);
    const Tensor<float> dx_d =
        linear_backward(x.to(Device::cuda), w.to(Device::cuda), dy.to(Device::cuda), &dw_d.view, &db_d.view);
    expect_close(dx, dx_d, name + " input gradient");
    expect_close(dw, dw_d.view, name + " weight gradient");
    expect_close(db, db_d.view, name + " bias gradient");
    dw_d.check_guards(name);
    db_d.check_guards(name);
  }
}

TEST_CASE("element-wise ops agree exactly, NaN and infinities included", "[cuda]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  Tensor<float> x = random_tensor({3, 5, 7, 9}, 1, -8, 8);
  const std::vector<float> special{nan, inf, -inf, 0.0f, -0.0f, 6.0f, 5.9999995f, 1e-38f, -1e-38f};
  for (std::size_t i = 0; i < special.size(); ++i) x.data()[i * 97] = special[i];
  const Tensor<float> m = random_tensor(x.shape(), 2, -8, 8);
  const Tensor<float> xd = x.to(Device::cuda), md = m.to(Device::cuda);
  // One rounding (or none) per element: the results must be identical, so the bound is 0.
  expect_close(relu(x), relu(xd), "relu", 0.0);
  expect_close(relu6(x), relu6(xd), "relu6", 0.0);
  expect_close(relu_backward(x, m), relu_backward(xd, md), "relu_backward", 0.0);
  expect_close(relu6_backward(x, m), relu6_backward(xd, md), "relu6_backward", 0.0);
  expect_close(add(x, m), add(xd, md), "add", 0.0);
  expect_close(multiply(x, m), multiply(xd, md), "multiply", 0.0);
  expect_close(scaled(x, 0.1), scaled(xd, 0.1), "scaled", 0.0);
  expect_close(relu(Tensor<float>({0, 3})), relu(Tensor<float>({0, 3}, Device::cuda)), "relu of an empty tensor");
}

TEST_CASE("sgd_update gives the CPU's bits in every mode", "[cuda]") {
  for (const bool nesterov : {false, true})
    for (const bool fresh : {false, true})
      for (const double momentum : {0.0, 0.9}) {
        const SgdUpdate u{.lr = 0.01, .momentum = momentum, .weight_decay = 1e-4, .nesterov = nesterov, .fresh_buffer = fresh};
        Tensor<float> value = random_tensor({1000, 3}, 1), buffer = random_tensor({1000, 3}, 2);
        const Tensor<float> grad = random_tensor({1000, 3}, 3);
        Guarded value_d(value, Device::cuda), buffer_d(buffer, Device::cuda);
        sgd_update(value, grad, buffer, u);
        sgd_update(value_d.view, grad.to(Device::cuda), buffer_d.view, u);
        const std::string name = "sgd momentum " + std::to_string(momentum) + (nesterov ? " nesterov" : "") +
                                 (fresh ? " fresh" : "");
        expect_close(value, value_d.view, name + " value", 0.0);
        if (momentum > 0) expect_close(buffer, buffer_d.view, name + " buffer", 0.0);
        value_d.check_guards(name);
        buffer_d.check_guards(name);
      }
}

TEST_CASE("double tensors and mixed devices are refused with clear errors", "[cuda]") {
  using Catch::Contains;
  const Tensor<double> xd({2, 3}, Device::cuda);
  CHECK_THROWS_WITH(relu(xd), Contains("relu: CUDA kernels exist for float tensors only, got double"));
  const Tensor<float> x = random_tensor({2, 3, 4, 4}, 1);
  CHECK_THROWS_WITH(add(x, x.to(Device::cuda)), Contains("add: operands on different devices"));
  const Tensor<float> w = random_tensor({4, 3, 3, 3}, 2);
  CHECK_THROWS_WITH(conv2d(x.to(Device::cuda), w, Tensor<float>(), Conv2dGeometry::square(3)),
                    Contains("conv2d: operands on different devices"));
}

// Winograd F(4x4, 3x3) (ops/cpu/winograd.hpp) against the direct convolution: in double, where
// the transforms are exact up to rounding, it must agree to 1e-12 on every padding, odd size,
// chunk boundary and depth past one GEMM k block; in float its error against a double reference
// is measured, printed and bounded, beside the direct float convolution's. Also the inference
// epilogue, the prepared (inference) weights, the input gradient, which runs through the same
// forward, and the weight gradient (its adjoint: 36 GEMMs over the tiles).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <sstream>
#include <vector>

#include <fcam/fcam.hpp>

using namespace fcam;

namespace {

template <class T>
Tensor<T> random_tensor(const Shape& shape, Rng& rng) {
  Tensor<T> t(shape);
  fill_uniform(t, T(-1), T(1), rng);
  return t;
}

/// max |a − b| / max |b|.
template <class A, class B>
double relative_to_largest(const Tensor<A>& a, const Tensor<B>& b) {
  REQUIRE(a.shape() == b.shape());
  double diff = 0, largest = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i])));
    largest = std::max(largest, std::abs(static_cast<double>(b.data()[i])));
  }
  return diff / std::max(largest, 1e-300);
}

struct Case {
  std::int64_t n, c_in, c_out, h, w, pad;
};

std::string describe(const Case& c) {
  std::ostringstream s;
  s << c.n << "x" << c.c_in << "x" << c.h << "x" << c.w << " -> " << c.c_out << ", pad " << c.pad;
  return s.str();
}

/// Restores the process's Winograd setting when a test ends.
struct WinogradSetting {
  cpu::WinogradUse saved = cpu::winograd_use();
  explicit WinogradSetting(cpu::WinogradUse use) { cpu::set_winograd(use); }
  ~WinogradSetting() { cpu::set_winograd(saved); }
};

}  // namespace

TEST_CASE("Winograd F(4x4, 3x3) equals the direct convolution in double", "[conv][winograd]") {
  Rng rng(41);
  const std::vector<Case> cases{
      {2, 16, 16, 9, 7, 1},    // outputs not a multiple of 4
      {1, 16, 24, 4, 4, 1},    // one tile row
      {3, 20, 17, 13, 11, 0},  // no padding, output channels not a multiple of MR
      {1, 16, 16, 1, 1, 1},    // a single output pixel
      {2, 32, 16, 8, 8, 2},    // padding wider than 1
      {1, 300, 20, 6, 10, 1},  // depth past one GEMM k block (256)
      {4, 16, 40, 36, 34, 1},  // several images, many tiles: whole chunks per thread
  };
  for (const Case& c : cases)
    for (const std::int64_t chunk : {std::int64_t{0}, std::int64_t{1}, std::int64_t{40}}) {
      INFO(describe(c) << ", chunk " << chunk);
      const auto x = random_tensor<double>({c.n, c.c_in, c.h, c.w}, rng);
      const auto w = random_tensor<double>({c.c_out, c.c_in, 3, 3}, rng);
      const auto bias = random_tensor<double>({c.c_out}, rng);
      const Conv2dGeometry g = Conv2dGeometry::square(3, 1, c.pad);
      const Tensor<double> expected = conv2d(x, w, bias, g);  // double: the direct GEMM path
      std::vector<double> packed(static_cast<std::size_t>(cpu::winograd::packed_kernel_size<double>(c.c_out, c.c_in)));
      cpu::winograd::pack_kernel(w, packed.data());
      cpu::ConvEpilogue<double> e;
      e.shift = bias.data();
      auto y = Tensor<double>::uninitialized(expected.shape());
      cpu::winograd::conv2d(x, packed.data(), c.c_out, g, e, y, chunk);
      CHECK(relative_to_largest(y, expected) < 1e-12);

      // The whole epilogue: relu(v·scale + shift + residual).
      const auto scale = random_tensor<double>({c.c_out}, rng);
      const auto residual = random_tensor<double>(expected.shape(), rng);
      const Tensor<double> plain = conv2d(x, w, Tensor<double>(), g);
      Tensor<double> fused_expected(expected.shape());
      const std::int64_t plane = expected.size(2) * expected.size(3);
      for (std::int64_t i = 0; i < plain.numel(); ++i) {
        const std::int64_t o = i / plane % c.c_out;
        fused_expected.data()[i] =
            std::max(0.0, plain.data()[i] * scale.data()[o] + bias.data()[o] + residual.data()[i]);
      }
      e.scale = scale.data();
      e.residual = residual.data();
      e.relu = true;
      cpu::winograd::conv2d(x, packed.data(), c.c_out, g, e, y, chunk);
      CHECK(relative_to_largest(y, fused_expected) < 1e-12);
    }
}

TEST_CASE("Winograd weight gradient equals the direct one in double", "[conv][winograd]") {
  Rng rng(43);
  const std::vector<Case> cases{{2, 16, 16, 9, 7, 1}, {3, 20, 17, 13, 11, 0}, {1, 16, 16, 1, 1, 1},
                                {2, 32, 16, 8, 8, 2}, {1, 300, 20, 6, 10, 1}, {4, 16, 40, 36, 34, 1}};
  for (const Case& c : cases)
    for (const std::int64_t chunk : {std::int64_t{0}, std::int64_t{1}, std::int64_t{40}}) {
      INFO(describe(c) << ", chunk " << chunk);
      const auto x = random_tensor<double>({c.n, c.c_in, c.h, c.w}, rng);
      const auto w = random_tensor<double>({c.c_out, c.c_in, 3, 3}, rng);
      const Conv2dGeometry g = Conv2dGeometry::square(3, 1, c.pad);
      const auto dy = random_tensor<double>({c.n, c.c_out, g.out_h(c.h), g.out_w(c.w)}, rng);
      // Both add into a gradient that already holds values.
      const auto start = random_tensor<double>(w.shape(), rng);
      Tensor<double> expected = start.clone(), actual = start.clone();
      conv2d_backward(x, w, dy, g, false, &expected, nullptr);  // double: the direct path
      cpu::winograd::weight_grad(x, dy, g, actual.data(), chunk);
      CHECK(relative_to_largest(actual, expected) < 1e-12);
    }
}

TEST_CASE("float convolutions through Winograd stay within 2e-5 of the largest output", "[conv][winograd]") {
  Rng rng(42);
  // Channels of the F-CAM decoders and VGG16, maps just large enough for Winograd (4,096 output
  // pixels) to apply without prepared weights.
  const std::vector<Case> cases{{2, 64, 64, 48, 48, 1}, {16, 512, 128, 16, 16, 1}, {4, 192, 64, 34, 32, 1},
                                {8, 256, 32, 23, 25, 1}};
  for (const Case& c : cases) {
    INFO(describe(c));
    const auto xd = random_tensor<double>({c.n, c.c_in, c.h, c.w}, rng);
    const auto wd = random_tensor<double>({c.c_out, c.c_in, 3, 3}, rng);
    const auto bd = random_tensor<double>({c.c_out}, rng);
    const Conv2dGeometry g = Conv2dGeometry::square(3, 1, c.pad);
    const Tensor<double> exact = conv2d(xd, wd, bd, g);
    const auto x = xd.cast<float>(), w = wd.cast<float>(), b = bd.cast<float>();
    double winograd_error = 0, direct_error = 0, prepared_error = 0, grad_error = 0, direct_grad_error = 0;
    double weight_error = 0, direct_weight_error = 0;
    // The input gradient is the convolution of dy with the flipped kernel: the same path.
    const auto dyd = random_tensor<double>(exact.shape(), rng);
    Tensor<double> exact_dw(wd.shape());
    const Tensor<double> exact_dx = conv2d_backward(xd, wd, dyd, g, true, &exact_dw, nullptr);
    const auto dy = dyd.cast<float>();
    auto weight_grad = [&] {
      Tensor<float> dw(w.shape());
      conv2d_backward(x, w, dy, g, false, &dw, nullptr);
      return relative_to_largest(dw, exact_dw);
    };
    {
      const WinogradSetting on(cpu::WinogradUse::all);
      REQUIRE(cpu::winograd::applies<float>(g, c.c_in, c.c_out, exact.size(0) * exact.size(2) * exact.size(3)));
      winograd_error = relative_to_largest(conv2d(x, w, b, g), exact);
      const PreparedConvWeights<float> prepared(w, 1);
      REQUIRE(prepared.cpu_packed().winograd.defined());
      prepared_error =
          relative_to_largest(conv2d_prepared(x, prepared, g, ConvEpilogue<float>{Tensor<float>(), b, false}), exact);
      grad_error = relative_to_largest(conv2d_backward(x, w, dy, g, true, nullptr, nullptr), exact_dx);
      weight_error = weight_grad();
    }
    {
      const WinogradSetting off(cpu::WinogradUse::off);
      REQUIRE_FALSE(cpu::winograd::applies_prepared<float>(g, c.c_in, c.c_out));
      direct_error = relative_to_largest(conv2d(x, w, b, g), exact);
      direct_grad_error = relative_to_largest(conv2d_backward(x, w, dy, g, true, nullptr, nullptr), exact_dx);
      direct_weight_error = weight_grad();
    }
    std::cout << "winograd " << describe(c) << ": float error / largest output: winograd " << winograd_error
              << " (prepared " << prepared_error << ", input gradient " << grad_error << ", weight gradient "
              << weight_error << "), direct " << direct_error << " (input gradient " << direct_grad_error
              << ", weight gradient " << direct_weight_error << ")\n";
    CHECK(winograd_error < 2e-5);
    CHECK(prepared_error < 2e-5);
    CHECK(grad_error < 2e-5);
    CHECK(weight_error < 2e-5);
    CHECK(direct_error < 5e-6);
    CHECK(direct_weight_error < 5e-6);
    // The path really changed: Winograd's rounding is not the direct convolution's.
    CHECK(winograd_error != direct_error);
  }
}

TEST_CASE("Winograd applies to float 3x3 stride-1 layers with enough channels and pixels", "[conv][winograd]") {
  const Conv2dGeometry g = Conv2dGeometry::square(3, 1, 1);
  {
    const WinogradSetting all(cpu::WinogradUse::all);
    CHECK(cpu::winograd::applies<float>(g, 16, 16, 4096));
    CHECK(cpu::winograd::applies_prepared<float>(g, 64, 64));  // prepared weights: no minimum
    CHECK_FALSE(cpu::winograd::applies<float>(g, 64, 64, 4095));
    CHECK_FALSE(cpu::winograd::applies<double>(g, 64, 64, 1 << 20));
    CHECK_FALSE(cpu::winograd::applies<float>(g, 15, 64, 1 << 20));
    CHECK_FALSE(cpu::winograd::applies<float>(g, 64, 15, 1 << 20));
    CHECK_FALSE(cpu::winograd::applies<float>(Conv2dGeometry::square(3, 2, 1), 64, 64, 1 << 20));
    CHECK_FALSE(cpu::winograd::applies<float>(Conv2dGeometry::square(3, 1, 2, 2), 64, 64, 1 << 20));
    CHECK_FALSE(cpu::winograd::applies<float>(Conv2dGeometry::square(3, 1, 1, 1, 2), 64, 64, 1 << 20));
    CHECK_FALSE(cpu::winograd::applies_prepared<float>(Conv2dGeometry::square(5, 1, 2), 64, 64));
  }
  {
    const WinogradSetting inference(cpu::WinogradUse::inference);  // the default
    CHECK(cpu::winograd::applies_prepared<float>(g, 64, 64));
    CHECK_FALSE(cpu::winograd::applies<float>(g, 64, 64, 1 << 20));
  }
  const WinogradSetting off(cpu::WinogradUse::off);
  CHECK_FALSE(cpu::winograd::applies_prepared<float>(g, 64, 64));
  CHECK_FALSE(cpu::winograd::applies<float>(g, 64, 64, 1 << 20));
}

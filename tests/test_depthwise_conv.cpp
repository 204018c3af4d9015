// The direct depthwise convolution (ops/cpu/depthwise_conv2d.hpp) and the GEMM paths it sits
// beside, against a convolution written as its definition: every stride, padding (also wider
// than the kernel), dilation and odd size, with and without the inference epilogue.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <vector>

#include <fcam/fcam.hpp>

using namespace fcam;

namespace {

Tensor<double> random_tensor(const Shape& shape, Rng& rng) {
  Tensor<double> t(shape);
  fill_uniform(t, -1.0, 1.0, rng);
  return t;
}

/// conv(x, w) + bias by the definition (PyTorch's output size and zero padding).
Tensor<double> convolution_by_definition(const Tensor<double>& x, const Tensor<double>& w, const Tensor<double>& bias,
                                         const Conv2dGeometry& g) {
  const std::int64_t n = x.size(0), c_in = x.size(1), h = x.size(2), wd = x.size(3), c_out = w.size(0);
  const std::int64_t cin_g = c_in / g.groups, cout_g = c_out / g.groups, oh = g.out_h(h), ow = g.out_w(wd);
  Tensor<double> y({n, c_out, oh, ow});
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t o = 0; o < c_out; ++o)
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j) {
          double sum = bias.defined() ? bias.data()[o] : 0.0;
          for (std::int64_t c = 0; c < cin_g; ++c)
            for (std::int64_t ki = 0; ki < g.kernel_h; ++ki)
              for (std::int64_t kj = 0; kj < g.kernel_w; ++kj) {
                const std::int64_t r = i * g.stride_h - g.pad_h + ki * g.dilation_h;
                const std::int64_t q = j * g.stride_w - g.pad_w + kj * g.dilation_w;
                if (r >= 0 && r < h && q >= 0 && q < wd)
                  sum += x(b, o / cout_g * cin_g + c, r, q) * w(o, c, ki, kj);
              }
          y(b, o, i, j) = sum;
        }
  return y;
}

double max_abs_difference(const Tensor<double>& a, const Tensor<double>& b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

struct Case {
  std::int64_t n, c_in, c_out, h, w;
  Conv2dGeometry g;
};

std::string describe(const Case& c) {
  std::ostringstream s;
  s << c.n << "x" << c.c_in << "x" << c.h << "x" << c.w << " -> " << c.c_out << ", kernel " << c.g.kernel_h << "x"
    << c.g.kernel_w << " stride " << c.g.stride_h << "/" << c.g.stride_w << " pad " << c.g.pad_h << "/" << c.g.pad_w
    << " dilation " << c.g.dilation_h << " groups " << c.g.groups;
  return s.str();
}

/// True when a k×k kernel (padding, dilation) has at least one output position on h×w.
bool fits(std::int64_t h, std::int64_t w, std::int64_t k, std::int64_t pad, std::int64_t dilation) {
  return std::min(h, w) + 2 * pad > dilation * (k - 1);
}

Conv2dGeometry geometry(std::int64_t k, std::int64_t stride, std::int64_t pad, std::int64_t dilation, std::int64_t groups) {
  return Conv2dGeometry::square(k, stride, pad, dilation, groups);
}

}  // namespace

TEST_CASE("depthwise convolution equals its definition, plain and with the inference epilogue", "[conv]") {
  Rng rng(11);
  std::vector<Case> cases;
  for (const auto& [k, stride, pad, dilation] : std::vector<std::array<std::int64_t, 4>>{
           {3, 1, 1, 1}, {3, 2, 0, 1}, {3, 2, 1, 1}, {5, 1, 2, 1}, {3, 1, 2, 2}, {3, 2, 1, 2}, {1, 1, 0, 1}, {1, 2, 0, 1},
           {3, 1, 3, 1}, {3, 2, 3, 1}, {2, 1, 0, 1}})
    for (const auto& [h, w] : std::vector<std::array<std::int64_t, 2>>{{7, 7}, {8, 5}, {1, 1}, {3, 17}, {16, 16}})
      if (fits(h, w, k, pad, dilation)) cases.push_back({2, 3, 3, h, w, geometry(k, stride, pad, dilation, 3)});
  // Non-square: kernel 3×1, strides 2×1, padding 1×0.
  cases.push_back({1, 4, 4, 9, 6, Conv2dGeometry{3, 1, 2, 1, 1, 0, 1, 1, 4}});
  for (const Case& c : cases) {
    INFO(describe(c));
    const Tensor<double> x = random_tensor({c.n, c.c_in, c.h, c.w}, rng);
    const Tensor<double> w = random_tensor({c.c_out, c.c_in / c.g.groups, c.g.kernel_h, c.g.kernel_w}, rng);
    const Tensor<double> bias = random_tensor({c.c_out}, rng), scale = random_tensor({c.c_out}, rng);
    REQUIRE(cpu::is_depthwise(w, c.g.groups));
    const Tensor<double> expected = convolution_by_definition(x, w, bias, c.g);
    CHECK(max_abs_difference(conv2d(x, w, bias, c.g), expected) < 1e-12);
    // conv2d_prepared: y = relu(v·scale + shift + residual), v without the bias.
    const Tensor<double> residual = random_tensor(expected.shape(), rng);
    const Tensor<double> v = convolution_by_definition(x, w, Tensor<double>(), c.g);
    Tensor<double> fused_expected(expected.shape());
    const std::int64_t plane = expected.size(2) * expected.size(3);
    for (std::int64_t i = 0; i < v.numel(); ++i) {
      const std::int64_t o = i / plane % c.c_out;
      fused_expected.data()[i] = std::max(0.0, v.data()[i] * scale.data()[o] + bias.data()[o] + residual.data()[i]);
    }
    const PreparedConvWeights<double> prepared(w, c.g.groups);
    const Tensor<double> fused = conv2d_prepared(x, prepared, c.g, ConvEpilogue<double>{scale, bias, true}, residual);
    CHECK(max_abs_difference(fused, fused_expected) < 1e-12);
  }
}

TEST_CASE("grouped and plain convolutions beside the depthwise path, padding wider than the kernel included",
          "[conv]") {
  Rng rng(12);
  const std::vector<Case> cases{
      {2, 3, 6, 7, 7, geometry(3, 1, 1, 1, 3)},   // two outputs per group: the GEMM path
      {2, 4, 6, 8, 5, geometry(3, 2, 1, 1, 2)},   // two channels per group
      {1, 3, 5, 6, 6, geometry(3, 1, 3, 1, 1)},   // padding 3 > the kernel's reach of 2
      {1, 3, 5, 6, 9, geometry(1, 1, 1, 1, 1)},   // 1×1 with padding
      {2, 2, 3, 5, 7, geometry(3, 1, 4, 2, 1)}};  // dilated, padding 4 = its reach
  for (const Case& c : cases) {
    INFO(describe(c));
    const Tensor<double> x = random_tensor({c.n, c.c_in, c.h, c.w}, rng);
    const Tensor<double> w = random_tensor({c.c_out, c.c_in / c.g.groups, c.g.kernel_h, c.g.kernel_w}, rng);
    const Tensor<double> bias = random_tensor({c.c_out}, rng);
    CHECK_FALSE(cpu::is_depthwise(w, c.g.groups) != (c.c_in == c.g.groups && c.c_out == c.g.groups));
    const Tensor<double> expected = convolution_by_definition(x, w, bias, c.g);
    CHECK(max_abs_difference(conv2d(x, w, bias, c.g), expected) < 1e-12);
    const PreparedConvWeights<double> prepared(w, c.g.groups);
    CHECK(max_abs_difference(conv2d_prepared(x, prepared, c.g, ConvEpilogue<double>{Tensor<double>(), bias, false}),
                             expected) < 1e-12);
  }
}

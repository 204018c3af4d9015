// Finite-difference gradient checks of every op and module, in double (tolerance: gradcheck.hpp).
#include "gradcheck.hpp"

using namespace fcam;
using fcam::test::check_gradients;
using fcam::test::GradCase;
using fcam::test::module_case;
using fcam::test::random_tensor;
using fcam::test::TensorD;

TEST_CASE("Conv2d gradients for every geometry", "[grad][conv]") {
  Rng rng(1);
  struct Spec { const char* name; std::int64_t n, cin, cout, h, w; Conv2dGeometry g; bool bias; };
  const Spec specs[] = {
      {"3x3 pad 1", 1, 3, 4, 6, 5, Conv2dGeometry::square(3, 1, 1), true},
      {"3x3 stride 2 dilation 2", 1, 2, 3, 9, 8, Conv2dGeometry::square(3, 2, 2, 2), false},
      {"groups 2", 2, 4, 6, 5, 5, Conv2dGeometry::square(3, 1, 1, 1, 2), true},
      {"depthwise", 1, 3, 3, 5, 6, Conv2dGeometry::square(3, 1, 1, 1, 3), true},
      {"1x1 pointwise, batch 3 (batch-parallel path)", 3, 4, 5, 4, 3, Conv2dGeometry::square(1), true},
      {"1x1 stride 2", 2, 3, 4, 5, 5, Conv2dGeometry::square(1, 2), false},
      {"7x7 stride 2 pad 3", 1, 2, 2, 9, 9, Conv2dGeometry::square(7, 2, 3), false},
      {"rectangular kernel", 2, 2, 2, 6, 7, Conv2dGeometry{1, 3, 1, 2, 0, 1, 1, 1, 1}, true},
      // Wide outputs (>= 16× the kernel's junk columns) take the in-place stride-1 path.
      {"3x3 pad 1, wide (in-place path)", 2, 2, 3, 3, 34, Conv2dGeometry::square(3, 1, 1), true},
      {"3x3 dilation 2, wide, groups 2", 1, 2, 2, 5, 68, Conv2dGeometry::square(3, 1, 2, 2, 2), false},
      {"3x3 no padding, wide", 1, 2, 2, 4, 36, Conv2dGeometry::square(3), true},
      {"7x7 stride 2 pad 3, wide (in-place phases)", 1, 2, 2, 5, 100, Conv2dGeometry::square(7, 2, 3), false},
      {"3x3 stride 2 pad 1, wide", 2, 3, 2, 6, 70, Conv2dGeometry::square(3, 2, 1), true},
      // One image and >= 256 output channels: tiles split the output channels between threads.
      {"1x1, 256 outputs, batch 1 (channel slices)", 1, 3, 256, 4, 5, Conv2dGeometry::square(1), true},
  };
  for (const Spec& s : specs) {
    nn::Conv2d<double> conv(s.cin, s.cout, s.g, s.bias);
    check_gradients(module_case(conv, random_tensor({s.n, s.cin, s.h, s.w}, rng)), s.name);
  }
}

TEST_CASE("Conv2d without its input gradient: the same parameter gradients, no input gradient", "[grad]") {
  Rng rng(21);
  nn::Conv2d<double> conv(3, 4, Conv2dGeometry::square(3, 1, 1));
  const Tensor<double> x = random_tensor({2, 3, 5, 6}, rng), grad_y = random_tensor({2, 4, 5, 6}, rng);
  conv(x);
  CHECK(conv.backward(grad_y).defined());
  const Tensor<double> weight_grad = conv.weight().grad.clone(), bias_grad = conv.bias().grad.clone();
  conv.zero_grad();
  conv.set_input_gradient(false);
  conv(x);
  CHECK_FALSE(conv.backward(grad_y).defined());
  for (std::int64_t i = 0; i < weight_grad.numel(); ++i) CHECK(conv.weight().grad.data()[i] == weight_grad.data()[i]);
  for (std::int64_t i = 0; i < bias_grad.numel(); ++i) CHECK(conv.bias().grad.data()[i] == bias_grad.data()[i]);
}

TEST_CASE("BatchNorm2d gradients in training and evaluation mode", "[grad][bn]") {
  Rng rng(2);
  nn::BatchNorm2d<double> bn(3);
  fcam::test::uniform_params(bn, rng);
  check_gradients(module_case(bn, random_tensor({2, 3, 4, 3}, rng)), "train");
  bn.eval();
  check_gradients(module_case(bn, random_tensor({2, 3, 4, 3}, rng)), "eval");
  nn::BatchNorm2d<double> bn1d(4);
  check_gradients(module_case(bn1d, random_tensor({5, 4}, rng)), "N×C input");
}

TEST_CASE("activation gradients", "[grad]") {
  Rng rng(3);
  nn::ReLU<double> r;
  check_gradients(module_case(r, random_tensor({2, 3, 4, 4}, rng)), "ReLU");
  nn::ReLU6<double> r6;
  check_gradients(module_case(r6, random_tensor({2, 3, 4, 4}, rng, -3.0, 9.0)), "ReLU6");
  nn::SoftmaxChannels<double> sm;
  check_gradients(module_case(sm, random_tensor({2, 4, 3, 3}, rng, -3.0, 3.0)), "softmax 4-D");
  check_gradients(module_case(sm, random_tensor({3, 5}, rng, -3.0, 3.0)), "softmax 2-D");
}

TEST_CASE("pooling gradients", "[grad][pool]") {
  Rng rng(4);
  for (bool ceil : {false, true}) {
    nn::MaxPool2d<double> mp(Pool2dGeometry{3, 2, 1, ceil});
    check_gradients(module_case(mp, random_tensor({2, 2, 8, 7}, rng)), ceil ? "maxpool ceil" : "maxpool floor");
    for (bool include_pad : {false, true}) {
      nn::AvgPool2d<double> ap(Pool2dGeometry{3, 2, 1, ceil, include_pad});
      check_gradients(module_case(ap, random_tensor({2, 2, 8, 7}, rng)),
                      std::string("avgpool ceil=") + (ceil ? "1" : "0") + " include_pad=" + (include_pad ? "1" : "0"));
    }
  }
  nn::AvgPool2d<double> inception_pool(Pool2dGeometry{3, 1, 1});  // InceptionV3's pool branches
  check_gradients(module_case(inception_pool, random_tensor({2, 2, 9, 11}, rng)), "avgpool stride 1");
  nn::GlobalAvgPool2d<double> gap;
  check_gradients(module_case(gap, random_tensor({2, 3, 4, 5}, rng)), "global average pool");
}

TEST_CASE("avg_pool2d with vectorised inner columns: the bits of summing window by window", "[pool]") {
  // The reference: every window summed on its own in scan order (the kernels' contract), and
  // every input gradient receiving its shares in output order.
  auto naive = [](const Tensor<float>& x, const Tensor<float>& dy, const Pool2dGeometry& g) {
    const std::int64_t h = x.size(2), w = x.size(3), oh = g.out_size(h), ow = g.out_size(w), s = g.step();
    Tensor<float> y({x.size(0), x.size(1), oh, ow}), dx(x.shape());
    for (std::int64_t p = 0; p < x.size(0) * x.size(1); ++p)
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j) {
          std::int64_t h0 = i * s - g.padding, w0 = j * s - g.padding;
          std::int64_t h1 = std::min(h0 + g.kernel, h + g.padding), w1 = std::min(w0 + g.kernel, w + g.padding);
          const std::int64_t padded = (h1 - h0) * (w1 - w0);
          h0 = std::max<std::int64_t>(h0, 0), w0 = std::max<std::int64_t>(w0, 0);
          h1 = std::min(h1, h), w1 = std::min(w1, w);
          const std::int64_t divisor = g.count_include_pad ? padded : (h1 - h0) * (w1 - w0);
          float sum = 0;
          for (std::int64_t yy = h0; yy < h1; ++yy)
            for (std::int64_t xx = w0; xx < w1; ++xx) sum += x.data()[p * h * w + yy * w + xx];
          const std::int64_t o = p * oh * ow + i * ow + j;
          y.data()[o] = divisor > 0 ? sum / static_cast<float>(divisor) : 0.0f;
          if (divisor == 0) continue;
          const float share = dy.data()[o] / static_cast<float>(divisor);
          for (std::int64_t yy = h0; yy < h1; ++yy)
            for (std::int64_t xx = w0; xx < w1; ++xx) dx.data()[p * h * w + yy * w + xx] += share;
        }
    return std::pair{y, dx};
  };
  Rng rng(11);
  int cases = 0;
  for (std::int64_t k : {1, 2, 3, 5})
    for (std::int64_t s : {1, 2, 3})
      for (std::int64_t pad = 0; pad <= k / 2; ++pad)
        for (bool ceil : {false, true})
          for (bool include_pad : {false, true})
            for (std::int64_t w : {1, 2, 4, 7, 29, 40}) {
              const Pool2dGeometry g{k, s, pad, ceil, include_pad};
              const std::int64_t h = 6;
              if (w + 2 * pad < k) continue;  // no window fits: refused, tested elsewhere
              const Tensor<float> x = random_tensor({2, 3, h, w}, rng).cast<float>();
              const Tensor<float> dy =
                  random_tensor({2, 3, g.out_size(h), g.out_size(w)}, rng).cast<float>();
              const auto [y_expected, dx_expected] = naive(x, dy, g);
              const Tensor<float> y = avg_pool2d(x, g), dx = avg_pool2d_backward(x.shape(), g, dy);
              INFO("kernel " << k << " stride " << s << " padding " << pad << " ceil " << ceil << " include_pad "
                             << include_pad << " width " << w);
              REQUIRE(std::equal(y.data(), y.data() + y.numel(), y_expected.data()));
              REQUIRE(std::equal(dx.data(), dx.data() + dx.numel(), dx_expected.data()));
              ++cases;
            }
  CHECK(cases > 300);
}

TEST_CASE("Linear, Dropout and resizing gradients", "[grad]") {
  Rng rng(5);
  nn::Linear<double> fc(6, 4);
  check_gradients(module_case(fc, random_tensor({3, 6}, rng)), "Linear");
  nn::Dropout<double> drop(0.4, 9);
  check_gradients(module_case(drop, random_tensor({2, 3, 4, 4}, rng), [&] { drop.seed(9); }), "Dropout (fixed seed)");
  nn::UpsampleNearest<double> up(2);
  check_gradients(module_case(up, random_tensor({2, 2, 3, 4}, rng)), "nearest x2");
  for (bool align : {false, true}) {
    nn::ResizeBilinear<double> grow(7, 9, align), shrink(3, 2, align);
    check_gradients(module_case(grow, random_tensor({1, 2, 4, 5}, rng)), align ? "bilinear up align" : "bilinear up");
    check_gradients(module_case(shrink, random_tensor({1, 2, 7, 5}, rng)),
                    align ? "bilinear down align" : "bilinear down");
  }
}

TEST_CASE("multi-input ops: add and concat", "[grad]") {
  Rng rng(6);
  GradCase add_case;
  add_case.inputs = {random_tensor({2, 3, 2, 2}, rng), random_tensor({2, 3, 2, 2}, rng)};
  add_case.forward = [](const std::vector<TensorD>& in) { return add(in[0], in[1]); };
  add_case.backward = [](const TensorD& g) { return std::vector<TensorD>{g, g}; };
  check_gradients(add_case, "add");

  GradCase cat;
  cat.inputs = {random_tensor({2, 3, 2, 3}, rng), random_tensor({2, 1, 2, 3}, rng), random_tensor({2, 2, 2, 3}, rng)};
  cat.forward = [](const std::vector<TensorD>& in) { return concat_channels(in); };
  cat.backward = [](const TensorD& g) { return split_channels(g, {3, 1, 2}); };
  check_gradients(cat, "concat");
}

TEST_CASE("cross-entropy gradient with an ignore index", "[grad][loss]") {
  Rng rng(7);
  for (bool spatial : {false, true}) {
    const Shape shape = spatial ? Shape{2, 3, 2, 2} : Shape{4, 5};
    const std::vector<std::int64_t> targets = spatial ? std::vector<std::int64_t>{0, 2, -1, 1, 1, -1, 0, 2}
                                                      : std::vector<std::int64_t>{4, -1, 0, 2};
    GradCase ce;
    ce.inputs = {random_tensor(shape, rng, -2.0, 2.0)};
    ce.forward = [targets](const std::vector<TensorD>& in) {
      return TensorD::from({1}, {cross_entropy(in[0], targets, -1).loss});
    };
    ce.backward = [targets, &ce](const TensorD& g) {
      TensorD grad = cross_entropy(ce.inputs[0], targets, -1).grad.clone();
      for (std::int64_t i = 0; i < grad.numel(); ++i) grad.data()[i] *= g.data()[0];
      return std::vector<TensorD>{grad};
    };
    check_gradients(ce, spatial ? "cross-entropy N×C×H×W" : "cross-entropy N×C");
  }
}

TEST_CASE("Sequential and the composite bottleneck in training mode", "[grad][composite]") {
  Rng rng(8);
  nn::Sequential<double> seq;
  seq.emplace<nn::Conv2d<double>>(2, 3, Conv2dGeometry::square(3, 1, 1));
  seq.emplace<nn::BatchNorm2d<double>>(3);
  seq.emplace<nn::ReLU<double>>();
  seq.emplace<nn::MaxPool2d<double>>(Pool2dGeometry{2});
  check_gradients(module_case(seq, random_tensor({2, 2, 6, 6}, rng)), "Sequential conv-bn-relu-pool");

  models::Bottleneck<double> identity(8, 2, 1);
  fcam::test::uniform_params(identity, rng);
  REQUIRE_FALSE(identity.has_downsample());
  check_gradients(module_case(identity, random_tensor({2, 8, 5, 5}, rng)), "bottleneck, identity shortcut");

  models::Bottleneck<double> projection(4, 2, 2);
  fcam::test::uniform_params(projection, rng);
  REQUIRE(projection.has_downsample());
  check_gradients(module_case(projection, random_tensor({2, 4, 6, 6}, rng)), "bottleneck, stride 2 projection");

  models::BasicBlock<double> basic(3, 4, 2);  // ResNet18's block: two BatchNorm + ReLU pairs, one with the shortcut
  fcam::test::uniform_params(basic, rng);
  check_gradients(module_case(basic, random_tensor({2, 3, 6, 6}, rng)), "basic block, stride 2 projection");
}

TEST_CASE("TensorFlow SAME padding and MobileNetV2's inverted residual blocks", "[grad][composite]") {
  Rng rng(9);
  // Even sizes pad 0 before and 1 after for a stride-2 3x3; odd sizes 1 and 1; stride 1 pads 1 and 1.
  CHECK(tf_same_padding(224, 224, 3, 2).top == 0);
  CHECK(tf_same_padding(224, 224, 3, 2).bottom == 1);
  CHECK(tf_same_padding(7, 8, 3, 2).top == 1);
  CHECK(tf_same_padding(7, 8, 3, 2).bottom == 1);
  CHECK(tf_same_padding(7, 8, 3, 2).left == 0);
  CHECK(tf_same_padding(7, 8, 3, 2).right == 1);
  CHECK(tf_same_padding(5, 5, 3, 1).top == 1);
  CHECK(tf_same_padding(5, 5, 1, 1).none());
  const TensorD x = random_tensor({1, 1, 2, 3}, rng);
  const TensorD padded = pad2d(x, Padding2d{1, 2, 0, 1});
  REQUIRE(padded.shape() == Shape{1, 1, 5, 4});
  CHECK(padded.at({0, 0, 0, 0}) == 0.0);
  CHECK(padded.at({0, 0, 1, 0}) == x.at({0, 0, 0, 0}));
  CHECK(padded.at({0, 0, 2, 2}) == x.at({0, 0, 1, 2}));
  CHECK(padded.at({0, 0, 2, 3}) == 0.0);
  CHECK(padded.at({0, 0, 3, 1}) == 0.0);

  nn::TfSamePad<double> pad(3, 2);
  check_gradients(module_case(pad, random_tensor({2, 3, 6, 7}, rng)), "SAME padding, stride 2");
  models::InvertedResidual<double> residual(4, 4, 1, 6);
  fcam::test::uniform_params(residual, rng);
  REQUIRE(residual.has_residual());
  check_gradients(module_case(residual, random_tensor({2, 4, 5, 5}, rng, -1.0, 3.0)), "inverted residual, stride 1");
  for (std::int64_t size : {6, 7}) {
    models::InvertedResidual<double> strided(4, 6, 2, 6);
    fcam::test::uniform_params(strided, rng);
    REQUIRE_FALSE(strided.has_residual());
    check_gradients(module_case(strided, random_tensor({2, 4, size, size}, rng, -1.0, 3.0)),
                    "inverted residual, stride 2, size " + std::to_string(size));
  }
  models::InvertedResidual<double> unexpanded(3, 2, 1, 1);
  fcam::test::uniform_params(unexpanded, rng);
  check_gradients(module_case(unexpanded, random_tensor({1, 3, 4, 4}, rng)), "inverted residual, no expansion");
}

// The ops that took over loops of nn/ and optim/ ([backend]): their arithmetic against the
// formulas, and their contracts (shapes, per-channel sizes) checked as strictly in backward as
// in forward.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <fcam/fcam.hpp>

using namespace fcam;
using Catch::Contains;

namespace {
Tensor<double> random_tensor(const Shape& shape, Rng& rng) {
  Tensor<double> t(shape);
  fill_uniform(t, -1.0, 1.0, rng);
  return t;
}
}  // namespace

TEST_CASE("sgd_update: PyTorch's SGD arithmetic, buffers checked", "[ops]") {
  Rng rng(1);
  for (const bool nesterov : {false, true})
    for (const bool fresh : {false, true}) {
      INFO("nesterov " << nesterov << " fresh " << fresh);
      const Tensor<double> p0 = random_tensor({3, 4}, rng), g = random_tensor({3, 4}, rng), b0 = random_tensor({3, 4}, rng);
      Tensor<double> p = p0.clone(), b = b0.clone();
      const SgdUpdate u{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-2, .nesterov = nesterov, .fresh_buffer = fresh};
      sgd_update(p, g, b, u);
      for (std::int64_t i = 0; i < p.numel(); ++i) {
        const double grad = g.data()[i] + 1e-2 * p0.data()[i];
        const double buf = fresh ? grad : 0.9 * b0.data()[i] + grad;
        const double step = nesterov ? grad + 0.9 * buf : buf;
        CHECK(b.data()[i] == Approx(buf).epsilon(1e-14));
        CHECK(p.data()[i] == Approx(p0.data()[i] - 0.1 * step).epsilon(1e-14));
      }
    }
  Tensor<double> p({2}), g({3}), b;
  CHECK_THROWS_WITH(sgd_update(p, g, b, SgdUpdate{}), Contains("sgd_update (gradient): shape mismatch"));
  Tensor<double> g2({2});
  CHECK_THROWS_WITH(sgd_update(p, g2, b, SgdUpdate{.lr = 0.1, .momentum = 0.5, .weight_decay = 0, .nesterov = false,
                                                   .fresh_buffer = false}),
                    Contains("sgd_update: an operand is undefined"));  // momentum without its buffer
  Tensor<double> wrong_buffer({3});
  CHECK_THROWS_WITH(sgd_update(p, g2, wrong_buffer,
                               SgdUpdate{.lr = 0.1, .momentum = 0.5, .weight_decay = 0, .nesterov = false, .fresh_buffer = false}),
                    Contains("sgd_update (momentum buffer): shape mismatch"));
}

TEST_CASE("batch_norm_update_running_stats and the evaluation affine map", "[ops]") {
  Rng rng(2);
  const Tensor<double> mean0 = random_tensor({5}, rng), var0 = random_tensor({5}, rng);
  const Tensor<double> batch_mean = random_tensor({5}, rng), batch_var = random_tensor({5}, rng);
  Tensor<double> mean = mean0.clone(), var = var0.clone(), count(Shape{});
  batch_norm_update_running_stats(mean, var, count, batch_mean, batch_var, 0.1);
  for (std::int64_t c = 0; c < 5; ++c) {
    CHECK(mean.data()[c] == Approx(0.9 * mean0.data()[c] + 0.1 * batch_mean.data()[c]).epsilon(1e-14));
    CHECK(var.data()[c] == Approx(0.9 * var0.data()[c] + 0.1 * batch_var.data()[c]).epsilon(1e-14));
  }
  CHECK(count.data()[0] == 1.0);
  Tensor<double> short_var({4});
  CHECK_THROWS_WITH(batch_norm_update_running_stats(mean, short_var, count, batch_mean, batch_var, 0.1),
                    Contains("batch_norm_update_running_stats: shape mismatch"));
  // The affine map reproduces batch_norm_eval.
  const Tensor<double> gamma = random_tensor({5}, rng), beta = random_tensor({5}, rng), x = random_tensor({2, 5, 3, 3}, rng);
  Tensor<double> positive_var = var.clone();
  for (std::int64_t c = 0; c < 5; ++c) positive_var.data()[c] = std::abs(positive_var.data()[c]) + 0.1;
  const auto [scale, shift] = batch_norm_eval_affine(gamma, beta, mean, positive_var, 1e-5);
  const Tensor<double> y = batch_norm_eval(x, gamma, beta, mean, positive_var, 1e-5);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const std::int64_t c = i / 9 % 5;
    CHECK(y.data()[i] == Approx(x.data()[i] * scale.data()[c] + shift.data()[c]).epsilon(1e-12));
  }
}

TEST_CASE("training BatchNorm with the residual and ReLU fused gives the ops' results one by one, bit for bit",
          "[ops]") {
  Rng rng(12);
  Tensor<float> x({3, 5, 7, 6}), gamma({5}), beta({5}), residual(x.shape()), grad(x.shape());
  for (Tensor<float>* t : {&x, &gamma, &beta, &residual, &grad}) fill_uniform(*t, -1.0f, 1.0f, rng);
  for (const bool with_residual : {false, true})
    for (const bool relu_after : {false, true}) {
      INFO("residual " << with_residual << ", relu " << relu_after);
      BatchNormSaved<float> saved, saved_ref;
      Tensor<float> unbiased, unbiased_ref;
      const Tensor<float> res = with_residual ? residual : Tensor<float>();
      const Tensor<float> fused = batch_norm_train(x, gamma, beta, 1e-5f, saved, unbiased, res, relu_after);
      Tensor<float> expected = batch_norm_train(x, gamma, beta, 1e-5f, saved_ref, unbiased_ref);
      if (with_residual) expected = add(expected, residual);
      if (relu_after) expected = relu(expected);
      for (std::int64_t i = 0; i < x.numel(); ++i) REQUIRE(fused.data()[i] == expected.data()[i]);
      for (std::int64_t c = 0; c < 5; ++c) {
        REQUIRE(saved.mean.data()[c] == saved_ref.mean.data()[c]);
        REQUIRE(saved.invstd.data()[c] == saved_ref.invstd.data()[c]);
        REQUIRE(unbiased.data()[c] == unbiased_ref.data()[c]);
      }
      if (!relu_after) continue;
      // The ReLU's mask inside the BatchNorm's backward, against relu_backward and then it.
      Tensor<float> dgamma({5}), dbeta({5}), dgamma_ref({5}), dbeta_ref({5});
      const Tensor<float> dx = batch_norm_train_backward(x, gamma, saved, grad, dgamma, dbeta, fused);
      const Tensor<float> dx_ref =
          batch_norm_train_backward(x, gamma, saved, relu_backward(fused, grad), dgamma_ref, dbeta_ref);
      for (std::int64_t i = 0; i < x.numel(); ++i) REQUIRE(dx.data()[i] == dx_ref.data()[i]);
      for (std::int64_t c = 0; c < 5; ++c) {
        REQUIRE(dgamma.data()[c] == dgamma_ref.data()[c]);
        REQUIRE(dbeta.data()[c] == dbeta_ref.data()[c]);
      }
    }
  BatchNormSaved<float> saved;
  Tensor<float> unbiased, dgamma({5}), dbeta({5});
  CHECK_THROWS_WITH(batch_norm_train(x, gamma, beta, 1e-5f, saved, unbiased, Tensor<float>({3, 5, 7, 5}), true),
                    Contains("batch_norm (residual): shape mismatch"));
  batch_norm_train(x, gamma, beta, 1e-5f, saved, unbiased);
  CHECK_THROWS_WITH(batch_norm_train_backward(x, gamma, saved, grad, dgamma, dbeta, Tensor<float>({3, 5, 7, 5})),
                    Contains("batch_norm_train_backward: shape mismatch"));
}

TEST_CASE("conv2d_relu gives conv2d then relu bit for bit, and a training Conv2d + ReLU fuses it", "[ops]") {
  Rng rng(21);
  struct Case {
    std::int64_t c_in, c_out, groups, size;
    Conv2dGeometry g;
  };
  // The in-place GEMM path (3×3 on a wide map, 1×1), im2col (3×3 on a small map, stride 2),
  // grouped, depthwise; the first case also through Winograd when training uses it.
  const std::vector<Case> cases{{16, 24, 1, 48, Conv2dGeometry::square(3, 1, 1)},
                                {16, 24, 1, 9, Conv2dGeometry::square(1, 1, 0)},
                                {6, 10, 1, 7, Conv2dGeometry::square(3, 2, 1)},
                                {8, 12, 2, 11, Conv2dGeometry::square(3, 1, 1, 1, 2)},
                                {8, 8, 8, 12, Conv2dGeometry::square(3, 1, 1, 1, 8)}};
  const cpu::WinogradUse winograd_before = cpu::winograd_use();
  for (const cpu::WinogradUse use : {cpu::WinogradUse::off, cpu::WinogradUse::all})
    for (const Case& c : cases) {
      INFO("c_in " << c.c_in << ", c_out " << c.c_out << ", groups " << c.groups << ", size " << c.size
                   << ", Winograd in training " << (use == cpu::WinogradUse::all));
      cpu::set_winograd(use);
      Tensor<float> x({2, c.c_in, c.size, c.size}), w({c.c_out, c.c_in / c.groups, c.g.kernel_h, c.g.kernel_w}),
          b({c.c_out});
      for (Tensor<float>* t : {&x, &w, &b}) fill_uniform(*t, -1.0f, 1.0f, rng);
      const Tensor<float> expected = relu(conv2d(x, w, b, c.g));
      const Tensor<float> fused = conv2d_relu(x, w, b, c.g);
      REQUIRE(fused.shape() == expected.shape());
      for (std::int64_t i = 0; i < fused.numel(); ++i) REQUIRE(fused.data()[i] == expected.data()[i]);
      // ReLU6 in the prepared (inference) epilogue, on inputs scaled so that some outputs pass 6.
      const Tensor<float> x3 = scaled(x, 3.0);
      const PreparedConvWeights<float> prepared(w, c.g.groups);
      const ConvEpilogue<float> bias_only{.scale = Tensor<float>(), .shift = b};
      const ConvEpilogue<float> with_relu6{.scale = Tensor<float>(), .shift = b, .relu = true, .relu_max = 6.0f};
      const Tensor<float> expected6 = relu6(conv2d_prepared(x3, prepared, c.g, bias_only));
      const Tensor<float> fused6 = conv2d_prepared(x3, prepared, c.g, with_relu6);
      for (std::int64_t i = 0; i < fused6.numel(); ++i) REQUIRE(fused6.data()[i] == expected6.data()[i]);
      CHECK(std::count(fused6.data(), fused6.data() + fused6.numel(), 6.0f) > 0);
    }
  cpu::set_winograd(winograd_before);
  // nn::conv_bn_relu without BatchNorm, in training: the same output, and the same gradients
  // through the ReLU it kept.
  const Conv2dGeometry g = Conv2dGeometry::square(3, 1, 1);
  nn::Conv2d<float> conv(16, 24, g, true), conv_ref(16, 24, g, true);
  conv_ref.weight().value = conv.weight().value.clone();
  conv_ref.bias().value = conv.bias().value.clone();
  nn::ReLU<float> relu_layer, relu_ref;
  Tensor<float> x({2, 16, 20, 20}), grad({2, 24, 20, 20});
  fill_uniform(x, -1.0f, 1.0f, rng);
  fill_uniform(grad, -1.0f, 1.0f, rng);
  const Tensor<float> y = nn::conv_bn_relu<float>(conv, nullptr, &relu_layer, x);
  const Tensor<float> y_ref = relu_ref(conv_ref(x));
  for (std::int64_t i = 0; i < y.numel(); ++i) REQUIRE(y.data()[i] == y_ref.data()[i]);
  const Tensor<float> dx = conv.backward(relu_layer.backward(grad));
  const Tensor<float> dx_ref = conv_ref.backward(relu_ref.backward(grad));
  for (std::int64_t i = 0; i < dx.numel(); ++i) REQUIRE(dx.data()[i] == dx_ref.data()[i]);
  for (std::int64_t i = 0; i < conv.weight().grad.numel(); ++i)
    REQUIRE(conv.weight().grad.data()[i] == conv_ref.weight().grad.data()[i]);
  CHECK_THROWS_WITH(conv2d_relu(x, Tensor<float>({24, 15, 3, 3}), Tensor<float>(), g),
                    Contains("conv2d: weight shape"));
}

TEST_CASE("backward ops check their gradients as strictly as forward checks inputs", "[ops]") {
  Rng rng(3);
  const Tensor<double> x = random_tensor({2, 3, 4, 4}, rng), gamma = random_tensor({3}, rng), beta = random_tensor({3}, rng);
  BatchNormSaved<double> saved;
  Tensor<double> unbiased;
  batch_norm_train(x, gamma, beta, 1e-5, saved, unbiased);
  Tensor<double> dgamma({3}), dbeta({3}), short_grad({2});
  CHECK_THROWS_WITH(batch_norm_train_backward(x, gamma, saved, random_tensor({2, 3, 4, 5}, rng), dgamma, dbeta),
                    Contains("batch_norm_train_backward: shape mismatch"));
  CHECK_THROWS_WITH(batch_norm_train_backward(x, gamma, saved, random_tensor({2, 3, 4, 4}, rng), short_grad, dbeta),
                    Contains("parameter gradients of 2 and 3 values for 3 channels"));
  BatchNormSaved<double> wrong = saved;
  wrong.invstd = Tensor<double>({4});
  CHECK_THROWS_WITH(batch_norm_train_backward(x, gamma, wrong, random_tensor({2, 3, 4, 4}, rng), dgamma, dbeta),
                    Contains("per-channel statistic has 4 values for 3 channels"));
  CHECK_THROWS_WITH(relu_backward(x, random_tensor({2, 3, 4, 3}, rng)), Contains("relu_backward: shape mismatch"));
  CHECK_THROWS_WITH(softmax_channels_backward(x, random_tensor({2, 3, 4, 3}, rng)),
                    Contains("softmax_channels_backward: shape mismatch"));
  // conv2d_backward: the weight must fit the input, the gradients their tensors.
  const Conv2dGeometry g = Conv2dGeometry::square(3, 1, 1);
  const Tensor<double> w = random_tensor({6, 3, 3, 3}, rng), dy = random_tensor({2, 6, 4, 4}, rng);
  Tensor<double> dw(w.shape()), db({6}), wrong_dw({6, 3, 1, 1}), wrong_db({5});
  CHECK(conv2d_backward(x, w, dy, g, true, &dw, &db).shape() == x.shape());
  CHECK_THROWS_WITH(conv2d_backward(x, random_tensor({6, 2, 3, 3}, rng), dy, g, true, &dw, &db),
                    Contains("does not fit input"));
  CHECK_THROWS_WITH(conv2d_backward(x, w, dy, g, true, &wrong_dw, &db), Contains("weight gradient"));
  CHECK_THROWS_WITH(conv2d_backward(x, w, dy, g, true, &dw, &wrong_db), Contains("bias gradient of 5 values"));
}

TEST_CASE("conv2d_backward of the leading input channels equals those channels of the whole input gradient",
          "[ops]") {
  Rng rng(9);
  struct Case {
    std::int64_t k, stride, pad, dilation;
  };
  // Stride 1 (the adjoint convolution with the kernel's leading rows), strided (sliced), 1×1.
  for (const Case c : {Case{3, 1, 1, 1}, Case{3, 1, 2, 2}, Case{1, 1, 0, 1}, Case{3, 2, 1, 1}, Case{5, 1, 1, 1}}) {
    const Conv2dGeometry g{c.k, c.k, c.stride, c.stride, c.pad, c.pad, c.dilation, c.dilation, 1};
    const Tensor<double> x = random_tensor({2, 7, 9, 8}, rng), w = random_tensor({5, 7, c.k, c.k}, rng);
    const Tensor<double> dy = random_tensor({2, 5, g.out_h(9), g.out_w(8)}, rng);
    Tensor<double> dw_all(w.shape()), dw_part(w.shape());
    const Tensor<double> all = conv2d_backward(x, w, dy, g, true, &dw_all, nullptr);
    for (const std::int64_t channels : {std::int64_t{0}, std::int64_t{3}, std::int64_t{7}}) {
      INFO("kernel " << c.k << ", stride " << c.stride << ", pad " << c.pad << ", dilation " << c.dilation << ", "
                     << channels << " channels");
      dw_part.zero();
      const Tensor<double> part = conv2d_backward(x, w, dy, g, true, &dw_part, nullptr, channels);
      REQUIRE(part.shape() == Shape{2, channels, 9, 8});
      const Tensor<double> expected = split_channels(all, {channels, 7 - channels})[0];
      double worst = 0;
      for (std::int64_t i = 0; i < part.numel(); ++i) worst = std::max(worst, std::abs(part.data()[i] - expected.data()[i]));
      CHECK(worst <= 1e-12);
      double worst_dw = 0;  // the weight gradient stays whole
      for (std::int64_t i = 0; i < dw_part.numel(); ++i)
        worst_dw = std::max(worst_dw, std::abs(dw_part.data()[i] - dw_all.data()[i]));
      CHECK(worst_dw <= 1e-12);
    }
  }
  const Tensor<double> x = random_tensor({1, 4, 5, 5}, rng), w = random_tensor({4, 2, 3, 3}, rng);
  const Tensor<double> dy = random_tensor({1, 4, 5, 5}, rng);
  CHECK_THROWS_WITH(conv2d_backward(x, w, dy, Conv2dGeometry{3, 3, 1, 1, 1, 1, 1, 1, 2}, true, nullptr, nullptr, 2),
                    Contains("needs 0 <= channels <= input channels and one group"));
  CHECK_THROWS_WITH(conv2d_backward(x, random_tensor({4, 4, 3, 3}, rng), dy, Conv2dGeometry::square(3, 1, 1), true,
                                    nullptr, nullptr, 5),
                    Contains("the gradient of 5 of 4 input channels"));
}

TEST_CASE("conv2d weight gradients repeat bit for bit at a thread count", "[ops]") {
  // Each thread sums a fixed block of tiles into its partial sum, so timing cannot change the
  // rounding (with tiles taken first come, first served, repeats differed in the last bits).
  const int threads_before = num_threads();
  set_num_threads(4);  // more threads than this machine's cores: who takes which tile is random
  Rng rng(13);
  const Conv2dGeometry g = Conv2dGeometry::square(3, 1, 1);
  const Tensor<float> x = random_tensor({32, 8, 24, 24}, rng).cast<float>();
  const Tensor<float> w = random_tensor({8, 8, 3, 3}, rng).cast<float>();
  const Tensor<float> dy = random_tensor({32, 8, 24, 24}, rng).cast<float>();
  Tensor<float> first(w.shape());
  conv2d_backward(x, w, dy, g, false, &first, nullptr);
  int differing = 0;
  for (int repeat = 0; repeat < 40; ++repeat) {
    Tensor<float> again(w.shape());
    conv2d_backward(x, w, dy, g, false, &again, nullptr);
    differing += !std::equal(again.data(), again.data() + again.numel(), first.data());
  }
  set_num_threads(threads_before);
  CHECK(differing == 0);
}

TEST_CASE("prepared convolution weights with a device-neutral epilogue", "[ops]") {
  Rng rng(4);
  Tensor<float> x({1, 3, 6, 6}), w({4, 3, 3, 3}), bias({4}), scale({4});
  for (Tensor<float>* t : {&x, &w, &bias, &scale}) fill_uniform(*t, -1.0, 1.0, rng);
  const Conv2dGeometry g = Conv2dGeometry::square(3, 1, 1);
  const PreparedConvWeights<float> prepared(w, 1);
  CHECK(prepared.out_channels() == 4);
  const Tensor<float> plain = conv2d(x, w, Tensor<float>(), g);
  const Tensor<float> y = conv2d_prepared(x, prepared, g, ConvEpilogue<float>{.scale = scale, .shift = bias, .relu = true});
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    const std::int64_t o = i / 36;
    CHECK(y.data()[i] == Approx(std::max(0.0f, plain.data()[i] * scale.data()[o] + bias.data()[o])).margin(1e-5));
  }
  CHECK_THROWS_WITH(conv2d_prepared(x, prepared, g, ConvEpilogue<float>{.scale = Tensor<float>({3}), .shift = Tensor<float>(), .relu = false}),
                    Contains("epilogue scale has 3 values for 4 output channels"));
}

TEST_CASE("keyed_dropout_mask keeps element i where keyed_uniform(key, i) >= p", "[ops]") {
  // 100,000 elements: several of the CPU kernel's blocks of 4,096, so the parallel loop is covered.
  const std::uint64_t key = 0x5eed;
  const Tensor<float> mask = keyed_dropout_mask<float>({100, 1000}, 0.25, key);
  std::int64_t kept = 0;
  double mean = 0.0;
  for (std::int64_t i = 0; i < mask.numel(); ++i) {
    const double u = keyed_uniform(key, static_cast<std::uint64_t>(i));
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    mean += u;
    const bool keep = u >= 0.25;
    REQUIRE(mask.data()[i] == (keep ? 1.0f / 0.75f : 0.0f));
    kept += keep;
  }
  CHECK(mean / 1e5 == Approx(0.5).margin(0.005));  // uniform: mean 1/2, standard error 0.0009
  CHECK(kept == Approx(75000).margin(600));         // binomial: standard deviation 137
  const Tensor<float> other = keyed_dropout_mask<float>({100, 1000}, 0.25, key + 1);
  std::int64_t same = 0;
  for (std::int64_t i = 0; i < mask.numel(); ++i) same += mask.data()[i] == other.data()[i];
  CHECK(same < 70000);  // another key, another mask (a match 62.5 % of the time by chance)
  const Tensor<float> none = keyed_dropout_mask<float>({5}, 1.0, key);
  CHECK(std::all_of(none.data(), none.data() + 5, [](float v) { return v == 0.0f; }));
  CHECK_THROWS_WITH(keyed_dropout_mask<float>({2}, 1.5, key), Contains("probability must be in [0, 1]"));
  const Tensor<float> t({4});
  CHECK(t.same_view(t));
  CHECK_FALSE(t.same_view(t.clone()));
  CHECK_FALSE(t.same_view(t.reshape({2, 2})));
}

TEST_CASE("add_normal_noise: the draws of a loop over the elements, in order", "[ops]") {
  // The loop Smooth-GradCAM++ runs on its noisy copies, replayed with a generator of the same seed.
  Rng rng(11), same(11);
  Tensor<float> x({3, 5}), expected({3, 5});
  fill_uniform(x, -1.0, 1.0, rng);
  for (std::int64_t i = 0; i < expected.numel(); ++i) expected.data()[i] = static_cast<float>(same.uniform(-1.0, 1.0));
  add_normal_noise(x, 0.3, rng);
  for (std::int64_t i = 0; i < expected.numel(); ++i) expected.data()[i] += static_cast<float>(same.normal(0.0, 0.3));
  for (std::int64_t i = 0; i < x.numel(); ++i) CHECK(x.data()[i] == expected.data()[i]);
  CHECK(rng.next_u64() == same.next_u64());  // not one draw more or less
  CHECK_THROWS_WITH(add_normal_noise(x, -0.1, rng), Contains("add_normal_noise: sigma must be >= 0"));
}

TEST_CASE("add_keyed_normal_noise: a standard normal per (key, element), independent of size and threads",
          "[ops]") {
  const int threads = num_threads();
  const std::int64_t n = 1 << 20;
  Tensor<float> x({n});
  add_keyed_normal_noise(x, 1.0, 42);
  // Each element is σ·keyed_normal(key, i) rounded to float, whatever the thread count or the
  // tensor's size: the first 10,000 of a 2-thread, 1M-element run equal a 1-thread, short run.
  for (std::int64_t i = 0; i < n; i += 997)
    REQUIRE(x.data()[i] == static_cast<float>(keyed_normal(42, static_cast<std::uint64_t>(i))));
  set_num_threads(1);
  Tensor<float> shorter = Tensor<float>::full({10000}, 0.5f);
  add_keyed_normal_noise(shorter, 1.0, 42);
  set_num_threads(threads);
  for (std::int64_t i = 0; i < 10000; ++i) REQUIRE(shorter.data()[i] == 0.5f + x.data()[i]);
  // A standard normal: mean 0 and variance 1 within 5 standard errors, 68.27% within ±1, 95.45%
  // within ±2 (binomial standard errors below 5e-4), and no correlation between neighbours.
  double sum = 0, squares = 0, lag = 0;
  std::int64_t within_one = 0, within_two = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = x.data()[i];
    sum += v, squares += v * v;
    if (i > 0) lag += v * x.data()[i - 1];
    within_one += std::abs(v) < 1.0 ? 1 : 0;
    within_two += std::abs(v) < 2.0 ? 1 : 0;
  }
  const double mean = sum / n, variance = squares / n - mean * mean;
  CHECK(std::abs(mean) < 5.0 / std::sqrt(static_cast<double>(n)));
  CHECK(std::abs(variance - 1.0) < 5.0 * std::sqrt(2.0 / n));
  CHECK(std::abs(lag / n) < 5.0 / std::sqrt(static_cast<double>(n)));
  CHECK(std::abs(static_cast<double>(within_one) / n - 0.682689) < 2.5e-3);
  CHECK(std::abs(static_cast<double>(within_two) / n - 0.954500) < 1.5e-3);
  // Another key, another noise; σ scales it; σ = 0 changes nothing.
  Tensor<float> other({n}), scaled_noise({n}), none = Tensor<float>::full({4}, 2.0f);
  add_keyed_normal_noise(other, 1.0, 43);
  add_keyed_normal_noise(scaled_noise, 0.3, 42);
  std::int64_t same = 0;
  for (std::int64_t i = 0; i < n; ++i) same += other.data()[i] == x.data()[i] ? 1 : 0;
  CHECK(same < 10);
  for (std::int64_t i = 0; i < n; i += 1009)
    CHECK(scaled_noise.data()[i] == static_cast<float>(0.3 * keyed_normal(42, static_cast<std::uint64_t>(i))));
  add_keyed_normal_noise(none, 0.0, 42);
  CHECK(none.data()[3] == 2.0f);
  CHECK_THROWS_WITH(add_keyed_normal_noise(none, -1.0, 42), Contains("add_keyed_normal_noise: sigma must be >= 0"));
}

TEST_CASE("add_normal_noise: normal()'s values across chunks, spares and thread counts", "[ops]") {
  // The transforms run on the kernel threads in chunks of 65,536 pairs: sizes around the chunks,
  // odd sizes (the last second value stays in the generator), a spare kept from an earlier draw.
  const int threads = num_threads();
  for (const std::int64_t n : {std::int64_t{1}, std::int64_t{2}, std::int64_t{7}, std::int64_t{2 * 65536},
                               std::int64_t{2 * 65536 + 1}, std::int64_t{3 * 65536 + 3}})
    for (const bool spare_first : {false, true})
      for (const int t : {1, 2}) {
        INFO("n = " << n << ", spare kept before: " << spare_first << ", threads " << t);
        set_num_threads(t);
        Rng rng(12), same(12);
        if (spare_first) CHECK(rng.normal() == same.normal());
        Tensor<float> x({n});
        add_normal_noise(x, 0.7, rng);
        std::int64_t differing = 0;
        for (std::int64_t i = 0; i < n; ++i)
          differing += x.data()[i] == static_cast<float>(same.normal(0.0, 0.7)) ? 0 : 1;
        CHECK(differing == 0);
        CHECK(rng.normal() == same.normal());  // the same spare (or none) left behind
        CHECK(rng.next_u64() == same.next_u64());
      }
  set_num_threads(threads);
}

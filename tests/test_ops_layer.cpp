// The ops that took over loops of nn/ and optim/ ([backend]): their arithmetic against the
// formulas, and their contracts (shapes, per-channel sizes) checked as strictly in backward as
// in forward.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>

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

TEST_CASE("dropout_mask and fill_uniform draw one value per element, in order", "[ops]") {
  Rng a(9), b(9);
  const Tensor<float> mask = dropout_mask<float>({1000}, 0.25, a);
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < mask.numel(); ++i) {
    const bool keep = b.uniform() >= 0.25;
    CHECK(mask.data()[i] == (keep ? 1.0f / 0.75f : 0.0f));
    kept += keep;
  }
  CHECK(kept > 700);
  CHECK(kept < 800);
  CHECK_THROWS_WITH(dropout_mask<float>({2}, 1.5, a), Contains("probability must be in [0, 1]"));
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

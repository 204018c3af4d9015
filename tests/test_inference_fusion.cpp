// Inference fusion (nn/fused.hpp): in evaluation mode without gradients, conv + BatchNorm +
// residual + ReLU run as one pass on packed weights. The fused outputs must equal the module-by-
// module outputs (evaluation mode with gradients on takes that path), and the packed weights must
// follow the parameters when they change.
#include <catch2/catch.hpp>

#include <cstdint>

#include <fcam/fcam.hpp>

using namespace fcam;

namespace {
double max_abs_diff(const Tensor<float>& a, const Tensor<float>& b) {
  REQUIRE(a.shape() == b.shape());
  double d = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::abs(double(a.data()[i]) - b.data()[i]));
  return d;
}

// BatchNorm statistics away from the identity, so that a missing scale or shift shows.
void randomise_batch_norms(nn::Module<float>& m, Rng& rng) {
  for (auto& [name, b] : m.named_buffers())
    if (name.ends_with("running_mean")) nn::uniform_(*b, -0.5, 0.5, rng);
    else if (name.ends_with("running_var")) nn::uniform_(*b, 0.5, 2.0, rng);
  for (auto& [name, p] : m.named_parameters())
    if (name.find("bn") != std::string::npos || name.find(".1.") != std::string::npos) nn::uniform_(p->value, 0.5, 1.5, rng);
}

// forward with gradients on (module by module) vs off (fused), both in evaluation mode.
double fused_vs_unfused(nn::Module<float>& m, const Tensor<float>& x) {
  m.eval();
  const Tensor<float> plain = m(x);
  NoGradGuard no_grad;
  const Tensor<float> fused = m(x);
  return max_abs_diff(fused, plain);
}
}  // namespace

TEST_CASE("fused inference equals the module-by-module forward", "[fusion]") {
  Rng rng(7);
  Tensor<float> x({2, 16, 9, 11});
  nn::uniform_(x, -1.0, 1.0, rng);
  SECTION("bottleneck with a projection shortcut (residual + ReLU in the epilogue)") {
    models::Bottleneck<float> block(16, 8, 2);
    randomise_batch_norms(block, rng);
    CHECK(fused_vs_unfused(block, x) <= 1e-5);
  }
  SECTION("bottleneck with the identity shortcut") {
    models::Bottleneck<float> block(32, 8, 1);
    randomise_batch_norms(block, rng);
    Tensor<float> x32({1, 32, 7, 5});
    nn::uniform_(x32, -1.0, 1.0, rng);
    CHECK(fused_vs_unfused(block, x32) <= 1e-5);
  }
  SECTION("Sequential: biased conv + BatchNorm + ReLU, conv + ReLU, a lone conv, pooling between") {
    nn::Sequential<float> seq;
    seq.emplace<nn::Conv2d<float>>(16, 12, Conv2dGeometry::square(3, 1, 1), true);
    seq.emplace<nn::BatchNorm2d<float>>(12);
    seq.emplace<nn::ReLU<float>>();
    seq.emplace<nn::MaxPool2d<float>>(Pool2dGeometry{2});
    seq.emplace<nn::Conv2d<float>>(12, 8, Conv2dGeometry::square(3, 2, 1), true);
    seq.emplace<nn::ReLU<float>>();
    seq.emplace<nn::Conv2d<float>>(8, 5, Conv2dGeometry::square(1), true);
    randomise_batch_norms(seq, rng);
    CHECK(fused_vs_unfused(seq, x) <= 1e-5);
  }
  SECTION("a BatchNorm left in training mode is not fused") {
    nn::Sequential<float> seq;
    seq.emplace<nn::Conv2d<float>>(16, 6, Conv2dGeometry::square(3, 1, 1), false);
    auto& bn = seq.emplace<nn::BatchNorm2d<float>>(6);
    seq.eval();
    bn.train();
    NoGradGuard no_grad;
    const Tensor<float> y = seq(x);
    // Batch statistics: every channel of the output has mean 0.
    for (std::int64_t c = 0; c < 6; ++c) {
      double mean = 0;
      for (std::int64_t n = 0; n < 2; ++n)
        for (std::int64_t i = 0; i < 99; ++i) mean += y.data()[(n * 6 + c) * 99 + i];
      CHECK(std::abs(mean / 198) <= 1e-5);
    }
  }
}

TEST_CASE("packed inference weights follow the parameters", "[fusion]") {
  Rng rng(3);
  nn::Conv2d<float> conv(4, 6, Conv2dGeometry::square(3, 1, 1), true);
  Tensor<float> x({1, 4, 8, 8});
  nn::uniform_(x, -1.0, 1.0, rng);
  conv.eval();
  auto reference = [&] { return conv2d(x, conv.weight().value, conv.bias().value, conv.geometry()); };
  NoGradGuard no_grad;
  CHECK(max_abs_diff(conv(x), reference()) <= 1e-6);
  // In-place edits announced with mark_changed() are seen.
  conv.weight().value.fill(0.25f);
  conv.weight().mark_changed();
  CHECK(max_abs_diff(conv(x), reference()) <= 1e-6);
  // A load through a state dict is seen.
  nn::Conv2d<float> other(4, 6, Conv2dGeometry::square(3, 1, 1), true);
  io::SafetensorsFile file;
  for (const auto& [name, t] : nn::state_dict(other)) file.tensors.emplace(name, io::TensorRecord::from_tensor(t, io::DType::f32));
  nn::load_state_dict(conv, file);
  CHECK(max_abs_diff(conv(x), reference()) <= 1e-6);
  CHECK(max_abs_diff(conv(x), conv2d(x, other.weight().value, other.bias().value, other.geometry())) <= 1e-6);
  // Switching to the mode already set keeps the packed copy (unannounced in-place edits are not
  // seen: announce them with mark_changed()); a real mode switch drops it.
  const std::uint64_t packings = conv.times_packed();
  conv.weight().value.fill(-0.5f);
  conv.eval();
  conv(x);
  CHECK(conv.times_packed() == packings);
  conv.train();
  conv.eval();
  CHECK(max_abs_diff(conv(x), reference()) <= 1e-6);
  CHECK(conv.times_packed() == packings + 1);
}

TEST_CASE("max pooling without argmax (inference) gives the same output", "[fusion]") {
  Rng rng(5);
  Tensor<float> x({2, 3, 11, 10});
  nn::uniform_(x, -1.0, 1.0, rng);
  x.data()[17] = std::numeric_limits<float>::quiet_NaN();  // NaN wins its windows, as in PyTorch
  x.data()[150] = -std::numeric_limits<float>::infinity();
  for (const Pool2dGeometry g : {Pool2dGeometry{2}, Pool2dGeometry{3, 2, 1, true}, Pool2dGeometry{3, 1, 1}}) {
    const Tensor<float> with = max_pool2d(x, g).output, without = max_pool2d(x, g, false).output;
    REQUIRE(with.shape() == without.shape());
    for (std::int64_t i = 0; i < with.numel(); ++i) {
      INFO("element " << i);
      if (std::isnan(with.data()[i])) CHECK(std::isnan(without.data()[i]));
      else CHECK(with.data()[i] == without.data()[i]);
    }
  }
}

TEST_CASE("BatchNorm's kept affine map follows its parameters, a state-dict load and a mode switch", "[fusion]") {
  Rng rng(4);
  nn::Conv2d<float> conv(4, 6, Conv2dGeometry::square(3, 1, 1), false);
  nn::BatchNorm2d<float> bn(6);
  nn::ReLU<float> relu;
  randomise_batch_norms(bn, rng);
  Tensor<float> x({1, 4, 8, 8});
  nn::uniform_(x, -1.0, 1.0, rng);
  conv.eval();
  bn.eval();
  // The module-by-module path reads the current values every time.
  auto reference = [&] {
    const Tensor<float> y = conv2d(x, conv.weight().value, Tensor<float>(), conv.geometry());
    return fcam::relu(
        batch_norm_eval(y, bn.weight().value, bn.bias().value, bn.running_mean(), bn.running_var(), 1e-5f));
  };
  NoGradGuard no_grad;
  const Tensor<float> first = nn::conv_bn_relu(conv, &bn, &relu, x);
  CHECK(max_abs_diff(first, reference()) <= 1e-6);
  // γ edited in place and announced.
  bn.weight().value.fill(2.0f);
  bn.weight().mark_changed();
  const Tensor<float> scaled = nn::conv_bn_relu(conv, &bn, &relu, x);
  CHECK(max_abs_diff(scaled, reference()) <= 1e-6);
  CHECK(max_abs_diff(scaled, first) > 1e-2);  // not vacuous: the output moved
  // Running statistics from a state dict (buffers have no version: the load drops the map).
  nn::BatchNorm2d<float> other(6);
  randomise_batch_norms(other, rng);
  io::SafetensorsFile file;
  for (const auto& [name, t] : nn::state_dict(other))
    file.tensors.emplace(name, io::TensorRecord::from_tensor(t, io::DType::f32));
  nn::load_state_dict(bn, file);
  const Tensor<float> loaded = nn::conv_bn_relu(conv, &bn, &relu, x);
  CHECK(max_abs_diff(loaded, reference()) <= 1e-6);
  CHECK(max_abs_diff(loaded, scaled) > 1e-2);
  // A training forward changes the running statistics; back in evaluation mode they are used.
  bn.train();
  Tensor<float> batch({4, 6, 8, 8});
  nn::uniform_(batch, 1.0, 3.0, rng);
  bn(batch);
  bn.eval();
  CHECK(max_abs_diff(nn::conv_bn_relu(conv, &bn, &relu, x), reference()) <= 1e-6);
}

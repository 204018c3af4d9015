// One F-CAM stage-2 step end to end: the decoder's parameter gradients (PCE + size loss through
// the softmax, the segmentation head and the U-Net decoder, the encoder frozen) against finite
// differences of the step's own loss, in double; and a stage-1 step likewise.
// (The CRF term's gradient is the reference's 2·W·S, checked separately in test_crf_loss.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>

#include <fcam/fcam.hpp>
#include <fcam/train/steps.hpp>

using namespace fcam;

namespace {

data::Batch random_batch(std::int64_t n, std::int64_t s, std::uint64_t seed) {
  Rng rng(seed);
  data::Batch b;
  b.inputs = Tensor<float>({n, 3, s, s});
  b.raw = Tensor<float>({n, 3, s, s});
  for (std::int64_t i = 0; i < b.inputs.numel(); ++i) {
    b.raw.data()[i] = static_cast<float>(rng.uniform(0, 255));
    b.inputs.data()[i] = (b.raw.data()[i] / 255.0f - 0.45f) / 0.225f;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    b.labels.push_back(static_cast<int>(i % 3));
    b.indices.push_back(i);
  }
  return b;
}

// Checks analytic against central-difference gradients on `count` entries of the parameters
// whose names start with `prefix`, the loss being `loss()` (which refills the gradients and must
// not change parameters): |analytic − numeric| ≤ rtol·|numeric| + atol. Returns the failures.
template <class Loss>
int gradient_mismatches(models::FcamModel<double>& model, const std::string& prefix, Loss&& loss, int count,
                        double rtol, double atol) {
  std::vector<std::pair<nn::Parameter<double>*, std::int64_t>> picks;
  Rng rng(11);
  for (auto& [name, p] : model.named_parameters())
    if (name.rfind(prefix, 0) == 0 && name.find("weight") != std::string::npos && p->value.numel() > 4)
      picks.emplace_back(p, static_cast<std::int64_t>(rng.uniform(0, static_cast<double>(p->value.numel()))));
  REQUIRE(!picks.empty());
  const std::size_t step = std::max<std::size_t>(1, picks.size() / static_cast<std::size_t>(count));
  loss();
  std::vector<double> analytic;  // all read before any perturbation (loss() overwrites the gradients)
  for (std::size_t k = 0; k < picks.size(); k += step) analytic.push_back(picks[k].first->grad.data()[picks[k].second]);
  int failures = 0;
  for (std::size_t k = 0, a = 0; k < picks.size(); k += step, ++a) {
    auto [p, i] = picks[k];
    const double saved = p->value.data()[i], eps = 1e-6;
    p->value.data()[i] = saved + eps;
    const double up = loss();
    p->value.data()[i] = saved - eps;
    const double down = loss();
    p->value.data()[i] = saved;
    const double numeric = (up - down) / (2 * eps);
    INFO("entry " << i << ": analytic " << analytic[a] << ", numeric " << numeric);
    CHECK(std::abs(analytic[a] - numeric) <= rtol * std::abs(numeric) + atol);
    failures += std::abs(analytic[a] - numeric) > rtol * std::abs(numeric) + atol;
  }
  return failures;
}

}  // namespace

TEST_CASE("stage-2 step: decoder gradients of PCE + size match finite differences", "[train]") {
  models::FcamModel<double> model(models::Arch::resnet18, 3, 4);
  const data::Batch batch = random_batch(2, 32, 1);
  train::FcamLossOptions o;
  o.use_crf = false;  // its gradient is the reference's 2WS, not exact (test_crf_loss)
  o.sampling.n_foreground = 20;
  o.sampling.n_background = 20;
  o.sampling.erosion = 3;
  o.sampling.n_minus = 0.3;
  o.size_weight = 0.5;
  o.alpha = 1.0;
  optim::SgdOptions frozen{0.0, 0.0, false, 0.0};  // lr 0: the step leaves the weights as they are
  optim::Sgd<double> sgd(train::parameter_groups(model, train::Stage::fcam), frozen);
  auto loss = [&] {
    Rng rng(5);  // the same pseudo-labels every time
    return train::fcam_step(model, sgd, batch, o, 2.0, rng).total();
  };
  CHECK(std::isfinite(loss()));
  // In double (the steps are templates; training runs them in float, where a deep chain of
  // small BatchNorm batches makes float central differences too noisy to check anything).
  CHECK(gradient_mismatches(model, "decoder.", loss, 12, 1e-4, 1e-8) == 0);
  CHECK(gradient_mismatches(model, "segmentation_head.", loss, 1, 1e-4, 1e-8) == 0);
  // The encoder and head stay frozen: no gradient reaches them.
  for (auto& [name, p] : model.named_parameters())
    if (name.rfind("encoder.", 0) == 0) REQUIRE(std::all_of(p->grad.data(), p->grad.data() + p->grad.numel(), [](float g) { return g == 0.0f; }));
}

TEST_CASE("stage-1 step: head and encoder gradients match finite differences", "[train]") {
  models::FcamModel<double> model(models::Arch::resnet18, 3, 4);
  const data::Batch batch = random_batch(4, 32, 2);
  optim::Sgd<double> sgd(train::parameter_groups(model, train::Stage::classifier), optim::SgdOptions{0.0, 0.0, false, 0.0});
  auto loss = [&] { return train::classifier_step(model, sgd, batch); };
  CHECK(gradient_mismatches(model, "classification_head.", loss, 1, 1e-4, 1e-8) == 0);
  CHECK(gradient_mismatches(model, "encoder.layer4.", loss, 4, 1e-4, 1e-8) == 0);
  CHECK(gradient_mismatches(model, "encoder.conv1.", loss, 1, 1e-4, 1e-8) == 0);
}

TEST_CASE("stage-1 step with a frozen encoder: the head alone learns, the encoder stays as it was", "[train]") {
  models::FcamModel<double> model(models::Arch::resnet18, 3, 4);
  const data::Batch batch = random_batch(4, 32, 2);
  const auto groups = train::parameter_groups(model, train::Stage::classifier, 10, true);
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].lr_factor == 10.0);
  for (const auto& [name, p] : groups[0].params) CHECK(name.rfind("classification_head.", 0) == 0);
  CHECK(groups[0].params.size() == 2);
  std::map<std::string, Tensor<double>> before;  // the encoder's running statistics
  for (auto& [name, b] : model.named_buffers()) before[name] = b->clone();
  optim::Sgd<double> sgd(groups, optim::SgdOptions{0.0, 0.0, false, 0.0});
  auto loss = [&] { return train::classifier_step(model, sgd, batch, true); };
  // The gradient of the head on features of the encoder in evaluation mode.
  CHECK(gradient_mismatches(model, "classification_head.", loss, 1, 1e-4, 1e-8) == 0);
  for (auto& [name, b] : model.named_buffers()) {
    INFO(name);
    CHECK(max_abs_difference(*b, before.at(name)) == 0.0);
  }
  for (auto& [name, p] : model.named_parameters())
    if (name.rfind("encoder.", 0) == 0) {
      INFO(name);
      CHECK(std::all_of(p->grad.data(), p->grad.data() + p->grad.numel(), [](double g) { return g == 0.0; }));
    }
  // Its loss is the cross-entropy of the eval-mode classifier.
  model.eval();
  const Tensor<double> logits = model.classify(batch.inputs.cast<double>()).logits;
  const std::vector<std::int64_t> targets(batch.labels.begin(), batch.labels.end());
  CHECK(std::abs(loss() - cross_entropy(logits, targets).loss) < 1e-12);
}

TEST_CASE("the classifier's backward without the image gradient adds the same parameter gradients", "[train]") {
  // Training skips the stem's input gradient (backward_classifier(g, false)); every parameter
  // gradient must stay what the full backward adds. MobileNetV2 pads before its stem.
  for (const auto& [arch, width] : {std::pair{models::Arch::resnet18, 4}, {models::Arch::vgg16, 4},
                                    {models::Arch::mobilenet_v2, 64}}) {
    INFO(models::arch_name(arch));
    models::FcamModel<float> model(arch, 3, width);
    const data::Batch batch = random_batch(2, 40, 7);
    const Tensor<float> x = train::batch_tensor<float>(batch.inputs);
    Tensor<float> grad_logits({2, 3});
    grad_logits.fill(0.5f);
    model.train();
    auto run = [&](bool image_gradient) {
      model.zero_grad();
      model.classify(x);
      const Tensor<float> grad_x = model.backward_classifier(grad_logits, image_gradient);
      std::map<std::string, Tensor<float>> grads;
      for (auto& [name, p] : model.named_parameters()) grads[name] = p->grad.clone();
      return std::pair{grad_x, grads};
    };
    const auto [with_x, with] = run(true);
    const auto [without_x, without] = run(false);
    CHECK((with_x.defined() && with_x.shape() == x.shape()));
    CHECK(!without_x.defined());
    for (const auto& [name, g] : with) {
      INFO(name);
      // Bit for bit: every thread sums a fixed share of each weight gradient.
      CHECK(max_abs_difference(g, without.at(name)) == 0.0f);
    }
    CHECK(model.encoder().stem().weight().value.size(1) == 3);  // the stem reads the image
  }
  models::FcamModel<float> inception(models::Arch::inceptionv3, 3);
  CHECK(inception.encoder().stem().weight().value.shape() == Shape{32, 3, 3, 3});  // Conv2d_1a_3x3
}

TEST_CASE("parameter groups: what each stage trains, and the last block's lr factor", "[train]") {
  models::FcamModel<float> resnet(models::Arch::resnet18, 3, 4), vgg(models::Arch::vgg16, 3, 4);
  const auto stage1 = train::parameter_groups(resnet, train::Stage::classifier, 10);
  REQUIRE(stage1.size() == 2);
  CHECK(stage1[0].lr_factor == 1.0);
  CHECK(stage1[1].lr_factor == 10.0);
  for (const auto& [name, p] : stage1[0].params)
    CHECK((name.rfind("encoder.", 0) == 0 && name.rfind("encoder.layer4.", 0) != 0));
  for (const auto& [name, p] : stage1[1].params)
    CHECK((name.rfind("encoder.layer4.", 0) == 0 || name.rfind("classification_head.", 0) == 0));
  const auto stage2 = train::parameter_groups(resnet, train::Stage::fcam);
  REQUIRE(stage2.size() == 1);
  std::size_t decoder = 0;
  for (const auto& [name, p] : resnet.named_parameters())
    decoder += name.rfind("decoder.", 0) == 0 || name.rfind("segmentation_head.", 0) == 0;
  CHECK(stage2[0].params.size() == decoder);
  CHECK(stage1[0].params.size() + stage1[1].params.size() + decoder == resnet.named_parameters().size());
  const auto vgg1 = train::parameter_groups(vgg, train::Stage::classifier, 10);
  for (const auto& [name, p] : vgg1[1].params)
    CHECK((name.rfind("encoder.conv6.", 0) == 0 || name.rfind("classification_head.", 0) == 0));
  CHECK(vgg1[1].params.size() == 4);  // conv6 weight + bias, fc weight + bias
}

namespace {
// Sum of Conv2d::times_packed over `module` and its descendants.
std::uint64_t times_packed(nn::ModuleBase<float>& module) {
  std::uint64_t n = 0;
  if (auto* conv = dynamic_cast<nn::Conv2d<float>*>(&module)) n += conv->times_packed();
  for (auto& [name, child] : module.children()) n += times_packed(*child);
  return n;
}
std::uint64_t conv_count(nn::ModuleBase<float>& module) {
  std::uint64_t n = dynamic_cast<nn::Conv2d<float>*>(&module) != nullptr;
  for (auto& [name, child] : module.children()) n += conv_count(*child);
  return n;
}
}  // namespace

TEST_CASE("stage 2 packs the frozen encoder once, not every step", "[train]") {
  models::FcamModel<float> model(models::Arch::resnet18, 3, 4);
  const data::Batch batch = random_batch(2, 32, 1);
  train::FcamLossOptions o;
  o.use_crf = false;
  optim::Sgd<float> sgd(train::parameter_groups(model, train::Stage::fcam), optim::SgdOptions{0.01, 0.9, true, 1e-4});
  Rng rng(5);
  for (int step = 0; step < 3; ++step) train::fcam_step(model, sgd, batch, o, 2.0, rng);
  const std::uint64_t encoder_convs = conv_count(model.encoder());
  REQUIRE(encoder_convs > 0);
  CHECK(times_packed(model.encoder()) == encoder_convs);
  // Switching to the mode a module is already in keeps its packed weights; a real switch drops them.
  model.encoder().eval();
  {
    NoGradGuard no_grad;
    model.classify(train::batch_tensor<float>(batch.inputs));
  }
  CHECK(times_packed(model.encoder()) == encoder_convs);
  model.encoder().train();
  model.encoder().eval();
  {
    NoGradGuard no_grad;
    model.classify(train::batch_tensor<float>(batch.inputs));
  }
  CHECK(times_packed(model.encoder()) == 2 * encoder_convs);
}

TEST_CASE("training state: weights, momentum and counters round-trip; another seed is refused", "[train]") {
  const auto path = std::filesystem::temp_directory_path() / "fcam_test_train_state.safetensors";
  models::FcamModel<float> model(models::Arch::resnet18, 3, 4);
  optim::Sgd<float> sgd(train::parameter_groups(model, train::Stage::classifier), optim::SgdOptions{});
  train::classifier_step(model, sgd, random_batch(2, 32, 3));  // creates the momentum buffers
  train::RunCounters counters;
  counters.epoch = 4;
  counters.best_epoch = 2;
  counters.best_val = 0.625;
  counters.seed = (std::uint64_t{1} << 63) + 5;
  counters.val_history = {0.1, 0.5, 0.625, 0.6, 0.55};
  counters.loss_history = {2.0, 1.5, 1.25, 1.125};
  train::save_train_state(path, model, sgd, counters);

  models::FcamModel<float> fresh(models::Arch::resnet18, 3, 4);
  optim::Sgd<float> fresh_sgd(train::parameter_groups(fresh, train::Stage::classifier), optim::SgdOptions{});
  const train::RunCounters read = train::load_train_state(path, fresh, fresh_sgd, counters.seed);
  CHECK(read.epoch == 4);
  CHECK(read.best_epoch == 2);
  CHECK(read.best_val == 0.625);
  CHECK(read.seed == counters.seed);
  CHECK(read.val_history == counters.val_history);
  CHECK(read.loss_history == counters.loss_history);
  const auto want = nn::state_dict(model);
  for (const auto& [name, got] : nn::state_dict(fresh)) {
    INFO(name);
    const Tensor<float>& w = want.at(name);
    REQUIRE(std::equal(got.data(), got.data() + got.numel(), w.data()));
  }
  REQUIRE(fresh_sgd.momentum_buffers().size() == sgd.momentum_buffers().size());
  for (const auto& [name, m] : sgd.momentum_buffers()) {
    const Tensor<float>& got = fresh_sgd.momentum_buffers().at(name);
    REQUIRE(std::equal(got.data(), got.data() + got.numel(), m.data()));
  }
  CHECK_THROWS_WITH(train::load_train_state(path, fresh, fresh_sgd, 7),
                    Catch::Contains(path.string()) && Catch::Contains("started with seed 9223372036854775813"));
  // A state whose counters are damaged: errors name the file and the field (not std::map::at).
  io::SafetensorsFile damaged = io::read_safetensors(path);
  damaged.metadata["fcam.train_state"] = R"({"epoch": 4, "best_epoch": 2})";
  io::write_safetensors(path, damaged);
  CHECK_THROWS_WITH(train::load_train_state(path, fresh, fresh_sgd, counters.seed),
                    Catch::Contains(path.string() + ": damaged training state: fcam.train_state: missing 'best_val'"));
  damaged.metadata["fcam.train_state"] = "";
  io::write_safetensors(path, damaged);
  CHECK_THROWS_WITH(train::load_train_state(path, fresh, fresh_sgd, counters.seed),
                    Catch::Contains(path.string() + ": damaged training state:"));
  nn::save_safetensors(model, path);  // weights only: not a state
  CHECK_THROWS_WITH(train::load_train_state(path, fresh, fresh_sgd, 7), Catch::Contains("not a training state"));
  std::filesystem::remove(path);
}

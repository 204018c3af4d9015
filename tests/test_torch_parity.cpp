// Parity with PyTorch (fp32) for every op and module, forward and backward.
// References come from tests/torch_reference.py, run by ctest as a fixture; the file's path is in
// FCAM_TORCH_REFERENCE. A missing reference file fails the test.
// Criterion: max|fcam − torch| / max|torch| <= 1e-5 for every output and gradient.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>

#include <fcam/fcam.hpp>

using namespace fcam;
using TensorF = Tensor<float>;

namespace {

const io::SafetensorsFile& reference() {
  static const io::SafetensorsFile file = [] {
    const char* path = std::getenv("FCAM_TORCH_REFERENCE");
    if (!path) FAIL("FCAM_TORCH_REFERENCE is not set: run this test through ctest (it runs tests/torch_reference.py)");
    return io::read_safetensors(path);
  }();
  return file;
}

TensorF ref(const std::string& case_name, const std::string& role) {
  return reference().at(case_name + "/" + role).to_tensor<float>();
}

bool has_ref(const std::string& case_name, const std::string& role) {
  return reference().tensors.count(case_name + "/" + role) > 0;
}

double relative_error(const TensorF& actual, const TensorF& expected) {
  REQUIRE(actual.shape() == expected.shape());
  double max_diff = 0, max_ref = 0;
  for (std::int64_t i = 0; i < expected.numel(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::abs(actual.data()[i] - expected.data()[i])));
    max_ref = std::max(max_ref, static_cast<double>(std::abs(expected.data()[i])));
  }
  return max_ref > 0 ? max_diff / max_ref : max_diff;
}

double& worst_error() {
  static double worst = 0;
  return worst;
}

void expect_close(const TensorF& actual, const std::string& case_name, const std::string& role, double tol = 1e-5) {
  const double err = relative_error(actual, ref(case_name, role));
  worst_error() = std::max(worst_error(), err);
  INFO(case_name << "/" << role << ": relative error " << err);
  CHECK(err <= tol);
}

std::unique_ptr<nn::Module<float>> make_module(const json::Object& s) {
  const std::string op = s.at("op").as<std::string>("op");
  auto num = [&](const char* key) { return static_cast<std::int64_t>(s.at(key).as<double>(key)); };
  auto flag = [&](const char* key) { return s.at(key).as<bool>(key); };
  if (op == "conv2d")
    return std::make_unique<nn::Conv2d<float>>(num("cin"), num("cout"),
                                               Conv2dGeometry::square(num("k"), num("s"), num("p"), num("d"), num("g")),
                                               flag("bias"));
  if (op == "batch_norm") {
    auto bn = std::make_unique<nn::BatchNorm2d<float>>(num("channels"));
    bn->train(flag("train"));
    return bn;
  }
  if (op == "relu") return std::make_unique<nn::ReLU<float>>();
  if (op == "relu6") return std::make_unique<nn::ReLU6<float>>();
  if (op == "softmax") return std::make_unique<nn::SoftmaxChannels<float>>();
  if (op == "global_avg_pool") return std::make_unique<nn::GlobalAvgPool2d<float>>();
  if (op == "linear") return std::make_unique<nn::Linear<float>>(num("cin"), num("cout"), flag("bias"));
  if (op == "upsample_nearest") return std::make_unique<nn::UpsampleNearest<float>>(num("factor"));
  if (op == "max_pool") return std::make_unique<nn::MaxPool2d<float>>(Pool2dGeometry{num("k"), num("s"), num("p"), flag("ceil")});
  if (op == "avg_pool")
    return std::make_unique<nn::AvgPool2d<float>>(
        Pool2dGeometry{num("k"), num("s"), num("p"), flag("ceil"), flag("include_pad")});
  if (op == "resize_bilinear")
    return std::make_unique<nn::ResizeBilinear<float>>(num("out_h"), num("out_w"), flag("align_corners"),
                                                       num("upsampled"));
  if (op == "bottleneck")
    return std::make_unique<models::Bottleneck<float>>(num("cin"), num("planes"), num("stride"));
  if (op == "sequential") {
    auto seq = std::make_unique<nn::Sequential<float>>();
    seq->emplace<nn::Conv2d<float>>(3, 6, Conv2dGeometry::square(3, 1, 1), false);  // bias before BN has a zero gradient
    seq->emplace<nn::BatchNorm2d<float>>(6);
    seq->emplace<nn::ReLU<float>>();
    seq->emplace<nn::MaxPool2d<float>>(Pool2dGeometry{2});
    return seq;
  }
  return nullptr;
}

// Loads the case's parameters and buffers, runs forward and backward, compares everything.
void run_module_case(const std::string& name, nn::Module<float>& m) {
  for (auto& [pname, p] : m.named_parameters()) p->value.copy_from(ref(name, pname));
  for (auto& [bname, b] : m.named_buffers())
    if (has_ref(name, bname)) b->copy_from(ref(name, bname));
  m.zero_grad();
  expect_close(m.forward(ref(name, "x")), name, "y");
  expect_close(m.backward(ref(name, "dy")), name, "dx");
  for (auto& [pname, p] : m.named_parameters()) expect_close(p->grad, name, "d" + pname);
  for (auto& [bname, b] : m.named_buffers())
    if (has_ref(name, bname + "_after")) expect_close(*b, name, bname + "_after");
}

void run_special_case(const std::string& name, const std::string& op) {
  if (op == "concat") {
    std::vector<TensorF> parts{ref(name, "x0"), ref(name, "x1"), ref(name, "x2")};
    expect_close(concat_channels(parts), name, "y");
    const auto grads = split_channels(ref(name, "dy"), {3, 1, 2});
    for (int i = 0; i < 3; ++i) expect_close(grads[static_cast<std::size_t>(i)], name, "dx" + std::to_string(i));
  } else if (op == "add") {
    // Forward only: fcam has no backward op for add (its gradient, the identity, is what the
    // residual blocks pass on, and their gradients are compared in the bottleneck cases).
    expect_close(add(ref(name, "x0"), ref(name, "x1")), name, "y");
  } else if (op == "cross_entropy") {
    const TensorF t = ref(name, "targets");
    std::vector<std::int64_t> targets(static_cast<std::size_t>(t.numel()));
    for (std::int64_t i = 0; i < t.numel(); ++i) targets[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(t.data()[i]);
    const auto r = cross_entropy(ref(name, "x"), targets, -100);
    expect_close(TensorF::from({1}, {r.loss}), name, "y");
    expect_close(r.grad, name, "dx");
  } else if (op == "dropout") {
    // Masks are random in both libraries; what must agree is the rule: every output is 0 or
    // x/(1-p), the backward uses the same mask, and the kept fraction matches torch's.
    const TensorF x = ref(name, "x"), ty = ref(name, "y"), dy = ref(name, "dy");
    const float p = 0.3f, scale = 1.0f / (1.0f - p);
    nn::Dropout<float> drop(p, 5);
    const TensorF y = drop.forward(x);
    const TensorF dx = drop.backward(dy);
    std::int64_t kept = 0, torch_kept = 0;
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const bool keep = y.data()[i] != 0.0f;
      kept += keep;
      torch_kept += ty.data()[i] != 0.0f;
      REQUIRE(y.data()[i] == (keep ? x.data()[i] * scale : 0.0f));
      REQUIRE(dx.data()[i] == (keep ? dy.data()[i] * scale : 0.0f));
    }
    const double n = static_cast<double>(x.numel());
    CHECK(std::abs(kept / n - torch_kept / n) < 0.02);
    drop.eval();
    expect_close(drop.forward(x), "dropout", "x");  // identity in evaluation mode
  } else {
    FAIL("unknown op '" << op << "' in case " << name);
  }
}

}  // namespace

TEST_CASE("every op and module matches PyTorch forward and backward", "[parity]") {
  const auto& file = reference();
  REQUIRE(file.metadata.size() >= 40);
  std::set<std::string> ops;
  for (const auto& [name, settings_text] : file.metadata) {
    SECTION(name) {
      const json::Value settings = json::parse(settings_text);
      const json::Object& s = settings.as<json::Object>(name);
      const std::string op = s.at("op").as<std::string>("op");
      if (auto m = make_module(s)) run_module_case(name, *m);
      else run_special_case(name, op);
    }
    ops.insert(json::parse(settings_text).as<json::Object>(name).at("op").as<std::string>("op"));
  }
  const std::set<std::string> expected = {"conv2d", "batch_norm", "relu", "relu6", "softmax", "global_avg_pool",
                                          "linear", "upsample_nearest", "max_pool", "avg_pool", "resize_bilinear",
                                          "bottleneck", "sequential", "concat", "add", "cross_entropy", "dropout"};
  CHECK(ops == expected);
}

// Runs after the case above (Catch2 keeps declaration order): one summary line for the logs.
TEST_CASE("parity summary", "[parity]") {
  std::cout << "torch parity: " << reference().metadata.size() << " cases, worst relative error " << worst_error()
            << " (tolerance 1e-5)\n";
  CHECK(worst_error() <= 1e-5);
}

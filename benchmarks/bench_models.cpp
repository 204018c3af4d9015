// fcam-bench-models: the paper's runtime table (Table F.4) on the CPU — every backbone × CAM
// method, batch 1, 224×224, 200 classes, random weights, eval mode, no gradient caching.
//   models/<arch>/forward         classifier forward (logits)
//   models/<arch>/<method>/map    the full-resolution map from the encoder output (F-CAM: from
//                                 the encoder stages: decoder, head, softmax)
//   models/<arch>/<method>/e2e    image tensor in, full-resolution map out (forward included);
//                                 sgcampp: 4 noisy passes (σ 0.3), e2e only
// benchmarks/models_vs_torch.py runs it row by row against PyTorch and prints the ratio table.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fcam/fcam.hpp>

namespace {

using namespace fcam;

constexpr std::int64_t kClasses = 200;

models::FcamModel<float>& model_for(models::Arch arch) {
  static std::map<models::Arch, std::unique_ptr<models::FcamModel<float>>> models;
  auto& m = models[arch];
  if (!m) {
    m = std::make_unique<models::FcamModel<float>>(arch, kClasses);
    m->eval();
  }
  return *m;
}

Tensor<float> input() {
  static Tensor<float> x = [] {
    Tensor<float> t({1, 3, 224, 224});
    nn::uniform_(t, -2.0, 2.0);
    return t;
  }();
  return x;
}

// The map of a closed-form CAM `method` (nothing: F-CAM) from a classifier output.
Tensor<float> map_of(models::FcamModel<float>& model, const models::ClassifierOutput<float>& out,
                     std::optional<cam::Method> method) {
  if (!method) return model.foreground(out.stages);
  return cam::full_resolution(
      cam::class_activation_maps(out.stages.back(), model.head().fc().weight().value, {7}, *method), 224, 224);
}

void forward(benchmark::State& state, models::Arch arch) {
  auto& model = model_for(arch);
  NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model.classify(input()).logits.data());
}

void map_only(benchmark::State& state, models::Arch arch, std::optional<cam::Method> method) {
  auto& model = model_for(arch);
  NoGradGuard no_grad;
  const models::ClassifierOutput<float> out = model.classify(input());
  for (auto _ : state) benchmark::DoNotOptimize(map_of(model, out, method).data());
}

void end_to_end(benchmark::State& state, models::Arch arch, std::optional<cam::Method> method) {
  auto& model = model_for(arch);
  NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(map_of(model, model.classify(input()), method).data());
}

// Smooth-GradCAM++: 4 noisy passes (σ 0.3), image in, map out; there is no "map only" form.
void smooth_gradcampp(benchmark::State& state, models::Arch arch) {
  auto& model = model_for(arch);
  Rng rng(1);
  for (auto _ : state)
    benchmark::DoNotOptimize(
        cam::full_resolution(cam::smooth_gradcampp(model, input(), {7}, 4, 0.3, rng), 224, 224).data());
}

const bool registered = [] {
  for (models::Arch arch : {models::Arch::vgg16, models::Arch::inceptionv3, models::Arch::resnet50,
                            models::Arch::mobilenet_v2}) {
    const std::string prefix = "models/" + std::string(models::arch_name(arch)) + "/";
    benchmark::RegisterBenchmark((prefix + "forward").c_str(), forward, arch)->Unit(benchmark::kMillisecond);
    std::vector<std::optional<cam::Method>> methods;  // the closed-form CAMs, then F-CAM (nothing)
    for (const auto& entry : cam::method_table)
      if (cam::closed_form(entry.value)) methods.emplace_back(entry.value);
    methods.emplace_back();
    for (const std::optional<cam::Method>& method : methods) {
      const std::string name = method ? std::string(cam::method_name(*method)) : "fcam";
      benchmark::RegisterBenchmark((prefix + name + "/map").c_str(), map_only, arch, method)
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark((prefix + name + "/e2e").c_str(), end_to_end, arch, method)
          ->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark((prefix + "sgcampp/e2e").c_str(), smooth_gradcampp, arch)->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();

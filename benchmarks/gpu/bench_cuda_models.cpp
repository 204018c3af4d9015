// fcam-bench-cuda-models: the paper's runtime table (Table F.4) on a GPU — every backbone × row ×
// batch × math, eager, 224×224, 200 classes, random weights, eval mode, no gradient caching.
//   cuda_models/<arch>/forward/batch<N>/<math>    classifier forward (logits)
//   cuda_models/<arch>/<method>/batch<N>/<math>   image tensor in, full-resolution maps out
//                                                 (normalised, on the device): the closed-form
//                                                 CAMs, sgcampp (4 noisy passes, σ 0.3) and
//                                                 fcam (decoder, head, softmax)
// <math> is fp32 (TF32 off), tf32, or, for the forward and F-CAM rows, fp32-fast (TF32 off with
// cuda::set_fast_convolutions: cuDNN's FFT and Winograd algorithms allowed, as PyTorch allows
// them) and bf16 (cuda::set_bf16: bfloat16 convolutions). The F-CAM and CAM rows also have
// graph-fp32, graph-tf32 and graph-bf16: models::InferencePlan (with cam::plan_maps for a CAM
// method; Smooth-GradCAM++ with a fixed noise key), the whole pass (logits and normalised maps)
// replayed as one CUDA graph. Every image's
// map is of class 7. Each timed iteration is one call and a wait for the device: the latency a
// caller sees. The counter enqueue_ms is the host time until the call returned, before that wait:
// close to the whole time, the host is the limit (launches, plans, host copies). A row that
// throws (say, out of memory) is reported failed with its message, and the others still run.
// benchmarks/gpu/models_vs_torch.py runs this
// and the PyTorch peer in the same run and prints the ratio table.
#include <benchmark/benchmark.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fcam/fcam.hpp>

#include "failed_rows.hpp"

namespace {

using namespace fcam;

constexpr std::int64_t classes = 200, size = 224;
constexpr int target_class = 7;

models::FcamModel<float>& model_for(models::Arch arch) {
  static std::map<models::Arch, std::unique_ptr<models::FcamModel<float>>> built;
  auto& m = built[arch];
  if (!m) {
    m = std::make_unique<models::FcamModel<float>>(arch, classes);
    m->eval();
    m->to(Device::cuda);
  }
  return *m;
}

const Tensor<float>& input(std::int64_t batch) {
  static std::map<std::int64_t, Tensor<float>> inputs;
  Tensor<float>& x = inputs[batch];
  if (!x.defined()) {
    Tensor<float> host({batch, 3, size, size});
    Rng rng(1);
    fill_uniform(host, -2.0, 2.0, rng);
    x = host.to(Device::cuda);
  }
  return x;
}

// One row's call: the maps (or logits) of `method` for the batch; nothing: the forward alone.
Tensor<float> row_call(models::FcamModel<float>& model, const Tensor<float>& x, const std::string& row, Rng& rng) {
  const models::ClassifierOutput<float> out = model.classify(x);
  if (row == "forward") return out.logits;
  if (row == "fcam") return cam::normalize_maps(model.foreground(out.stages));
  const std::vector<int> wanted(static_cast<std::size_t>(x.size(0)), target_class);
  return cam::full_resolution(cam::baseline_maps(model, out, x, wanted, cam::parse_method(row), rng), size, size);
}

void run_row(benchmark::State& state, models::Arch arch, std::string row, std::int64_t batch, std::string math) {
  const bool graphed = math.starts_with("graph-");
  cuda::set_tf32(math.ends_with("tf32"));
  cuda::set_bf16(math.ends_with("bf16"));
  cuda::set_fast_convolutions(math == "fp32-fast");
  auto& model = model_for(arch);
  const Tensor<float>& x = input(batch);
  NoGradGuard no_grad;
  Rng rng(3);
  // A graph row's plan is made (and its pass captured) here, with the row's math modes.
  std::optional<models::InferencePlan<float>> plan;
  if (graphed && row == "fcam") plan.emplace(model, x.shape());
  if (graphed && row != "fcam") {
    const std::vector<int> wanted(static_cast<std::size_t>(batch), target_class);
    plan.emplace(model, x.shape(), cam::plan_maps<float>(cam::parse_method(row), wanted, {}, {}, rng.next_u64()));
  }
  const auto call = [&] { return graphed ? plan->run(x).maps : row_call(model, x, row, rng); };
  for (int i = 0; i < 2; ++i) call();  // plans, algorithms and cached blocks
  cuda::synchronize();
  double enqueue_seconds = 0;  // host time until the call returns, before the wait
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(call().data());
    enqueue_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    cuda::synchronize();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  state.counters["enqueue_ms"] = 1e3 * enqueue_seconds / static_cast<double>(state.iterations());
  const double images = static_cast<double>(batch) * static_cast<double>(state.iterations());
  state.counters["images/s"] = benchmark::Counter(images, benchmark::Counter::kIsRate);
}

const bool registered = [] {
  std::vector<std::string> rows = {"forward"};
  for (const auto& entry : cam::method_table) rows.emplace_back(entry.name);
  rows.emplace_back("fcam");
  for (const models::Arch arch : {models::Arch::vgg16, models::Arch::inceptionv3, models::Arch::resnet50,
                                  models::Arch::mobilenet_v2})
    for (const std::string& row : rows)
      for (const std::int64_t batch : {1, 32, 128})
        for (const std::string math : {"fp32", "tf32", "fp32-fast", "bf16", "graph-fp32", "graph-tf32", "graph-bf16"}) {
          if ((math == "fp32-fast" || math == "bf16") && row != "forward" && row != "fcam") continue;
          if (math.starts_with("graph-") && row == "forward") continue;
          const std::string name = "cuda_models/" + std::string(models::arch_name(arch)) + "/" + row + "/batch" +
                                   std::to_string(batch) + "/" + math;
          fcam::bench::register_row(name, benchmark::kMillisecond, [=](benchmark::State& state) {
            run_row(state, arch, row, batch, math);
          });
        }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();

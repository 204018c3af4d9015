// fcam-bench-dist: data-parallel communication on this machine, run by mpirun (benchmarks/
// dist_vs_torch.py runs it next to PyTorch's gloo all-reduce):
//   mpirun -np 2 fcam-bench-dist [--benchmark_filter=...]
// - AllReduce/<bytes>: one in-place float sum over the ranks; counters algbw (bytes / time) and
//   busbw (algbw · 2(n−1)/n, what each rank sends and receives), GB/s.
// - Stage1Step/<overlap>: one stage-1 step of ResNet50-WSOL (224², FCAM_BENCH_BATCH images per
//   rank, default 4) with gradient averaging; counters wait_ms (the all-reduce time backward did
//   not hide, per step) and wait_share (wait_ms / step time).
// Every rank runs each benchmark for the same fixed number of iterations (collectives must match);
// rank 0 alone reports.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fcam/fcam.hpp>
#include <fcam/train/steps.hpp>

using namespace fcam;

namespace {

dist::Communicator* world = nullptr;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void all_reduce(benchmark::State& state) {
  const std::int64_t bytes = state.range(0);
  std::vector<float> x(static_cast<std::size_t>(bytes / 4), 1.0f);
  world->all_reduce_sum(std::span<float>(x));  // warm-up: connections, pages
  double total = 0;
  for (auto _ : state) {
    const auto t = std::chrono::steady_clock::now();
    world->all_reduce_sum(std::span<float>(x));
    const double s = seconds_since(t);
    total += s;
    state.SetIterationTime(s);
  }
  const double n = world->size(), algbw = static_cast<double>(bytes) * static_cast<double>(state.iterations()) / total / 1e9;
  state.counters["algbw_GBps"] = algbw;
  state.counters["busbw_GBps"] = algbw * 2 * (n - 1) / n;
}

data::Batch random_batch(std::int64_t n, std::int64_t s, std::uint64_t seed) {
  Rng rng(seed);
  data::Batch b;
  b.inputs = Tensor<float>({n, 3, s, s});
  b.raw = Tensor<float>({n, 3, s, s});
  for (std::int64_t i = 0; i < b.inputs.numel(); ++i) b.inputs.data()[i] = static_cast<float>(rng.uniform(-2, 2));
  for (std::int64_t i = 0; i < n; ++i) b.labels.push_back(static_cast<int>(i % 200)), b.indices.push_back(i);
  return b;
}

void stage1_step(benchmark::State& state) {
  const bool overlap = state.range(0) != 0;
  const char* env = std::getenv("FCAM_BENCH_BATCH");
  const std::int64_t batch_size = env ? std::max(1, std::atoi(env)) : 4;
  models::FcamModel<float> model(models::Arch::resnet50, 200);
  const auto groups = train::parameter_groups(model, train::Stage::classifier);
  optim::Sgd<float> sgd(groups, optim::SgdOptions{});
  std::vector<nn::Parameter<float>*> trained;
  for (const auto& g : groups)
    for (const auto& [name, p] : g.params) trained.push_back(p);
  dist::GradientReducer reducer(*world, trained, {.bucket_bytes = 25 << 20, .overlap = overlap});
  const data::Batch batch = random_batch(batch_size, 224, static_cast<std::uint64_t>(world->rank()));
  train::classifier_step(model, sgd, batch, false, &reducer);  // warm-up
  const double wait_before = reducer.wait_seconds();
  double total = 0;
  for (auto _ : state) {
    const auto t = std::chrono::steady_clock::now();
    train::classifier_step(model, sgd, batch, false, &reducer);
    const double s = seconds_since(t);
    total += s;
    state.SetIterationTime(s);
  }
  const double wait = reducer.wait_seconds() - wait_before, steps = static_cast<double>(state.iterations());
  state.counters["wait_ms"] = wait / steps * 1e3;
  state.counters["wait_share"] = wait / total;
  state.counters["buckets"] = static_cast<double>(reducer.bucket_count());
  state.counters["images_per_rank"] = static_cast<double>(batch_size);
}

// Rank 0 prints; the others run the same loops silently.
class SilentReporter : public benchmark::BenchmarkReporter {
public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  try {
    auto w = dist::make_world({.timeout_seconds = 600});
    world = w.get();
    for (std::int64_t bytes = 4 << 10; bytes <= (std::int64_t{256} << 20); bytes *= 4)
      benchmark::RegisterBenchmark("AllReduce", all_reduce)
          ->Arg(bytes)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond)
          ->Iterations(std::clamp<std::int64_t>((std::int64_t{1} << 28) / bytes, 4, 2000));
    benchmark::RegisterBenchmark("Stage1Step", stage1_step)
        ->ArgName("overlap")
        ->Arg(0)
        ->Arg(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(3);
    benchmark::Initialize(&argc, argv);
    SilentReporter silent;
    if (world->is_root()) benchmark::RunSpecifiedBenchmarks();
    else benchmark::RunSpecifiedBenchmarks(&silent);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fcam-bench-dist: error: %s\n", e.what());
    return 1;
  }
}

// fcam-bench-conv: the convolutions of WSOL-ResNet50 (benchmarks/wsol_resnet50_convs.csv),
// forward and backward (input + weight gradients), batch 1 and 8, fp32, on fcam's CPU backend.
// benchmarks/conv_vs_torch.py runs this and the PyTorch peer in the same run and prints ratios.
// Options: --shapes FILE (default: the CSV next to this file), --threads N, plus Google Benchmark's.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include <fcam/fcam.hpp>

#include "conv_shapes.hpp"

namespace {

using fcam::bench::ConvShape;

fcam::Tensor<float> random_tensor(fcam::Shape shape, std::uint64_t seed) {
  fcam::Tensor<float> t(std::move(shape));
  fcam::Rng rng(seed);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.uniform(-1, 1));
  return t;
}

void run_conv(benchmark::State& state, ConvShape s, std::int64_t batch, bool backward) {
  const fcam::Conv2dGeometry g = fcam::Conv2dGeometry::square(s.k, s.stride, s.pad);
  const fcam::Tensor<float> x = random_tensor({batch, s.cin, s.h, s.w}, 1);
  const fcam::Tensor<float> weight = random_tensor({s.cout, s.cin, s.k, s.k}, 2);
  const fcam::Tensor<float> dy = random_tensor({batch, s.cout, g.out_h(s.h), g.out_w(s.w)}, 3);
  fcam::Tensor<float> dweight(weight.shape());
  for (auto _ : state) {
    if (backward) {
      benchmark::DoNotOptimize(fcam::conv2d_backward(x, weight, dy, g, true, &dweight, nullptr).data());
    } else {
      benchmark::DoNotOptimize(fcam::conv2d(x, weight, fcam::Tensor<float>(), g).data());
    }
  }
  const double flops = 2.0 * batch * s.cout * g.out_h(s.h) * g.out_w(s.w) * s.cin * s.k * s.k * (backward ? 2 : 1);
  state.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

}  // namespace

int main(int argc, char** argv) {
  std::string shapes_path = FCAM_BENCH_SHAPES, threads;
  std::vector<char*> rest = fcam::bench::take_options(argc, argv, {{"--shapes", &shapes_path}, {"--threads", &threads}});
  if (!threads.empty()) fcam::set_num_threads(std::stoi(threads));
  int rest_argc = static_cast<int>(rest.size());
  try {
    for (const ConvShape& s : fcam::bench::read_conv_shapes(shapes_path))
      for (std::int64_t batch : {1, 8})
        for (bool backward : {false, true})
          benchmark::RegisterBenchmark(
              (std::string(backward ? "backward/" : "forward/") + s.name + "/batch" + std::to_string(batch)).c_str(),
              [=](benchmark::State& st) { run_conv(st, s, batch, backward); })
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fcam-bench-conv: %s\n", e.what());
    return 2;
  }
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

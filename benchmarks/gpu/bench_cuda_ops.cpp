// fcam-bench-cuda-ops: fcam's CUDA ops on the GPU. The convolutions of WSOL-ResNet50
// (benchmarks/wsol_resnet50_convs.csv), forward and backward (input + weight gradients from a
// given output gradient), batch 1 and 32, TF32 off and on (and at batch 1, TF32 off with cuDNN's
// algorithms chosen by timing); then the memory-bound ops on large
// tensors with their bandwidth (GB/s of bytes read + written) next to a device-to-device copy's.
// benchmarks/gpu/ops_vs_torch.py runs this and the PyTorch peer in the same run and prints ratios.
//
// Each timed iteration enqueues `calls_per_iteration` calls and then waits for the device, so the
// time per call includes fcam's host overhead (descriptors, plans, allocation) but only 1/N of a
// synchronisation, as a training loop that waits once per step would see it.
// Options: --shapes FILE (default: the CSV of benchmarks/), plus Google Benchmark's.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <fcam/fcam.hpp>

#include "conv_shapes.hpp"

namespace {

using fcam::Device;
using fcam::Tensor;
constexpr int calls_per_iteration = 10;

Tensor<float> random_on_gpu(fcam::Shape shape, std::uint64_t seed) {
  Tensor<float> t(std::move(shape));
  fcam::Rng rng(seed);
  fcam::fill_uniform(t, -1.0, 1.0, rng);
  return t.to(Device::cuda);
}

/// Times `call` as described at the top; sets the iteration time to the time per call.
void time_calls(benchmark::State& state, const std::function<void()>& call) {
  call();  // plans, algorithms and cached blocks are made here, outside the timing
  fcam::cuda::synchronize();
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls_per_iteration; ++i) call();
    fcam::cuda::synchronize();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    state.SetIterationTime(elapsed.count() / calls_per_iteration);
  }
}

void run_conv(benchmark::State& state, fcam::bench::ConvShape s, std::int64_t batch, bool backward, bool tf32,
              bool find) {
  fcam::cuda::set_tf32(tf32);
  fcam::cuda::set_benchmark_algorithms(find);
  const fcam::Conv2dGeometry g = fcam::Conv2dGeometry::square(s.k, s.stride, s.pad);
  const Tensor<float> x = random_on_gpu({batch, s.cin, s.h, s.w}, 1);
  const Tensor<float> weight = random_on_gpu({s.cout, s.cin, s.k, s.k}, 2);
  const Tensor<float> dy = random_on_gpu({batch, s.cout, g.out_h(s.h), g.out_w(s.w)}, 3);
  Tensor<float> dweight(weight.shape(), Device::cuda);
  time_calls(state, [&] {
    if (backward) fcam::conv2d_backward(x, weight, dy, g, true, &dweight, nullptr);
    else fcam::conv2d(x, weight, Tensor<float>(), g);
  });
  const double flops = 2.0 * batch * s.cout * g.out_h(s.h) * g.out_w(s.w) * s.cin * s.k * s.k * (backward ? 2 : 1);
  state.counters["TFLOP/s"] =
      benchmark::Counter(flops * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
  fcam::cuda::set_tf32(false);
  fcam::cuda::set_benchmark_algorithms(false);
}

/// A memory-bound op: its call and the bytes it reads and writes per call.
struct BandwidthCase {
  std::string name;
  std::function<std::function<void()>()> make;  // builds the inputs once, returns the call
  double bytes;
};

std::vector<BandwidthCase> bandwidth_cases() {
  constexpr std::int64_t n = 32, c = 256, h = 112, w = 112;  // 102.8 M floats: 411 MB
  const double big = 4.0 * n * c * h * w;
  const fcam::Shape shape{n, c, h, w}, quarter{n, c, h / 2, w / 2}, half{n, c / 2, h, w};
  return {
      {"copy", [=] { auto x = random_on_gpu(shape, 1); return std::function<void()>([x] { x.clone(); }); }, 2 * big},
      {"relu", [=] { auto x = random_on_gpu(shape, 1); return std::function<void()>([x] { fcam::relu(x); }); }, 2 * big},
      {"add", [=] {
         auto a = random_on_gpu(shape, 1), b = random_on_gpu(shape, 2);
         return std::function<void()>([a, b] { fcam::add(a, b); });
       }, 3 * big},
      {"relu_backward", [=] {
         auto y = random_on_gpu(shape, 1), dy = random_on_gpu(shape, 2);
         return std::function<void()>([y, dy] { fcam::relu_backward(y, dy); });
       }, 3 * big},
      {"max_pool_3x3s2", [=] {
         auto x = random_on_gpu(shape, 1);
         return std::function<void()>([x] { fcam::max_pool2d(x, fcam::Pool2dGeometry{3, 2, 1}, false); });
       }, 1.25 * big},
      {"upsample_nearest_x2", [=] {
         auto x = random_on_gpu(quarter, 1);
         return std::function<void()>([x] { fcam::upsample_nearest(x, 2); });
       }, 1.25 * big},
      {"resize_bilinear_x2", [=] {
         auto x = random_on_gpu(quarter, 1);
         return std::function<void()>([x] { fcam::resize_bilinear(x, h, w, false); });
       }, 1.25 * big},
      {"batch_norm_eval", [=] {
         auto x = random_on_gpu(shape, 1), g = random_on_gpu({c}, 2), b = random_on_gpu({c}, 3);
         auto m = random_on_gpu({c}, 4), v = fcam::add(random_on_gpu({c}, 5), fcam::Tensor<float>::full({c}, 2.0f).to(Device::cuda));
         return std::function<void()>([=] { fcam::batch_norm_eval(x, g, b, m, v, 1e-5f); });
       }, 2 * big},
      {"concat_2", [=] {
         auto a = random_on_gpu(half, 1), b = random_on_gpu(half, 2);
         return std::function<void()>([a, b] { fcam::concat_channels(std::vector<Tensor<float>>{a, b}); });
       }, 2 * big},
      {"softmax_channels", [=] {
         auto x = random_on_gpu(shape, 1);
         return std::function<void()>([x] { fcam::softmax_channels(x); });
       }, 2 * big},
  };
}

void run_bandwidth(benchmark::State& state, const BandwidthCase& c) {
  const std::function<void()> call = c.make();
  time_calls(state, call);
  state.counters["GB/s"] = benchmark::Counter(c.bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  std::string shapes_path = FCAM_BENCH_SHAPES;
  std::vector<char*> rest = fcam::bench::take_options(argc, argv, {{"--shapes", &shapes_path}});
  int rest_argc = static_cast<int>(rest.size());
  if (fcam::cuda::device_count() == 0) {
    std::fprintf(stderr, "fcam-bench-cuda-ops: no CUDA device is visible\n");
    return 77;
  }
  try {
    for (const fcam::bench::ConvShape& s : fcam::bench::read_conv_shapes(shapes_path))
      for (std::int64_t batch : {1, 32})
        for (bool backward : {false, true})
          for (const char* mode : {"fp32", "tf32", "fp32-find"}) {
            const bool tf32 = mode == std::string("tf32"), find = mode == std::string("fp32-find");
            if (find && batch != 1) continue;  // timing is compared where the heuristics lagged: batch 1
            benchmark::RegisterBenchmark((std::string(backward ? "conv_backward/" : "conv_forward/") + s.name +
                                          "/batch" + std::to_string(batch) + "/" + mode)
                                             .c_str(),
                                         [=](benchmark::State& st) { run_conv(st, s, batch, backward, tf32, find); })
                ->Unit(benchmark::kMillisecond)
                ->UseManualTime();
          }
    for (const BandwidthCase& c : bandwidth_cases())
      benchmark::RegisterBenchmark(("bandwidth/" + c.name).c_str(), [c](benchmark::State& st) { run_bandwidth(st, c); })
          ->Unit(benchmark::kMillisecond)
          ->UseManualTime();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fcam-bench-cuda-ops: %s\n", e.what());
    return 2;
  }
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

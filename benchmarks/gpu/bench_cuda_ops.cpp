// fcam-bench-cuda-ops: fcam's CUDA ops on the GPU. The convolutions of WSOL-ResNet50
// (benchmarks/wsol_resnet50_convs.csv), forward and backward (input + weight gradients from a
// given output gradient), batch 1 and 32, TF32 off and on (and at batch 1, TF32 off with cuDNN's
// algorithms chosen by timing); then the memory-bound ops on large
// tensors with their bandwidth (GB/s of bytes read + written) next to a device-to-device copy's;
// then "host" rows: the host time of one call at batch-1 sizes, what bounds a batch-1 forward of
// a few hundred small kernels (the device runs behind, its time is not counted); and the CRF
// loss (value + gradient, batch 32, 224², 2 channels) on the GPU lattice and, for the ratio, on
// the CPU lattice with all host threads ("crf/batch32/cuda", "crf/batch32/cpu"); and stage 2's
// keyed pseudo-label sampler on 32 CAMs of 224² on both ("sampling/batch32/cuda", ".../cpu").
// benchmarks/gpu/ops_vs_torch.py runs this and the PyTorch peer in the same run and prints ratios.
//
// Each timed iteration enqueues `calls_per_iteration` calls and then waits for the device, so the
// time per call includes fcam's host overhead (descriptors, plans, allocation) but only 1/N of a
// synchronisation, as a training loop that waits once per step would see it.
// A row that throws is reported failed with its message, and the others still run.
// Options: --shapes FILE (default: the CSV of benchmarks/), plus Google Benchmark's.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <fcam/fcam.hpp>

#include "conv_shapes.hpp"
#include "crf_inputs.hpp"
#include "failed_rows.hpp"

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

/// TF32 and the timed choice of algorithms for one convolution row, off again however the row
/// ends (a row that throws must not leave them on for the rows after it).
struct ConvModes {
  ConvModes(bool tf32, bool find) {
    fcam::cuda::set_tf32(tf32);
    fcam::cuda::set_benchmark_algorithms(find);
  }
  ~ConvModes() {
    fcam::cuda::set_tf32(false);
    fcam::cuda::set_benchmark_algorithms(false);
  }
  ConvModes(const ConvModes&) = delete;
  ConvModes& operator=(const ConvModes&) = delete;
};

void run_conv(benchmark::State& state, fcam::bench::ConvShape s, std::int64_t batch, bool backward, bool tf32,
              bool find) {
  const ConvModes modes(tf32, find);
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

/// The host time of one call, from batches of `host_calls` calls timed without waiting (the wait
/// after each batch is not counted; the device runs behind, its queue never fills).
void time_host(benchmark::State& state, const std::function<void()>& call) {
  constexpr int host_calls = 100;
  call();
  fcam::cuda::synchronize();
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < host_calls; ++i) call();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    fcam::cuda::synchronize();
    state.SetIterationTime(elapsed.count() / host_calls);
  }
}

/// Conv2d 3×3 64→64 → BatchNorm2d → ReLU in evaluation mode on the GPU.
struct ConvBnRelu {
  fcam::nn::Conv2d<float> conv{64, 64, fcam::Conv2dGeometry::square(3, 1, 1), false};
  fcam::nn::BatchNorm2d<float> bn{64};
  fcam::nn::ReLU<float> relu;
  ConvBnRelu() {
    conv.eval();
    bn.eval();
    conv.to(Device::cuda);
    bn.to(Device::cuda);
  }
};

/// A batch-1 op for the host rows: its call, built once.
struct HostCase {
  std::string name;
  std::function<std::function<void()>()> make;
};

std::vector<HostCase> host_cases() {
  const fcam::Shape shape{1, 256, 56, 56}, half{1, 128, 56, 56}, quarter{1, 256, 28, 28};
  using Call = std::function<void()>;
  return {
      {"empty", [=] { return Call([=] { Tensor<float>::uninitialized(shape, Device::cuda); }); }},
      {"relu", [=] { auto x = random_on_gpu(shape, 1); return Call([x] { fcam::relu(x); }); }},
      {"add", [=] {
         auto a = random_on_gpu(shape, 1), b = random_on_gpu(shape, 2);
         return Call([a, b] { fcam::add(a, b); });
       }},
      {"batch_norm_eval", [=] {
         auto x = random_on_gpu(shape, 1), g = random_on_gpu({256}, 2), b = random_on_gpu({256}, 3);
         auto m = random_on_gpu({256}, 4), v = fcam::Tensor<float>::full({256}, 2.0f).to(Device::cuda);
         return Call([=] { fcam::batch_norm_eval(x, g, b, m, v, 1e-5f); });
       }},
      {"conv3x3_64", [=] {
         auto x = random_on_gpu({1, 64, 56, 56}, 1), w = random_on_gpu({64, 64, 3, 3}, 2);
         return Call([=] { fcam::conv2d(x, w, Tensor<float>(), fcam::Conv2dGeometry::square(3, 1, 1)); });
       }},
      {"conv3x3_64_bn_relu", [=] {  // a model's layer in inference: nn::conv_bn_relu, fused
         auto layer = std::make_shared<ConvBnRelu>();
         auto x = random_on_gpu({1, 64, 56, 56}, 1);
         return Call([layer, x] {
           fcam::NoGradGuard no_grad;
           fcam::nn::conv_bn_relu(layer->conv, &layer->bn, &layer->relu, x);
         });
       }},
      {"max_pool_3x3s2", [=] {
         auto x = random_on_gpu(shape, 1);
         return Call([x] { fcam::max_pool2d(x, fcam::Pool2dGeometry{3, 2, 1}, false); });
       }},
      {"resize_bilinear_x2", [=] {
         auto x = random_on_gpu(quarter, 1);
         return Call([x] { fcam::resize_bilinear(x, 56, 56, true); });
       }},
      {"concat_2", [=] {
         auto a = random_on_gpu(half, 1), b = random_on_gpu(half, 2);
         return Call([a, b] { fcam::concat_channels(std::vector<Tensor<float>>{a, b}); });
       }},
      {"linear_2048x200", [=] {
         auto x = random_on_gpu({1, 2048}, 1), w = random_on_gpu({200, 2048}, 2), b = random_on_gpu({200}, 3);
         return Call([=] { fcam::linear(x, w, b); });
       }},
      {"softmax_channels", [=] {
         auto x = random_on_gpu({1, 2, 224, 224}, 1);
         return Call([x] { fcam::softmax_channels(x); });
       }},
  };
}

/// Times `call` on `device`: as time_calls on the GPU; on the CPU one call per iteration, after
/// one untimed call.
void time_on(benchmark::State& state, Device device, const std::function<void()>& call) {
  if (device == Device::cuda) {
    time_calls(state, call);
  } else {
    call();  // buffers and cached blocks are made here, outside the timing, as on the GPU
    for (auto _ : state) {
      const auto start = std::chrono::steady_clock::now();
      call();
      state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  state.counters["threads"] = static_cast<double>(fcam::num_threads());
}

/// The CRF loss with its gradient on `device` (the CPU: every host thread).
void run_crf(benchmark::State& state, Device device) {
  const Tensor<float> images = fcam::bench::crf_images(32).to(device);
  const Tensor<float> probs = fcam::bench::softmax_maps(32, 2).to(device);
  Tensor<float> grad;
  time_on(state, device, [&] { benchmark::DoNotOptimize(fcam::losses::crf_loss(probs, images, {}, &grad)); });
}

/// Stage 2's pseudo-labels of 32 CAM-like 224² maps (a random 7×7 map, ReLU'd, upsampled and
/// normalised) with the keyed sampler on `device` (the CPU: every host thread), default options.
void run_sampling(benchmark::State& state, Device device) {
  Tensor<float> coarse({32, 1, 7, 7});
  fcam::Rng rng(3);
  fcam::fill_uniform(coarse, -1.0, 1.0, rng);
  const Tensor<float> cams =
      fcam::normalize_items(fcam::resize_bilinear(fcam::relu(coarse), 224, 224, false).reshape({32, 224, 224}))
          .to(device);
  std::uint64_t seed = 0;
  time_on(state, device, [&] { benchmark::DoNotOptimize(fcam::keyed_region_labels(cams, {}, ++seed)); });
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
            fcam::bench::register_row(std::string(backward ? "conv_backward/" : "conv_forward/") + s.name + "/batch" +
                                          std::to_string(batch) + "/" + mode,
                                      benchmark::kMillisecond,
                                      [=](benchmark::State& st) { run_conv(st, s, batch, backward, tf32, find); });
          }
    for (const BandwidthCase& c : bandwidth_cases())
      fcam::bench::register_row("bandwidth/" + c.name, benchmark::kMillisecond,
                                [c](benchmark::State& st) { run_bandwidth(st, c); });
    for (const Device device : {Device::cuda, Device::cpu}) {
      const std::string where = device == Device::cuda ? "/batch32/cuda" : "/batch32/cpu";
      fcam::bench::register_row("crf" + where, benchmark::kMillisecond,
                                [device](benchmark::State& st) { run_crf(st, device); });
      fcam::bench::register_row("sampling" + where, benchmark::kMillisecond,
                                [device](benchmark::State& st) { run_sampling(st, device); });
    }
    for (const HostCase& c : host_cases())
      fcam::bench::register_row("host/" + c.name, benchmark::kMicrosecond,
                                [c](benchmark::State& st) { time_host(st, c.make()); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fcam-bench-cuda-ops: %s\n", e.what());
    return 2;
  }
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// fcam-bench-crf: the CRF loss (forward value + gradient, 2 channels) against docs/performance.md's
// reference figures for the authors' CPU lattice: ~15–20 ms per 224×224 image on one core and
// ~65 ms for a batch of 32 with OpenMP. Goal ≤ 0.5× of those.
//   crf/image224/threads:1    one image, one thread
//   crf/batch32/threads:2     32 images, two threads (one lattice per image, images in parallel)
// Input: the real CUB image of ../shared/data/crf-reference (albatross224) when FCAM_DATA_DIR
// points at the shared data folder, else a synthetic image with edges and texture (same size).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <fcam/fcam.hpp>

namespace {

using namespace fcam;

Tensor<float> input_image() {
  if (const char* dir = std::getenv("FCAM_DATA_DIR")) {
    const auto path = std::filesystem::path(dir) / "crf-reference" / "albatross224_image.npy";
    if (std::filesystem::exists(path)) return io::read_npy<float>(path).reshape({1, 3, 224, 224});
  }
  Rng rng(1);
  Tensor<float> img({1, 3, 224, 224});
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t y = 0; y < 224; ++y)
      for (std::int64_t x = 0; x < 224; ++x) {
        const bool bird = std::hypot(x - 110.0, y - 120.0) < 60;
        img.data()[(c * 224 + y) * 224 + x] = static_cast<float>(
            std::clamp((bird ? 170.0 - 30 * c : 90.0 + 20 * c) + 25 * std::sin(0.2 * x + 0.1 * y) + rng.uniform(-10, 10), 0.0, 255.0));
      }
  return img;
}

Tensor<float> softmax_maps(std::int64_t batch, std::uint64_t seed) {
  Rng rng(seed);
  Tensor<float> s({batch, 2, 224, 224});
  const std::int64_t n = 224 * 224;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t i = 0; i < n; ++i) {
      const float p = static_cast<float>(1 / (1 + std::exp(-rng.uniform(-3, 3))));
      s.data()[(b * 2) * n + i] = p;
      s.data()[(b * 2 + 1) * n + i] = 1 - p;
    }
  return s;
}

void run(benchmark::State& state, std::int64_t batch, int threads) {
  set_num_threads(threads);
  const Tensor<float> one = input_image();
  Tensor<float> images({batch, 3, 224, 224});
  for (std::int64_t b = 0; b < batch; ++b) images.batch(b, 1).copy_from(one);
  const Tensor<float> probs = softmax_maps(batch, 2);
  Tensor<float> grad;
  for (auto _ : state) {
    const float loss = losses::crf_loss(probs, images, losses::CrfLossOptions{}, &grad);
    benchmark::DoNotOptimize(loss);
  }
  state.SetItemsProcessed(state.iterations() * batch);  // images per second
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("crf/image224/threads:1", [](benchmark::State& s) { run(s, 1, 1); })
      ->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark("crf/batch32/threads:2", [](benchmark::State& s) { run(s, 32, 2); })
      ->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}

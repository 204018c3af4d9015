// fcam-bench-crf: the CRF loss (forward value + gradient, 2 channels) against docs/performance.md's
// reference figures for the authors' CPU lattice: ~15–20 ms per 224×224 image on one core and
// ~65 ms for a batch of 32 with OpenMP. Goal ≤ 0.5× of those.
//   crf/image224/threads:1    one image, one thread
//   crf/batch32/threads:2     32 images, two threads (one lattice per image, images in parallel)
// Input: the real CUB image of ../shared/data/crf-reference (albatross224) when FCAM_DATA_DIR
// points at the shared data folder, else a synthetic image with edges and texture (same size).
#include <benchmark/benchmark.h>

#include <fcam/fcam.hpp>

#include "crf_inputs.hpp"

namespace {

using namespace fcam;

void run(benchmark::State& state, std::int64_t batch, int threads) {
  set_num_threads(threads);
  const Tensor<float> images = bench::crf_images(batch);
  const Tensor<float> probs = bench::softmax_maps(batch, 2);
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

// fcam-bench-eval: single-thread cost of the evaluation kernels on one CAM-like 224×224 map
// (a 28×28 map — a stride-8 CAM — with a bump and noise, bilinearly upsampled, min-max
// normalised), at the reference's 1,000 thresholds.
//   box_accumulator/<multi_contour>   BoxAccumulator::add: all thresholds of one map
//   level_borders/<level>             the borders of one binary mask (one level)
//   pxap_add                          PxapAccumulator::add (histogram of one map)
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include <fcam/fcam.hpp>

namespace {

using namespace fcam;

Tensor<float> cam_like_map(std::uint64_t seed, int size = 224, int coarse = 28) {
  Rng rng(seed);
  std::vector<float> small(static_cast<std::size_t>(coarse * coarse));
  for (int y = 0; y < coarse; ++y)
    for (int x = 0; x < coarse; ++x) {
      const double dx = (x - coarse * 0.45) / (coarse * 0.2), dy = (y - coarse * 0.55) / (coarse * 0.25);
      small[static_cast<std::size_t>(y * coarse + x)] =
          static_cast<float>(std::exp(-dx * dx - dy * dy) + 0.5 * rng.uniform());
    }
  Tensor<float> map({size, size});
  const double scale = static_cast<double>(coarse) / size;
  float lo = 1e9f, hi = -1e9f;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {  // bilinear, half-pixel centres
      const double sy = std::clamp((y + 0.5) * scale - 0.5, 0.0, coarse - 1.0);
      const double sx = std::clamp((x + 0.5) * scale - 0.5, 0.0, coarse - 1.0);
      const int y0 = static_cast<int>(sy), x0 = static_cast<int>(sx);
      const int y1 = std::min(y0 + 1, coarse - 1), x1 = std::min(x0 + 1, coarse - 1);
      const double fy = sy - y0, fx = sx - x0;
      auto at = [&](int yy, int xx) { return small[static_cast<std::size_t>(yy * coarse + xx)]; };
      const double v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
      map.data()[y * size + x] = static_cast<float>(v);
      lo = std::min(lo, static_cast<float>(v));
      hi = std::max(hi, static_cast<float>(v));
    }
  for (std::int64_t i = 0; i < map.numel(); ++i) map.data()[i] = (map.data()[i] - lo) / (hi - lo);
  return map;
}

void box_accumulator(benchmark::State& state) {
  metrics::BoxEvaluationOptions options;
  options.multi_contour = state.range(0) != 0;
  metrics::BoxAccumulator acc(options);
  const Tensor<float> map = cam_like_map(1);
  const std::vector<metrics::IntBox> gt{{60, 70, 150, 190}};
  for (auto _ : state) acc.add(map, gt);
  state.SetItemsProcessed(state.iterations());
}

void level_borders(benchmark::State& state) {
  const Tensor<float> map = cam_like_map(1);
  const std::vector<std::uint8_t> u8 = metrics::quantize_score_map(map);
  metrics::LevelContourFinder finder;
  finder.reset(u8.data(), 224, 224);
  std::int64_t borders = 0;
  for (auto _ : state)
    finder.for_each_border(static_cast<std::uint8_t>(state.range(0)), [&](const metrics::BorderSummary&) { ++borders; });
  state.counters["borders"] = benchmark::Counter(static_cast<double>(borders), benchmark::Counter::kAvgIterations);
}

void pxap_add(benchmark::State& state) {
  metrics::PxapAccumulator acc(0.001);
  const Tensor<float> map = cam_like_map(2);
  Tensor<float> fg({224, 224}), ignore({224, 224});
  for (int i = 0; i < 224 * 100; ++i) fg.data()[i] = 1.0f;
  for (auto _ : state) acc.add(map, fg, ignore);
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(box_accumulator)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(level_borders)->Arg(10)->Arg(60)->Arg(128)->Arg(200)->Unit(benchmark::kMicrosecond);
BENCHMARK(pxap_add)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();

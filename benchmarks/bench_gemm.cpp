// fcam-bench-gemm: the numbers behind the README's GEMM efficiency claims, single-threaded.
//   fma_peak            16 independent FMA chains on registers: the core's float FMA peak
//   gemm/M/N/K          gemm_packed on pre-packed operands (the micro-kernel plus blocking);
//                       256³ stays in cache, 512×392×4608 is l4's 3×3 conv tile size
// Compare each gemm row's GFLOP/s with fma_peak.
#include <benchmark/benchmark.h>

#include <vector>

#include <fcam/fcam.hpp>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace {

namespace gemm = fcam::cpu::gemm;

void fma_peak(benchmark::State& state) {
#if defined(__AVX512F__)
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(0.0001f);
  constexpr int steps = 1 << 16;
  for (auto _ : state) {
    for (int k = 0; k < steps; ++k)
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], b, c);
    benchmark::DoNotOptimize(acc);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 16 * 16 * steps, benchmark::Counter::kIsIterationInvariantRate);
#else
  state.SkipWithError("fma_peak is written for AVX-512");
#endif
}

void packed_gemm(benchmark::State& state) {
  const std::int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  std::vector<float> a(static_cast<std::size_t>(m * k), 0.5f), b(static_cast<std::size_t>(k * n), 0.25f);
  std::vector<float> c(static_cast<std::size_t>(m * n));
  std::vector<float> ap(static_cast<std::size_t>(gemm::packed_a_size<float>(m, k)));
  std::vector<float> bp(static_cast<std::size_t>(gemm::packed_b_size<float>(k, n)));
  gemm::pack_a(a.data(), k, std::int64_t{1}, m, k, ap.data());
  gemm::pack_b(b.data(), n, std::int64_t{1}, k, n, bp.data());
  for (auto _ : state) {
    gemm::gemm_packed(m, n, k, ap.data(), bp.data(), c.data(), n, false);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(fma_peak)->Unit(benchmark::kMillisecond);
BENCHMARK(packed_gemm)->Args({256, 256, 256})->Args({512, 392, 4608})->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();

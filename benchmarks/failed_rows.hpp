/// \file
/// \brief Benchmark rows that fail alone: a row that throws is reported as failed, with its
/// message, and the other rows still run (fcam-bench-cuda-ops, fcam-bench-cuda-models).
///
/// Google Benchmark does not catch exceptions: one row's error (an out-of-memory, a cuDNN plan a
/// card refuses) would end the program and leave its JSON file unfinished, so the whole run's rows
/// would be lost. GPU runs are rare and short (docs/cuda.md), so each row stands alone: Google
/// Benchmark's `SkipWithError` marks it ("error_occurred" and "error_message" in the JSON output),
/// and benchmarks/gpu/*.py print it as a failed row.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <benchmark/benchmark.h>

namespace fcam::bench {

/// Registers `row` as benchmark `name`, timed by hand (`SetIterationTime`) and shown in `unit`; an
/// exception thrown before or during its timed loop marks that row failed. Its later repetitions
/// (--benchmark_repetitions) fail at once with the same message instead of paying the failing
/// setup again.
inline void register_row(const std::string& name, benchmark::TimeUnit unit,
                         std::function<void(benchmark::State&)> row) {
  auto error = std::make_shared<std::string>();  // the row's first error, kept across repetitions
  benchmark::RegisterBenchmark(name.c_str(),
                               [row = std::move(row), error](benchmark::State& state) {
                                 if (error->empty()) {
                                   try {
                                     row(state);
                                     return;
                                   } catch (const std::exception& e) {
                                     *error = *e.what() ? e.what() : "an exception without a message";
                                   }
                                 }
                                 state.SkipWithError(error->c_str());
                               })
      ->Unit(unit)
      ->UseManualTime();
}

}  // namespace fcam::bench

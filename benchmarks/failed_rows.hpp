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
#include <string>
#include <utility>

#include <benchmark/benchmark.h>

namespace fcam::bench {

/// Registers `row` as benchmark `name`, timed by hand (`SetIterationTime`) and shown in `unit`; an
/// exception thrown before or during its timed loop marks that row failed.
inline void register_row(const std::string& name, benchmark::TimeUnit unit,
                         std::function<void(benchmark::State&)> row) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [row = std::move(row)](benchmark::State& state) {
                                 try {
                                   row(state);
                                 } catch (const std::exception& e) {
                                   state.SkipWithError(e.what());
                                 }
                               })
      ->Unit(unit)
      ->UseManualTime();
}

}  // namespace fcam::bench

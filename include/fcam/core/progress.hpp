/// \file
/// \brief How long library work (training, evaluation, dataset writing) reports its progress:
/// through a callback the program supplies, so the library never prints on its own.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace fcam {

/// One progress report of a long task.
struct ProgressEvent {
  std::string_view task;  ///< what runs, e.g. "classifier epoch 3/12" (a new task starts a new line)
  std::string_view unit;  ///< what is counted, e.g. "images"
  std::int64_t done = 0;  ///< units finished
  std::int64_t total = 0; ///< units in the task
  std::string_view note;  ///< extra text, e.g. running losses ("" for none)
};

/// Receives progress reports; called as often as work advances, possibly from worker threads
/// (so it must be thread-safe). Empty: nothing is reported. app::progress_printer() prints them.
using ProgressFn = std::function<void(const ProgressEvent&)>;

/// Calls `fn` with `event` when `fn` is set.
inline void report(const ProgressFn& fn, const ProgressEvent& event) {
  if (fn) fn(event);
}

}  // namespace fcam

/// \file
/// \brief A progress line on stderr for long work: done/total, rate, ETA; rewritten in place on
/// a terminal, one line at most every few seconds otherwise (logs stay short).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "fcam/core/progress.hpp"

namespace fcam::app {

/// Thread-safe progress reporter. update() may be called from any thread, as often as wanted.
class Progress {
public:
  /// `what` names the items ("maps", "images"); `total` > 0.
  Progress(std::string label, std::string what, std::int64_t total, bool enabled = true)
      : label_(std::move(label)), what_(std::move(what)), total_(total), enabled_(enabled),
        terminal_(isatty(STDERR_FILENO) != 0), start_(Clock::now()), last_(start_) {}

  /// Text appended to the line from now on (say, running losses).
  void set_note(std::string note) {
    std::lock_guard<std::mutex> lock(mutex_);
    note_ = std::move(note);
  }

  /// Reports `done` items finished; prints when enough time has passed or at the end.
  void update(std::int64_t done) {
    if (!enabled_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = Clock::now();
    const double since_last = std::chrono::duration<double>(now - last_).count();
    if (done < total_ && since_last < (terminal_ ? 0.2 : 5.0)) return;
    if (done == total_ && finished_) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
    std::fprintf(stderr, "%s%s: %lld/%lld %s (%.0f%%), %.0f %s/s, %s %.1f s%s%s%s", terminal_ ? "\r" : "",
                 label_.c_str(), static_cast<long long>(done), static_cast<long long>(total_), what_.c_str(),
                 total_ > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0, rate,
                 what_.c_str(), done == total_ ? "elapsed" : "ETA", done == total_ ? elapsed : eta,
                 note_.empty() ? "" : ", ", note_.c_str(), terminal_ && done < total_ ? "   " : "\n");
    std::fflush(stderr);
    finished_ = done == total_;
  }

private:
  using Clock = std::chrono::steady_clock;
  std::string label_, what_, note_;
  std::int64_t total_;
  bool enabled_, terminal_, finished_ = false;
  Clock::time_point start_, last_;
  std::mutex mutex_;
};

/// A ProgressFn that prints the library's reports: one Progress line per task (a report with a
/// new task name starts a new line). Thread-safe; `enabled` false prints nothing.
inline ProgressFn progress_printer(bool enabled = true) {
  if (!enabled) return {};
  struct Lines {
    std::mutex mutex;
    std::string task;
    std::unique_ptr<Progress> line;
  };
  auto lines = std::make_shared<Lines>();
  return [lines](const ProgressEvent& e) {
    std::lock_guard<std::mutex> lock(lines->mutex);
    if (!lines->line || lines->task != e.task) {
      lines->task = e.task;
      lines->line = std::make_unique<Progress>(lines->task, std::string(e.unit), e.total);
    }
    lines->line->set_note(std::string(e.note));
    lines->line->update(e.done);
  };
}

}  // namespace fcam::app

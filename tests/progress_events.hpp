/// \file
/// \brief The progress reports of a training run, recorded and checked (test_progress_reports.cpp
/// on the CPU, tests/backend_ops/test_training_runs_on_cuda.cpp on a GPU): each task reports its
/// start (done 0) before any work, then counts up, and reports done == total once, last, so that
/// a progress line's rate covers the whole task and its 100% line comes after the work.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <fcam/core/progress.hpp>

namespace fcam::test {

/// Records every ProgressEvent it receives (from any thread) in order.
class ProgressRecorder {
public:
  struct Event {
    std::string task;
    std::int64_t done, total;
  };

  /// A ProgressFn that records into this recorder (which must outlive it).
  ProgressFn callback() {
    return [this](const ProgressEvent& e) {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back({std::string(e.task), e.done, e.total});
    };
  }

  std::vector<Event> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }

private:
  mutable std::mutex mutex_;
  std::vector<Event> events_;
};

/// Checks the rule of the file's brief for each task of `events` (a task's events are
/// consecutive, and a task name is not used twice). Returns the number of tasks.
inline int check_progress_events(const std::vector<ProgressRecorder::Event>& events) {
  std::vector<std::string> seen;
  std::size_t i = 0;
  while (i < events.size()) {
    const std::string task = events[i].task;
    INFO("task '" << task << "'");
    for (const std::string& earlier : seen) CHECK(earlier != task);
    seen.push_back(task);
    std::size_t end = i;
    while (end < events.size() && events[end].task == task) ++end;
    CHECK(events[i].done == 0);  // the start, before any work
    int finished = 0;
    for (std::size_t k = i; k < end; ++k) {
      INFO("report " << k - i << ": " << events[k].done << "/" << events[k].total);
      CHECK(events[k].total == events[i].total);
      if (k > i) CHECK(events[k].done >= events[k - 1].done);
      finished += events[k].done == events[k].total;
    }
    CHECK(finished == 1);
    CHECK(events[end - 1].done == events[end - 1].total);
    i = end;
  }
  return static_cast<int>(seen.size());
}

}  // namespace fcam::test

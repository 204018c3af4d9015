// The communication thread of the MPI and NCCL worlds: it takes the started collectives in the
// order they were started and runs each with the world's `run`. After one fails, every later
// one fails too (the ranks no longer agree on what comes next), naming the first error.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "fcam/dist/communicator.hpp"

namespace fcam::dist {

class CollectiveQueue {
public:
  /// `run(collective, serial)`: the serial numbers are 1, 2, … in the order started, the same
  /// on every rank.
  using Run = std::function<void(const Collective&, std::int64_t)>;

  explicit CollectiveQueue(Run run) : run_(std::move(run)), thread_([this] { serve(); }) {}
  CollectiveQueue(const CollectiveQueue&) = delete;
  CollectiveQueue& operator=(const CollectiveQueue&) = delete;
  ~CollectiveQueue() { stop(); }

  /// Queues `c`; its Pending finishes when `run` returns (or throws).
  Pending submit(const Collective& c) {
    FCAM_CHECK(c.count >= 0 && (c.count == 0 || c.data), "collective: a null buffer of ", c.count, " elements");
    Pending pending;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Job job{c, {}, ++started_};
      pending = Pending(job.done.get_future().share());
      queue_.push_back(std::move(job));
    }
    changed_.notify_all();
    return pending;
  }

  /// Runs what is queued, then ends the thread (a second call does nothing).
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  /// True once a collective failed (read after stop(), or from `run`).
  bool failed() const { return failed_; }

private:
  struct Job {
    Collective op;
    std::promise<void> done;
    std::int64_t serial = 0;
  };

  void serve() {
    while (true) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      try {
        FCAM_CHECK(!failed_, "an earlier collective failed (", first_error_, ")");
        run_(job.op, job.serial);
        job.done.set_value();
      } catch (const std::exception& e) {
        if (!failed_) first_error_ = e.what();
        failed_ = true;
        job.done.set_exception(std::current_exception());
      }
    }
  }

  Run run_;
  std::int64_t started_ = 0;
  std::deque<Job> queue_;
  bool stopping_ = false;
  bool failed_ = false;      // written by the communication thread only
  std::string first_error_;  // idem
  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace fcam::dist

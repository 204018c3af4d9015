/// \file
/// \brief The CPU thread count used by fcam's kernels (set_num_threads() or FCAM_NUM_THREADS) and parallel_items().
#pragma once

#include <omp.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>

#include <Eigen/Core>

#include "fcam/core/error.hpp"

namespace fcam {

namespace detail {

/// Thread count from FCAM_NUM_THREADS, else the number of OpenMP processors.
inline int initial_thread_count() {
  if (const char* env = std::getenv("FCAM_NUM_THREADS"); env && *env) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    FCAM_CHECK(end && *end == '\0' && n >= 1 && n <= 4096,
               "FCAM_NUM_THREADS must be a positive integer, got '", env, "'");
    return static_cast<int>(n);
  }
  return omp_get_num_procs();
}

inline int& thread_count_slot() {
  static int count = [] {
    const int n = initial_thread_count();
    Eigen::setNbThreads(n);
    return n;
  }();
  return count;
}

}  // namespace detail

/// Number of CPU threads fcam's kernels use (>= 1).
inline int num_threads() { return detail::thread_count_slot(); }

/// Sets the CPU thread count for fcam's kernels and Eigen's products.
/// requires: n >= 1, else fcam::Error.
inline void set_num_threads(int n) {
  FCAM_CHECK(n >= 1, "set_num_threads: thread count must be >= 1, got ", n);
  detail::thread_count_slot() = n;
  Eigen::setNbThreads(n);
}

/// Runs fn(item) for items [0, count) on the kernel threads (dynamic schedule). An exception
/// (say std::bad_alloc from a scratch buffer) must not escape an OpenMP region, where it would
/// terminate the program: the first one is kept, the remaining items are skipped, and it is
/// rethrown on the calling thread.
template <class F>
void parallel_items(std::int64_t count, F&& fn) {
  const int threads = num_threads();
  std::exception_ptr error;
  std::atomic<bool> failed{false};
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1 && count > 1)
  for (std::int64_t item = 0; item < count; ++item) {
    if (failed.load(std::memory_order_relaxed)) continue;
    try {
      fn(item);
    } catch (...) {
#pragma omp critical(fcam_parallel_items_error)
      if (!error) error = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace fcam

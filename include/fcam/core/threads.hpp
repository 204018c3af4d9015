/// \file
/// \brief The CPU thread count used by fcam's kernels (set_num_threads() or FCAM_NUM_THREADS, thread-safe) and
/// parallel_items().
#pragma once

#include <omp.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <mutex>
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

/// The thread count, initialised once (thread-safe static initialisation) from
/// initial_thread_count(), which also sets Eigen's.
inline std::atomic<int>& thread_count_slot() {
  static std::atomic<int> count{[] {
    const int n = initial_thread_count();
    Eigen::setNbThreads(n);
    return n;
  }()};
  return count;
}

/// Serialises set_num_threads(): fcam's count and Eigen's (a plain int inside Eigen) are
/// updated together, so concurrent calls leave both at the value of the same, last call.
inline std::mutex& thread_count_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace detail

/// Number of CPU threads fcam's kernels use (>= 1). Safe to call from any thread.
inline int num_threads() { return detail::thread_count_slot().load(std::memory_order_relaxed); }

/// Sets the CPU thread count for fcam's kernels and Eigen's products.
/// requires: n >= 1, else fcam::Error.
///
/// Thread-safe: concurrent calls do not race (the count is atomic and the calls are serialised),
/// and afterwards fcam and Eigen both use the value of the last call. Kernels already running
/// keep the count they started with. Eigen keeps its own count in a plain int that its products
/// read unsynchronised, so do not change the count while another thread is inside a Linear layer.
inline void set_num_threads(int n) {
  FCAM_CHECK(n >= 1, "set_num_threads: thread count must be >= 1, got ", n);
  std::atomic<int>& slot = detail::thread_count_slot();
  const std::lock_guard<std::mutex> lock(detail::thread_count_mutex());
  slot.store(n, std::memory_order_relaxed);
  Eigen::setNbThreads(n);
}

namespace detail {
/// fn(item) unless an earlier item failed; the first exception is kept in `error`.
template <class F>
void run_item(F& fn, std::int64_t item, std::atomic<bool>& failed, std::exception_ptr& error) {
  if (failed.load(std::memory_order_relaxed)) return;
  try {
    fn(item);
  } catch (...) {
#pragma omp critical(fcam_parallel_items_error)
    if (!error) error = std::current_exception();
    failed.store(true, std::memory_order_relaxed);
  }
}
}  // namespace detail

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
  for (std::int64_t item = 0; item < count; ++item) detail::run_item(fn, item, failed, error);
  if (error) std::rethrow_exception(error);
}

/// parallel_items with a fixed split: thread t runs the t-th contiguous block of items, in
/// order. For reductions into per-thread partial sums (omp_get_thread_num()): which items each
/// sum holds, and so its rounding, depends on the thread count only, not on timing, and a
/// training run repeats bit for bit.
template <class F>
void parallel_items_fixed(std::int64_t count, F&& fn) {
  const int threads = num_threads();
  std::exception_ptr error;
  std::atomic<bool> failed{false};
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && count > 1)
  for (std::int64_t item = 0; item < count; ++item) detail::run_item(fn, item, failed, error);
  if (error) std::rethrow_exception(error);
}

}  // namespace fcam

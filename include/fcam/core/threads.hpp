/// \file
/// \brief The CPU thread count used by fcam's kernels: set_num_threads() or FCAM_NUM_THREADS.
#pragma once

#include <omp.h>

#include <cstdlib>
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

}  // namespace fcam

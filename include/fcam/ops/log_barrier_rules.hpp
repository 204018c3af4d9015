/// \file
/// \brief The extended log-barrier of F-CAM's size constraint (docs/method.md §5.3), written once
/// for the CPU's size loss and the GPU kernel that finishes it on the device (C++17, no other fcam
/// header: nvcc compiles it too, cuda/loss_terms.cu).
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define FCAM_LOG_BARRIER_RULE __host__ __device__
#else
#define FCAM_LOG_BARRIER_RULE
#endif

namespace fcam::log_barrier_rules {

/// ψ_t(z) of the constraint z ≤ 0: −ln(−z)/t for z ≤ −1/t², else its linear extension
/// t·z − ln(1/t²)/t + 1/t (continuous, with continuous derivative).
FCAM_LOG_BARRIER_RULE inline double value(double z, double t) {
  return z <= -1 / (t * t) ? -log(-z) / t : t * z - log(1 / (t * t)) / t + 1 / t;
}

/// dψ_t/dz.
FCAM_LOG_BARRIER_RULE inline double derivative(double z, double t) { return z <= -1 / (t * t) ? -1 / (t * z) : t; }

}  // namespace fcam::log_barrier_rules

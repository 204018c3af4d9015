/// \file
/// \brief The size loss's op (docs/method.md §5.3): the extended log-barrier of each plane's sum,
/// its value added to a running sum on the probabilities' device and its gradient filled in, so
/// that on a GPU nothing waits for the device.
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/core/loss_sums.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/dispatch.hpp"
#include "fcam/ops/log_barrier_rules.hpp"
#include "fcam/ops/planes.hpp"
#include "fcam/ops/reduce.hpp"

namespace fcam {

/// For `probs` N×C×H×W with plane sums s_p (in double): adds scale · Σ_p ψ_t(−s_p) to `into` (a
/// LossSums slot on the probabilities' device, the planes added in order) and returns ∂/∂probs,
/// T(−scale·ψ_t'(−s_p)) over each plane p (ψ_t of ops/log_barrier_rules.hpp). requires: t > 0.
template <Scalar T>
Tensor<T> size_barrier_into(const Tensor<T>& probs, double t, double scale, LossSlot into) {
  check_rank(probs, 4, "size_barrier probabilities");
  FCAM_CHECK(t > 0, "size_barrier: t must be positive, got ", t);
  const Device device = operand_device("size_barrier", probs);
  check_slot(into, device, "size_barrier");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::size_loss_into(probs, t, scale, into.at);
    else cuda::unavailable_for<T>("size_barrier");
  }
  double total = 0;
  std::vector<T> slopes;  // the same at every pixel of a plane
  for (const double size : plane_sums(probs)) {
    total += log_barrier_rules::value(-size, t);
    slopes.push_back(static_cast<T>(-scale * log_barrier_rules::derivative(-size, t)));
  }
  *into.at += scale * total;
  return fill_planes(probs.shape(), slopes, device);
}

}  // namespace fcam

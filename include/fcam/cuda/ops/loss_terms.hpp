/// \file
/// \brief CUDA forms of the CRF and size loss terms that add their value to a running sum on the
/// device (core/loss_sums.hpp) instead of copying it back, so that a training step never waits
/// for them; float tensors.
#pragma once

#include <cstdint>

#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// slot[0] += factor · Σ_r Σ_i a[r·length + i]·b[r·length + i] over the `count` runs, each run's
/// dot in double, the runs added in order (`slot` in device memory). Never waits.
void add_run_dots(const Tensor<float>& a, const Tensor<float>& b, std::int64_t count, std::int64_t length,
                  double factor, double* slot);

/// The size loss (losses/size_loss.hpp) of `probs` N×2×H×W: slot[0] += scale·Σ_planes ψ_t(−size)
/// (`slot` in device memory) and returns ∂/∂probs, −scale·ψ_t'(−size) over each plane. Never waits.
Tensor<float> size_loss_into(const Tensor<float>& probs, double t, double scale, double* slot);

}  // namespace fcam::cuda

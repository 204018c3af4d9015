/// \file
/// \brief CUDA kernel of the crf_filter op (ops/crf_filter.hpp): the permutohedral lattice on the
/// GPU, one sequence of launches per batch, deterministic, with the CPU lattice's arithmetic.
#pragma once

#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// W·S (or Wᵀ·S) of every image: `images` N×3×H×W raw RGB, `probs` N×C×H×W, C ≤ 8, N < 512.
/// The vertex keys hold each lattice coordinate in 11 bits: a σ so small that a coordinate of an
/// image in [0, 255] may leave ±1024 (σ_rgb below about 1) is checked on the device and refused
/// with an error (a wait for the stream); otherwise nothing is read back, and pixels so far outside
/// [0, 255] that a coordinate overflows make the result NaN.
Tensor<float> crf_filter(const Tensor<float>& images, const Tensor<float>& probs, double sigma_rgb, double sigma_xy,
                         bool transposed);

}  // namespace fcam::cuda

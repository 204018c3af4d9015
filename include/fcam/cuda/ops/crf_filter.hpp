/// \file
/// \brief CUDA kernel of the crf_filter op (ops/crf_filter.hpp): the permutohedral lattice on the
/// GPU, one sequence of launches per batch, deterministic, with the CPU lattice's arithmetic (but
/// for vertices of more than 32 points, whose splat a warp sums in a fixed tree).
#pragma once

#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// W·S (or Wᵀ·S) of every image: `images` N×3×H×W raw RGB, `probs` N×C×H×W, C ≤ 8, N < 512.
/// The vertex keys hold each lattice coordinate in 11 bits: when the σ's are so small that a
/// coordinate of an image in [0, 255] might leave ±1024 (at 224², σ_rgb below about 0.9), the
/// device's flag is read (a wait for the stream) and an overflow is refused with an error;
/// otherwise nothing is read back, and pixels far outside [0, 255], NaN or infinite, that
/// overflow make the result NaN.
Tensor<float> crf_filter(const Tensor<float>& images, const Tensor<float>& probs, double sigma_rgb, double sigma_xy,
                         bool transposed);

}  // namespace fcam::cuda

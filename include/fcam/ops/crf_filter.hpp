/// \file
/// \brief The bilateral filter behind the CRF loss (docs/method.md §5.2): W·S per image, W the
/// permutohedral lattice's Gaussian affinity of the pixels' position and colour.
#pragma once

#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/crf_filter.hpp"
#include "fcam/ops/dispatch.hpp"

namespace fcam {

/// W·S for every image: `images` N×3×H×W raw RGB (0–255), `probs` N×C×H×W; returns N×C×H×W
/// (the lattice computes in float, so the values are float-rounded for any T). W's features are
/// (x/σ_xy, y/σ_xy, R/σ_rgb, G/σ_rgb, B/σ_rgb); ops/cpu/permutohedral.hpp explains the
/// approximation and its scale. With `transposed`, Wᵀ·S (the lattice's W is not exactly symmetric).
/// A pixel the lattice cannot place (NaN, infinite, or a few 10^6·σ beyond [0, 255]) makes its
/// image's W·S NaN on the CPU, the whole batch's on CUDA (docs/guarantees.md).
template <Scalar T>
Tensor<T> crf_filter(const Tensor<T>& images, const Tensor<T>& probs, double sigma_rgb, double sigma_xy,
                     bool transposed = false) {
  check_rank(probs, 4, "crf_filter probabilities");
  check_rank(images, 4, "crf_filter images");
  FCAM_CHECK(images.size(0) == probs.size(0) && images.size(1) == 3 && images.size(2) == probs.size(2) &&
                 images.size(3) == probs.size(3),
             "crf_filter: images ", to_string(images.shape()), " do not match probabilities ",
             to_string(probs.shape()));
  FCAM_CHECK(sigma_rgb > 0 && sigma_xy > 0, "crf_filter: sigmas must be positive, got σ_rgb ", sigma_rgb,
             " and σ_xy ", sigma_xy);
  if (operand_device<T>("crf_filter", {&images, &probs}) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::crf_filter(images, probs, sigma_rgb, sigma_xy, transposed);
    else cuda::unavailable_for<T>("crf_filter");
  }
  return cpu::crf_filter(images, probs, sigma_rgb, sigma_xy, transposed);
}

}  // namespace fcam

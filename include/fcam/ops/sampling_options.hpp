/// \file
/// \brief The settings of F-CAM's pseudo-label sampling and the values of its labels, apart from
/// the CPU kernels so that the CUDA backend (compiled without OpenMP) can read them too.
#pragma once

#include <cstdint>

namespace fcam::sampling {

/// Label values of a pseudo-label map.
enum PixelLabel : std::uint8_t { background = 0, foreground = 1, unlabelled = 255 };

/// Settings of the sampling (the authors' CUB run: 1 + 1 pixels, 3×3 dilation).
struct SamplingOptions {
  std::int64_t n_foreground = 1;  ///< pixels sampled from the foreground candidates
  std::int64_t n_background = 1;  ///< pixels sampled from the background candidates
  double n_minus = 0.1;           ///< fraction of pixels (lowest CAM) that are background candidates
  std::int64_t erosion = 11;      ///< square erosion of the foreground candidates (1: none)
  std::int64_t dilation = 3;      ///< square dilation of each sampled pixel (1: none)
};

}  // namespace fcam::sampling

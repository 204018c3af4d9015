/// \file
/// \brief Pool2dGeometry: window, stride, padding and rounding of a 2-D max or average pooling.
#pragma once

#include <cstdint>

#include "fcam/core/error.hpp"

namespace fcam {

/// Window of a max or average pooling (dilation 1).
struct Pool2dGeometry {
  std::int64_t kernel = 2;          ///< square window size
  std::int64_t stride = 0;          ///< step; 0 means equal to the kernel (PyTorch's default)
  std::int64_t padding = 0;         ///< implicit padding on each side (at most kernel / 2)
  bool ceil_mode = false;           ///< round the output size up (PyTorch's rule)
  bool count_include_pad = true;    ///< average pooling: divide by the padded window size

  /// The effective stride.
  std::int64_t step() const { return stride == 0 ? kernel : stride; }

  /// Output size for input size `in`, PyTorch's pooling_output_shape. Throws on invalid settings.
  std::int64_t out_size(std::int64_t in) const {
    FCAM_CHECK(kernel >= 1 && step() >= 1 && padding >= 0, "pool2d: invalid kernel ", kernel, ", stride ", stride,
               ", padding ", padding);
    FCAM_CHECK(padding <= kernel / 2, "pool2d: padding ", padding, " must be at most half the kernel ", kernel);
    const std::int64_t s = step();
    const std::int64_t span = in + 2 * padding - kernel + (ceil_mode ? s - 1 : 0);
    std::int64_t out = (span >= 0 ? span / s : -((-span + s - 1) / s)) + 1;  // floor division
    if (ceil_mode && (out - 1) * s >= in + padding) --out;
    FCAM_CHECK(out >= 1, "pool2d: output would be empty for input size ", in);
    return out;
  }
};

}  // namespace fcam

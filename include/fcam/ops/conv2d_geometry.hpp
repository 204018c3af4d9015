/// \file
/// \brief Conv2dGeometry: kernel, stride, padding, dilation and groups of a 2-D convolution.
#pragma once

#include <cstdint>

#include "fcam/core/error.hpp"
#include "fcam/core/shape.hpp"

namespace fcam {

/// Hyper-parameters of a 2-D convolution (PyTorch's Conv2d arguments).
struct Conv2dGeometry {
  std::int64_t kernel_h = 1;   ///< kernel height
  std::int64_t kernel_w = 1;   ///< kernel width
  std::int64_t stride_h = 1;   ///< vertical stride
  std::int64_t stride_w = 1;   ///< horizontal stride
  std::int64_t pad_h = 0;      ///< zero padding above and below
  std::int64_t pad_w = 0;      ///< zero padding left and right
  std::int64_t dilation_h = 1; ///< vertical dilation
  std::int64_t dilation_w = 1; ///< horizontal dilation
  std::int64_t groups = 1;     ///< channel groups

  /// A square geometry: k×k kernel, stride s, padding p, dilation d, g groups.
  static Conv2dGeometry square(std::int64_t k, std::int64_t s = 1, std::int64_t p = 0, std::int64_t d = 1,
                               std::int64_t g = 1) {
    return {k, k, s, s, p, p, d, d, g};
  }

  /// Throws fcam::Error unless every value is in range.
  void validate() const {
    FCAM_CHECK(kernel_h >= 1 && kernel_w >= 1, "conv2d: kernel size must be >= 1, got ", kernel_h, "x", kernel_w);
    FCAM_CHECK(stride_h >= 1 && stride_w >= 1, "conv2d: stride must be >= 1, got ", stride_h, "x", stride_w);
    FCAM_CHECK(pad_h >= 0 && pad_w >= 0, "conv2d: padding must be >= 0, got ", pad_h, "x", pad_w);
    FCAM_CHECK(dilation_h >= 1 && dilation_w >= 1, "conv2d: dilation must be >= 1, got ", dilation_h, "x",
               dilation_w);
    FCAM_CHECK(groups >= 1, "conv2d: groups must be >= 1, got ", groups);
  }

  /// Output height for input height `h` (PyTorch's rule); throws when the result is empty.
  std::int64_t out_h(std::int64_t h) const { return out_size(h, kernel_h, stride_h, pad_h, dilation_h); }
  /// Output width for input width `w`.
  std::int64_t out_w(std::int64_t w) const { return out_size(w, kernel_w, stride_w, pad_w, dilation_w); }

  /// True for a 1×1 kernel with unit stride and no padding: a plain matrix product per image.
  bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
  }

private:
  static std::int64_t out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d) {
    const std::int64_t span = d * (k - 1) + 1;
    FCAM_CHECK(in + 2 * p >= span, "conv2d: input size ", in, " with padding ", p,
               " is smaller than the dilated kernel (", span, ")");
    return (in + 2 * p - span) / s + 1;
  }
};

}  // namespace fcam

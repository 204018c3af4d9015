/// \file
/// \brief im2col / col2im for one image and one channel group (the CPU convolution's lowering).
#pragma once

#include <algorithm>
#include <cstdint>

#include "fcam/ops/conv2d_geometry.hpp"

namespace fcam::cpu {

namespace detail {

/// Range [lo, hi) of output columns whose input column ow*s - p + kj*d lies in [0, width).
inline void valid_range(std::int64_t out, std::int64_t width, std::int64_t s, std::int64_t offset,
                        std::int64_t& lo, std::int64_t& hi) {
  // iw = ow*s + offset must satisfy 0 <= iw < width.
  lo = offset >= 0 ? 0 : (-offset + s - 1) / s;
  hi = width - offset <= 0 ? 0 : (width - offset + s - 1) / s;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
}

}  // namespace detail

/// Writes row `row` (channel c, kernel tap ki, kj) of the column matrix of output rows
/// [oh_begin, oh_end) of `image` (channels × h × w) into dst ((oh_end − oh_begin)·out_w values).
template <class T>
void im2col_row(const T* image, std::int64_t h, std::int64_t w, const Conv2dGeometry& g, std::int64_t out_w,
                std::int64_t oh_begin, std::int64_t oh_end, std::int64_t row, T* dst) {
  const std::int64_t kk = g.kernel_h * g.kernel_w;
  const std::int64_t c = row / kk, ki = (row % kk) / g.kernel_w, kj = row % g.kernel_w;
  const T* src_plane = image + c * h * w;
  std::int64_t lo, hi;
  const std::int64_t col_offset = kj * g.dilation_w - g.pad_w;
  detail::valid_range(out_w, w, g.stride_w, col_offset, lo, hi);
  for (std::int64_t oh = oh_begin; oh < oh_end; ++oh, dst += out_w) {
    const std::int64_t ih = oh * g.stride_h - g.pad_h + ki * g.dilation_h;
    if (ih < 0 || ih >= h) {
      std::fill(dst, dst + out_w, T(0));
      continue;
    }
    const T* src = src_plane + ih * w + col_offset;
    std::fill(dst, dst + lo, T(0));
    if (g.stride_w == 1) {
      std::copy(src + lo, src + hi, dst + lo);
    } else if (g.stride_w == 2) {  // a constant stride vectorises (loads and a shuffle); a variable one does not
      for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[2 * ow];
    } else {
      for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.stride_w];
    }
    std::fill(dst + hi, dst + out_w, T(0));
  }
}

/// Adds the full column matrix `cols` (all output rows) back into `image` (the adjoint of im2col)
/// for input channels [channel_begin, channel_end), so threads on disjoint channels never collide.
template <class T>
void col2im_add(const T* cols, std::int64_t h, std::int64_t w, const Conv2dGeometry& g, std::int64_t out_h,
                std::int64_t out_w, T* image, std::int64_t channel_begin, std::int64_t channel_end) {
  const std::int64_t kk = g.kernel_h * g.kernel_w;
  const std::int64_t plane = out_h * out_w;
  for (std::int64_t row = channel_begin * kk; row < channel_end * kk; ++row) {
    const std::int64_t c = row / kk, ki = (row % kk) / g.kernel_w, kj = row % g.kernel_w;
    T* dst_plane = image + c * h * w;
    const T* src = cols + row * plane;
    std::int64_t lo, hi;
    const std::int64_t col_offset = kj * g.dilation_w - g.pad_w;
    detail::valid_range(out_w, w, g.stride_w, col_offset, lo, hi);
    for (std::int64_t oh = 0; oh < out_h; ++oh, src += out_w) {
      const std::int64_t ih = oh * g.stride_h - g.pad_h + ki * g.dilation_h;
      if (ih < 0 || ih >= h) continue;
      T* dst = dst_plane + ih * w + col_offset;
      for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow * g.stride_w] += src[ow];
    }
  }
}

}  // namespace fcam::cpu

/// \file
/// \brief detail::LinearTaps: the source indices and weights of linear interpolation along one
/// axis (PyTorch's align_corners rules), shared by resize_bilinear and image preprocessing.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"

namespace fcam::detail {

/// For one axis: the two source indices and weights of each output position (PyTorch's rules).
template <Scalar T>
struct LinearTaps {
  std::vector<std::int64_t> i0, i1;
  std::vector<T> w0, w1;

  /// Taps from an axis of `in` samples; with `repeat` > 1 the axis is that of the input
  /// repeated `repeat` times (nearest upsampling), and the indices point into the input itself.
  LinearTaps(std::int64_t in, std::int64_t out, bool align_corners, std::int64_t repeat = 1)
      : i0(out), i1(out), w0(out), w1(out) {
    in *= repeat;
    // PyTorch computes the scale and source position in the tensor's own precision.
    const T scale = align_corners ? (out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0))
                                  : static_cast<T>(in) / static_cast<T>(out);
    for (std::int64_t o = 0; o < out; ++o) {
      T src = align_corners ? scale * static_cast<T>(o) : scale * (static_cast<T>(o) + T(0.5)) - T(0.5);
      if (src < T(0)) src = T(0);
      const std::int64_t lo = std::min(static_cast<std::int64_t>(src), in - 1);
      const std::size_t k = static_cast<std::size_t>(o);
      i0[k] = lo / repeat;
      i1[k] = (lo + (lo < in - 1 ? 1 : 0)) / repeat;
      w1[k] = src - static_cast<T>(lo);
      w0[k] = T(1) - w1[k];
    }
  }
};

}  // namespace fcam::detail

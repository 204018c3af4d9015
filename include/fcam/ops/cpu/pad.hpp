/// \file
/// \brief CPU kernel of the padding ops (ops/pad.hpp): a shifted window of each plane.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"

namespace fcam::cpu {

/// y (N×C×out_h×out_w) with y[n, c, i, j] = x[n, c, i + off_h, j + off_w] where that lies inside
/// x, else 0: padding for negative offsets, cropping for positive ones.
template <Scalar T>
Tensor<T> copy_window(const Tensor<T>& x, std::int64_t out_h, std::int64_t out_w, std::int64_t off_h,
                      std::int64_t off_w) {
  const std::int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  Tensor<T> y = Tensor<T>::uninitialized({x.size(0), x.size(1), out_h, out_w});
  // The columns of each output row that read x: [j0, j1).
  const std::int64_t j0 = std::clamp<std::int64_t>(-off_w, 0, out_w), j1 = std::clamp<std::int64_t>(w - off_w, j0, out_w);
  parallel_items(planes, [&](std::int64_t p) {
    const T* src = x.data() + p * h * w;
    T* dst = y.data() + p * out_h * out_w;
    for (std::int64_t i = 0; i < out_h; ++i, dst += out_w) {
      const std::int64_t row = i + off_h;
      if (row < 0 || row >= h) {
        std::fill(dst, dst + out_w, T(0));
        continue;
      }
      std::fill(dst, dst + j0, T(0));
      std::copy(src + row * w + j0 + off_w, src + row * w + j1 + off_w, dst + j0);
      std::fill(dst + j1, dst + out_w, T(0));
    }
  });
  return y;
}

}  // namespace fcam::cpu

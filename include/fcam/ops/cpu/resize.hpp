/// \file
/// \brief CPU kernels of nearest upsampling and bilinear resizing and their gradients (contracts
/// in fcam/ops/resize.hpp).
///
/// Every kernel works plane by plane (one image and channel), the planes spread over the threads
/// for large tensors, so the gradients' scattered additions never race.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/linear_taps.hpp"

namespace fcam::cpu {

/// N×C×H×W → N×C×kH×kW, each value repeated over a k×k block.
template <Scalar T>
Tensor<T> upsample_nearest(const Tensor<T>& x, std::int64_t factor) {
  const std::int64_t h = x.size(2), w = x.size(3), oh = h * factor, ow = w * factor;
  auto y = Tensor<T>::uninitialized({x.size(0), x.size(1), oh, ow});
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (y.numel() > (1 << 15))
  for (std::int64_t p = 0; p < x.size(0) * x.size(1); ++p) {
    const T* in = x.data() + p * h * w;
    T* out = y.data() + p * oh * ow;
    for (std::int64_t i = 0; i < h; ++i) {  // widen input row i once, then repeat it
      T* first = out + i * factor * ow;
      const T* row = in + i * w;
      if (factor == 2) {  // the decoders' factor, as a loop the compiler vectorises
        for (std::int64_t j = 0; j < w; ++j) first[2 * j] = first[2 * j + 1] = row[j];
      } else {
        for (std::int64_t j = 0; j < w; ++j)
          for (std::int64_t c = 0; c < factor; ++c) first[j * factor + c] = row[j];
      }
      for (std::int64_t r = 1; r < factor; ++r) std::copy(first, first + ow, first + r * ow);
    }
  }
  return y;
}

/// Each input sums its k×k block of output gradients.
template <Scalar T>
Tensor<T> upsample_nearest_backward(const Tensor<T>& grad_y, std::int64_t factor) {
  const std::int64_t oh = grad_y.size(2), ow = grad_y.size(3), h = oh / factor, w = ow / factor;
  auto grad_x = Tensor<T>::uninitialized({grad_y.size(0), grad_y.size(1), h, w});  // every row zeroed below
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (grad_y.numel() > (1 << 15))
  for (std::int64_t p = 0; p < grad_y.size(0) * grad_y.size(1); ++p) {
    const T* dy = grad_y.data() + p * oh * ow;
    T* dx = grad_x.data() + p * h * w;
    // Each input adds its block's gradients in scan order (block rows, then columns), from zero.
    for (std::int64_t i = 0; i < h; ++i) {
      T* row = dx + i * w;
      std::fill(row, row + w, T(0));
      for (std::int64_t r = 0; r < factor; ++r) {
        const T* src = dy + (i * factor + r) * ow;
        for (std::int64_t j = 0; j < w; ++j)
          for (std::int64_t c = 0; c < factor; ++c) row[j] += src[j * factor + c];
      }
    }
  }
  return grad_x;
}

/// Bilinear resize of x (of upsample_nearest(x, upsampled) when upsampled > 1) to out_h×out_w.
template <Scalar T>
Tensor<T> resize_bilinear(const Tensor<T>& x, std::int64_t out_h, std::int64_t out_w, bool align_corners,
                          std::int64_t upsampled) {
  const std::int64_t h = x.size(2), w = x.size(3);
  const fcam::detail::LinearTaps<T> ty(h, out_h, align_corners, upsampled), tx(w, out_w, align_corners, upsampled);
  auto y = Tensor<T>::uninitialized({x.size(0), x.size(1), out_h, out_w});
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (y.numel() > (1 << 15))
  for (std::int64_t p = 0; p < x.size(0) * x.size(1); ++p) {
    const T* in = x.data() + p * h * w;
    T* out = y.data() + p * out_h * out_w;
    for (std::int64_t i = 0; i < out_h; ++i) {
      const auto a = static_cast<std::size_t>(i);
      const T* r0 = in + ty.i0[a] * w;
      const T* r1 = in + ty.i1[a] * w;
      for (std::int64_t j = 0; j < out_w; ++j) {
        const auto b = static_cast<std::size_t>(j);
        out[i * out_w + j] = ty.w0[a] * (tx.w0[b] * r0[tx.i0[b]] + tx.w1[b] * r0[tx.i1[b]]) +
                             ty.w1[a] * (tx.w0[b] * r1[tx.i0[b]] + tx.w1[b] * r1[tx.i1[b]]);
      }
    }
  }
  return y;
}

/// Gradient of resize_bilinear: each output gradient split over its four taps.
template <Scalar T>
Tensor<T> resize_bilinear_backward(const Shape& input_shape, const Tensor<T>& grad_y, bool align_corners,
                                   std::int64_t upsampled) {
  const std::int64_t h = input_shape[2], w = input_shape[3], out_h = grad_y.size(2), out_w = grad_y.size(3);
  const fcam::detail::LinearTaps<T> ty(h, out_h, align_corners, upsampled), tx(w, out_w, align_corners, upsampled);
  Tensor<T> grad_x(input_shape);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (grad_y.numel() > (1 << 15))
  for (std::int64_t p = 0; p < input_shape[0] * input_shape[1]; ++p) {
    const T* dy = grad_y.data() + p * out_h * out_w;
    T* dx = grad_x.data() + p * h * w;
    for (std::int64_t i = 0; i < out_h; ++i) {
      const auto a = static_cast<std::size_t>(i);
      T* r0 = dx + ty.i0[a] * w;
      T* r1 = dx + ty.i1[a] * w;
      for (std::int64_t j = 0; j < out_w; ++j) {
        const auto b = static_cast<std::size_t>(j);
        const T g = dy[i * out_w + j];
        r0[tx.i0[b]] += ty.w0[a] * tx.w0[b] * g;
        r0[tx.i1[b]] += ty.w0[a] * tx.w1[b] * g;
        r1[tx.i0[b]] += ty.w1[a] * tx.w0[b] * g;
        r1[tx.i1[b]] += ty.w1[a] * tx.w1[b] * g;
      }
    }
  }
  return grad_x;
}

}  // namespace fcam::cpu

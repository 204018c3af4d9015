/// \file
/// \brief Nearest ×k upsampling and bilinear resizing to a size (PyTorch's align_corners rules), with gradients.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"

namespace fcam {

/// Nearest-neighbour upsampling by an integer factor: N×C×H×W → N×C×kH×kW.
template <Scalar T>
Tensor<T> upsample_nearest(const Tensor<T>& x, std::int64_t factor) {
  x.require_cpu("upsample_nearest");
  check_rank(x, 4, "upsample_nearest input");
  FCAM_CHECK(factor >= 1, "upsample_nearest: factor must be >= 1, got ", factor);
  const std::int64_t h = x.size(2), w = x.size(3), oh = h * factor, ow = w * factor;
  auto y = Tensor<T>::uninitialized({x.size(0), x.size(1), oh, ow});
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (y.numel() > (1 << 15))
  for (std::int64_t p = 0; p < x.size(0) * x.size(1); ++p) {
    const T* in = x.data() + p * h * w;
    T* out = y.data() + p * oh * ow;
    for (std::int64_t i = 0; i < h; ++i) {  // widen input row i once, then repeat it
      T* first = out + i * factor * ow;
      for (std::int64_t j = 0; j < w; ++j) std::fill(first + j * factor, first + (j + 1) * factor, in[i * w + j]);
      for (std::int64_t r = 1; r < factor; ++r) std::copy(first, first + ow, first + r * ow);
    }
  }
  return y;
}

/// Gradient of upsample_nearest: each input sums its k×k block of output gradients.
template <Scalar T>
Tensor<T> upsample_nearest_backward(const Tensor<T>& grad_y, std::int64_t factor) {
  grad_y.require_cpu("upsample_nearest_backward");
  check_rank(grad_y, 4, "upsample_nearest_backward gradient");
  FCAM_CHECK(factor >= 1 && grad_y.size(2) % factor == 0 && grad_y.size(3) % factor == 0,
             "upsample_nearest_backward: gradient shape ", to_string(grad_y.shape()), " is not a multiple of ", factor);
  const std::int64_t oh = grad_y.size(2), ow = grad_y.size(3), h = oh / factor, w = ow / factor;
  Tensor<T> grad_x({grad_y.size(0), grad_y.size(1), h, w});
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (grad_y.numel() > (1 << 15))
  for (std::int64_t p = 0; p < grad_y.size(0) * grad_y.size(1); ++p) {
    const T* dy = grad_y.data() + p * oh * ow;
    T* dx = grad_x.data() + p * h * w;
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j) dx[(i / factor) * w + j / factor] += dy[i * ow + j];
  }
  return grad_x;
}

namespace detail {

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

}  // namespace detail

/// Bilinear resize of N×C×H×W to N×C×out_h×out_w, PyTorch's interpolate(mode="bilinear").
/// With `upsampled` = f > 1 it resizes upsample_nearest(x, f) instead, with the same result bit
/// for bit but without making the f²-times larger intermediate (the F-CAM decoder's ×2 then
/// resize to the skip's size).
template <Scalar T>
Tensor<T> resize_bilinear(const Tensor<T>& x, std::int64_t out_h, std::int64_t out_w, bool align_corners,
                          std::int64_t upsampled = 1) {
  x.require_cpu("resize_bilinear");
  check_rank(x, 4, "resize_bilinear input");
  FCAM_CHECK(out_h >= 1 && out_w >= 1, "resize_bilinear: output size must be positive, got ", out_h, "x", out_w);
  FCAM_CHECK(upsampled >= 1, "resize_bilinear: upsampling factor must be >= 1, got ", upsampled);
  const std::int64_t h = x.size(2), w = x.size(3);
  const detail::LinearTaps<T> ty(h, out_h, align_corners, upsampled), tx(w, out_w, align_corners, upsampled);
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

/// Gradient of resize_bilinear (same `upsampled`) for an input of `input_shape`.
template <Scalar T>
Tensor<T> resize_bilinear_backward(const Shape& input_shape, const Tensor<T>& grad_y, bool align_corners,
                                   std::int64_t upsampled = 1) {
  grad_y.require_cpu("resize_bilinear_backward");
  check_rank(grad_y, 4, "resize_bilinear_backward gradient");
  const std::int64_t h = input_shape[2], w = input_shape[3], out_h = grad_y.size(2), out_w = grad_y.size(3);
  FCAM_CHECK(grad_y.size(0) == input_shape[0] && grad_y.size(1) == input_shape[1],
             "resize_bilinear_backward: gradient shape ", to_string(grad_y.shape()), " does not match input ",
             to_string(input_shape));
  FCAM_CHECK(upsampled >= 1, "resize_bilinear_backward: upsampling factor must be >= 1, got ", upsampled);
  const detail::LinearTaps<T> ty(h, out_h, align_corners, upsampled), tx(w, out_w, align_corners, upsampled);
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

}  // namespace fcam

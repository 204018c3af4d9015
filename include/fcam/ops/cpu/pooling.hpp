/// \file
/// \brief CPU kernels of max, average and global-average pooling and their gradients (contracts
/// in fcam/ops/pooling.hpp).
///
/// Every kernel works plane by plane (one image and channel), the planes spread over the threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <omp.h>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/pool2d_geometry.hpp"

namespace fcam::cpu {

/// Max pooling of x (N×C×H×W): returns the N×C×H'×W' maxima (padding counts as −∞, the first
/// maximum in scan order wins, NaN wins) and, when `argmax` is non-null, fills it with the flat
/// index (h·W + w) of each output's maximum in its plane.
template <Scalar T>
Tensor<T> max_pool2d(const Tensor<T>& x, const Pool2dGeometry& g, std::vector<std::int64_t>* argmax) {
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const std::int64_t oh = g.out_size(h), ow = g.out_size(w), s = g.step();
  Tensor<T> output = Tensor<T>::uninitialized({n, c, oh, ow});
  if (argmax) argmax->resize(static_cast<std::size_t>(n * c * oh * ow));
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (std::int64_t plane = 0; plane < n * c; ++plane) {
    const T* in = x.data() + plane * h * w;
    T* out = output.data() + plane * oh * ow;
    std::int64_t* idx = argmax ? argmax->data() + plane * oh * ow : nullptr;
    for (std::int64_t i = 0; i < oh; ++i) {
      const std::int64_t h0 = std::max<std::int64_t>(i * s - g.padding, 0);
      const std::int64_t h1 = std::min(i * s - g.padding + g.kernel, h);
      for (std::int64_t j = 0; j < ow; ++j) {
        const std::int64_t w0 = std::max<std::int64_t>(j * s - g.padding, 0);
        const std::int64_t w1 = std::min(j * s - g.padding + g.kernel, w);
        T best = -std::numeric_limits<T>::infinity();
        std::int64_t best_index = h0 * w + w0;
        for (std::int64_t y = h0; y < h1; ++y)
          for (std::int64_t xx = w0; xx < w1; ++xx) {
            const T v = in[y * w + xx];
            if (v > best || std::isnan(v)) {
              best = v;
              best_index = y * w + xx;
            }
          }
        out[i * ow + j] = best;
        if (idx) idx[i * ow + j] = best_index;
      }
    }
  }
  return output;
}

/// Gradient of max_pool2d: each output gradient is added at its maximum's position.
template <Scalar T>
Tensor<T> max_pool2d_backward(const Shape& input_shape, const std::vector<std::int64_t>& argmax,
                              const Tensor<T>& grad_y) {
  Tensor<T> grad_x(input_shape);
  const std::int64_t planes = input_shape[0] * input_shape[1], in_plane = input_shape[2] * input_shape[3];
  const std::int64_t out_plane = grad_y.size(2) * grad_y.size(3);
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t i = 0; i < out_plane; ++i)
      grad_x.data()[p * in_plane + argmax[static_cast<std::size_t>(p * out_plane + i)]] += grad_y.data()[p * out_plane + i];
  return grad_x;
}

namespace detail {

/// Walks the windows of an average pooling (PyTorch's window clipping and divisor rules) one
/// output row at a time, in output order: edge(out_index, h0, h1, w0, w1, divisor) for each window
/// clipped at the left or right border, and inner(i, h0, h1, j0, j1, divisor) once per row for its
/// columns [j0, j1), whose windows are whole horizontally (w0 = j·step − padding, width = kernel).
/// The inner run lets the kernels below vectorise across output columns.
template <class Edge, class Inner>
void for_each_avg_row(std::int64_t h, std::int64_t w, const Pool2dGeometry& g, Edge&& edge, Inner&& inner) {
  const std::int64_t oh = g.out_size(h), ow = g.out_size(w), s = g.step(), k = g.kernel, pad = g.padding;
  const std::int64_t j0 = std::min((pad + s - 1) / s, ow);
  const std::int64_t j1 = w + pad - k < 0 ? j0 : std::clamp((w + pad - k) / s + 1, j0, ow);
  for (std::int64_t i = 0; i < oh; ++i) {
    const std::int64_t h0_padded = i * s - pad, h1_padded = std::min(h0_padded + k, h + pad);
    const std::int64_t h0 = std::max<std::int64_t>(h0_padded, 0), h1 = std::min(h1_padded, h);
    auto edge_window = [&](std::int64_t j) {
      std::int64_t w0 = j * s - pad, w1 = std::min(w0 + k, w + pad);
      const std::int64_t padded = (h1_padded - h0_padded) * (w1 - w0);
      w0 = std::max<std::int64_t>(w0, 0), w1 = std::min(w1, w);
      edge(i * ow + j, h0, h1, w0, w1, g.count_include_pad ? padded : (h1 - h0) * (w1 - w0));
    };
    for (std::int64_t j = 0; j < j0; ++j) edge_window(j);
    if (j0 < j1) inner(i, h0, h1, j0, j1, (g.count_include_pad ? h1_padded - h0_padded : h1 - h0) * k);
    for (std::int64_t j = j1; j < ow; ++j) edge_window(j);
  }
}

}  // namespace detail

/// Average pooling of x (N×C×H×W); an empty window (divisor 0) gives 0. Each window is summed
/// row by row from zero, the same additions in the same order on the vectorised inner columns
/// as on the clipped edge windows.
template <Scalar T>
Tensor<T> avg_pool2d(const Tensor<T>& x, const Pool2dGeometry& g) {
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const std::int64_t oh = g.out_size(h), ow = g.out_size(w), s = g.step(), pad = g.padding;
  auto y = Tensor<T>::uninitialized({n, c, oh, ow});  // every window written
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (std::int64_t p = 0; p < n * c; ++p) {
    const T* in = x.data() + p * h * w;
    T* out = y.data() + p * oh * ow;
    detail::for_each_avg_row(
        h, w, g,
        [&](std::int64_t o, std::int64_t h0, std::int64_t h1, std::int64_t w0, std::int64_t w1,
            std::int64_t divisor) {
          T sum = 0;
          for (std::int64_t yy = h0; yy < h1; ++yy)
            for (std::int64_t xx = w0; xx < w1; ++xx) sum += in[yy * w + xx];
          out[o] = divisor > 0 ? sum / static_cast<T>(divisor) : T(0);
        },
        [&](std::int64_t i, std::int64_t h0, std::int64_t h1, std::int64_t j0, std::int64_t j1,
            std::int64_t divisor) {
          T* sum = out + i * ow;
          std::fill(sum + j0, sum + j1, T(0));
          for (std::int64_t yy = h0; yy < h1; ++yy)
            for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
              const T* row = in + yy * w;
              const std::int64_t shift = kx - pad;  // column of output j's tap: j·s + shift >= 0
              if (s == 1) {
                for (std::int64_t j = j0; j < j1; ++j) sum[j] += row[j + shift];
              } else {
                for (std::int64_t j = j0; j < j1; ++j) sum[j] += row[j * s + shift];
              }
            }
          for (std::int64_t j = j0; j < j1; ++j) sum[j] = divisor > 0 ? sum[j] / static_cast<T>(divisor) : T(0);
        });
  }
  return y;
}

/// Gradient of avg_pool2d: each output gradient shared equally over its window. Every input
/// gradient receives its shares in output order, on the inner columns too (their taps run right
/// to left, so the output columns reaching one input run left to right).
template <Scalar T>
Tensor<T> avg_pool2d_backward(const Shape& input_shape, const Pool2dGeometry& g, const Tensor<T>& grad_y) {
  const std::int64_t h = input_shape[2], w = input_shape[3], s = g.step(), pad = g.padding;
  Tensor<T> grad_x(input_shape);
  const std::int64_t ow = grad_y.size(3), out_plane = grad_y.size(2) * ow;
  const int threads = num_threads();
  std::vector<T> shares_of_threads(static_cast<std::size_t>(threads * ow));  // one row per thread
#pragma omp parallel num_threads(threads)
  {
    T* shares = shares_of_threads.data() + omp_get_thread_num() * ow;
#pragma omp for schedule(static)
    for (std::int64_t p = 0; p < input_shape[0] * input_shape[1]; ++p) {
      T* dx = grad_x.data() + p * h * w;
      const T* dy = grad_y.data() + p * out_plane;
      detail::for_each_avg_row(
          h, w, g,
          [&](std::int64_t o, std::int64_t h0, std::int64_t h1, std::int64_t w0, std::int64_t w1,
              std::int64_t divisor) {
            if (divisor == 0) return;
            const T share = dy[o] / static_cast<T>(divisor);
            for (std::int64_t yy = h0; yy < h1; ++yy)
              for (std::int64_t xx = w0; xx < w1; ++xx) dx[yy * w + xx] += share;
          },
          [&](std::int64_t i, std::int64_t h0, std::int64_t h1, std::int64_t j0, std::int64_t j1,
              std::int64_t divisor) {
            if (divisor == 0) return;
            T* share = shares;
            for (std::int64_t j = j0; j < j1; ++j) share[j] = dy[i * ow + j] / static_cast<T>(divisor);
            for (std::int64_t yy = h0; yy < h1; ++yy)
              for (std::int64_t kx = g.kernel - 1; kx >= 0; --kx) {
                T* row = dx + yy * w;
                const std::int64_t shift = kx - pad;
                if (s == 1) {
                  for (std::int64_t j = j0; j < j1; ++j) row[j + shift] += share[j];
                } else {
                  for (std::int64_t j = j0; j < j1; ++j) row[j * s + shift] += share[j];
                }
              }
          });
    }
  }
  return grad_x;
}

/// Mean over H and W: N×C×H×W → N×C.
template <Scalar T>
Tensor<T> global_avg_pool(const Tensor<T>& x) {
  const std::int64_t planes = x.size(0) * x.size(1), plane = x.size(2) * x.size(3);
  auto y = Tensor<T>::uninitialized({x.size(0), x.size(1)});  // every plane written
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (x.numel() > (1 << 15))
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* in = x.data() + p * plane;
    T sum = 0;
    for (std::int64_t i = 0; i < plane; ++i) sum += in[i];
    y.data()[p] = sum / static_cast<T>(plane);
  }
  return y;
}

/// Gradient of global_avg_pool: each input gets grad / (H·W).
template <Scalar T>
Tensor<T> global_avg_pool_backward(const Shape& input_shape, const Tensor<T>& grad_y) {
  Tensor<T> grad_x(input_shape);
  const std::int64_t plane = input_shape[2] * input_shape[3];
  for (std::int64_t p = 0; p < grad_y.numel(); ++p)
    std::fill(grad_x.data() + p * plane, grad_x.data() + (p + 1) * plane, grad_y.data()[p] / static_cast<T>(plane));
  return grad_x;
}

}  // namespace fcam::cpu

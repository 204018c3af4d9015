/// \file
/// \brief Pieces shared by the CPU convolution kernels (conv2d.hpp's GEMM paths and
/// depthwise_conv2d.hpp's direct one): the epilogue of an inference convolution, the sizes of a
/// call, and the zero-padded, stride-phase-split layout both forwards read their input in.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/conv2d_geometry.hpp"

namespace fcam::cpu {

/// What the forward applies to each output value v of channel o, in the pass that writes it:
/// v·scale[o] + shift[o] (scale null: 1; shift null: 0), plus the element of `residual` at the
/// same place (a tensor shaped like the output; null: none), then max(·, 0) when `relu`. A conv
/// bias is a shift; BatchNorm with running statistics is a scale and a shift; a ResNet block's
/// "+ shortcut, ReLU" is the residual and relu.
template <class T>
struct ConvEpilogue {
  const T* scale = nullptr;     ///< per output channel, or null
  const T* shift = nullptr;     ///< per output channel, or null
  const T* residual = nullptr;  ///< N×O×H'×W', or null
  bool relu = false;            ///< clamp at zero last
  T relu_max = std::numeric_limits<T>::infinity();  ///< with relu, also clamp at this value (ReLU6: 6)

  /// True when the epilogue changes nothing.
  bool identity() const { return !scale && !shift && !residual && !relu; }
};

namespace detail {

/// Sizes shared by the forward and backward passes.
struct ConvSizes {
  std::int64_t n, c_in, h, w, c_out, out_h, out_w, cin_g, cout_g, k, p;
};

template <class T>
ConvSizes conv_sizes(const Tensor<T>& x, std::int64_t c_out, const Conv2dGeometry& g) {
  ConvSizes s{};
  s.n = x.size(0), s.c_in = x.size(1), s.h = x.size(2), s.w = x.size(3);
  s.c_out = c_out;
  s.out_h = g.out_h(s.h), s.out_w = g.out_w(s.w);
  s.cin_g = s.c_in / g.groups, s.cout_g = s.c_out / g.groups;
  s.k = s.cin_g * g.kernel_h * g.kernel_w;
  s.p = s.out_h * s.out_w;
  return s;
}

/// Writes to[i] = epilogue(from[i]) for `count` values of output channel o (from may equal
/// to); `residual` points at the residual values of the same places (null: none).
template <class T>
void epilogue_row(const ConvEpilogue<T>& e, std::int64_t o, const T* from, T* to, const T* residual,
                  std::int64_t count) {
  const T scale = e.scale ? e.scale[o] : T(1), shift = e.shift ? e.shift[o] : T(0), cap = e.relu_max;
  // One branch-free loop per case, so that each vectorises.
  auto run = [&](auto with_residual, auto with_relu) {
    for (std::int64_t i = 0; i < count; ++i) {
      T v = from[i] * scale + shift;
      if constexpr (decltype(with_residual)::value) v += residual[i];
      // min(·, ∞) changes nothing, so ReLU and ReLU6 share this loop.
      if constexpr (decltype(with_relu)::value) v = std::min(std::max(v, T(0)), cap);
      to[i] = v;
    }
  };
  using yes = std::true_type;
  using no = std::false_type;
  if (residual) e.relu ? run(yes{}, yes{}) : run(yes{}, no{});
  else e.relu ? run(no{}, yes{}) : run(no{}, no{});
}

/// Geometry of the in-place path: the zero-padded input (Hp×Wp) of each channel is split into
/// stride_h×stride_w phase planes of Hq×Wq (phase (a, b) holds padded pixels (r·sh + a, q·sw + b)).
/// With stride_w = 1 the rows share their horizontal padding: each row is stored as pw zeros
/// followed by its W values, pitch Wq = W + pw, and a row's right padding is read from the next
/// row's leading zeros. That halves the junk columns (3×3, pad 1: 1 per row instead of 2). It
/// needs pw <= (kw−1)·dw: a wider padding makes the output wider than W + pw.
struct PhaseLayout {
  std::int64_t hq, wq;     ///< phase plane size
  std::int64_t plane;      ///< elements per channel (all phases)
  std::int64_t junk_cols;  ///< Wq − Wo: columns computed per output row and dropped
  bool shared_gap;         ///< rows share their horizontal padding (stride_w = 1, pw <= reach)

  PhaseLayout(const ConvSizes& s, const Conv2dGeometry& g) {
    const std::int64_t hp = s.h + 2 * g.pad_h;
    hq = (hp + g.stride_h - 1) / g.stride_h;
    shared_gap = g.stride_w == 1 && g.pad_w <= (g.kernel_w - 1) * g.dilation_w;
    wq = shared_gap ? s.w + g.pad_w : (s.w + 2 * g.pad_w + g.stride_w - 1) / g.stride_w;
    plane = g.stride_h * g.stride_w * hq * wq;
    junk_cols = wq - s.out_w;
  }
};

/// Writes one channel plane (h × w) zero-padded and split into its stride phases (PhaseLayout).
template <class T>
void split_phases(const T* in, const ConvSizes& s, const Conv2dGeometry& g, const PhaseLayout& L, T* out) {
  for (std::int64_t a = 0; a < g.stride_h; ++a)
    for (std::int64_t b = 0; b < g.stride_w; ++b)
      for (std::int64_t r = 0; r < L.hq; ++r) {
        T* row = out + ((a * g.stride_w + b) * L.hq + r) * L.wq;
        const std::int64_t ih = r * g.stride_h + a - g.pad_h;
        if (ih < 0 || ih >= s.h) {
          std::fill(row, row + L.wq, T(0));
        } else if (L.shared_gap) {  // pw zeros, then the row; the right padding is the next row's gap
          std::fill(row, row + g.pad_w, T(0));
          std::copy(in + ih * s.w, in + (ih + 1) * s.w, row + g.pad_w);
        } else {
          for (std::int64_t q = 0; q < L.wq; ++q) {
            const std::int64_t iw = q * g.stride_w + b - g.pad_w;
            row[q] = (iw >= 0 && iw < s.w) ? in[ih * s.w + iw] : T(0);
          }
        }
      }
}

}  // namespace detail

}  // namespace fcam::cpu

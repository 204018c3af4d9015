/// \file
/// \brief CPU 2-D convolution, forward and backward: tiled im2col + Eigen GEMM, a direct GEMM for 1×1.
///
/// Work is cut into tiles of whole output rows of one image and one group, sized so that a
/// tile's column buffer stays in cache; the tiles of all images are spread over the threads and
/// each runs a single-threaded Eigen product, so batch 1 uses every core as well as batch 8.
/// The input gradient of a stride-1 convolution is itself a stride-1 convolution of the output
/// gradient with the flipped, transposed kernel, and reuses the forward path; strided
/// convolutions fall back to a col2im scatter.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/conv2d_geometry.hpp"
#include "fcam/ops/cpu/im2col.hpp"

namespace fcam::cpu {

namespace detail {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <class T>
using MutMatrixMap = Eigen::Map<RowMatrix<T>>;
/// A column block of a row-major matrix whose rows are `stride` elements apart.
template <class T>
using ConstStridedMap = Eigen::Map<const RowMatrix<T>, 0, Eigen::OuterStride<>>;
template <class T>
using MutStridedMap = Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>>;

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

/// How the output rows of each (image, group) are cut into tiles, and whether tiles run on
/// separate threads (each with a single-threaded product) or one after another (each product
/// using Eigen's threads), whichever keeps the cores evenly busy.
struct Tiling {
  std::int64_t rows;       ///< output rows per tile
  std::int64_t per_image;  ///< tiles per (image, group)
  std::int64_t items;      ///< tiles in total
  bool parallel_tiles;     ///< true: tiles spread over threads
  int workers;             ///< threads that own scratch buffers

  Tiling(const ConvSizes& s, std::int64_t groups, bool pointwise, int threads) {
    // A column buffer of about 256K elements (1 MB in float) stays in L2 while GEMM reads it.
    constexpr std::int64_t cache_elems = 1 << 18;
    // At least ~256 columns per product, so that packing the kernel matrix is amortised.
    constexpr std::int64_t min_cols = 256;
    std::int64_t r = pointwise ? s.out_h : std::max<std::int64_t>(1, cache_elems / std::max<std::int64_t>(s.k * s.out_w, 1));
    const std::int64_t planes = s.n * groups;
    const std::int64_t wanted = (2 * threads + planes - 1) / planes;  // tiles per plane for two per thread
    if (wanted > 1) r = std::min(r, std::max<std::int64_t>(1, s.out_h / wanted));
    r = std::max(r, std::min(s.out_h, (min_cols + s.out_w - 1) / s.out_w));
    rows = std::min(r, s.out_h);
    per_image = (s.out_h + rows - 1) / rows;
    items = planes * per_image;
    parallel_tiles = threads > 1 && items >= 2 * threads;
    workers = parallel_tiles ? threads : 1;
  }
};

/// Runs fn(item, worker) for every tile, on separate threads or sequentially as `t` says.
template <class F>
void for_each_tile(const Tiling& t, F&& fn) {
  if (t.parallel_tiles) {
#pragma omp parallel for num_threads(t.workers) schedule(dynamic, 1)
    for (std::int64_t item = 0; item < t.items; ++item) fn(item, static_cast<std::size_t>(omp_get_thread_num()));
  } else {
    for (std::int64_t item = 0; item < t.items; ++item) fn(item, std::size_t{0});
  }
}

/// One tile: image n, group grp, output rows [oh0, oh1).
struct TileIndex {
  std::int64_t n, grp, oh0, oh1;
};

inline TileIndex tile_at(std::int64_t item, const Tiling& t, std::int64_t groups, std::int64_t out_h) {
  const std::int64_t plane = item / t.per_image, tile = item % t.per_image;
  const std::int64_t oh0 = tile * t.rows;
  return {plane / groups, plane % groups, oh0, std::min(oh0 + t.rows, out_h)};
}

}  // namespace detail

/// y = conv(x, weight) + bias. x: N×C×H×W, weight: O×(C/groups)×kh×kw, bias: O or undefined.
template <class T>
void conv2d_forward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias, const Conv2dGeometry& g,
                    Tensor<T>& y) {
  using namespace detail;
  const ConvSizes s = conv_sizes(x, weight.size(0), g);
  const int threads = num_threads();
  const bool pointwise = g.is_pointwise();
  const Tiling tiling(s, g.groups, pointwise, threads);
  const std::size_t buffer = pointwise ? 0 : static_cast<std::size_t>(s.k * tiling.rows * s.out_w);
  std::vector<std::vector<T>> scratch(static_cast<std::size_t>(tiling.workers), std::vector<T>(buffer));

  for_each_tile(tiling, [&](std::int64_t item, std::size_t worker) {
    const TileIndex t = tile_at(item, tiling, g.groups, s.out_h);
    const std::int64_t p0 = t.oh0 * s.out_w, cols = (t.oh1 - t.oh0) * s.out_w;
    const T* image = x.data() + (t.n * s.c_in + t.grp * s.cin_g) * s.h * s.w;
    ConstMatrixMap<T> w_g(weight.data() + t.grp * s.cout_g * s.k, s.cout_g, s.k);
    MutStridedMap<T> y_tile(y.data() + (t.n * s.c_out + t.grp * s.cout_g) * s.p + p0, s.cout_g, cols,
                            Eigen::OuterStride<>(s.p));
    if (pointwise) {
      y_tile.noalias() = w_g * ConstStridedMap<T>(image + p0, s.cin_g, cols, Eigen::OuterStride<>(s.h * s.w));
    } else {
      T* buf = scratch[worker].data();
      im2col(image, s.cin_g, s.h, s.w, g, s.out_w, t.oh0, t.oh1, buf);
      y_tile.noalias() = w_g * ConstMatrixMap<T>(buf, s.k, cols);
    }
    if (bias.defined())
      y_tile.colwise() += Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(bias.data() + t.grp * s.cout_g, s.cout_g);
  });
}

namespace detail {

/// dL/dweight (added into grad_weight): per-thread accumulators over tiles, summed at the end.
template <class T>
void conv2d_weight_grad(const Tensor<T>& x, const Tensor<T>& grad_y, const Conv2dGeometry& g, const ConvSizes& s,
                        T* grad_weight) {
  const int threads = num_threads();
  const bool pointwise = g.is_pointwise();
  const Tiling tiling(s, g.groups, pointwise, threads);
  const std::size_t buffer = pointwise ? 0 : static_cast<std::size_t>(s.k * tiling.rows * s.out_w);
  std::vector<std::vector<T>> scratch(static_cast<std::size_t>(tiling.workers), std::vector<T>(buffer));
  std::vector<RowMatrix<T>> partial(static_cast<std::size_t>(tiling.workers), RowMatrix<T>::Zero(s.c_out, s.k));

  for_each_tile(tiling, [&](std::int64_t item, std::size_t me) {
    const TileIndex t = tile_at(item, tiling, g.groups, s.out_h);
    const std::int64_t p0 = t.oh0 * s.out_w, cols = (t.oh1 - t.oh0) * s.out_w;
    const T* image = x.data() + (t.n * s.c_in + t.grp * s.cin_g) * s.h * s.w;
    ConstStridedMap<T> dy_tile(grad_y.data() + (t.n * s.c_out + t.grp * s.cout_g) * s.p + p0, s.cout_g, cols,
                               Eigen::OuterStride<>(s.p));
    auto dw_g = partial[me].middleRows(t.grp * s.cout_g, s.cout_g);
    if (pointwise) {
      dw_g.noalias() += dy_tile * ConstStridedMap<T>(image + p0, s.cin_g, cols, Eigen::OuterStride<>(s.h * s.w)).transpose();
    } else {
      T* buf = scratch[me].data();
      im2col(image, s.cin_g, s.h, s.w, g, s.out_w, t.oh0, t.oh1, buf);
      dw_g.noalias() += dy_tile * ConstMatrixMap<T>(buf, s.k, cols).transpose();
    }
  });
  MutMatrixMap<T> dw(grad_weight, s.c_out, s.k);
  for (const auto& local : partial) dw += local;
}

/// The kernel of the adjoint convolution: w'[c, o, i, j] = w[o, c, kh−1−i, kw−1−j] per group.
template <class T>
Tensor<T> flipped_transposed_kernel(const Tensor<T>& weight, std::int64_t groups) {
  const std::int64_t c_out = weight.size(0), cin_g = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  const std::int64_t cout_g = c_out / groups;
  Tensor<T> out({cin_g * groups, cout_g, kh, kw});
  for (std::int64_t grp = 0; grp < groups; ++grp)
    for (std::int64_t o = 0; o < cout_g; ++o)
      for (std::int64_t c = 0; c < cin_g; ++c)
        for (std::int64_t i = 0; i < kh; ++i)
          for (std::int64_t j = 0; j < kw; ++j)
            out(grp * cin_g + c, o, kh - 1 - i, kw - 1 - j) = weight(grp * cout_g + o, c, i, j);
  return out;
}

/// dL/dx of a strided convolution: per image, W_gᵀ·dy into a column matrix, scattered by col2im.
template <class T>
void conv2d_input_grad_scatter(const Tensor<T>& weight, const Tensor<T>& grad_y, const Conv2dGeometry& g,
                               const ConvSizes& s, Tensor<T>& grad_x) {
  const int threads = num_threads();
  const bool by_image = s.n >= threads;
  std::vector<std::vector<T>> scratch(static_cast<std::size_t>(by_image ? threads : 1),
                                      std::vector<T>(static_cast<std::size_t>(s.k * s.p)));
  auto run_image = [&](std::int64_t n, T* dcol_buf, bool parallel) {
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      ConstMatrixMap<T> dy_g(grad_y.data() + (n * s.c_out + grp * s.cout_g) * s.p, s.cout_g, s.p);
      ConstMatrixMap<T> w_g(weight.data() + grp * s.cout_g * s.k, s.cout_g, s.k);
      MutMatrixMap<T> dcol(dcol_buf, s.k, s.p);
      dcol.noalias() = w_g.transpose() * dy_g;  // Eigen's own threads when not already parallel
      T* dx_image = grad_x.data() + (n * s.c_in + grp * s.cin_g) * s.h * s.w;
#pragma omp parallel for num_threads(threads) schedule(static) if (parallel)
      for (std::int64_t c = 0; c < s.cin_g; ++c)
        col2im_add(dcol_buf, s.h, s.w, g, s.out_h, s.out_w, dx_image, c, c + 1);
    }
  };
  if (by_image) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t n = 0; n < s.n; ++n) run_image(n, scratch[static_cast<std::size_t>(omp_get_thread_num())].data(), false);
  } else {
    for (std::int64_t n = 0; n < s.n; ++n) run_image(n, scratch[0].data(), true);
  }
}

}  // namespace detail

/// Gradients of conv2d. Writes grad_x (when non-null; it must be zero-filled) and adds into
/// grad_weight and grad_bias (when non-null).
template <class T>
void conv2d_backward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& grad_y, const Conv2dGeometry& g,
                     Tensor<T>* grad_x, Tensor<T>* grad_weight, Tensor<T>* grad_bias) {
  using namespace detail;
  const ConvSizes s = conv_sizes(x, weight.size(0), g);
  if (grad_weight) conv2d_weight_grad(x, grad_y, g, s, grad_weight->data());
  if (grad_x) {
    const std::int64_t pad_h = g.dilation_h * (g.kernel_h - 1) - g.pad_h;
    const std::int64_t pad_w = g.dilation_w * (g.kernel_w - 1) - g.pad_w;
    if (g.stride_h == 1 && g.stride_w == 1 && pad_h >= 0 && pad_w >= 0) {
      const Conv2dGeometry adjoint{g.kernel_h, g.kernel_w, 1, 1, pad_h, pad_w, g.dilation_h, g.dilation_w, g.groups};
      conv2d_forward(grad_y, flipped_transposed_kernel(weight, g.groups), Tensor<T>(), adjoint, *grad_x);
    } else {
      conv2d_input_grad_scatter(weight, grad_y, g, s, *grad_x);
    }
  }
  if (grad_bias) {
    T* db = grad_bias->data();
    for (std::int64_t n = 0; n < s.n; ++n)
      for (std::int64_t o = 0; o < s.c_out; ++o) {
        const T* row = grad_y.data() + (n * s.c_out + o) * s.p;
        T sum = 0;
        for (std::int64_t i = 0; i < s.p; ++i) sum += row[i];
        db[o] += sum;
      }
  }
}

}  // namespace fcam::cpu

/// \file
/// \brief CPU 2-D convolution, forward and backward, on fcam's packed GEMM (gemm.hpp).
///
/// Work is cut into tiles of whole output rows of one image and one group, sized so that a
/// tile's column matrix stays in cache, and the tiles are spread over the threads; so batch 1
/// uses every core as well as batch 8. The weights are packed once per call and shared by all
/// tiles. A 1×1 stride-1 convolution reads the input directly (no im2col).
/// Backward: the weight gradient is a GEMM per tile into per-thread accumulators; the input
/// gradient of a stride-1 convolution is the stride-1 convolution of the output gradient with
/// the flipped, transposed kernel (the forward path again); strided convolutions scatter a
/// column matrix with col2im.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/conv2d_geometry.hpp"
#include "fcam/ops/cpu/gemm.hpp"
#include "fcam/ops/cpu/im2col.hpp"

namespace fcam::cpu {

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

/// How the output rows of each (image, group) plane are cut into tiles.
struct Tiling {
  std::int64_t rows;       ///< output rows per tile
  std::int64_t per_plane;  ///< tiles per (image, group)
  std::int64_t items;      ///< tiles in total

  /// `min_cols`: the fewest output pixels per tile worth a GEMM call (the packed kernel matrix
  /// is streamed once per tile, so deep kernels want wide tiles).
  Tiling(const ConvSizes& s, std::int64_t groups, int threads, std::int64_t min_cols) {
    // A column matrix of about 128K elements (512 KB in float) stays in L2 between im2col and GEMM.
    constexpr std::int64_t cache_elems = 1 << 17;
    const std::int64_t target_cols = std::max(min_cols, cache_elems / std::max<std::int64_t>(s.k, 1));
    std::int64_t per = std::max<std::int64_t>(1, s.out_h / std::max<std::int64_t>(1, (target_cols + s.out_w - 1) / s.out_w));
    const std::int64_t planes = s.n * groups;
    // Few tiles: make their count a multiple of the thread count, so no thread idles at the end.
    if (planes * per < 4 * threads) {
      const std::int64_t total = std::max<std::int64_t>(threads, planes * per / threads * threads);
      per = std::max<std::int64_t>(1, (total + planes - 1) / planes);
    }
    per = std::min(per, s.out_h);
    rows = (s.out_h + per - 1) / per;
    per_plane = (s.out_h + rows - 1) / rows;
    items = planes * per_plane;
  }
};

/// One tile: image n, group grp, output rows [oh0, oh1).
struct TileIndex {
  std::int64_t n, grp, oh0, oh1;
};

inline TileIndex tile_at(std::int64_t item, const Tiling& t, std::int64_t groups, std::int64_t out_h) {
  const std::int64_t plane = item / t.per_plane, tile = item % t.per_plane;
  const std::int64_t oh0 = tile * t.rows;
  return {plane / groups, plane % groups, oh0, std::min(oh0 + t.rows, out_h)};
}

/// Runs fn(item, worker) for items [0, count) on `threads` threads (dynamic schedule).
template <class F>
void parallel_items(std::int64_t count, int threads, F&& fn) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1 && count > 1)
  for (std::int64_t item = 0; item < count; ++item) fn(item, static_cast<std::size_t>(omp_get_thread_num()));
}

/// The (K × cols) column matrix of a tile: im2col into `buffer`, or the input itself for 1×1
/// stride-1 convolutions. Returns the matrix and sets `row_stride`.
template <class T>
const T* tile_columns(const T* image, const ConvSizes& s, const Conv2dGeometry& g, const TileIndex& t, T* buffer,
                      std::int64_t& row_stride) {
  if (g.is_pointwise()) {
    row_stride = s.h * s.w;
    return image + t.oh0 * s.out_w;
  }
  row_stride = (t.oh1 - t.oh0) * s.out_w;
  im2col(image, s.cin_g, s.h, s.w, g, s.out_w, t.oh0, t.oh1, buffer);
  return buffer;
}

}  // namespace detail

/// y = conv(x, weight) + bias. x: N×C×H×W, weight: O×(C/groups)×kh×kw, bias: O or undefined.
template <class T>
void conv2d_forward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias, const Conv2dGeometry& g,
                    Tensor<T>& y) {
  using namespace detail;
  const ConvSizes s = conv_sizes(x, weight.size(0), g);
  const int threads = num_threads();
  const Tiling tiling(s, g.groups, threads, 256);

  // The kernel matrix of each group is packed once and shared by every tile.
  const std::int64_t a_size = gemm::packed_a_size<T>(s.cout_g, s.k);
  std::vector<T> packed_w(static_cast<std::size_t>(a_size * g.groups));
  constexpr std::int64_t mr = gemm::Block<T>::mr;
  const std::int64_t panels = (s.cout_g + mr - 1) / mr;
  parallel_items(g.groups * panels, threads, [&](std::int64_t item, std::size_t) {
    const std::int64_t grp = item / panels, r0 = item % panels * mr;
    gemm::pack_a_rows(weight.data() + grp * s.cout_g * s.k, s.k, std::int64_t{1}, s.cout_g, s.k, r0,
                      std::min(r0 + mr, s.cout_g), packed_w.data() + grp * a_size);
  });

  const std::int64_t max_cols = tiling.rows * s.out_w;
  const std::size_t workers = static_cast<std::size_t>(threads);
  std::vector<std::vector<T>> row_buf(workers), packed_b(workers);

  parallel_items(tiling.items, threads, [&](std::int64_t item, std::size_t me) {
    const TileIndex t = tile_at(item, tiling, g.groups, s.out_h);
    const std::int64_t p0 = t.oh0 * s.out_w, cols = (t.oh1 - t.oh0) * s.out_w;
    packed_b[me].resize(static_cast<std::size_t>(gemm::packed_b_size<T>(s.k, max_cols)));
    const T* image = x.data() + (t.n * s.c_in + t.grp * s.cin_g) * s.h * s.w;
    if (g.is_pointwise()) {
      gemm::pack_b(image + p0, s.h * s.w, std::int64_t{1}, s.k, cols, packed_b[me].data());
    } else {  // im2col straight into the packed panels
      row_buf[me].resize(static_cast<std::size_t>(max_cols));
      gemm::pack_b_rows<T>(
          s.k, cols, [&](std::int64_t row, T* dst) { im2col_row(image, s.h, s.w, g, s.out_w, t.oh0, t.oh1, row, dst); },
          row_buf[me].data(), packed_b[me].data());
    }
    T* y_tile = y.data() + (t.n * s.c_out + t.grp * s.cout_g) * s.p + p0;
    gemm::gemm_packed(s.cout_g, cols, s.k, packed_w.data() + t.grp * a_size, packed_b[me].data(), y_tile, s.p, false);
    if (bias.defined())
      for (std::int64_t o = 0; o < s.cout_g; ++o) {
        const T b = bias.data()[t.grp * s.cout_g + o];
        T* row = y_tile + o * s.p;
        for (std::int64_t i = 0; i < cols; ++i) row[i] += b;
      }
  });
}

namespace detail {

/// dL/dweight, added into grad_weight: per tile dW_g += dy_tile · columnsᵀ, into per-thread
/// accumulators summed at the end (threads never share writes).
template <class T>
void conv2d_weight_grad(const Tensor<T>& x, const Tensor<T>& grad_y, const Conv2dGeometry& g, const ConvSizes& s,
                        T* grad_weight) {
  const int threads = num_threads();
  const Tiling tiling(s, g.groups, threads, 256);
  const std::int64_t max_cols = tiling.rows * s.out_w;
  const std::size_t workers = static_cast<std::size_t>(std::min<std::int64_t>(threads, tiling.items));
  std::vector<std::vector<T>> cols_buf(workers), packed_a(workers), packed_b(workers), partial(workers);

  parallel_items(tiling.items, static_cast<int>(workers), [&](std::int64_t item, std::size_t me) {
    const TileIndex t = tile_at(item, tiling, g.groups, s.out_h);
    const std::int64_t p0 = t.oh0 * s.out_w, cols = (t.oh1 - t.oh0) * s.out_w;
    if (!g.is_pointwise()) cols_buf[me].resize(static_cast<std::size_t>(s.k * max_cols));
    packed_a[me].resize(static_cast<std::size_t>(gemm::packed_a_size<T>(s.cout_g, max_cols)));
    packed_b[me].resize(static_cast<std::size_t>(gemm::packed_b_size<T>(max_cols, s.k)));
    partial[me].resize(static_cast<std::size_t>(s.c_out * s.k));  // zero on first use
    std::int64_t stride = 0;
    const T* image = x.data() + (t.n * s.c_in + t.grp * s.cin_g) * s.h * s.w;
    const T* columns = tile_columns(image, s, g, t, cols_buf[me].data(), stride);
    gemm::pack_a(grad_y.data() + (t.n * s.c_out + t.grp * s.cout_g) * s.p + p0, s.p, std::int64_t{1}, s.cout_g, cols,
                 packed_a[me].data());
    gemm::pack_b(columns, std::int64_t{1}, stride, cols, s.k, packed_b[me].data());  // columnsᵀ
    gemm::gemm_packed(s.cout_g, s.k, cols, packed_a[me].data(), packed_b[me].data(),
                      partial[me].data() + t.grp * s.cout_g * s.k, s.k, true);
  });
  for (const auto& local : partial)
    for (std::size_t i = 0; i < local.size(); ++i) grad_weight[i] += local[i];
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

/// dL/dx of a strided convolution: per image and group, the column matrix W_gᵀ·dy (computed in
/// column chunks on all threads) is scattered back with col2im (threads own input channels).
template <class T>
void conv2d_input_grad_scatter(const Tensor<T>& weight, const Tensor<T>& grad_y, const Conv2dGeometry& g,
                               const ConvSizes& s, Tensor<T>& grad_x) {
  const int threads = num_threads();
  const std::int64_t chunk = gemm::round_up((s.p + threads - 1) / threads, gemm::Block<T>::nr);
  const std::int64_t chunks = (s.p + chunk - 1) / chunk;
  std::vector<T> dcol(static_cast<std::size_t>(s.k * s.p));
  std::vector<gemm::Scratch<T>> scratch(static_cast<std::size_t>(threads));
  for (std::int64_t n = 0; n < s.n; ++n)
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const T* w_g = weight.data() + grp * s.cout_g * s.k;
      const T* dy_g = grad_y.data() + (n * s.c_out + grp * s.cout_g) * s.p;
      parallel_items(chunks, threads, [&](std::int64_t c, std::size_t me) {
        const std::int64_t j0 = c * chunk, cols = std::min(chunk, s.p - j0);
        // dcol[:, j0:j0+cols] = W_gᵀ (K × cout_g) · dy_g[:, j0:j0+cols]
        gemm::gemm(s.k, cols, s.cout_g, w_g, std::int64_t{1}, s.k, dy_g + j0, s.p, std::int64_t{1}, dcol.data() + j0,
                   s.p, false, scratch[me]);
      });
      T* dx_image = grad_x.data() + (n * s.c_in + grp * s.cin_g) * s.h * s.w;
      parallel_items(s.cin_g, threads, [&](std::int64_t c, std::size_t) {
        col2im_add(dcol.data(), s.h, s.w, g, s.out_h, s.out_w, dx_image, c, c + 1);
      });
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

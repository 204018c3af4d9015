/// \file
/// \brief CPU 2-D convolution, forward and backward, on fcam's packed GEMM (gemm.hpp).
///
/// Work is cut into tiles of whole output rows of one image and one group, and the tiles are
/// spread over the threads, so batch 1 uses every core as well as batch 8. The weights are
/// packed once per call and shared by all tiles. Scratch memory is per-thread and persistent
/// (workspace.hpp), so a call does not allocate.
/// - Forward: no im2col, the GEMM gathering its B panels straight from rows of the padded,
///   stride-phase-split input (conv2d_forward_in_place explains why that works); on small maps,
///   where that would waste too many columns, im2col of each tile straight into packed GEMM panels.
/// - Weight gradient: per tile dW += dy · columnsᵀ into per-thread accumulators.
/// - Input gradient, stride 1: the stride-1 convolution of dy with the flipped, transposed
///   kernel (the forward path again); strided: a column matrix scattered back by col2im. When
///   only the leading input channels' gradient is wanted (a decoder block's input next to a
///   frozen skip), the stride-1 path convolves with those rows of the kernel alone.
/// - Depthwise forwards (one input and one output channel per group) skip the GEMM for the
///   direct kernel of depthwise_conv2d.hpp.
/// - Float 3×3 stride-1 forwards with prepared (inference) weights run as Winograd F(4×4, 3×3)
///   (winograd.hpp); with WinogradUse::all also the training forwards, input gradients and
///   weight gradients of such layers with enough output pixels.
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <type_traits>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/conv2d_geometry.hpp"
#include "fcam/ops/cpu/conv2d_parts.hpp"
#include "fcam/ops/cpu/depthwise_conv2d.hpp"
#include "fcam/ops/cpu/gemm.hpp"
#include "fcam/ops/cpu/im2col.hpp"
#include "fcam/ops/cpu/winograd.hpp"
#include "fcam/ops/cpu/workspace.hpp"

namespace fcam::cpu {

/// A convolution kernel packed for the GEMM once (all groups), for convolutions whose weights
/// do not change between calls (inference). A depthwise kernel is kept as it is (its direct
/// forward reads it in place).
template <class T>
struct PackedConvWeights {
  Tensor<T> data;            ///< groups × a_size elements
  std::int64_t a_size = 0;   ///< packed elements per group
  std::int64_t c_out = 0;    ///< output channels
  std::int64_t k = 0;        ///< GEMM depth per group: C/groups·kh·kw
  std::int64_t groups = 1;   ///< convolution groups
  bool depthwise = false;    ///< data is the weight tensor itself (is_depthwise)
  Tensor<T> winograd;        ///< the 36 transformed kernels of winograd.hpp, or undefined
};

namespace detail {

/// How each (image, group) plane is cut into tiles: bands of output rows, and for the in-place
/// path with fewer planes than threads, slices of output channels.
struct Tiling {
  std::int64_t rows;       ///< output rows per tile
  std::int64_t per_plane;  ///< row bands per (image, group)
  std::int64_t m_parts;    ///< output-channel slices per band
  std::int64_t m_step;     ///< output channels per slice (a multiple of the GEMM's MR)
  std::int64_t items;      ///< tiles in total

  /// With `packed` B, tiles of about max(256, 128K / K) output pixels: a packed column block
  /// that stays in L2, yet wide enough that streaming the packed kernel once per tile is
  /// amortised. Without packing (B gathered a panel at a time) nothing needs to fit in cache and the fewest
  /// tiles stream the kernel the fewest times: one per image, and for fewer images than
  /// threads, channel slices (each thread streams only its share of the kernel) when there are
  /// at least 128 channels per slice, else row bands. Few tiles are made a multiple of the
  /// thread count.
  Tiling(const ConvSizes& s, std::int64_t groups, int threads, bool packed, std::int64_t mr) {
    constexpr std::int64_t cache_elems = 1 << 17, min_cols = 256;
    const std::int64_t planes = s.n * groups;
    std::int64_t per = 1;
    m_parts = 1;
    if (packed) {
      const std::int64_t target_cols = std::max(min_cols, cache_elems / std::max<std::int64_t>(s.k, 1));
      per = std::max<std::int64_t>(1, s.out_h / std::max<std::int64_t>(1, (target_cols + s.out_w - 1) / s.out_w));
    } else if (planes < threads && s.cout_g >= 128 * ((threads + planes - 1) / planes)) {
      m_parts = (threads + planes - 1) / planes;
    }
    if (m_parts == 1 && planes * per < 4 * threads) {
      const std::int64_t total = std::max<std::int64_t>(threads, planes * per / threads * threads);
      per = std::max<std::int64_t>(1, (total + planes - 1) / planes);
    }
    per = std::min(per, s.out_h);
    rows = (s.out_h + per - 1) / per;
    per_plane = (s.out_h + rows - 1) / rows;
    m_step = (s.cout_g / m_parts + mr - 1) / mr * mr;
    m_parts = (s.cout_g + m_step - 1) / m_step;
    items = planes * per_plane * m_parts;
  }
};

/// One tile: image n, group grp, output rows [oh0, oh1), output channels [m0, m1) of the group.
struct TileIndex {
  std::int64_t n, grp, oh0, oh1, m0, m1;
};

inline TileIndex tile_at(std::int64_t item, const Tiling& t, std::int64_t groups, std::int64_t out_h,
                         std::int64_t cout_g) {
  const std::int64_t part = item % t.m_parts, band_item = item / t.m_parts;
  const std::int64_t plane = band_item / t.per_plane, band = band_item % t.per_plane;
  const std::int64_t oh0 = band * t.rows, m0 = part * t.m_step;
  return {plane / groups, plane % groups, oh0, std::min(oh0 + t.rows, out_h), m0, std::min(m0 + t.m_step, cout_g)};
}

/// The epilogue `e` as the GEMM that writes one tile of the output applies it, C = y_tile (rows:
/// the group's output channels from `channel0`, row stride ldc); the residual is read at the same
/// offset from its start as y_tile from y's.
template <class T>
gemm::Epilogue<T> tile_epilogue(const ConvEpilogue<T>& e, std::int64_t channel0, std::int64_t ldc,
                                std::ptrdiff_t tile_offset) {
  return {.scale = e.scale ? e.scale + channel0 : nullptr,
          .shift = e.shift ? e.shift + channel0 : nullptr,
          .residual = e.residual ? e.residual + tile_offset : nullptr,
          .ldr = ldc,
          .relu = e.relu,
          .relu_max = e.relu_max};
}

/// The kernel matrix of each group packed (gemm::pack_a layout) by all threads into `out`.
/// Returns the packed size of one group.
template <class T>
std::int64_t pack_weights(const Tensor<T>& weight, std::int64_t groups, T* out) {
  const std::int64_t mr = gemm::block<T>().mr;
  const std::int64_t cout_g = weight.size(0) / groups, k = weight.numel() / weight.size(0);
  const std::int64_t a_size = gemm::packed_a_size<T>(cout_g, k);
  const std::int64_t panels = (cout_g + mr - 1) / mr;
  parallel_items(groups * panels, [&](std::int64_t item) {
    const std::int64_t grp = item / panels, r0 = item % panels * mr;
    gemm::pack_a_rows(weight.data() + grp * cout_g * k, k, std::int64_t{1}, cout_g, k, r0, std::min(r0 + mr, cout_g),
                      out + grp * a_size);
  });
  return a_size;
}

/// Forward without im2col. Tap (ki, kj) of output pixel (oh, ow) reads padded pixel
/// (oh·sh + ki·dh, ow·sw + kj·dw), which is pixel (oh + ⌊ki·dh/sh⌋, ow + ⌊kj·dw/sw⌋) of phase
/// ((ki·dh) mod sh, (kj·dw) mod sw). So over a band of output rows, the GEMM row of tap
/// (c, ki, kj) is one contiguous run of a phase plane, provided the output is computed on the
/// phase width Wq (the last Wq − Wo columns of each row are junk and dropped). The GEMM gathers
/// its B panels from those runs (gemm_indirect): the only pass over the whole input is the one
/// that pads and splits it.
template <class T>
void conv2d_forward_in_place(const Tensor<T>& x, const ConvEpilogue<T>& e, const Conv2dGeometry& g, const ConvSizes& s,
                             const T* packed_w, std::int64_t a_size, Tensor<T>& y) {
  const PhaseLayout L(s, g);
  const bool copy = g.pad_h > 0 || g.pad_w > 0 || g.stride_h > 1 || g.stride_w > 1 || L.junk_cols > 0;
  const Tiling tiling(s, g.groups, num_threads(), false, gemm::block<T>().mr);
  // With one tile per image, each thread pads its own image right before using it (still in
  // cache); otherwise all images are padded first, since several threads read each one.
  const bool copy_per_tile = copy && tiling.per_plane == 1 && tiling.m_parts == 1;
  const std::int64_t hq = copy ? L.hq : s.h, wq = copy ? L.wq : s.w, plane_size = copy ? L.plane : s.h * s.w;
  // Splits `count` channel planes from `first`. On the wide grid, reads run past the end of
  // the last plane by less than Wq + (kw−1)·dw (junk columns, the last row's right padding):
  // that slack is zeroed too. Runs on all threads when `parallel`.
  const std::int64_t slack = L.wq + (g.kernel_w - 1) * g.dilation_w;
  auto split = [&](std::int64_t first, std::int64_t count, T* out, bool parallel) {
    auto one = [&](std::int64_t c) { split_phases(x.data() + (first + c) * s.h * s.w, s, g, L, out + c * L.plane); };
    if (parallel) parallel_items(count, one);
    else for (std::int64_t c = 0; c < count; ++c) one(c);
    std::fill(out + count * L.plane, out + count * L.plane + slack, T(0));
  };
  const T* src = x.data();
  if (copy && !copy_per_tile) {
    T* phased = scratch<T>(ScratchSlot::padded_input, static_cast<std::size_t>(s.n * s.c_in * L.plane + slack));
    split(0, s.n * s.c_in, phased, true);
    src = phased;
  }
  const bool wide = wq != s.out_w;  // junk columns: compute into a scratch block, then copy
  const std::int64_t taps = g.kernel_h * g.kernel_w;

  parallel_items(tiling.items, [&](std::int64_t item) {
    const TileIndex t = tile_at(item, tiling, g.groups, s.out_h, s.cout_g);
    const T** rows = scratch<const T*>(ScratchSlot::row_pointers, static_cast<std::size_t>(s.k));
    const T* planes = src + (t.n * s.c_in + t.grp * s.cin_g) * plane_size;
    if (copy_per_tile) {
      T* own = scratch<T>(ScratchSlot::padded_input, static_cast<std::size_t>(s.cin_g * L.plane + slack));
      split(t.n * s.c_in + t.grp * s.cin_g, s.cin_g, own, false);
      planes = own;
    }
    for (std::int64_t kk = 0; kk < s.k; ++kk) {
      const std::int64_t c = kk / taps, ki = kk % taps / g.kernel_w, kj = kk % g.kernel_w;
      const std::int64_t dy = ki * g.dilation_h, dx = kj * g.dilation_w;
      const std::int64_t phase = (dy % g.stride_h) * g.stride_w + dx % g.stride_w;
      rows[kk] = planes + c * plane_size + phase * hq * wq + (dy / g.stride_h) * wq + dx / g.stride_w;
    }
    const T* w_g = packed_w + t.grp * a_size;
    const std::int64_t channel0 = t.grp * s.cout_g;
    const std::ptrdiff_t tile_offset = (t.n * s.c_out + channel0) * s.p + t.oh0 * s.out_w;
    T* y_tile = y.data() + tile_offset;
    const std::int64_t band = t.oh1 - t.oh0;
    if (!wide) {
      gemm::gemm_indirect(s.cout_g, band * wq, s.k, w_g, rows, t.oh0 * wq, y_tile, s.p, false, t.m0, t.m1,
                          tile_epilogue(e, channel0, s.p, tile_offset));
      return;
    }
    T* out = scratch<T>(ScratchSlot::wide_output, static_cast<std::size_t>(s.cout_g * band * wq));
    gemm::gemm_indirect(s.cout_g, band * wq, s.k, w_g, rows, t.oh0 * wq, out, band * wq, false, t.m0, t.m1);
    for (std::int64_t o = t.m0; o < t.m1; ++o)
      for (std::int64_t r = 0; r < band; ++r) {
        const std::ptrdiff_t at = o * s.p + r * s.out_w;
        epilogue_row(e, channel0 + o, out + (o * band + r) * wq, y_tile + at,
                     e.residual ? e.residual + tile_offset + at : nullptr, s.out_w);
      }
  });
}

/// Forward with im2col of each tile straight into packed GEMM panels.
template <class T>
void conv2d_forward_im2col(const Tensor<T>& x, const ConvEpilogue<T>& e, const Conv2dGeometry& g, const ConvSizes& s,
                           const T* packed_w, std::int64_t a_size, Tensor<T>& y) {
  const Tiling tiling(s, g.groups, num_threads(), true, gemm::block<T>().mr);
  const std::int64_t max_cols = tiling.rows * s.out_w;
  parallel_items(tiling.items, [&](std::int64_t item) {
    const TileIndex t = tile_at(item, tiling, g.groups, s.out_h, s.cout_g);
    const std::int64_t p0 = t.oh0 * s.out_w, cols = (t.oh1 - t.oh0) * s.out_w;
    T* packed_b = scratch<T>(ScratchSlot::packed_b, static_cast<std::size_t>(gemm::packed_b_size<T>(s.k, max_cols)));
    T* row = scratch<T>(ScratchSlot::row, static_cast<std::size_t>(max_cols));
    const T* image = x.data() + (t.n * s.c_in + t.grp * s.cin_g) * s.h * s.w;
    gemm::pack_b_rows<T>(
        s.k, cols, [&](std::int64_t r, T* dst) { im2col_row(image, s.h, s.w, g, s.out_w, t.oh0, t.oh1, r, dst); }, row,
        packed_b);
    const std::int64_t channel0 = t.grp * s.cout_g;
    const std::ptrdiff_t tile_offset = (t.n * s.c_out + channel0) * s.p + p0;
    T* y_tile = y.data() + tile_offset;
    gemm::gemm_packed(s.cout_g, cols, s.k, packed_w + t.grp * a_size, packed_b, y_tile, s.p, false,
                      tile_epilogue(e, channel0, s.p, tile_offset));
  });
}

/// The forward on packed weights: picks the in-place or the im2col path.
template <class T>
void conv2d_forward_packed(const Tensor<T>& x, const T* packed_w, std::int64_t a_size, std::int64_t c_out,
                           const Conv2dGeometry& g, const ConvEpilogue<T>& e, Tensor<T>& y) {
  const ConvSizes s = conv_sizes(x, c_out, g);
  if (y.numel() == 0) return;  // empty batch or channels: nothing to compute
  // Gathering B from the rows saves the im2col pass; its price is the junk columns of the
  // wide grid, (Wq − Wo)/Wo extra work. Measured on the WSOL-ResNet50 shapes (A/B, min of
  // repeated runs): in place wins or ties everywhere those are <= 1/8 (3×3 at 28×28: 7%),
  // by up to 20% at batch 8; im2col stays for small maps where the junk would dominate. (That
  // was measured before gemm_indirect gathered its panels, which made this path faster still;
  // the threshold has not been measured again.)
  const PhaseLayout phases(s, g);
  const bool one_by_one = g.kernel_h == 1 && g.kernel_w == 1 && g.pad_h == 0 && g.pad_w == 0;
  const bool in_place = one_by_one || phases.junk_cols * 8 <= s.out_w;
  if (in_place) conv2d_forward_in_place(x, e, g, s, packed_w, a_size, y);
  else conv2d_forward_im2col(x, e, g, s, packed_w, a_size, y);
}

}  // namespace detail

/// Packs `weight` (O×(C/groups)×kh×kw) for conv2d_forward's packed overload.
template <class T>
PackedConvWeights<T> pack_conv_weights(const Tensor<T>& weight, std::int64_t groups) {
  PackedConvWeights<T> p;
  p.c_out = weight.size(0);
  p.k = weight.numel() / std::max<std::int64_t>(p.c_out, 1);
  p.groups = groups;
  if (is_depthwise(weight, groups)) {
    p.depthwise = true;
    p.a_size = p.k;
    p.data = weight.clone();
    return p;
  }
  p.a_size = gemm::packed_a_size<T>(p.c_out / groups, p.k);
  p.data = Tensor<T>::uninitialized({std::max<std::int64_t>(p.a_size * groups, 1)});
  if (p.c_out > 0) detail::pack_weights(weight, groups, p.data.data());
  // 3×3 kernels also get their Winograd form, used when a call's geometry is stride 1, undilated.
  if (weight.size(2) == 3 && weight.size(3) == 3 &&
      winograd::applies_prepared<T>(Conv2dGeometry::square(3, 1, 1), weight.size(1) * groups, p.c_out) &&
      groups == 1) {
    p.winograd = Tensor<T>::uninitialized({winograd::packed_kernel_size<T>(p.c_out, weight.size(1))});
    winograd::pack_kernel(weight, p.winograd.data());
  }
  return p;
}

/// y = epilogue(conv(x, W)) with W packed by pack_conv_weights; every element of y is written.
template <class T>
void conv2d_forward(const Tensor<T>& x, const PackedConvWeights<T>& w, const Conv2dGeometry& g,
                    const ConvEpilogue<T>& e, Tensor<T>& y) {
  if (w.depthwise) return depthwise_conv2d_forward(x, w.data.data(), g, e, y);
  if (w.winograd.defined() && winograd::applies_prepared<T>(g, x.size(1), w.c_out))
    return winograd::conv2d(x, w.winograd.data(), w.c_out, g, e, y);
  detail::conv2d_forward_packed(x, w.data.data(), w.a_size, w.c_out, g, e, y);
}

/// y = conv(x, weight) + bias, then max(y, 0) when `relu`. x: N×C×H×W, weight: O×(C/groups)×kh×kw,
/// bias: O or undefined. The weights are packed for this call only (into scratch memory).
template <class T>
void conv2d_forward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias, const Conv2dGeometry& g,
                    Tensor<T>& y, bool relu = false) {
  if (y.numel() == 0) return;
  ConvEpilogue<T> e;
  e.shift = bias.defined() ? bias.data() : nullptr;
  e.relu = relu;
  if (is_depthwise(weight, g.groups)) return depthwise_conv2d_forward(x, weight.data(), g, e, y);
  if (winograd::applies<T>(g, x.size(1), weight.size(0), y.size(0) * y.size(2) * y.size(3))) {
    T* packed_u = scratch<T>(ScratchSlot::packed_weights,
                             static_cast<std::size_t>(winograd::packed_kernel_size<T>(weight.size(0), x.size(1))));
    winograd::pack_kernel(weight, packed_u);
    return winograd::conv2d(x, packed_u, weight.size(0), g, e, y);
  }
  const std::int64_t cout_g = weight.size(0) / g.groups, k = weight.numel() / weight.size(0);
  T* packed_w = scratch<T>(ScratchSlot::packed_weights,
                           static_cast<std::size_t>(gemm::packed_a_size<T>(cout_g, k) * g.groups));
  const std::int64_t a_size = detail::pack_weights(weight, g.groups, packed_w);
  detail::conv2d_forward_packed(x, packed_w, a_size, weight.size(0), g, e, y);
}

namespace detail {

/// dL/dweight, added into grad_weight: per tile dW_g += dy_tile · columnsᵀ, into per-thread
/// accumulators summed at the end (threads never share writes). Each thread takes a fixed block
/// of tiles, so the rounding does not depend on timing.
template <class T>
void conv2d_weight_grad(const Tensor<T>& x, const Tensor<T>& grad_y, const Conv2dGeometry& g, const ConvSizes& s,
                        T* grad_weight) {
  if (winograd::applies<T>(g, s.c_in, s.c_out, s.n * s.p)) return winograd::weight_grad(x, grad_y, g, grad_weight);
  const int threads = num_threads();
  const Tiling tiling(s, g.groups, threads, true, gemm::block<T>().mr);
  const std::int64_t max_cols = tiling.rows * s.out_w;
  const std::size_t dw_size = static_cast<std::size_t>(s.c_out * s.k);
  std::vector<T*> partial(static_cast<std::size_t>(threads), nullptr);  // per thread, zeroed on first use

  parallel_items_fixed(tiling.items, [&](std::int64_t item) {
    const TileIndex t = tile_at(item, tiling, g.groups, s.out_h, s.cout_g);
    const std::int64_t p0 = t.oh0 * s.out_w, cols = (t.oh1 - t.oh0) * s.out_w;
    T*& acc = partial[static_cast<std::size_t>(omp_get_thread_num())];
    if (!acc) {
      acc = scratch<T>(ScratchSlot::partial_sum, dw_size);
      std::fill(acc, acc + dw_size, T(0));
    }
    const T* image = x.data() + (t.n * s.c_in + t.grp * s.cin_g) * s.h * s.w;
    T* packed_a = scratch<T>(ScratchSlot::packed_a, static_cast<std::size_t>(gemm::packed_a_size<T>(s.cout_g, max_cols)));
    T* packed_b = scratch<T>(ScratchSlot::packed_b, static_cast<std::size_t>(gemm::packed_b_size<T>(max_cols, s.k)));
    gemm::pack_a(grad_y.data() + (t.n * s.c_out + t.grp * s.cout_g) * s.p + p0, s.p, std::int64_t{1}, s.cout_g, cols,
                 packed_a);
    if (g.is_pointwise()) {  // 1×1 stride 1: the input rows are the columns
      gemm::pack_b(image + p0, std::int64_t{1}, s.h * s.w, cols, s.k, packed_b);  // columnsᵀ
    } else {
      // columnsᵀ a panel of NR column-matrix rows at a time: the rows of one panel stay in
      // cache between im2col and packing, where the whole matrix (K·cols values) would not.
      const std::int64_t nr = gemm::block<T>().nr, n_padded = gemm::round_up(s.k, nr);
      T* rows = scratch<T>(ScratchSlot::column_matrix, static_cast<std::size_t>(nr * max_cols));
      for (std::int64_t j0 = 0; j0 < s.k; j0 += nr) {
        const std::int64_t taps = std::min(nr, s.k - j0);
        for (std::int64_t r = 0; r < taps; ++r)
          im2col_row(image, s.h, s.w, g, s.out_w, t.oh0, t.oh1, j0 + r, rows + r * cols);
        gemm::pack_b_panel(rows, std::int64_t{1}, cols, cols, taps, j0, n_padded, packed_b);
      }
    }
    gemm::gemm_packed(s.cout_g, s.k, cols, packed_a, packed_b, acc + t.grp * s.cout_g * s.k, s.k, true);
  });
  for (const T* acc : partial)
    if (acc)
      for (std::size_t i = 0; i < dw_size; ++i) grad_weight[i] += acc[i];
}

/// The kernel of the adjoint convolution: w'[c, o, i, j] = w[o, c, kh−1−i, kw−1−j] per group;
/// with `channels` (one group only) its first `channels` rows, the adjoint of those input channels.
template <class T>
Tensor<T> flipped_transposed_kernel(const Tensor<T>& weight, std::int64_t groups, std::int64_t channels = -1) {
  const std::int64_t c_out = weight.size(0), cin_g = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  const std::int64_t cout_g = c_out / groups;
  const std::int64_t rows = channels < 0 ? cin_g : channels;
  const std::int64_t taps = kh * kw;
  auto out = Tensor<T>::uninitialized({rows * groups, cout_g, kh, kw});
  // On the threads, one output row (grp, c) each: a VGG16 layer's 2.4 M values took
  // milliseconds on one thread, every backward step.
  parallel_items(groups * rows, [&](std::int64_t item) {
    const std::int64_t grp = item / rows, c = item % rows;
    T* dst = out.data() + (grp * rows + c) * cout_g * taps;
    for (std::int64_t o = 0; o < cout_g; ++o) {
      const T* src = weight.data() + ((grp * cout_g + o) * cin_g + c) * taps;
      for (std::int64_t t = 0; t < taps; ++t) dst[o * taps + taps - 1 - t] = src[t];  // (i, j) → (kh−1−i, kw−1−j)
    }
  });
  return out;
}

/// dL/dx of a strided convolution: per image and group, the column matrix W_gᵀ·dy (computed in
/// column chunks on all threads) is scattered back with col2im (threads own input channels).
template <class T>
void conv2d_input_grad_scatter(const Tensor<T>& weight, const Tensor<T>& grad_y, const Conv2dGeometry& g,
                               const ConvSizes& s, Tensor<T>& grad_x) {
  const int threads = num_threads();
  const std::int64_t chunk = gemm::round_up((s.p + threads - 1) / threads, gemm::block<T>().nr);
  const std::int64_t chunks = (s.p + chunk - 1) / chunk;
  T* dcol = scratch<T>(ScratchSlot::column_matrix, static_cast<std::size_t>(s.k * s.p));
  for (std::int64_t n = 0; n < s.n; ++n)
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const T* w_g = weight.data() + grp * s.cout_g * s.k;
      const T* dy_g = grad_y.data() + (n * s.c_out + grp * s.cout_g) * s.p;
      parallel_items(chunks, [&](std::int64_t c) {
        const std::int64_t j0 = c * chunk, cols = std::min(chunk, s.p - j0);
        // dcol[:, j0:j0+cols] = W_gᵀ (K × cout_g) · dy_g[:, j0:j0+cols]
        gemm::gemm(s.k, cols, s.cout_g, w_g, std::int64_t{1}, s.k, dy_g + j0, s.p, std::int64_t{1}, dcol + j0, s.p,
                   false);
      });
      T* dx_image = grad_x.data() + (n * s.c_in + grp * s.cin_g) * s.h * s.w;
      parallel_items(s.cin_g, [&](std::int64_t c) {
        col2im_add(dcol, s.h, s.w, g, s.out_h, s.out_w, dx_image, c, c + 1);
      });
    }
}

}  // namespace detail

/// Gradients of conv2d. Returns dL/dx of the first `grad_x_channels` input channels (all when
/// negative; undefined unless `need_grad_x`) and adds into grad_weight and grad_bias (when
/// non-null). Fewer channels need one group.
template <class T>
Tensor<T> conv2d_backward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& grad_y,
                          const Conv2dGeometry& g, bool need_grad_x, Tensor<T>* grad_weight, Tensor<T>* grad_bias,
                          std::int64_t grad_x_channels = -1) {
  using namespace detail;
  const std::int64_t channels = grad_x_channels < 0 ? x.size(1) : grad_x_channels;
  const bool empty = grad_y.numel() == 0 || x.numel() == 0;  // then the gradients stay zero
  // Stride 1 with a non-negative adjoint padding: dL/dx is a convolution of dy (which writes
  // every element); otherwise col2im adds into zeros.
  const std::int64_t pad_h = g.dilation_h * (g.kernel_h - 1) - g.pad_h;
  const std::int64_t pad_w = g.dilation_w * (g.kernel_w - 1) - g.pad_w;
  const bool adjoint_conv = g.stride_h == 1 && g.stride_w == 1 && pad_h >= 0 && pad_w >= 0 && !empty;
  Tensor<T> grad_x_tensor;
  if (need_grad_x) {
    const Shape shape{x.size(0), channels, x.size(2), x.size(3)};
    grad_x_tensor = adjoint_conv ? Tensor<T>::uninitialized(shape) : Tensor<T>(shape);
  }
  Tensor<T>* grad_x = need_grad_x ? &grad_x_tensor : nullptr;
  const ConvSizes s = conv_sizes(x, weight.size(0), g);
  if (empty) return grad_x_tensor;
  if (grad_weight) conv2d_weight_grad(x, grad_y, g, s, grad_weight->data());
  if (grad_x && channels > 0) {
    if (adjoint_conv) {
      const Conv2dGeometry adjoint{g.kernel_h, g.kernel_w, 1, 1, pad_h, pad_w, g.dilation_h, g.dilation_w, g.groups};
      const std::int64_t rows = channels == x.size(1) ? -1 : channels;
      conv2d_forward(grad_y, flipped_transposed_kernel(weight, g.groups, rows), Tensor<T>(), adjoint, *grad_x);
    } else if (channels == x.size(1)) {
      conv2d_input_grad_scatter(weight, grad_y, g, s, *grad_x);
    } else {  // strided: the whole gradient, then its leading channels
      Tensor<T> all(x.shape());
      conv2d_input_grad_scatter(weight, grad_y, g, s, all);
      const std::int64_t plane = x.size(2) * x.size(3);
      for (std::int64_t n = 0; n < s.n; ++n)
        std::copy_n(all.data() + n * s.c_in * plane, channels * plane, grad_x->data() + n * channels * plane);
    }
  }
  if (grad_bias) {  // channels on the threads, each plane summed as a vector reduction (a fixed order)
    T* db = grad_bias->data();
    parallel_items(s.c_out, [&](std::int64_t o) {
      for (std::int64_t n = 0; n < s.n; ++n) {
        const T* row = grad_y.data() + (n * s.c_out + o) * s.p;
        T sum = 0;
#pragma omp simd reduction(+ : sum)
        for (std::int64_t i = 0; i < s.p; ++i) sum += row[i];
        db[o] += sum;
      }
    });
  }
  return grad_x_tensor;
}

/// conv2d's kernel: y (of shape `out`, N×O×H'×W') = conv(x, weight) + bias, clamped at zero
/// when `relu` (conv2d_relu's kernel).
template <class T>
Tensor<T> conv2d(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias, const Conv2dGeometry& g,
                 const Shape& out, bool relu = false) {
  auto y = Tensor<T>::uninitialized(out);  // conv2d_forward writes every element
  conv2d_forward(x, weight, bias, g, y, relu);
  return y;
}

/// conv2d_prepared's kernel: y (of shape `out`) = epilogue(conv(x, W)), the epilogue given as
/// tensors (undefined: absent) and turned into ConvEpilogue's pointers here.
template <class T>
Tensor<T> conv2d_prepared(const Tensor<T>& x, const PackedConvWeights<T>& w, const Conv2dGeometry& g,
                          const Tensor<T>& scale, const Tensor<T>& shift, const Tensor<T>& residual, bool relu,
                          T relu_max, const Shape& out) {
  ConvEpilogue<T> e;
  if (scale.defined()) e.scale = scale.data();
  if (shift.defined()) e.shift = shift.data();
  if (residual.defined()) e.residual = residual.data();
  e.relu = relu;
  e.relu_max = relu_max;
  auto y = Tensor<T>::uninitialized(out);
  conv2d_forward(x, w, g, e, y);
  return y;
}

}  // namespace fcam::cpu

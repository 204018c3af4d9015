/// \file
/// \brief Winograd F(4×4, 3×3) convolution on the CPU for 3×3, stride-1, undilated, ungrouped layers.
///
/// VGG16, the F-CAM decoders and ResNet's middle blocks are mostly 3×3 stride-1 convolutions.
/// Winograd's minimal filtering makes a 4×4 output tile from a 6×6 input tile with 36 products
/// per (input, output) channel pair instead of 144: Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A (Lavin and
/// Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), the matrices those of
/// Toom-Cook interpolation at 0, 1, −1, 1/2, −2 and ∞. Summed over the input channels, the
/// element-wise product becomes 36 GEMMs of a quarter of the direct convolution's work.
///
/// The price is precision: the transforms scale values by up to 8·8 and back, so a float result
/// differs from the exact one by several 1e-6 of the largest output instead of a few 1e-7
/// (tests/test_winograd.cpp measures it). By default only inference (prepared weights) uses it;
/// `FCAM_WINOGRAD=all` or set_winograd(WinogradUse::all) adds training, `off` turns it off
/// (winograd_use()). Double tensors never use it.
///
/// Layout: the output tiles of all images form one list, cut into chunks whose transformed data
/// stays in a core's L2 cache. Per chunk:
/// 1. every input tile is transformed (Bᵀ d B) straight into the packed panels of 36 GEMM B
///    matrices (input channels × tiles), 8 tiles at a time so the arithmetic vectorises;
/// 2. 36 GEMMs M_ξ = U_ξ · V_ξ with the transformed kernel U_ξ (output × input channels), packed
///    once per call (or once for inference, pack_conv_weights);
/// 3. every output tile is transformed back (Aᵀ M A) and written through the conv epilogue.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <type_traits>

#include "fcam/core/error.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/conv2d_geometry.hpp"
#include "fcam/ops/cpu/conv2d_parts.hpp"
#include "fcam/ops/cpu/gemm.hpp"
#include "fcam/ops/cpu/winograd_tiles.hpp"
#include "fcam/ops/cpu/workspace.hpp"

namespace fcam::cpu {

/// Where float 3×3 stride-1 convolutions use Winograd F(4×4, 3×3).
enum class WinogradUse {
  off,        ///< nowhere: the direct convolution everywhere
  inference,  ///< with prepared (inference) weights only; the default
  all,        ///< also in training: the forward, the input and the weight gradients
};

namespace detail {
/// -1 until first read, then a WinogradUse from FCAM_WINOGRAD.
inline std::atomic<int>& winograd_setting() {
  static std::atomic<int> setting{-1};
  return setting;
}
}  // namespace detail

/// Where Winograd runs in this process: set_winograd()'s value, else the environment's
/// `FCAM_WINOGRAD=off|inference|all` (`0` = off, `1` = all; unset: inference), read once.
/// Training uses it only on request: with it, short runs of the cluttered Fashion-MNIST demo's
/// classifier ended worse in all three tries (docs/performance.md), though every op stays
/// within 2e-5 of the exact result. Throws fcam::Error for another value.
inline WinogradUse winograd_use() {
  int v = detail::winograd_setting().load(std::memory_order_relaxed);
  if (v < 0) {
    const char* env = std::getenv("FCAM_WINOGRAD");
    const std::string_view name = env ? env : "inference";
    if (name == "off" || name == "0") v = static_cast<int>(WinogradUse::off);
    else if (name == "inference") v = static_cast<int>(WinogradUse::inference);
    else if (name == "all" || name == "1") v = static_cast<int>(WinogradUse::all);
    else FCAM_CHECK(false, "FCAM_WINOGRAD must be off, inference or all (or 0 / 1), got '", name, "'");
    detail::winograd_setting().store(v, std::memory_order_relaxed);
  }
  return static_cast<WinogradUse>(v);
}

/// Sets where Winograd runs for the whole process (calls already running keep their path).
/// WinogradUse::off gives the direct convolution's rounding, e.g. for parity tests.
inline void set_winograd(WinogradUse use) {
  detail::winograd_setting().store(static_cast<int>(use), std::memory_order_relaxed);
}

namespace winograd {

/// Whether a convolution of this geometry and these channel counts fits F(4×4, 3×3). Below 16
/// channels the GEMMs are too thin to gain from a quarter of the products.
inline bool fits(const Conv2dGeometry& g, std::int64_t c_in, std::int64_t c_out) {
  return g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 &&
         g.dilation_w == 1 && g.groups == 1 && c_in >= 16 && c_out >= 16;
}

/// Output pixels of a call (all images) below which transforming the kernel (O·C·36 values,
/// every call unless the weights are prepared for inference) costs more than the products save:
/// at batch 1 on 28×28 maps the direct convolution was up to 2× faster (docs/performance.md).
inline constexpr std::int64_t min_pixels = 4096;

/// Whether a conv2d on T with prepared (inference) weights runs through Winograd.
template <class T>
bool applies_prepared(const Conv2dGeometry& g, std::int64_t c_in, std::int64_t c_out) {
  return std::is_same_v<T, float> && fits(g, c_in, c_out) && winograd_use() != WinogradUse::off;
}

/// Whether a conv2d on T without prepared weights (training: forward, input or weight
/// gradient), with `pixels` output pixels, runs through Winograd.
template <class T>
bool applies(const Conv2dGeometry& g, std::int64_t c_in, std::int64_t c_out, std::int64_t pixels) {
  return std::is_same_v<T, float> && fits(g, c_in, c_out) && pixels >= min_pixels &&
         winograd_use() == WinogradUse::all;
}

/// y = epilogue(conv(x, W)) for a 3×3 stride-1 undilated convolution (any padding), from W
/// packed by pack_kernel. `chunk_tiles` (> 0) overrides the chunk size, for tests.
///
/// With many chunks each thread runs whole chunks (transform, GEMMs, transform back) on its own
/// buffers, sized to stay in its L2 cache: written once and read once there, the transformed
/// data never goes to memory. With fewer chunks than a few per thread, each step of a chunk is
/// spread over the threads instead.
template <class T>
void conv2d(const Tensor<T>& x, const T* packed_u, std::int64_t c_out, const Conv2dGeometry& g,
            const ConvEpilogue<T>& e, Tensor<T>& y, std::int64_t chunk_tiles = 0) {
  const std::int64_t c_in = x.size(1);
  const Tiles s = tiles_of(x, c_out, g);
  if (y.numel() == 0 || s.count == 0) return;
  const std::int64_t nr = gemm::block<T>().nr, mr = gemm::block<T>().mr;
  const std::int64_t a_size = gemm::packed_a_size<T>(c_out, c_in);
  const int threads = num_threads();
  const T* padded = pad_input(x, g, s);

  // Chunk size: the transformed input and output of a chunk take about 1 MB, at least one GEMM
  // panel. Measured on ResNet50's 3×3 layers at batch 8 (2026-11-29): 0.25–2 MB within 10 %,
  // 4 MB up to 1.8× slower; a floor of 64–256 tiles for wide layers gained nothing.
  constexpr std::int64_t chunk_bytes = std::int64_t{1} << 20;
  std::int64_t chunk = chunk_tiles > 0 ? chunk_tiles : chunk_bytes / (points * (c_in + c_out) * std::int64_t(sizeof(T)));
  chunk = std::max(nr, chunk / nr * nr);
  const std::int64_t chunks = (s.count + chunk - 1) / chunk;
  auto cols_of = [&](std::int64_t t_begin) { return gemm::round_up(std::min(chunk, s.count - t_begin), nr); };
  auto buffers = [&](T*& v, T*& m) {
    v = scratch<T>(ScratchSlot::winograd_input, static_cast<std::size_t>(points * c_in * chunk));
    m = scratch<T>(ScratchSlot::winograd_output, static_cast<std::size_t>(points * c_out * chunk));
  };

  if (chunks >= 4 * threads) {
    parallel_items(chunks, [&](std::int64_t item) {
      const std::int64_t t_begin = item * chunk, cols = cols_of(t_begin);
      T *v, *m;
      buffers(v, m);
      for (std::int64_t c = 0; c < c_in; ++c)
        for (std::int64_t p = 0; p < cols / nr; ++p) transform_input_panel(s, padded, t_begin, cols, c, p, nr, v);
      for (std::int64_t xi = 0; xi < points; ++xi)
        gemm::gemm_packed(c_out, cols, c_in, packed_u + xi * a_size, v + xi * c_in * cols, m + xi * c_out * cols, cols,
                          false);
      for (std::int64_t o = 0; o < c_out; ++o)
        for (std::int64_t j0 = 0; j0 < cols; j0 += lanes) transform_output_group(s, e, t_begin, cols, o, j0, m, y.data());
    });
    return;
  }
  T *v, *m;
  buffers(v, m);
  // Items per GEMM point so that every thread has a few (36 points alone leave 16 threads uneven).
  const std::int64_t row_panels = (c_out + mr - 1) / mr;
  const std::int64_t m_parts = std::min(row_panels, std::max<std::int64_t>(1, (4 * threads + points - 1) / points));
  const std::int64_t m_step = (row_panels + m_parts - 1) / m_parts * mr;
  for (std::int64_t t_begin = 0; t_begin < s.count; t_begin += chunk) {
    const std::int64_t cols = cols_of(t_begin), panels = cols / nr, groups = cols / lanes;
    parallel_items(c_in * panels, [&](std::int64_t item) {
      transform_input_panel(s, padded, t_begin, cols, item / panels, item % panels, nr, v);
    });
    parallel_items(points * m_parts, [&](std::int64_t item) {
      const std::int64_t xi = item / m_parts, m0 = item % m_parts * m_step;
      if (m0 < c_out)
        gemm::gemm_packed_rows(c_out, cols, c_in, packed_u + xi * a_size, v + xi * c_in * cols, m + xi * c_out * cols,
                               cols, false, m0, std::min(m0 + m_step, c_out));
    });
    parallel_items(c_out * groups, [&](std::int64_t item) {
      transform_output_group(s, e, t_begin, cols, item / groups, item % groups * lanes, m, y.data());
    });
  }
}

/// Adds dL/dW of a 3×3 stride-1 undilated convolution (any padding) into grad_weight (O×C×3×3).
/// W enters the output only through U = G W Gᵀ, so dL/dW = Gᵀ (dL/dU) G, and per point ξ
/// dL/dU_ξ = Σ_tiles (A dY Aᵀ)_ξ · (Bᵀ d B)_ξᵀ: 36 GEMMs whose depth is the tiles. The tiles are
/// cut into chunks (the deeper, the fewer passes over dL/dU), each step of a chunk spread over
/// the threads, which share one dL/dU (a thread's own copy would be 36·O·C floats); the last
/// transform runs in double.
/// `chunk_tiles` (> 0) overrides the chunk size, for tests.
template <class T>
void weight_grad(const Tensor<T>& x, const Tensor<T>& grad_y, const Conv2dGeometry& g, T* grad_weight,
                 std::int64_t chunk_tiles = 0) {
  const std::int64_t c_in = x.size(1), c_out = grad_y.size(1);
  const Tiles s = tiles_of(x, c_out, g);
  if (s.count == 0) return;
  const T* padded = pad_input(x, g, s);
  // About 8 MB of transformed data per chunk, so that it stays in the last-level cache between
  // the transforms and the GEMMs, and at least 64 tiles, so that dL/dU's traffic is amortised.
  // Measured on ResNet50's 3×3 layers at batch 8 (2026-11-29, 2 cores, noisy: ±40 % run to
  // run): 1–8 MB alike on the wide layers, 32 MB and more up to 2× slower on 64 channels.
  constexpr std::int64_t chunk_bytes = std::int64_t{8} << 20, min_tiles = 64;
  std::int64_t chunk = chunk_tiles > 0 ? chunk_tiles
                                       : std::max(min_tiles, chunk_bytes / (points * (c_in + c_out) * std::int64_t(sizeof(T))));
  chunk = gemm::round_up(std::clamp<std::int64_t>(chunk, 1, s.count), lanes);
  T* v = scratch<T>(ScratchSlot::winograd_input, static_cast<std::size_t>(points * c_in * chunk));
  T* dm = scratch<T>(ScratchSlot::winograd_output, static_cast<std::size_t>(points * c_out * chunk));
  const std::size_t du_size = static_cast<std::size_t>(points * c_out * c_in);
  T* du = scratch<T>(ScratchSlot::winograd_weight_sum, du_size);
  std::fill(du, du + du_size, T(0));
  const std::int64_t mr = gemm::block<T>().mr, row_panels = (c_out + mr - 1) / mr;
  const std::int64_t m_parts =
      std::min(row_panels, std::max<std::int64_t>(1, (4 * num_threads() + points - 1) / points));
  const std::int64_t m_step = (row_panels + m_parts - 1) / m_parts * mr;

  for (std::int64_t t_begin = 0; t_begin < s.count; t_begin += chunk) {
    const std::int64_t cols = gemm::round_up(std::min(chunk, s.count - t_begin), lanes), groups = cols / lanes;
    // Plain row-major matrices: v[ξ][c][tile], dm[ξ][o][tile].
    parallel_items((c_in + c_out) * groups, [&](std::int64_t item) {
      const std::int64_t channel = item / groups, j0 = item % groups * lanes;
      T values[36][lanes];
      if (channel < c_in) {
        transform_input_lanes(s, padded, t_begin + j0, channel, values);
        for (int xi = 0; xi < 36; ++xi) std::copy_n(values[xi], lanes, v + (xi * c_in + channel) * cols + j0);
      } else {
        const std::int64_t o = channel - c_in;
        transform_grad_output_lanes(s, grad_y.data(), t_begin + j0, o, values);
        for (int xi = 0; xi < 36; ++xi) std::copy_n(values[xi], lanes, dm + (xi * c_out + o) * cols + j0);
      }
    });
    // du_ξ (O×C) += dm_ξ (O×tiles) · v_ξᵀ (tiles×C), by slices of output channels.
    parallel_items(points * m_parts, [&](std::int64_t item) {
      const std::int64_t xi = item / m_parts, m0 = item % m_parts * m_step;
      if (m0 >= c_out) return;
      const std::int64_t rows = std::min(m_step, c_out - m0);
      gemm::gemm(rows, c_in, cols, dm + (xi * c_out + m0) * cols, cols, std::int64_t{1}, v + xi * c_in * cols,
                 std::int64_t{1}, cols, du + (xi * c_out + m0) * c_in, c_in, true);
    });
  }
  parallel_items(c_out, [&](std::int64_t o) {
    for (std::int64_t c = 0; c < c_in; ++c) {
      double u[36], t[3][6], dw[9];
      for (int xi = 0; xi < 36; ++xi) u[xi] = static_cast<double>(du[(xi * c_out + o) * c_in + c]);
      for (int j = 0; j < 6; ++j) grad_kernel_1d(u + j, 6, &t[0][j], 6);  // t[k][j] = (Gᵀ dU)[k][j]
      for (int k = 0; k < 3; ++k) grad_kernel_1d(t[k], 1, dw + k * 3, 1);  // dw[k][l] = (Gᵀ dU G)[k][l]
      T* dst = grad_weight + (o * c_in + c) * 9;
      for (int k = 0; k < 9; ++k) dst[k] += static_cast<T>(dw[k]);
    }
  });
}

}  // namespace winograd

}  // namespace fcam::cpu

/// \file
/// \brief The pieces of Winograd F(4×4, 3×3) (winograd.hpp): the 1-D transforms and their
/// adjoints, the kernel's transform packed for the GEMM, and the 4×4 tiles of a call, gathered
/// from a zero-padded input and scattered back through the conv epilogue.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/conv2d_geometry.hpp"
#include "fcam/ops/cpu/conv2d_parts.hpp"
#include "fcam/ops/cpu/gemm.hpp"
#include "fcam/ops/cpu/workspace.hpp"

namespace fcam::cpu::winograd {

inline constexpr std::int64_t out_tile = 4;  ///< output tile side (m)
inline constexpr std::int64_t in_tile = 6;   ///< input tile side (m + r − 1)
inline constexpr std::int64_t points = 36;   ///< transformed values per tile (6 × 6)
inline constexpr int lanes = 8;              ///< tiles transformed together (one vector of floats)

// The interpolation points are 0, 1, −1, 1/2, −2 and ∞. Lavin and Gray's 0, ±1, ±2, ∞ give
// the simplest transforms, but on random 256-channel sums in float their error was twice as
// large (mean 4.4e-6 against 2.2e-6 of the largest output): 1/2 and −2 keep the powers in the
// output transform (up to 8 and 1/8) balanced around 1.

/// G·(g0, g1, g2)ᵀ: one 3-vector of the kernel to its 6 interpolated values.
inline void kernel_1d(const double* g, std::int64_t stride, double* u, std::int64_t u_stride) {
  const double g0 = g[0], g1 = g[stride], g2 = g[2 * stride];
  u[0] = g0;
  u[u_stride] = (g0 + g1 + g2) / 3;
  u[2 * u_stride] = (g1 - g0 - g2) / 3;
  u[3 * u_stride] = -(16 * g0 + 8 * g1 + 4 * g2) / 15;
  u[4 * u_stride] = (g0 - 2 * g1 + 4 * g2) / 15;
  u[5 * u_stride] = g2;
}

/// Bᵀ·(d0 … d5)ᵀ on `lanes` tiles at once: in[i][l] is value i of tile l.
template <class T>
void input_1d(const T (*in)[lanes], T (*out)[lanes]) {
  for (int l = 0; l < lanes; ++l) {
    const T d0 = in[0][l], d1 = in[1][l], d2 = in[2][l], d3 = in[3][l], d4 = in[4][l], d5 = in[5][l];
    out[0][l] = d0 + d4 - 2 * d2 + T(1.5) * (d3 - d1);
    out[1][l] = d4 - d1 + T(0.5) * d2 + T(2.5) * d3;
    out[2][l] = d4 + d1 - T(2.5) * d2 + T(0.5) * d3;
    out[3][l] = d4 - d2 + 2 * (d3 - d1);
    out[4][l] = d4 - d2 + T(0.5) * (d1 - d3);
    out[5][l] = d1 + d5 - 2 * d3 + T(1.5) * (d4 - d2);
  }
}

/// Aᵀ·(m0 … m5)ᵀ on `lanes` tiles at once.
template <class T>
void output_1d(const T (*in)[lanes], T (*out)[lanes]) {
  for (int l = 0; l < lanes; ++l) {
    const T m0 = in[0][l], m1 = in[1][l], m2 = in[2][l], m3 = in[3][l], m4 = in[4][l], m5 = in[5][l];
    const T sum12 = m1 + m2, diff12 = m1 - m2;
    out[0][l] = m0 + sum12 + m3 + m4;
    out[1][l] = diff12 + T(0.5) * m3 - 2 * m4;
    out[2][l] = sum12 + T(0.25) * m3 + 4 * m4;
    out[3][l] = diff12 + T(0.125) * m3 - 8 * m4 + m5;
  }
}

/// A·(y0 … y3)ᵀ on `lanes` tiles at once: the adjoint of output_1d, 4 values to 6.
template <class T>
void grad_output_1d(const T (*in)[lanes], T (*out)[lanes]) {
  for (int l = 0; l < lanes; ++l) {
    const T y0 = in[0][l], y1 = in[1][l], y2 = in[2][l], y3 = in[3][l];
    out[0][l] = y0;
    out[1][l] = y0 + y1 + y2 + y3;
    out[2][l] = y0 - y1 + y2 - y3;
    out[3][l] = y0 + T(0.5) * y1 + T(0.25) * y2 + T(0.125) * y3;
    out[4][l] = y0 - 2 * y1 + 4 * y2 - 8 * y3;
    out[5][l] = y3;
  }
}

/// Gᵀ·(u0 … u5)ᵀ: the adjoint of kernel_1d, 6 values to the 3 of a kernel vector.
inline void grad_kernel_1d(const double* u, std::int64_t stride, double* g, std::int64_t g_stride) {
  const double u0 = u[0], u1 = u[stride], u2 = u[2 * stride], u3 = u[3 * stride], u4 = u[4 * stride], u5 = u[5 * stride];
  g[0] = u0 + (u1 - u2) / 3 + (u4 - 16 * u3) / 15;
  g[g_stride] = (u1 + u2) / 3 - (8 * u3 + 2 * u4) / 15;
  g[2 * g_stride] = (u1 - u2) / 3 + (4 * u4 - 4 * u3) / 15 + u5;
}

/// Where row k (input channel) of panel p (tiles p·NR …) of one transformed-input matrix lies in
/// gemm::pack_b's layout for depth `depth` and `cols` columns (a multiple of NR).
inline std::int64_t packed_b_offset(std::int64_t k, std::int64_t p, std::int64_t depth, std::int64_t cols,
                                    std::int64_t nr) {
  const std::int64_t pc = k / gemm::kc_block * gemm::kc_block, kc = std::min(gemm::kc_block, depth - pc);
  return pc * cols + p * nr * kc + (k - pc) * nr;
}

/// Elements of the 36 packed transformed kernels of an O×C×3×3 weight (one gemm::pack_a matrix
/// of O × C per point).
template <class T>
std::int64_t packed_kernel_size(std::int64_t c_out, std::int64_t c_in) {
  return points * gemm::packed_a_size<T>(c_out, c_in);
}

/// U = G g Gᵀ of every (output, input) channel pair of `weight` (O×C×3×3), computed in double
/// and written straight into the packed GEMM A matrices of the 36 points (point ξ at
/// out + ξ·packed_a_size(O, C); gemm::pack_a's layout). All threads, one panel of MR output
/// channels per item, so each write is a run of MR values.
template <class T>
void pack_kernel(const Tensor<T>& weight, T* out) {
  const std::int64_t c_out = weight.size(0), c_in = weight.size(1);
  const std::int64_t a_size = gemm::packed_a_size<T>(c_out, c_in), mr = gemm::block<T>().mr;
  const std::int64_t m_padded = gemm::round_up(c_out, mr);
  parallel_items(m_padded / mr, [&](std::int64_t panel) {
    const std::int64_t o0 = panel * mr;
    for (std::int64_t c = 0; c < c_in; ++c) {
      const std::int64_t pc = c / gemm::kc_block * gemm::kc_block, kc = std::min(gemm::kc_block, c_in - pc);
      T* dst = out + pc * m_padded + o0 * kc + (c - pc) * mr;
      for (std::int64_t i = 0; i < mr; ++i) {
        double u[36] = {};
        if (o0 + i < c_out) {  // rows past O stay zero
          const T* g = weight.data() + ((o0 + i) * c_in + c) * 9;
          double gd[9], t[6][3];
          for (int k = 0; k < 9; ++k) gd[k] = static_cast<double>(g[k]);
          for (int j = 0; j < 3; ++j) kernel_1d(gd + j, 3, &t[0][j], 3);  // columns
          for (int r = 0; r < 6; ++r) kernel_1d(t[r], 1, u + r * 6, 1);    // rows
        }
        for (int xi = 0; xi < 36; ++xi) dst[xi * a_size + i] = static_cast<T>(u[xi]);
      }
    }
  });
}

/// Sizes of one call: the output is cut into 4×4 tiles, numbered image by image, row by row.
struct Tiles {
  std::int64_t c_in, c_out, out_h, out_w;
  std::int64_t across, per_image, count;  ///< tiles per tile row, per image, in all
  std::int64_t padded_w, padded_plane;    ///< the zero-padded input: row length, elements per channel

  /// First output pixel of tile t: image, row, column.
  void locate(std::int64_t t, std::int64_t& image, std::int64_t& row, std::int64_t& col) const {
    image = t / per_image;
    row = t % per_image / across * out_tile;
    col = t % across * out_tile;
  }
};

/// The tiles of a call with input x, c_out output channels and geometry g.
template <class T>
Tiles tiles_of(const Tensor<T>& x, std::int64_t c_out, const Conv2dGeometry& g) {
  Tiles s{};
  s.c_in = x.size(1), s.c_out = c_out, s.out_h = std::max<std::int64_t>(0, g.out_h(x.size(2)));
  s.out_w = std::max<std::int64_t>(0, g.out_w(x.size(3)));
  s.across = (s.out_w + out_tile - 1) / out_tile;
  s.per_image = (s.out_h + out_tile - 1) / out_tile * s.across;
  s.count = x.size(0) * s.per_image;
  s.padded_w = s.across * out_tile + 2;
  s.padded_plane = ((s.out_h + out_tile - 1) / out_tile * out_tile + 2) * s.padded_w;
  return s;
}

/// A zero-padded copy of x sized to whole tiles (so gathering needs no bounds checks), in the
/// calling thread's scratch memory; all threads copy.
template <class T>
const T* pad_input(const Tensor<T>& x, const Conv2dGeometry& g, const Tiles& s) {
  const std::int64_t h = x.size(2), w = x.size(3), padded_h = s.padded_plane / s.padded_w;
  T* padded = scratch<T>(ScratchSlot::padded_input, static_cast<std::size_t>(x.size(0) * s.c_in * s.padded_plane));
  parallel_items(x.size(0) * s.c_in, [&](std::int64_t nc) {
    const T* src = x.data() + nc * h * w;
    T* dst = padded + nc * s.padded_plane;
    const std::int64_t q0 = std::max<std::int64_t>(0, g.pad_w), q1 = std::min(s.padded_w, w + g.pad_w);
    for (std::int64_t r = 0; r < padded_h; ++r) {
      T* row = dst + r * s.padded_w;
      const std::int64_t ih = r - g.pad_h;
      std::fill(row, row + s.padded_w, T(0));
      if (ih >= 0 && ih < h && q1 > q0) std::copy(src + ih * w + (q0 - g.pad_w), src + ih * w + (q1 - g.pad_w), row + q0);
    }
  });
  return padded;
}

/// Bᵀ d B of input channel c for the `lanes` tiles from tile `first` (tiles past the last
/// repeat it): out[ξ][l].
template <class T>
void transform_input_lanes(const Tiles& s, const T* padded, std::int64_t first, std::int64_t c, T (*out)[lanes]) {
  T d[6][6][lanes], t[6][6][lanes];  // d[column][row]
  for (int l = 0; l < lanes; ++l) {
    std::int64_t image, row, col;
    s.locate(std::min(first + l, s.count - 1), image, row, col);
    const T* src = padded + (image * s.c_in + c) * s.padded_plane + row * s.padded_w + col;
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 6; ++j) d[j][i][l] = src[i * s.padded_w + j];
  }
  for (int j = 0; j < 6; ++j) input_1d<T>(d[j], t[j]);  // t[j][i] = (Bᵀ d)[i][j]
  for (int i = 0; i < 6; ++i) {
    T row[6][lanes];
    for (int j = 0; j < 6; ++j)
      for (int l = 0; l < lanes; ++l) row[j][l] = t[j][i][l];
    input_1d<T>(row, out + i * 6);  // out[i·6 + j] = (Bᵀ d B)[i][j]
  }
}

/// Bᵀ d B of input channel c for the NR tiles of panel p of a chunk starting at tile t_begin,
/// written into the packed B matrices of the 36 points (v: point ξ at v + ξ·c_in·cols). Lanes
/// past the last tile repeat it; their columns of M are never read.
template <class T>
void transform_input_panel(const Tiles& s, const T* padded, std::int64_t t_begin, std::int64_t cols, std::int64_t c,
                           std::int64_t p, std::int64_t nr, T* v) {
  T values[36][lanes];
  for (std::int64_t l0 = 0; l0 < nr; l0 += lanes) {
    transform_input_lanes(s, padded, t_begin + p * nr + l0, c, values);
    const std::int64_t offset = packed_b_offset(c, p, s.c_in, cols, nr) + l0;
    for (int xi = 0; xi < 36; ++xi) std::copy_n(values[xi], lanes, v + xi * s.c_in * cols + offset);
  }
}

/// Aᵀ M A of output channel o for the `lanes` tiles from column j0 of a chunk starting at tile
/// t_begin (m: point ξ at m + ξ·c_out·cols), written to y through the epilogue.
template <class T>
void transform_output_group(const Tiles& s, const ConvEpilogue<T>& e, std::int64_t t_begin, std::int64_t cols,
                            std::int64_t o, std::int64_t j0, const T* m, T* y) {
  T in[6][6][lanes], t[6][4][lanes], out[4][4][lanes];
  for (int xi = 0; xi < 36; ++xi) std::copy_n(m + (xi * s.c_out + o) * cols + j0, lanes, in[xi % 6][xi / 6]);
  for (int j = 0; j < 6; ++j) output_1d<T>(in[j], t[j]);  // t[j][a] = (Aᵀ M)[a][j]
  for (int a = 0; a < 4; ++a) {
    T row[6][lanes];
    for (int j = 0; j < 6; ++j)
      for (int l = 0; l < lanes; ++l) row[j][l] = t[j][a][l];
    output_1d<T>(row, out[a]);  // out[a][b] = (Aᵀ M A)[a][b]
  }
  for (int l = 0; l < lanes && t_begin + j0 + l < s.count; ++l) {
    std::int64_t image, row, col;
    s.locate(t_begin + j0 + l, image, row, col);
    const std::int64_t width = std::min(out_tile, s.out_w - col);
    for (std::int64_t a = 0; a < out_tile && row + a < s.out_h; ++a) {
      const std::ptrdiff_t at = ((image * s.c_out + o) * s.out_h + row + a) * s.out_w + col;
      if (e.identity()) {
        for (std::int64_t b = 0; b < width; ++b) y[at + b] = out[a][b][l];
      } else {
        T values[4];
        for (int b = 0; b < 4; ++b) values[b] = out[a][b][l];
        detail::epilogue_row(e, o, values, y + at, e.residual ? e.residual + at : nullptr, width);
      }
    }
  }
}

/// A dY Aᵀ of output channel o for the `lanes` tiles from tile `first` (the adjoint of the
/// output transform; values past the output and tiles past the last are zero): out[ξ][l].
template <class T>
void transform_grad_output_lanes(const Tiles& s, const T* grad_y, std::int64_t first, std::int64_t o,
                                 T (*out)[lanes]) {
  T dy[4][4][lanes] = {}, t[4][6][lanes];  // dy[column][row]
  for (int l = 0; l < lanes && first + l < s.count; ++l) {
    std::int64_t image, row, col;
    s.locate(first + l, image, row, col);
    const std::int64_t width = std::min(out_tile, s.out_w - col);
    for (std::int64_t a = 0; a < out_tile && row + a < s.out_h; ++a) {
      const T* src = grad_y + ((image * s.c_out + o) * s.out_h + row + a) * s.out_w + col;
      for (std::int64_t b = 0; b < width; ++b) dy[b][a][l] = src[b];
    }
  }
  for (int b = 0; b < 4; ++b) grad_output_1d<T>(dy[b], t[b]);  // t[b][i] = (A dY)[i][b]
  for (int i = 0; i < 6; ++i) {
    T row[4][lanes];
    for (int b = 0; b < 4; ++b)
      for (int l = 0; l < lanes; ++l) row[b][l] = t[b][i][l];
    grad_output_1d<T>(row, out + i * 6);  // out[i·6 + j] = (A dY Aᵀ)[i][j]
  }
}

}  // namespace fcam::cpu::winograd

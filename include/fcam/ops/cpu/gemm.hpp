/// \file
/// \brief A packed, cache-blocked GEMM (C = A·B or C += A·B) with register-blocked SIMD micro-kernels.
///
/// Layout follows the Goto/BLIS scheme: A is packed into panels of MR rows (k-major), B into
/// panels of NR columns (k-major); the micro-kernel keeps an MR×NR block of C in registers while
/// it walks k. Convolution packs its weights once per call and reuses them for every tile, which
/// a general BLAS call cannot do. float runs the micro-kernel of active_isa() (AVX-512 8×32,
/// AVX2+FMA 6×16 or portable 4×8, all compiled in fcam::runtime), so MR and NR are run-time
/// values for float; other types use a portable 4×8 kernel compiled here.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "fcam/ops/cpu/gemm_kernels.hpp"
#include "fcam/ops/cpu/workspace.hpp"

namespace fcam::cpu::gemm {

/// Register block of a micro-kernel: MR rows of A × NR columns of B.
struct Block {
  std::int64_t mr;  ///< rows per A panel
  std::int64_t nr;  ///< columns per B panel
};

/// Register block of the portable kernel of types other than float.
inline constexpr Block portable_block{4, 8};

/// The register block the GEMM of T uses in this process (float: that of active_isa()).
template <class T>
Block block() {
  if constexpr (std::is_same_v<T, float>) {
    const FloatKernels& k = active_float_kernels();
    return {k.mr, k.nr};
  } else {
    return portable_block;
  }
}

/// Depth of one k block (a B micro-panel of kc×NR stays in L1; 128–320 measured within 3% on
/// the conv benchmark, 256 best for the deepest kernels).
inline constexpr std::int64_t kc_block = 256;
/// Columns of C per cache block: the mc×nc block of C and the kc×nc block of B that one pass
/// over k revisits stay in L2 (measured 10% faster on 3×3 64→64 at batch 8, where a tile is a
/// whole 56×58 image, and neutral elsewhere).
inline constexpr std::int64_t nc_block = 512;
/// Rows of A per cache block (an mc×kc block of packed A stays in L2): a multiple of mr.
inline std::int64_t mc_block(std::int64_t mr) { return mr * (256 / mr); }

/// Rounds n up to a multiple of m.
inline std::int64_t round_up(std::int64_t n, std::int64_t m) { return (n + m - 1) / m * m; }

/// Elements needed to pack an M×K matrix A.
template <class T>
std::int64_t packed_a_size(std::int64_t m, std::int64_t k) {
  return round_up(m, block<T>().mr) * k;
}
/// Elements needed to pack a K×N matrix B.
template <class T>
std::int64_t packed_b_size(std::int64_t k, std::int64_t n) {
  return round_up(n, block<T>().nr) * k;
}

/// Packs rows [row_begin, row_end) of A (both multiples of MR, or row_end = M) into their place in
/// the layout of pack_a(); disjoint row ranges may be packed by different threads.
template <class T>
void pack_a_rows(const T* a, std::int64_t rs, std::int64_t cs, std::int64_t m, std::int64_t k, std::int64_t row_begin,
                 std::int64_t row_end, T* out) {
  const std::int64_t mr = block<T>().mr;
  const std::int64_t m_padded = round_up(m, mr);
  for (std::int64_t pc = 0; pc < k; pc += kc_block) {
    const std::int64_t kc = std::min(kc_block, k - pc);
    for (std::int64_t i0 = row_begin; i0 < row_end; i0 += mr) {
      const std::int64_t rows = std::min(mr, m - i0);
      T* dst = out + pc * m_padded + i0 * kc;
      for (std::int64_t kk = pc; kk < pc + kc; ++kk, dst += mr) {
        for (std::int64_t i = 0; i < rows; ++i) dst[i] = a[(i0 + i) * rs + kk * cs];
        for (std::int64_t i = rows; i < mr; ++i) dst[i] = T(0);
      }
    }
  }
}

/// Packs A (M×K, element (i, k) at a[i·rs + k·cs]) block by block of kc_block columns, each
/// block a run of MR-row panels out[block][panel][k][MR] (zero rows past M), so that the A block
/// a cache pass reads is contiguous.
template <class T>
void pack_a(const T* a, std::int64_t rs, std::int64_t cs, std::int64_t m, std::int64_t k, T* out) {
  pack_a_rows(a, rs, cs, m, k, 0, m, out);
}

/// Packs the `cols` (<= NR) columns of B that start at column j0 (element (k, j) at
/// b[k·rs + j·cs], b pointing at column j0) into their panel of pack_b's layout of a K×N matrix
/// (n_padded = round_up(N, NR)), zero columns past `cols`. A caller can build B a panel at a time
/// into a small buffer and pack it from there. Row-contiguous B (cs = 1) is copied a row segment
/// at a time; column-contiguous float B (rs = 1) goes through the active instruction set's
/// transpose kernel.
template <class T>
void pack_b_panel(const T* b, std::int64_t rs, std::int64_t cs, std::int64_t k, std::int64_t cols, std::int64_t j0,
                  std::int64_t n_padded, T* out) {
  const std::int64_t nr = block<T>().nr;
  for (std::int64_t pc = 0; pc < k; pc += kc_block) {
    const std::int64_t kc = std::min(kc_block, k - pc);
    T* dst = out + pc * n_padded + j0 * kc;
    if constexpr (std::is_same_v<T, float>) {
      if (rs == 1 && cs != 1) {
        active_float_kernels().transpose(b + pc, cs, cols, kc, dst, nr);
        if (cols < nr)  // zero columns past N
          for (std::int64_t kk = 0; kk < kc; ++kk) std::fill(dst + kk * nr + cols, dst + (kk + 1) * nr, T(0));
        continue;
      }
    }
    for (std::int64_t kk = pc; kk < pc + kc; ++kk, dst += nr) {
      const T* src = b + kk * rs;
      if (cs == 1) {
        std::copy(src, src + cols, dst);
      } else {
        for (std::int64_t j = 0; j < cols; ++j) dst[j] = src[j * cs];
      }
      std::fill(dst + cols, dst + nr, T(0));
    }
  }
}

/// Packs B (K×N, element (k, j) at b[k·rs + j·cs]) block by block of kc_block rows into
/// NR-column panels out[block][panel][k][NR] (zero columns past N), a panel at a time
/// (pack_b_panel).
template <class T>
void pack_b(const T* b, std::int64_t rs, std::int64_t cs, std::int64_t k, std::int64_t n, T* out) {
  const std::int64_t nr = block<T>().nr, n_padded = round_up(n, nr);
  for (std::int64_t j0 = 0; j0 < n; j0 += nr)
    pack_b_panel(b + j0 * cs, rs, cs, k, std::min(nr, n - j0), j0, n_padded, out);
}

/// Packs a K×N matrix B produced row by row (same layout as pack_b): make_row(k, row) writes the
/// N values of row k into `row` (a buffer of N elements, small enough to stay in L1), which are
/// then spread over the panels. Saves the full K×N intermediate of a separate im2col.
template <class T, class RowFn>
void pack_b_rows(std::int64_t k, std::int64_t n, RowFn&& make_row, T* row, T* out) {
  const std::int64_t nr = block<T>().nr;
  const std::int64_t n_padded = round_up(n, nr);
  for (std::int64_t kk = 0; kk < k; ++kk) {
    make_row(kk, row);
    const std::int64_t pc = kk / kc_block * kc_block, kc = std::min(kc_block, k - pc);
    T* block = out + pc * n_padded + (kk - pc) * nr;
    for (std::int64_t j0 = 0; j0 < n; j0 += nr) {
      const std::int64_t cols = std::min(nr, n - j0);
      T* dst = block + j0 * kc;
      std::copy(row + j0, row + j0 + cols, dst);
      std::fill(dst + cols, dst + nr, T(0));
    }
  }
}

/// B panel read from packed storage: row k of the panel at p + k·NR.
template <class T>
struct PackedPanel {
  const T* p;  ///< first row of the panel
};

namespace detail {

/// Epilogue's formula for value v at (i, j) of a block.
template <class T>
T epilogue_value(const Epilogue<T>& e, std::int64_t i, std::int64_t j, T v) {
  const T shift = e.shift ? e.shift[i] : T(0);
  v = e.scale ? v * e.scale[i] + shift : v + shift;
  if (e.residual) v += e.residual[i * e.ldr + j];
  return e.relu ? std::min(std::max(v, T(0)), e.relu_max) : v;
}

/// Portable micro-kernel: C[rows×cols] = epilogue(Apanel(kc×MR)ᵀ · Bpanel(kc×NR) (+ C)). The
/// float kernels of fcam::runtime use it for Isa::portable; other types use it directly.
template <class T, int MR, int NR>
void portable_micro_kernel(std::int64_t kc, const T* a, const PackedPanel<T>& b_panel, T* c, std::int64_t ldc,
                           bool accumulate, std::int64_t rows, std::int64_t cols, const Epilogue<T>* epilogue) {
  T acc[MR * NR] = {};
  for (std::int64_t k = 0; k < kc; ++k, a += MR) {
    const T* b = b_panel.p + k * NR;
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i * NR + j] += a[i] * b[j];
  }
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) {
      const T v = (accumulate ? c[i * ldc + j] : T(0)) + acc[i * NR + j];
      c[i * ldc + j] = epilogue ? epilogue_value(*epilogue, i, j, v) : v;
    }
}

/// One register block of C from an A panel and a B panel: float through `kernels` (the table of
/// this process), other types through the portable kernel (`kernels` is null for them).
template <class T>
void micro_kernel(const FloatKernels* kernels, std::int64_t kc, const T* a, const PackedPanel<T>& b, T* c,
                  std::int64_t ldc, bool accumulate, std::int64_t rows, std::int64_t cols,
                  const Epilogue<T>* epilogue) {
  if constexpr (std::is_same_v<T, float>) {
    kernels->packed(kc, a, b.p, c, ldc, accumulate, rows, cols, epilogue);
  } else {
    portable_micro_kernel<T, portable_block.mr, portable_block.nr>(kc, a, b, c, ldc, accumulate, rows, cols, epilogue);
  }
}
/// Packs one B panel from row pointers (GatherKernel's contract): float through `kernels`, other
/// types by a plain loop.
template <class T>
void gather_panel(const FloatKernels* kernels, const T* const* b_rows, std::int64_t b_offset, std::int64_t kc,
                  std::int64_t cols, T* out) {
  if constexpr (std::is_same_v<T, float>) {
    kernels->gather(b_rows, b_offset, kc, cols, out);
  } else {
    constexpr std::int64_t nr = portable_block.nr;
    for (std::int64_t k = 0; k < kc; ++k) {
      std::copy(b_rows[k] + b_offset, b_rows[k] + b_offset + cols, out + k * nr);
      std::fill(out + k * nr + cols, out + (k + 1) * nr, T(0));
    }
  }
}

/// The blocked loops shared by the packed and indirect products: rows [m_begin, m_end) of
/// C[M×N] (+)= A·B with packed A (all M rows) and B panels from panel_at(kernels, pc, jr, kc),
/// each used for every A panel of a block of mc rows. m_begin must be a multiple of MR, and m_end
/// one too or M.
/// `epilogue` (addressing C's first row and column) is applied by the micro-kernel as it stores
/// each block of the last k block.
template <class T, class PanelAt>
void gemm_blocked(std::int64_t m, std::int64_t n, std::int64_t k, const T* a_packed, PanelAt&& panel_at, T* c,
                  std::int64_t ldc, bool accumulate, std::int64_t m_begin, std::int64_t m_end,
                  const Epilogue<T>& epilogue) {
  // The kernel table is looked up once per product, and only for float (other types never
  // depend on FCAM_ISA).
  const FloatKernels* kernels = std::is_same_v<T, float> ? &active_float_kernels() : nullptr;
  // Plain variables, not a structured binding: the lambda below captures them, which clang
  // before 16 rejects for bindings.
  const Block register_block = block<T>();
  const std::int64_t mr = register_block.mr, nr = register_block.nr;
  const std::int64_t mc = mc_block(mr), m_padded = round_up(m, mr);
  // The micro-kernel's call for the block at (ir, jr) over depth kc of A and B from pc.
  auto run = [&](std::int64_t pc, std::int64_t kc, const PackedPanel<T>& b_panel, std::int64_t ir, std::int64_t jr) {
    const bool last = pc + kc == k && !epilogue.none();
    const Epilogue<T> here = last ? epilogue.at(ir, jr) : Epilogue<T>{};
    const T* a_panel = a_packed + pc * m_padded + ir * kc;
    micro_kernel(kernels, kc, a_panel, b_panel, c + ir * ldc + jr, ldc, accumulate || pc > 0, std::min(mr, m - ir),
                 std::min(nr, n - jr), last ? &here : nullptr);
  };
  if (k == 0) {  // C = epilogue(0), or epilogue(C) with `accumulate`: no depth to walk
    for (std::int64_t ir = m_begin; ir < m_end; ir += mr)
      for (std::int64_t jr = 0; jr < n; jr += nr) run(0, 0, PackedPanel<T>{nullptr}, ir, jr);
    return;
  }
  for (std::int64_t jc = 0; jc < n; jc += nc_block) {
    const std::int64_t jc_end = std::min(jc + nc_block, n);
    for (std::int64_t pc = 0; pc < k; pc += kc_block) {
      const std::int64_t kc = std::min(kc_block, k - pc);
      for (std::int64_t ic = m_begin; ic < m_end; ic += mc) {
        const std::int64_t ic_end = std::min(ic + mc, m_end);
        for (std::int64_t jr = jc; jr < jc_end; jr += nr) {
          const PackedPanel<T> b_panel = panel_at(kernels, pc, jr, kc);
          for (std::int64_t ir = ic; ir < ic_end; ir += mr) run(pc, kc, b_panel, ir, jr);
        }
      }
    }
  }
}

}  // namespace detail

/// Rows [m_begin, m_end) of gemm_packed's product (m_begin a multiple of MR): one product cut
/// over threads by output rows.
template <class T>
void gemm_packed_rows(std::int64_t m, std::int64_t n, std::int64_t k, const T* a_packed, const T* b_packed, T* c,
                      std::int64_t ldc, bool accumulate, std::int64_t m_begin, std::int64_t m_end,
                      const Epilogue<T>& epilogue = {}) {
  const std::int64_t n_padded = round_up(n, block<T>().nr);
  detail::gemm_blocked(
      m, n, k, a_packed,
      [&](const FloatKernels*, std::int64_t pc, std::int64_t jr, std::int64_t kc) {
        return PackedPanel<T>{b_packed + pc * n_padded + jr * kc};
      },
      c, ldc, accumulate, m_begin, m_end, epilogue);
}

/// C[M×N] (row stride ldc) = A·B, or C += A·B with `accumulate`, from packed A (pack_a) and
/// packed B (pack_b) of depth K, then `epilogue` (see detail::gemm_blocked). Single-threaded;
/// callers parallelise over independent C blocks.
template <class T>
void gemm_packed(std::int64_t m, std::int64_t n, std::int64_t k, const T* a_packed, const T* b_packed, T* c,
                 std::int64_t ldc, bool accumulate, const Epilogue<T>& epilogue = {}) {
  gemm_packed_rows(m, n, k, a_packed, b_packed, c, ldc, accumulate, 0, m, epilogue);
}

/// Rows [m_begin, m_end) of C[M×N] (+)= A·B with packed A (all M rows; m_begin a multiple of
/// MR) and B read through row pointers: row k of B is b_rows[k][b_offset + j] for j < N.
/// Convolution points the rows into its (padded) input, so B is never packed as a whole: each
/// NR-column panel is gathered from the rows into one small buffer right before the A panels of
/// a block use it. Reading the rows in place instead cost about a quarter of the micro-kernel's
/// speed where they are not 64-byte aligned (a 29-wide padded row), since every B load then
/// splits over two cache lines and the panel no longer fits in L1. Nothing past column N is
/// read. `epilogue`: see detail::gemm_blocked.
template <class T>
void gemm_indirect(std::int64_t m, std::int64_t n, std::int64_t k, const T* a_packed, const T* const* b_rows,
                   std::int64_t b_offset, T* c, std::int64_t ldc, bool accumulate, std::int64_t m_begin,
                   std::int64_t m_end, const Epilogue<T>& epilogue = {}) {
  const std::int64_t nr = block<T>().nr;
  T* panel = scratch<T>(ScratchSlot::gathered_panel, static_cast<std::size_t>(kc_block * nr));
  detail::gemm_blocked(
      m, n, k, a_packed,
      [&](const FloatKernels* kernels, std::int64_t pc, std::int64_t jr, std::int64_t kc) {
        detail::gather_panel(kernels, b_rows + pc, b_offset + jr, kc, std::min(nr, n - jr), panel);
        return PackedPanel<T>{panel};
      },
      c, ldc, accumulate, m_begin, m_end, epilogue);
}

/// C (+)= A·B for strided A (M×K: a[i·rsa + k·csa]) and B (K×N: b[k·rsb + j·csb]), packing both
/// into the calling thread's scratch buffers.
template <class T>
void gemm(std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t rsa, std::int64_t csa, const T* b,
          std::int64_t rsb, std::int64_t csb, T* c, std::int64_t ldc, bool accumulate) {
  T* a_packed = scratch<T>(ScratchSlot::packed_a, static_cast<std::size_t>(packed_a_size<T>(m, k)));
  T* b_packed = scratch<T>(ScratchSlot::packed_b, static_cast<std::size_t>(packed_b_size<T>(k, n)));
  pack_a(a, rsa, csa, m, k, a_packed);
  pack_b(b, rsb, csb, k, n, b_packed);
  gemm_packed(m, n, k, a_packed, b_packed, c, ldc, accumulate);
}

}  // namespace fcam::cpu::gemm

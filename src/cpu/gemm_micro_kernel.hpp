// The float GEMM micro-kernel, written once over a SIMD register type and compiled once per
// instruction set (gemm_kernels_<isa>.cpp, each with its own -m flags).
//
// Everything here has internal linkage and uses no standard-library template: an inline
// function or template instantiated in a file built with -mavx512f could otherwise be emitted
// there with AVX-512 instructions and picked by the linker for the whole program.
#pragma once

#include <cstdint>

#include "fcam/ops/cpu/gemm_kernels.hpp"

namespace fcam::cpu::gemm {
namespace {

/// Row k of a packed B panel.
struct PackedRows {
  const float* b;
  std::int64_t nr;
  const float* row(std::int64_t k) const { return b + k * nr; }
};

/// Row k of a B panel read in place.
struct IndirectRows {
  const float* const* rows;
  std::int64_t offset;
  const float* row(std::int64_t k) const { return rows[k] + offset; }
};

/// Writes the valid rows × cols of a register block held in `tile` (row-major, `width` columns).
inline void store_valid(const float* tile, std::int64_t width, float* c, std::int64_t ldc, bool accumulate,
                        std::int64_t rows, std::int64_t cols) {
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + tile[i * width + j];
}

/// MR rows × two registers of columns: 2·MR accumulators, two B loads and one broadcast per row
/// per k step. V: the register type (zero, load, broadcast, fmadd, add, store; `width` lanes).
template <class V, int MR, class Rows>
void simd_kernel(std::int64_t kc, const float* a, const Rows& b_rows, float* c, std::int64_t ldc, bool accumulate,
                 std::int64_t rows, std::int64_t cols) {
  constexpr int w = V::width;
  typename V::type lo[MR], hi[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) lo[i] = hi[i] = V::zero();
  for (std::int64_t k = 0; k < kc; ++k, a += MR) {
    const float* b = b_rows.row(k);
    const typename V::type b0 = V::load(b), b1 = V::load(b + w);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const typename V::type ai = V::broadcast(a[i]);
      lo[i] = V::fmadd(ai, b0, lo[i]);
      hi[i] = V::fmadd(ai, b1, hi[i]);
    }
  }
  if (rows == MR && cols == 2 * w) {
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      float* row = c + i * ldc;
      if (accumulate) {
        lo[i] = V::add(lo[i], V::load(row));
        hi[i] = V::add(hi[i], V::load(row + w));
      }
      V::store(row, lo[i]);
      V::store(row + w, hi[i]);
    }
    return;
  }
  alignas(64) float tile[MR * 2 * w];
  for (int i = 0; i < MR; ++i) {
    V::store(tile + i * 2 * w, lo[i]);
    V::store(tile + i * 2 * w + w, hi[i]);
  }
  store_valid(tile, 2 * w, c, ldc, accumulate, rows, cols);
}

/// The kernel table of one register type: MR rows × 2·width columns.
template <class V, int MR>
FloatKernels simd_kernels(Isa isa, TransposeKernel transpose) {
  return FloatKernels{
      isa, MR, 2 * V::width,
      [](std::int64_t kc, const float* a, const float* b, float* c, std::int64_t ldc, bool accumulate,
         std::int64_t rows, std::int64_t cols) {
        simd_kernel<V, MR>(kc, a, PackedRows{b, 2 * V::width}, c, ldc, accumulate, rows, cols);
      },
      [](std::int64_t kc, const float* a, const float* const* b_rows, std::int64_t b_offset, float* c,
         std::int64_t ldc, bool accumulate, std::int64_t rows, std::int64_t cols) {
        simd_kernel<V, MR>(kc, a, IndirectRows{b_rows, b_offset}, c, ldc, accumulate, rows, cols);
      },
      transpose};
}

}  // namespace
}  // namespace fcam::cpu::gemm

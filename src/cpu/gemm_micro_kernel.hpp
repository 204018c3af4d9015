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

/// Writes the valid rows × cols of a register block held in `tile` (row-major, `width` columns).
inline void store_valid(const float* tile, std::int64_t width, float* c, std::int64_t ldc, bool accumulate,
                        std::int64_t rows, std::int64_t cols) {
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + tile[i * width + j];
}

/// MR rows × two registers of columns: 2·MR accumulators, two B loads and one broadcast per row
/// per k step. V: the register type (zero, load, broadcast, fmadd, add, store; `width` lanes).
template <class V, int MR>
void simd_kernel(std::int64_t kc, const float* a, const float* b, float* c, std::int64_t ldc, bool accumulate,
                 std::int64_t rows, std::int64_t cols) {
  constexpr int w = V::width;
  typename V::type lo[MR], hi[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) lo[i] = hi[i] = V::zero();
  for (std::int64_t k = 0; k < kc; ++k, a += MR, b += 2 * w) {
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

/// GatherKernel for panels of two registers: whole rows move as two unaligned loads and two
/// stores; a partial panel (the last columns of B) is copied value by value and zero-filled.
template <class V>
void simd_gather(const float* const* b_rows, std::int64_t b_offset, std::int64_t kc, std::int64_t cols, float* out) {
  constexpr int nr = 2 * V::width;
  if (cols == nr) {
    for (std::int64_t k = 0; k < kc; ++k, out += nr) {
      const float* row = b_rows[k] + b_offset;
      V::store(out, V::load(row));
      V::store(out + V::width, V::load(row + V::width));
    }
    return;
  }
  for (std::int64_t k = 0; k < kc; ++k, out += nr) {
    const float* row = b_rows[k] + b_offset;
    for (std::int64_t j = 0; j < cols; ++j) out[j] = row[j];
    for (std::int64_t j = cols; j < nr; ++j) out[j] = 0.0f;
  }
}

/// The kernel table of one register type: MR rows × 2·width columns.
template <class V, int MR>
FloatKernels simd_kernels(Isa isa, TransposeKernel transpose) {
  return FloatKernels{isa, MR, 2 * V::width, simd_kernel<V, MR>, simd_gather<V>, transpose};
}

}  // namespace
}  // namespace fcam::cpu::gemm

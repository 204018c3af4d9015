// The float GEMM micro-kernel, written once over a SIMD register type and compiled once per
// instruction set (gemm_kernels_<isa>.cpp, each with its own -m flags).
//
// Everything here has internal linkage and uses no standard-library template: an inline
// function or template instantiated in a file built with -mavx512f could otherwise be emitted
// there with AVX-512 instructions and picked by the linker for the whole program. For the same
// reason the kernels only read gemm::Epilogue's fields: constructing one, or calling its
// member functions, would instantiate inline code of the shared header here.
#pragma once

#include <cstdint>

#include "fcam/ops/cpu/gemm_kernels.hpp"

namespace fcam::cpu::gemm {
namespace {

/// Copies the valid rows × cols of a block (row stride ld) into `tile` (row-major, `width`
/// columns) and zeroes the rest, so that a partial block runs the whole block's register code.
inline void load_valid(const float* from, std::int64_t ld, std::int64_t rows, std::int64_t cols, float* tile,
                       std::int64_t width, std::int64_t tile_rows) {
  for (std::int64_t i = 0; i < tile_rows; ++i)
    for (std::int64_t j = 0; j < width; ++j) tile[i * width + j] = i < rows && j < cols ? from[i * ld + j] : 0.0f;
}

/// Writes the valid rows × cols of `tile` (row-major, `width` columns) to c.
inline void store_valid(const float* tile, std::int64_t width, float* c, std::int64_t ldc, std::int64_t rows,
                        std::int64_t cols) {
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) c[i * ldc + j] = tile[i * width + j];
}

/// Applies the epilogue of row i (Epilogue's formula) to the two registers of one row of C;
/// `residual` points at the row's residual values (null: none).
template <class V>
void apply_epilogue(const Epilogue<float>& e, std::int64_t i, const float* residual, typename V::type& lo,
                    typename V::type& hi) {
  constexpr int w = V::width;
  const typename V::type shift = e.shift ? V::broadcast(e.shift[i]) : V::zero();
  if (e.scale) {
    const typename V::type scale = V::broadcast(e.scale[i]);
    lo = V::fmadd(lo, scale, shift);
    hi = V::fmadd(hi, scale, shift);
  } else {  // + 0 too, as v·1 + 0 would: −0 becomes +0
    lo = V::add(lo, shift);
    hi = V::add(hi, shift);
  }
  if (residual) {
    lo = V::add(lo, V::load(residual));
    hi = V::add(hi, V::load(residual + w));
  }
  if (e.relu) {  // max(0, v), then min(cap, v): NaN stays NaN, as std::max(v, 0) and std::min(v, cap)
    const typename V::type cap = V::broadcast(e.relu_max);
    lo = V::min(cap, V::max(V::zero(), lo));
    hi = V::min(cap, V::max(V::zero(), hi));
  }
}

/// MR rows × two registers of columns: 2·MR accumulators, two B loads and one broadcast per row
/// per k step. V: the register type (zero, load, broadcast, fmadd, add, max, min, store; `width`
/// lanes; max(a, b) and min(a, b) return b when either is NaN). A partial block (the edges of C)
/// is staged through tiles, so that it runs the same arithmetic as a whole one.
template <class V, int MR>
void simd_kernel(std::int64_t kc, const float* a, const float* b, float* c, std::int64_t ldc, bool accumulate,
                 std::int64_t rows, std::int64_t cols, const Epilogue<float>* epilogue) {
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
  const bool whole = rows == MR && cols == 2 * w;
  alignas(64) float c_tile[MR * 2 * w];
  alignas(64) float r_tile[MR * 2 * w];
  float* out = c;
  std::int64_t ld = ldc;
  const float* residual = epilogue ? epilogue->residual : nullptr;
  std::int64_t ldr = epilogue ? epilogue->ldr : 0;
  if (!whole) {
    if (accumulate) load_valid(c, ldc, rows, cols, c_tile, 2 * w, MR);
    if (residual) {
      load_valid(residual, ldr, rows, cols, r_tile, 2 * w, MR);
      residual = r_tile;
      ldr = 2 * w;
    }
    out = c_tile;
    ld = 2 * w;
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    float* row = out + i * ld;
    if (accumulate) {
      lo[i] = V::add(lo[i], V::load(row));
      hi[i] = V::add(hi[i], V::load(row + w));
    }
    if (epilogue && i < rows) apply_epilogue<V>(*epilogue, i, residual ? residual + i * ldr : nullptr, lo[i], hi[i]);
    V::store(row, lo[i]);
    V::store(row + w, hi[i]);
  }
  if (!whole) store_valid(c_tile, 2 * w, c, ldc, rows, cols);
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

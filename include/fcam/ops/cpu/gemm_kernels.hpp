/// \file
/// \brief The float GEMM micro-kernels of each instruction set (compiled in fcam::runtime), and
/// the set the GEMM of this process uses.
#pragma once

#include <cstdint>
#include <limits>

#include "fcam/ops/cpu/isa.hpp"

namespace fcam::cpu::gemm {

/// What a micro-kernel applies to each final value v of row i, column j of its block of C, in
/// the registers, before the one store: v·scale[i] + shift[i] (scale null: v + shift[i]; shift
/// null: 0), plus residual[i·ldr + j] (null: none), then min(max(·, 0), relu_max) when `relu`.
/// The pointers address the block's first row and column; at() moves them to another block.
/// This is a convolution's inference epilogue (conv2d_parts.hpp's ConvEpilogue) done while C is
/// in registers, which saves a pass over C per product.
template <class T>
struct Epilogue {
  const T* scale = nullptr;     ///< per row, or null
  const T* shift = nullptr;     ///< per row, or null
  const T* residual = nullptr;  ///< shaped like C (row stride ldr), or null
  std::int64_t ldr = 0;         ///< row stride of residual
  bool relu = false;            ///< clamp to [0, relu_max] last
  T relu_max = std::numeric_limits<T>::infinity();  ///< upper clamp with relu (ReLU6: 6)

  /// True when the epilogue changes nothing (a default Epilogue).
  bool none() const { return !scale && !shift && !residual && !relu; }

  /// The same epilogue for the block whose first element is (i, j) of this one's.
  Epilogue at(std::int64_t i, std::int64_t j) const {
    Epilogue e = *this;
    if (scale) e.scale += i;
    if (shift) e.shift += i;
    if (residual) e.residual += i * ldr + j;
    return e;
  }
};

/// C[rows×cols] = epilogue(Aᵀ·B (+ C with `accumulate`)) for one register block: A is an MR-row
/// panel (kc×MR, k-major), row k of the NR-column B panel is at b + k·NR; `epilogue` null: none.
/// Only the valid rows × cols of C (and of the epilogue's operands) are touched.
using PackedKernel = void (*)(std::int64_t kc, const float* a, const float* b, float* c, std::int64_t ldc,
                              bool accumulate, std::int64_t rows, std::int64_t cols, const Epilogue<float>* epilogue);
/// Packs one B panel from rows read in place: out[k·NR + j] = b_rows[k][b_offset + j] for k < kc,
/// j < cols (cols <= NR), and zero for j >= cols. Only `cols` values of a row are read.
using GatherKernel = void (*)(const float* const* b_rows, std::int64_t b_offset, std::int64_t kc, std::int64_t cols,
                              float* out);

/// dst[c·ldd + r] = src[r·lds + c] for r < rows, c < cols: the transposed copy that packing an
/// operand stored the other way round needs (a convolution's weight gradient packs the column
/// matrix transposed).
using TransposeKernel = void (*)(const float* src, std::int64_t lds, std::int64_t rows, std::int64_t cols, float* dst,
                                 std::int64_t ldd);

/// The float micro-kernels of one instruction set and their register block (MR × NR).
struct FloatKernels {
  Isa isa;                    ///< instruction set the kernels use
  std::int64_t mr;            ///< rows of A per panel
  std::int64_t nr;            ///< columns of B per panel
  PackedKernel packed;        ///< B from packed panels
  GatherKernel gather;        ///< one B panel packed from row pointers
  TransposeKernel transpose;  ///< transposed copy, for packing
};

/// The kernels of `isa` (whether or not this CPU can run them).
const FloatKernels& float_kernels(Isa isa);

/// The kernels of active_isa(): what every float GEMM of this process runs.
const FloatKernels& active_float_kernels();

}  // namespace fcam::cpu::gemm

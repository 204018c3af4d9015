/// \file
/// \brief The float GEMM micro-kernels of each instruction set (compiled in fcam::runtime), and
/// the set the GEMM of this process uses.
#pragma once

#include <cstdint>

#include "fcam/ops/cpu/isa.hpp"

namespace fcam::cpu::gemm {

/// C[rows×cols] (+)= Aᵀ·B for one register block: A is an MR-row panel (kc×MR, k-major), row k
/// of the NR-column B panel is at b + k·NR. Only the valid rows × cols of C are written.
using PackedKernel = void (*)(std::int64_t kc, const float* a, const float* b, float* c, std::int64_t ldc,
                              bool accumulate, std::int64_t rows, std::int64_t cols);
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

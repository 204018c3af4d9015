// The transposed copy of the float kernel tables (gemm::TransposeKernel): a scalar loop, and an
// AVX2 version that moves 8 × 8 blocks through registers. The scalar loop reads one element per
// step at a stride: packing the transposed column matrix of a convolution's weight gradient
// that way took about 8 % of the demo's stage-1 step (perf, docs/performance.md).
//
// Internal linkage and no standard-library templates, as in gemm_micro_kernel.hpp.
#pragma once

#include <cstdint>

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace fcam::cpu::gemm {
namespace {

/// dst[c·ldd + r] = src[r·lds + c] for r in [r0, r1), c in [c0, c1).
inline void transpose_scalar(const float* src, std::int64_t lds, std::int64_t r0, std::int64_t r1, std::int64_t c0,
                             std::int64_t c1, float* dst, std::int64_t ldd) {
  for (std::int64_t r = r0; r < r1; ++r)
    for (std::int64_t c = c0; c < c1; ++c) dst[c * ldd + r] = src[r * lds + c];
}

#ifdef __AVX2__
/// One 8 × 8 block: rows are interleaved in pairs, then in fours, then the 128-bit halves swap.
inline void transpose_8x8_avx2(const float* src, std::int64_t lds, float* dst, std::int64_t ldd) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // a0 b0 a1 b1 | a4 b4 a5 b5
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // a2 b2 a3 b3 | a6 b6 a7 b7
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);      // a0 b0 c0 d0 | a4 b4 c4 d4
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);  // a1 b1 c1 d1 | a5 b5 c5 d5
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

/// The TransposeKernel of AVX2 and AVX-512 builds: whole 8 × 8 blocks in registers, edges scalar.
inline void transpose_avx2(const float* src, std::int64_t lds, std::int64_t rows, std::int64_t cols, float* dst,
                           std::int64_t ldd) {
  const std::int64_t rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
  for (std::int64_t r = 0; r < rows8; r += 8)
    for (std::int64_t c = 0; c < cols8; c += 8) transpose_8x8_avx2(src + r * lds + c, lds, dst + c * ldd + r, ldd);
  transpose_scalar(src, lds, 0, rows8, cols8, cols, dst, ldd);
  transpose_scalar(src, lds, rows8, rows, 0, cols, dst, ldd);
}
#endif

}  // namespace
}  // namespace fcam::cpu::gemm

// The AVX-512F float micro-kernel, 8 × 32 (compiled with -mavx512f -mfma; run only where
// cpu_supports(Isa::avx512)).
#include <immintrin.h>

#include "gemm_micro_kernel.hpp"
#include "transpose_kernel.hpp"

namespace fcam::cpu::gemm {
namespace {

struct Avx512 {
  using type = __m512;
  static constexpr int width = 16;
  static type zero() { return _mm512_setzero_ps(); }
  static type load(const float* p) { return _mm512_loadu_ps(p); }
  static type broadcast(float x) { return _mm512_set1_ps(x); }
  static type fmadd(type a, type b, type c) { return _mm512_fmadd_ps(a, b, c); }
  static type add(type a, type b) { return _mm512_add_ps(a, b); }
  // The zero-masked forms with every lane kept: GCC 12 warns that the plain ones read an
  // undefined register (maybe-uninitialized), and they compute the same.
  static type max(type a, type b) { return _mm512_maskz_max_ps(0xFFFF, a, b); }
  static type min(type a, type b) { return _mm512_maskz_min_ps(0xFFFF, a, b); }
  static void store(float* p, type v) { _mm512_storeu_ps(p, v); }
};

}  // namespace

FloatKernels avx512_float_kernels() { return simd_kernels<Avx512, 8>(Isa::avx512, transpose_avx2); }

}  // namespace fcam::cpu::gemm

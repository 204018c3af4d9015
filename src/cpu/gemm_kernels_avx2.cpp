// The AVX2+FMA float micro-kernel, 6 × 16 (compiled with -mavx2 -mfma; run only where
// cpu_supports(Isa::avx2)).
#include <immintrin.h>

#include "gemm_micro_kernel.hpp"
#include "transpose_kernel.hpp"

namespace fcam::cpu::gemm {
namespace {

struct Avx2 {
  using type = __m256;
  static constexpr int width = 8;
  static type zero() { return _mm256_setzero_ps(); }
  static type load(const float* p) { return _mm256_loadu_ps(p); }
  static type broadcast(float x) { return _mm256_set1_ps(x); }
  static type fmadd(type a, type b, type c) { return _mm256_fmadd_ps(a, b, c); }
  static type add(type a, type b) { return _mm256_add_ps(a, b); }
  static type max(type a, type b) { return _mm256_max_ps(a, b); }
  static type min(type a, type b) { return _mm256_min_ps(a, b); }
  static void store(float* p, type v) { _mm256_storeu_ps(p, v); }
};

}  // namespace

FloatKernels avx2_float_kernels() { return simd_kernels<Avx2, 6>(Isa::avx2, transpose_avx2); }

}  // namespace fcam::cpu::gemm

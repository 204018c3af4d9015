// The portable float micro-kernel, 4 × 8, compiled for the baseline target (no -m flags).
#include "fcam/ops/cpu/gemm.hpp"
#include "transpose_kernel.hpp"

namespace fcam::cpu::gemm {

FloatKernels portable_float_kernels() {
  constexpr int mr = 4, nr = 8;
  return FloatKernels{
      Isa::portable, mr, nr,
      [](std::int64_t kc, const float* a, const float* b, float* c, std::int64_t ldc, bool accumulate,
         std::int64_t rows, std::int64_t cols, const Epilogue<float>* epilogue) {
        detail::portable_micro_kernel<float, mr, nr>(kc, a, PackedPanel<float>{b}, c, ldc, accumulate, rows, cols,
                                                     epilogue);
      },
      [](const float* const* b_rows, std::int64_t b_offset, std::int64_t kc, std::int64_t cols, float* out) {
        for (std::int64_t k = 0; k < kc; ++k, out += nr) {
          for (std::int64_t j = 0; j < cols; ++j) out[j] = b_rows[k][b_offset + j];
          for (std::int64_t j = cols; j < nr; ++j) out[j] = 0.0f;
        }
      },
      [](const float* src, std::int64_t lds, std::int64_t rows, std::int64_t cols, float* dst, std::int64_t ldd) {
        transpose_scalar(src, lds, 0, rows, 0, cols, dst, ldd);
      }};
}

}  // namespace fcam::cpu::gemm

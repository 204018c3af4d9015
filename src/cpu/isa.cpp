// Run-time choice of the CPU kernels: CPUID, the FCAM_ISA override and the kernel tables.
#include "fcam/ops/cpu/isa.hpp"

#include <array>
#include <cstdlib>
#include <string>

#include "fcam/core/error.hpp"
#include "fcam/ops/cpu/gemm_kernels.hpp"

namespace fcam::cpu {

namespace {
constexpr std::array<std::string_view, 3> isa_names{"portable", "avx2", "avx512"};
}  // namespace

std::string_view isa_name(Isa isa) { return isa_names.at(static_cast<std::size_t>(isa)); }

std::optional<Isa> parse_isa(std::string_view name) {
  for (std::size_t i = 0; i < isa_names.size(); ++i)
    if (isa_names[i] == name) return static_cast<Isa>(i);
  return std::nullopt;
}

bool cpu_supports(Isa isa) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports also checks that the operating system saves the wider registers.
  switch (isa) {
    case Isa::portable: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  }
  return false;
#else
  return isa == Isa::portable;
#endif
}

namespace {

Isa choose_isa() {
  if (const char* forced = std::getenv("FCAM_ISA"); forced != nullptr && *forced != '\0') {
    const std::optional<Isa> isa = parse_isa(forced);
    FCAM_CHECK(isa.has_value(), "FCAM_ISA=", forced, ": unknown instruction set (use portable, avx2 or avx512)");
    FCAM_CHECK(cpu_supports(*isa), "FCAM_ISA=", forced, ": this CPU does not support it");
    return *isa;
  }
  for (Isa isa : {Isa::avx512, Isa::avx2})
    if (cpu_supports(isa)) return isa;
  return Isa::portable;
}

}  // namespace

Isa active_isa() {
  static const Isa isa = choose_isa();
  return isa;
}

namespace gemm {

// Defined in gemm_kernels_<isa>.cpp, each compiled for its instruction set. Without an x86-64
// GCC/Clang build, the SIMD files are not compiled and their tables are the portable one.
FloatKernels portable_float_kernels();
#if FCAM_RUNTIME_X86_KERNELS
FloatKernels avx2_float_kernels();
FloatKernels avx512_float_kernels();
#endif

const FloatKernels& float_kernels(Isa isa) {
#if FCAM_RUNTIME_X86_KERNELS
  static const std::array<FloatKernels, 3> tables{portable_float_kernels(), avx2_float_kernels(),
                                                  avx512_float_kernels()};
  return tables.at(static_cast<std::size_t>(isa));
#else
  static const FloatKernels portable = portable_float_kernels();
  FCAM_CHECK(isa == Isa::portable, "no ", isa_name(isa), " kernels in this build");
  return portable;
#endif
}

const FloatKernels& active_float_kernels() {
  static const FloatKernels& kernels = float_kernels(active_isa());
  return kernels;
}

}  // namespace gemm
}  // namespace fcam::cpu

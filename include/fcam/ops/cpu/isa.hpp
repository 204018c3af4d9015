/// \file
/// \brief The CPU instruction sets fcam has kernels for, and the one picked at run time.
///
/// Every kernel is compiled (in the fcam::runtime library, each with its own -m flags); the
/// best one the CPU supports is chosen by CPUID at first use. `FCAM_ISA=avx512|avx2|portable`
/// forces one (for tests and benchmarks); forcing one the CPU lacks is an error. No header
/// changes a type or layout with the compiler's target flags, so translation units built with
/// different -march flags agree, and a consumer built without -march gets the fast kernels too.
#pragma once

#include <optional>
#include <string_view>

namespace fcam::cpu {

/// A family of CPU kernels.
enum class Isa {
  portable,  ///< plain C++ (what the compiler makes of it for the baseline target)
  avx2,      ///< AVX2 + FMA, 8 floats per register
  avx512,    ///< AVX-512F, 16 floats per register
};

/// "portable", "avx2" or "avx512".
std::string_view isa_name(Isa isa);

/// The Isa named `name` (as isa_name writes it), or nothing.
std::optional<Isa> parse_isa(std::string_view name);

/// Whether this CPU (and its operating system) can run kernels of `isa`.
bool cpu_supports(Isa isa);

/// The instruction set of the kernels this process runs: `FCAM_ISA` when set, else the best one
/// the CPU supports. Decided once, at the first call (thread-safe); throws fcam::Error when
/// `FCAM_ISA` names an unknown or unsupported instruction set.
Isa active_isa();

}  // namespace fcam::cpu

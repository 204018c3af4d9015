// Catch2's main(), compiled once for every test executable. A run with FCAM_ISA naming an
// instruction set this CPU lacks is reported as skipped (exit 77), not failed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <iostream>

#include <fcam/ops/cpu/isa.hpp>

int main(int argc, char** argv) {
  if (const char* forced = std::getenv("FCAM_ISA"); forced != nullptr) {
    const auto isa = fcam::cpu::parse_isa(forced);
    if (isa && !fcam::cpu::cpu_supports(*isa)) {
      std::cout << "skipped: FCAM_ISA=" << forced << " but this CPU does not support it\n";
      return 77;
    }
  }
  return Catch::Session().run(argc, argv);
}

/// \file
/// \brief The programs' --precision flag: fp32, tf32 or bf16 math for the model's GPU work.
#pragma once

#include <string>
#include <string_view>

#include "fcam/core/device.hpp"
#include "fcam/core/error.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam::app {

/// Sets the GPU math that `choice` names for `program`'s work on `device`: "fp32" (float
/// everywhere, TF32 off: the default), "tf32" (cuda::set_tf32: TF32 tensor cores in convolutions
/// and matrix products) or "bf16" (cuda::set_bf16: bfloat16 forward convolutions). The CPU
/// computes in float only: anything but fp32 with `device` the CPU is an error saying so.
inline void apply_precision(std::string_view choice, Device device, std::string_view program) {
  FCAM_CHECK(choice == "fp32" || choice == "tf32" || choice == "bf16", program,
             ": --precision must be fp32, tf32 or bf16, got '", choice, "'");
  FCAM_CHECK(choice == "fp32" || device == Device::cuda, program, ": --precision ", choice,
             " needs --device cuda (the CPU computes in float; use --precision fp32)");
#if FCAM_WITH_CUDA
  if (device == Device::cuda) {
    cuda::set_tf32(choice == "tf32");
    cuda::set_bf16(choice == "bf16");
  }
#endif
}

/// The help text of a --precision flag.
inline std::string precision_flag_help() {
  return "GPU math: fp32 (float, TF32 off), tf32 (TF32 tensor cores in convolutions and matrix products) or bf16\n"
         "      (bfloat16 forward convolutions, float elsewhere); the CPU computes in fp32 (docs/cuda.md)";
}

}  // namespace fcam::app

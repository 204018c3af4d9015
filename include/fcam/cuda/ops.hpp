/// \file
/// \brief Host-only declarations of the CUDA kernels behind the ops of include/fcam/ops/; no CUDA
/// header here, so every public header may include it, with or without a CUDA build.
///
/// An op's CUDA branch calls its kernel declared here. Kernels land with the [cuda-ops] issue; until
/// an op has one, its CUDA branch calls unavailable(), which throws a clear fcam::Error instead of
/// reading device memory as host memory.
#pragma once

#include "fcam/core/device.hpp"
#include "fcam/core/error.hpp"

namespace fcam::cuda {

/// Throws fcam::Error: `op` has no CUDA kernel yet (or fcam was built without CUDA).
[[noreturn]] inline void unavailable(const char* op) {
  if (!cuda_compiled())
    fail(op, ": got a CUDA tensor, but fcam was built without CUDA (configure with -DFCAM_WITH_CUDA=ON)");
  fail(op, ": not available on CUDA yet; move the tensors to the CPU with .to(Device::cpu)");
}

}  // namespace fcam::cuda

/// \file
/// \brief Host-only declarations of the CUDA kernels behind the ops of include/fcam/ops/; no CUDA
/// header here, so every public header may include it, with or without a CUDA build.
///
/// Each op in include/fcam/ops/ sends CUDA operands to its kernel declared here, implemented in
/// the compiled library fcam::cuda (directory cuda/). The kernels land with the [cuda-ops] issue;
/// until an op has one, its CUDA branch calls cuda::unavailable() (ops/dispatch.hpp), which throws
/// a clear fcam::Error instead of reading device memory as host memory. No op has a CUDA kernel
/// yet, so this header declares none.
#pragma once

#include "fcam/config.hpp"

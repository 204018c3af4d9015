/// \file
/// \brief Device tags (CPU, CUDA) and the check that a CUDA build is available.
#pragma once

#include <string>

#include "fcam/config.hpp"
#include "fcam/core/error.hpp"
#if FCAM_WITH_CUDA
#include "fcam/cuda/api.hpp"
#endif

namespace fcam {

/// Where a tensor's storage lives. Transfers between devices are always explicit.
enum class Device { cpu, cuda };

/// "cpu" or "cuda".
inline std::string to_string(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

/// True when this build of fcam has its CUDA backend.
constexpr bool cuda_compiled() { return FCAM_WITH_CUDA != 0; }

/// True when this build has its CUDA backend and the driver sees at least one GPU.
inline bool cuda_available() {
#if FCAM_WITH_CUDA
  return cuda::device_count() > 0;
#else
  return false;
#endif
}

/// Waits until the work this thread enqueued on `device` has finished (nothing to wait for on
/// the CPU, whose ops return when done): for timing the parts of a GPU step.
inline void wait_for(Device device) {
#if FCAM_WITH_CUDA
  if (device == Device::cuda) cuda::synchronize();
#else
  (void)device;
#endif
}

/// Throws fcam::Error naming `what` when `device` is CUDA and fcam was built without CUDA.
inline void require_device_available(Device device, const char* what) {
  if (device == Device::cuda && !cuda_compiled())
    fail(what, ": a CUDA tensor was requested but fcam was built without CUDA "
               "(configure with -DFCAM_WITH_CUDA=ON)");
}

}  // namespace fcam

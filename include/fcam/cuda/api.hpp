/// \file
/// \brief Host-only declarations of the CUDA backend (memory and transfers); no CUDA headers here.
///
/// These functions exist only when fcam is built with FCAM_WITH_CUDA; they are implemented in
/// the compiled library fcam::cuda (directory cuda/). Every failure throws fcam::Error.
#pragma once

#include <cstddef>

#include "fcam/config.hpp"

#if FCAM_WITH_CUDA
namespace fcam::cuda {

/// Number of visible CUDA devices (0 when the driver finds none).
int device_count();
/// Allocates `bytes` of device memory, zero-filled. requires: bytes > 0.
void* device_alloc(std::size_t bytes);
/// Frees memory from device_alloc; null is ignored. Never throws.
void device_free(void* ptr) noexcept;
/// Copies host memory to device memory (synchronous).
void copy_host_to_device(void* dst, const void* src, std::size_t bytes);
/// Copies device memory to host memory (synchronous).
void copy_device_to_host(void* dst, const void* src, std::size_t bytes);
/// Copies device memory to device memory (synchronous).
void copy_device_to_device(void* dst, const void* src, std::size_t bytes);

}  // namespace fcam::cuda
#endif

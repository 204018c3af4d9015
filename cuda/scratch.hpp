/// \file
/// \brief Private to cuda/: DeviceScratch, device memory for the length of one op (cuDNN
/// workspaces, index buffers, sort space) from the caching allocator.
#pragma once

#include <cstddef>

#include "fcam/cuda/api.hpp"

namespace fcam::cuda {

/// `bytes` of uninitialised device memory (none when 0), returned to the cache on destruction.
/// Reuse is stream-ordered, so the memory may go back as soon as the work using it is enqueued.
class DeviceScratch {
public:
  explicit DeviceScratch(std::size_t bytes) : ptr_(bytes > 0 ? device_alloc(bytes, false) : nullptr), bytes_(bytes) {}
  ~DeviceScratch() { device_free(ptr_); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;

  /// The memory (null when empty).
  void* get() const { return ptr_; }
  /// The memory as an array of T.
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  /// Its size in bytes.
  std::size_t size() const { return bytes_; }

private:
  void* ptr_;
  std::size_t bytes_;
};

}  // namespace fcam::cuda

/// \file
/// \brief Storage<T>: one 64-byte aligned buffer (zero-initialised by default) on the CPU or a CUDA device.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "fcam/core/cpu_cache.hpp"
#include "fcam/core/device.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam {

/// Owns `size` elements of T on one device. Not copyable; tensors share it through shared_ptr.
template <class T>
class Storage {
public:
  /// Alignment of CPU buffers in bytes (a cache line; enough for AVX-512 loads).
  static constexpr std::size_t alignment = 64;

  /// Allocates `size` elements on `device`, zeroed unless `zero` is false (contents then
  /// unspecified, for buffers that are about to be overwritten). CUDA memory comes from the
  /// caching allocator of fcam/cuda/api.hpp.
  /// requires: device available (else fcam::Error); throws std::bad_alloc when memory runs out.
  Storage(std::size_t size, Device device, bool zero = true) : size_(size), device_(device) {
    require_device_available(device, "Storage");
    const std::size_t bytes = size * sizeof(T);
    if (bytes == 0) return;
    if (device == Device::cpu) {  // large buffers through the cache of freed ones (cpu_cache.hpp)
      cpu_bytes_ = detail::CpuBlockCache::rounded(bytes);
      data_ = static_cast<T*>(detail::cpu_block_cache().take(cpu_bytes_));
      if (!data_) data_ = static_cast<T*>(std::aligned_alloc(alignment, cpu_bytes_));
      if (!data_) throw std::bad_alloc();
      if (zero) std::memset(static_cast<void*>(data_), 0, cpu_bytes_);
    } else {
#if FCAM_WITH_CUDA
      data_ = static_cast<T*>(cuda::device_alloc(bytes, zero));
#endif
    }
  }

  /// `size` elements of CPU memory that is page-locked when a GPU is available (pinned_alloc of
  /// fcam/cuda/api.hpp: copies from it to the GPU do not wait), ordinary memory otherwise (also
  /// when page-locked memory runs short); zeroed unless `zero` is false.
  static std::shared_ptr<Storage> pinned(std::size_t size, bool zero = true) {
#if FCAM_WITH_CUDA
    if (size > 0 && cuda_available()) {
      if (void* memory = cuda::pinned_alloc(size * sizeof(T))) {
        std::shared_ptr<Storage> s(new Storage());
        s->size_ = size;
        s->data_ = static_cast<T*>(memory);
        s->pinned_ = true;
        if (zero) std::memset(memory, 0, size * sizeof(T));
        return s;
      }
    }
#endif
    return std::make_shared<Storage>(size, Device::cpu, zero);
  }

  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  ~Storage() {
    if (pinned_) {
#if FCAM_WITH_CUDA
      cuda::pinned_free(data_);
#endif
    } else if (device_ == Device::cpu) {
      if (data_) detail::cpu_block_cache().give(data_, cpu_bytes_);
    } else {
#if FCAM_WITH_CUDA
      cuda::device_free(data_);
#endif
    }
  }

  /// First element (a device pointer for CUDA storage).
  T* data() const { return data_; }
  /// Number of elements.
  std::size_t size() const { return size_; }
  /// Where the buffer lives.
  Device device() const { return device_; }
  /// Whether it is page-locked CPU memory (pinned()).
  bool is_pinned() const { return pinned_; }

private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
  Device device_ = Device::cpu;
  std::size_t cpu_bytes_ = 0;  // a CPU buffer's allocated size (CpuBlockCache::rounded)
  bool pinned_ = false;        // from cuda::pinned_alloc

  Storage() = default;  // for pinned()
};

}  // namespace fcam

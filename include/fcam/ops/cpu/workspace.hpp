/// \file
/// \brief Per-thread scratch buffers that persist across calls, so hot kernels never allocate.
///
/// Large std::vector allocations go through mmap: every call would pay page faults and zeroing
/// for its scratch memory. These buffers grow to the largest size asked for and are then
/// reused by the same thread (OpenMP worker threads persist between parallel regions).
#pragma once

#include <array>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace fcam::cpu {

/// std::allocator with 64-byte (cache-line) alignment, so packed GEMM panels never straddle
/// cache lines.
template <class T>
struct CacheAlignedAllocator {
  using value_type = T;  ///< element type
  CacheAlignedAllocator() = default;
  /// Rebinding constructor.
  template <class U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) {}
  /// Allocates n elements on a 64-byte boundary.
  T* allocate(std::size_t n) {
    const std::size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  /// Frees memory from allocate().
  void deallocate(T* p, std::size_t) { std::free(p); }
  /// All instances are interchangeable.
  template <class U>
  bool operator==(const CacheAlignedAllocator<U>&) const { return true; }
};

/// The independent scratch uses of the CPU kernels; two uses that can be alive at the same time
/// on one thread need different slots.
enum class ScratchSlot : std::size_t {
  packed_weights,  ///< conv: kernel matrix in GEMM layout (calling thread)
  padded_input,    ///< conv: zero-padded input (calling thread)
  column_matrix,   ///< conv: im2col output / column gradient
  row,             ///< conv: one im2col row
  packed_a,        ///< GEMM: packed A
  packed_b,        ///< GEMM: packed B
  wide_output,     ///< conv: output block on the padded width
  partial_sum,     ///< conv: per-thread weight-gradient accumulator
  gathered_panel,  ///< GEMM: one B panel gathered from row pointers
  row_pointers,    ///< conv: B row pointers of an indirect GEMM
  winograd_input,  ///< Winograd: transformed input tiles of a chunk
  winograd_output, ///< Winograd: GEMM products (or output gradients) of a chunk
  winograd_weight_sum, ///< Winograd: weight gradient of the transformed kernel (calling thread)
  count_           ///< number of slots
};

/// A buffer of at least `size` elements of T owned by the calling thread for slot `slot`.
/// Contents are unspecified (whatever the last user left). Valid until the same thread asks for
/// the same slot again.
template <class T>
T* scratch(ScratchSlot slot, std::size_t size) {
  thread_local std::array<std::vector<T, CacheAlignedAllocator<T>>, static_cast<std::size_t>(ScratchSlot::count_)> buffers;
  auto& buffer = buffers[static_cast<std::size_t>(slot)];
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}

}  // namespace fcam::cpu

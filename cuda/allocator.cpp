// The caching device allocator: freed blocks are kept and reused, so that a training or
// inference step performs no cudaMalloc once warmed up (cudaMalloc and cudaFree synchronise
// the device and cost tens of microseconds each).
//
// Memory comes from the driver in segments; a segment is a list of blocks that are split on
// allocation and merged with free neighbours on release. Small requests (≤ 1 MiB) share 2 MiB
// segments; large ones get segments rounded to 2 MiB and split only when the rest is ≥ 1 MiB.
// Reuse is stream-ordered: a block freed on one stream is only handed out again on the same
// stream, where every later kernel runs after every earlier use of it.
//
// A CUDA graph (cuda::Graph) gets a private pool: while it is made, this thread's allocations come
// from that pool and go back to it, and no other tensor gets its blocks until the graph is
// destroyed, because each replay writes them again. Blocks carry their pool's id: a stream's
// handle (even) or a private pool's odd number, so the two never collide. A private pool first
// adopts whole free segments of its stream's pool (all their earlier uses are on that stream,
// so ordered before the graph's work) and asks the driver only when none fits.
//
// Waiting for the whole device and freeing memory (empty_cache, the retry after running out of
// memory) would invalidate a capture in progress on any thread: captures count themselves in
// (DeviceWaitsHeldOff), and those calls are refused while the count is not zero.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "context.hpp"
#include "fcam/core/error.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam::cuda {

namespace {

constexpr std::size_t granule = 512;             // every block size is a multiple of this
constexpr std::size_t small_request = 1 << 20;   // ≤ this: a small block
constexpr std::size_t small_segment = 2 << 20;   // segment size for small blocks
constexpr std::size_t large_rounding = 2 << 20;  // large segments are multiples of this
constexpr std::size_t large_split_min = 1 << 20; // a large block is split only when ≥ this is left

struct Block {
  char* ptr = nullptr;
  std::size_t size = 0;
  std::uintptr_t pool = 0;  // the stream's handle, or a private pool's id (odd)
  bool small = false;
  bool in_use = false;
  Block* prev = nullptr;  // neighbours within the segment
  Block* next = nullptr;
};

/// Free blocks ordered for best fit: by pool (and small or large), then size, then address.
struct BlockOrder {
  bool operator()(const Block* a, const Block* b) const {
    return std::tuple(a->pool, a->small, a->size, reinterpret_cast<std::uintptr_t>(a->ptr)) <
           std::tuple(b->pool, b->small, b->size, reinterpret_cast<std::uintptr_t>(b->ptr));
  }
};

/// Guards the device-wide waits (empty_cache, the retry after running out of memory) against
/// captures: held through such a wait, and by a capture while it counts itself in or out.
std::mutex device_wide_mutex;
int captures_in_progress = 0;  // guarded by device_wide_mutex

class CachingAllocator {
public:
  /// A block of `bytes` from `pool`; a private pool may adopt a free segment of `stream_pool`.
  void* allocate(std::size_t bytes, std::uintptr_t pool, std::uintptr_t stream_pool) {
    const bool small = bytes <= small_request;
    const std::size_t size = (bytes + granule - 1) / granule * granule;
    std::lock_guard lock(mutex_);
    Block* block = take_free(size, small, pool);
    if (block == nullptr && pool != stream_pool) block = adopt_segment(size, small, stream_pool, pool);
    if (block == nullptr) block = new_segment(size, small, pool);
    else split(block, size);
    block->in_use = true;
    in_use_[block->ptr] = block;
    stats_.allocated_bytes += block->size;
    stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
    ++stats_.allocations;
    return block->ptr;
  }

  void release(void* ptr) noexcept {
    std::lock_guard lock(mutex_);
    const auto it = in_use_.find(static_cast<char*>(ptr));
    if (it == in_use_.end()) return;  // not ours: ignore rather than corrupt the cache
    Block* block = it->second;
    in_use_.erase(it);
    block->in_use = false;
    stats_.allocated_bytes -= block->size;
    block = merge(block, block->prev);
    block = merge(block, block->next);
    free_.insert(block);
  }

  void empty_cache() {
    std::lock_guard device_wide(device_wide_mutex);
    FCAM_CHECK(captures_in_progress == 0,
               "cuda::empty_cache: a CUDA graph is being captured (a cuda::Graph or an InferencePlan being made, on "
               "this thread or another), and waiting for the device would break it; call it before or after");
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (empty_cache)");
    std::lock_guard lock(mutex_);
    release_unused_segments();
  }

  MemoryStats stats() {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  /// Hands every block of private pool `from`, used or free, to pool `to` (a stream's).
  void merge_pool(std::uintptr_t from, std::uintptr_t to) {
    std::lock_guard lock(mutex_);
    std::vector<Block*> moved;
    for (auto it = free_.begin(); it != free_.end();) {
      if ((*it)->pool == from) {
        moved.push_back(*it);
        it = free_.erase(it);
      } else {
        ++it;
      }
    }
    for (Block* block : moved) {
      block->pool = to;
      free_.insert(block);
    }
    for (auto& [ptr, block] : in_use_)
      if (block->pool == from) block->pool = to;
  }

private:
  Block* take_free(std::size_t size, bool small, std::uintptr_t pool) {
    Block key{nullptr, size, pool, small};
    const auto it = free_.lower_bound(&key);
    if (it == free_.end() || (*it)->pool != pool || (*it)->small != small) return nullptr;
    Block* block = *it;
    free_.erase(it);
    return block;
  }

  /// A whole free segment of `from` with room for `size`, moved to pool `to` (null: none).
  Block* adopt_segment(std::size_t size, bool small, std::uintptr_t from, std::uintptr_t to) {
    Block key{nullptr, size, from, small};
    for (auto it = free_.lower_bound(&key); it != free_.end() && (*it)->pool == from && (*it)->small == small; ++it) {
      Block* block = *it;
      if (block->prev != nullptr || block->next != nullptr) continue;  // part of a segment in use
      free_.erase(it);
      block->pool = to;
      return block;
    }
    return nullptr;
  }

  /// A new segment for pool `pool`.
  Block* new_segment(std::size_t size, bool small, std::uintptr_t pool) {
    const std::size_t segment =
        small ? small_segment : (size + large_rounding - 1) / large_rounding * large_rounding;
    void* ptr = nullptr;
    cudaError_t status = cudaMalloc(&ptr, segment);
    // Out of memory: give the cache back and try once more, unless a stream is being captured
    // into a CUDA graph, where waiting for the device would break the capture.
    // Only tried: empty_cache takes the two locks in the other order.
    const char* not_retried = "";
    if (status == cudaErrorMemoryAllocation) {
      const std::unique_lock device_wide(device_wide_mutex, std::try_to_lock);
      if (!device_wide.owns_lock()) {
        not_retried = " (the cache was not given back first: another thread was giving it back)";
      } else if (captures_in_progress > 0) {
        not_retried = " (the cache was not given back first: a CUDA graph is being captured, and the wait for the "
                      "device would break it)";
      } else {
        (void)cudaGetLastError();
        check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (out of memory)");
        release_unused_segments();
        status = cudaMalloc(&ptr, segment);
      }
    }
    if (status != cudaSuccess) {
      (void)cudaGetLastError();
      fail("CUDA out of memory: cannot allocate ", segment, " bytes (", stats_.allocated_bytes,
           " bytes in tensors, ", stats_.reserved_bytes, " reserved by fcam): ", cudaGetErrorString(status),
           not_retried);
    }
    ++stats_.device_mallocs;
    stats_.reserved_bytes += segment;
    auto* block = new Block{static_cast<char*>(ptr), segment, pool, small};
    split(block, size);
    return block;
  }

  /// Cuts `block` to `size` when the rest is worth keeping; the rest becomes a free block.
  void split(Block* block, std::size_t size) {
    const std::size_t rest = block->size - size;
    if (rest < (block->small ? granule : large_split_min)) return;
    auto* tail = new Block{block->ptr + size, rest, block->pool, block->small, false, block, block->next};
    if (block->next) block->next->prev = tail;
    block->next = tail;
    block->size = size;
    free_.insert(tail);
  }

  /// Merges free `neighbour` into `block` (either order); returns the merged block.
  Block* merge(Block* block, Block* neighbour) {
    if (neighbour == nullptr || neighbour->in_use || neighbour->pool != block->pool) return block;
    free_.erase(neighbour);
    Block* first = neighbour == block->prev ? neighbour : block;
    Block* second = first == block ? neighbour : block;
    first->size += second->size;
    first->next = second->next;
    if (second->next) second->next->prev = first;
    delete second;
    return first;
  }

  /// Returns every whole free segment of the streams' pools to the driver. A private pool's free
  /// segments stay: its graph's replays still write them.
  void release_unused_segments() {
    for (auto it = free_.begin(); it != free_.end();) {
      Block* block = *it;
      const bool private_pool = (block->pool & 1) != 0;
      if (!private_pool && block->prev == nullptr && block->next == nullptr) {  // the whole segment is free
        cudaFree(block->ptr);
        ++stats_.device_frees;
        stats_.reserved_bytes -= block->size;
        delete block;
        it = free_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::mutex mutex_;
  std::set<Block*, BlockOrder> free_;
  std::unordered_map<char*, Block*> in_use_;
  MemoryStats stats_;
};

// Never destroyed: tensors in static storage may be freed after main returns.
CachingAllocator& allocator() {
  static auto* instance = new CachingAllocator();
  return *instance;
}

/// The private pool this thread allocates from while a graph is made (0: its stream's pool).
thread_local std::uintptr_t private_pool = 0;

}  // namespace

std::uintptr_t begin_private_pool() {
  static std::atomic<std::uintptr_t> next{0};
  FCAM_CHECK(private_pool == 0, "cuda::Graph: graphs cannot be made inside the making of another graph");
  private_pool = 2 * ++next + 1;
  return private_pool;
}

void end_private_pool() { private_pool = 0; }

DeviceWaitsHeldOff::DeviceWaitsHeldOff() {
  std::lock_guard device_wide(device_wide_mutex);
  ++captures_in_progress;
}

DeviceWaitsHeldOff::~DeviceWaitsHeldOff() {
  std::lock_guard device_wide(device_wide_mutex);
  --captures_in_progress;
}

void release_private_pool(std::uintptr_t pool, cudaStream_t stream) {
  allocator().merge_pool(pool, reinterpret_cast<std::uintptr_t>(stream));
}

void* device_alloc(std::size_t bytes, bool zero) {
  FCAM_CHECK(bytes > 0, "device_alloc: zero bytes requested");
  cudaStream_t s = stream();
  const auto stream_pool = reinterpret_cast<std::uintptr_t>(s);
  void* ptr = allocator().allocate(bytes, private_pool != 0 ? private_pool : stream_pool, stream_pool);
  if (zero) {
    const cudaError_t filled = cudaMemsetAsync(ptr, 0, bytes, s);
    if (filled != cudaSuccess) {  // e.g. an invalidated capture: the block must not stay counted in use
      allocator().release(ptr);
      check(filled, "cudaMemsetAsync");
    }
  }
  return ptr;
}

void device_free(void* ptr) noexcept {
  if (ptr) allocator().release(ptr);
}

MemoryStats memory_stats() { return allocator().stats(); }

void empty_cache() { allocator().empty_cache(); }

void fill_zero(void* dst, std::size_t bytes) {
  if (bytes > 0) check(cudaMemsetAsync(dst, 0, bytes, stream()), "cudaMemsetAsync");
}

void copy_host_to_device(void* dst, const void* src, std::size_t bytes) {
  if (copy_from_pinned_async(dst, src, bytes)) return;  // from pinned_alloc's memory: no wait
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()), "host-to-device copy");
  // From pageable memory the call returns once the source is staged; wait anyway, since the
  // source may be pinned memory that the caller reuses right away.
  check(cudaStreamSynchronize(stream()), "host-to-device copy");
}

void copy_device_to_host(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()), "device-to-host copy");
  check(cudaStreamSynchronize(stream()), "device-to-host copy (an earlier kernel failed)");
}

void copy_device_to_device(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()), "device-to-device copy");
}

}  // namespace fcam::cuda

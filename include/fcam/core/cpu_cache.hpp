/// \file
/// \brief The cache of freed large CPU buffers that Storage allocates from, and its controls.
///
/// A training step allocates the same large tensors every step. glibc serves blocks of 32 MB and
/// more (and often smaller ones) with a fresh mmap each time and unmaps them on free, so every
/// step paid a page fault and the kernel's zeroing for each 4 KB of every activation (about 4–7 %
/// of a stage-2 step in `perf`). Freed CPU buffers of at least 1 MB are therefore kept here and
/// handed out again for a request of the same rounded size.
///
/// The cache holds at most `FCAM_CPU_CACHE_MB` megabytes (read once; default 1024; 0 turns it
/// off), or what set_cpu_cache_limit() says; past the limit the oldest blocks are freed first.
/// Sanitizer builds (ASan, HWASan, MSan) never cache, so that a use after free is still reported;
/// under Valgrind, set FCAM_CPU_CACHE_MB=0.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <list>
#include <map>
#include <mutex>

namespace fcam {

namespace detail {

// Sanitizers that track freed or uninitialised memory would miss what a recycled block hides.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_HWADDRESS__)
inline constexpr bool cpu_cache_allowed = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(hwaddress_sanitizer) || __has_feature(memory_sanitizer)
inline constexpr bool cpu_cache_allowed = false;
#else
inline constexpr bool cpu_cache_allowed = true;
#endif
#else
inline constexpr bool cpu_cache_allowed = true;
#endif

/// Freed CPU blocks by size, oldest first. Thread-safe.
class CpuBlockCache {
public:
  /// Blocks smaller than this go straight back to malloc (its free lists reuse them cheaply).
  static constexpr std::size_t min_bytes = std::size_t{1} << 20;
  /// Sizes are rounded up to whole pages, so that near sizes share blocks.
  static constexpr std::size_t page = 4096;

  explicit CpuBlockCache(std::size_t limit) : limit_(cpu_cache_allowed ? limit : 0) {}

  /// The size a request of `bytes` is served with: a multiple of 64, and of a page for cached
  /// sizes (without the cache no more, so that ASan still sees an overflow past 64 bytes).
  static std::size_t rounded(std::size_t bytes) {
    return cpu_cache_allowed && bytes >= min_bytes ? (bytes + page - 1) / page * page : (bytes + 63) / 64 * 64;
  }

  /// A cached block of exactly rounded(bytes), or null.
  void* take(std::size_t bytes) {
    if (bytes < min_bytes) return nullptr;
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto found = by_size_.find(bytes);
    if (found == by_size_.end()) return nullptr;
    void* block = found->second->block;
    order_.erase(found->second);
    by_size_.erase(found);
    cached_ -= bytes;
    return block;
  }

  /// Keeps `block` (of rounded size `bytes`) for a later take(), freeing the oldest blocks when
  /// the limit is reached; frees it at once when it is small or larger than the limit.
  void give(void* block, std::size_t bytes) noexcept {
    if (bytes < min_bytes) return std::free(block);
    const std::lock_guard<std::mutex> lock(mutex_);
    if (bytes > limit_) return std::free(block);
    while (cached_ + bytes > limit_) evict_oldest();
    try {  // called from destructors: no exception may leave
      order_.push_back({block, bytes});
      try {
        by_size_.emplace(bytes, std::prev(order_.end()));
      } catch (...) {
        order_.pop_back();
        throw;
      }
    } catch (...) {
      return std::free(block);
    }
    cached_ += bytes;
  }

  /// Frees every cached block and sets the limit (bytes).
  void set_limit(std::size_t limit) {
    const std::lock_guard<std::mutex> lock(mutex_);
    limit_ = cpu_cache_allowed ? limit : 0;
    evict_all();
  }

  /// Frees every cached block.
  void release() {
    const std::lock_guard<std::mutex> lock(mutex_);
    evict_all();
  }

  /// The limit (bytes).
  std::size_t limit() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return limit_;
  }

  /// Bytes held in cached blocks.
  std::size_t cached_bytes() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

private:
  struct Entry {
    void* block;
    std::size_t bytes;
  };

  void evict_all() {  // requires: the lock held
    while (cached_ > 0) evict_oldest();
  }

  void evict_oldest() {  // requires: the lock held, a block cached
    const Entry oldest = order_.front();
    auto range = by_size_.equal_range(oldest.bytes);
    for (auto it = range.first; it != range.second; ++it)
      if (it->second == order_.begin()) {
        by_size_.erase(it);
        break;
      }
    order_.pop_front();
    cached_ -= oldest.bytes;
    std::free(oldest.block);
  }

  std::mutex mutex_;
  std::list<Entry> order_;                                       // oldest first
  std::multimap<std::size_t, std::list<Entry>::iterator> by_size_;  // into order_
  std::size_t cached_ = 0;
  std::size_t limit_;
};

/// The limit of FCAM_CPU_CACHE_MB (megabytes; a bad value is ignored for the default).
inline std::size_t cpu_cache_limit_from_environment() {
  constexpr std::size_t default_mb = 1024;
  const char* text = std::getenv("FCAM_CPU_CACHE_MB");
  if (text == nullptr || *text == '\0') return default_mb << 20;
  char* end = nullptr;
  const unsigned long long mb = std::strtoull(text, &end, 10);
  if (*end != '\0' || text[0] == '-' || mb > (std::size_t{1} << 24)) return default_mb << 20;
  return static_cast<std::size_t>(mb) << 20;
}

/// The process's cache. Never destroyed: a static tensor freed at exit still finds it.
inline CpuBlockCache& cpu_block_cache() {
  static CpuBlockCache* cache = new CpuBlockCache(cpu_cache_limit_from_environment());
  return *cache;
}

}  // namespace detail

/// The cache's limit in bytes (FCAM_CPU_CACHE_MB or set_cpu_cache_limit; 0 in sanitizer builds).
inline std::size_t cpu_cache_limit() { return detail::cpu_block_cache().limit(); }

/// Bytes of freed CPU buffers the cache holds for reuse.
inline std::size_t cpu_cache_bytes() { return detail::cpu_block_cache().cached_bytes(); }

/// Frees every cached CPU buffer and sets the cache's limit in bytes (0: no caching from now on).
/// Tensors alive keep their memory; they return it to the cache when freed.
inline void set_cpu_cache_limit(std::size_t bytes) { detail::cpu_block_cache().set_limit(bytes); }

/// Frees every cached CPU buffer, keeping the limit.
inline void release_cpu_cache() { detail::cpu_block_cache().release(); }

}  // namespace fcam

/// \file
/// \brief Host-only API of the CUDA backend: devices, the stream, math modes, the caching
/// allocator's statistics and transfers; no CUDA headers here.
///
/// These functions exist only when fcam is built with FCAM_WITH_CUDA; they are implemented in
/// the compiled library fcam::cuda (directory cuda/). Every failure throws fcam::Error.
///
/// Each host thread works on its own non-blocking stream of the current device, with its own
/// cuDNN and cuBLAS handles bound to it. Ops enqueue work on that stream and return without
/// waiting; a copy to the host waits for it, and so does synchronize().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "fcam/config.hpp"

#if FCAM_WITH_CUDA
namespace fcam::cuda {

/// Number of visible CUDA devices (0 when the driver finds none).
int device_count();
/// Waits until every op this thread enqueued has finished; reports a failed kernel as fcam::Error.
void synchronize();

/// TF32 tensor-core math for float convolutions and matrix products. Off by default, so float
/// results track the CPU's; on, they differ by about 1e-3 relative (docs/cuda.md).
void set_tf32(bool enabled);
/// Whether TF32 math is enabled.
bool tf32_enabled();
/// bfloat16 convolutions, for inference: each convolution's forward pass rounds its input and
/// weight to bfloat16 (to nearest even) and multiplies them on tensor cores with float
/// accumulation; the output is written as float where cuDNN has an engine for that, else (and
/// always with set_benchmark_algorithms) as bfloat16 widened back to float for the next op. Every other op, and every backward pass,
/// stays in float. Off by default; how far the maps then are from fp32's, the bf16 tests print
/// (not yet measured on a GPU, docs/cuda.md). Takes precedence over TF32 for the forward
/// convolutions.
void set_bf16(bool enabled);
/// Whether bfloat16 convolutions are on.
bool bf16_enabled();
/// Deterministic mode: only convolution algorithms that give the same bits on every run.
/// Off by default (cuDNN then picks the fastest, some of which accumulate with atomics).
void set_deterministic(bool enabled);
/// Whether deterministic mode is on.
bool deterministic();
/// Fast convolutions: with TF32 off, also let cuDNN use its FFT and non-fused Winograd
/// algorithms where its heuristics rank them first, as PyTorch does. Off by default: on an H200
/// they gave an NMSE of 5.7e-7 against the CPU on a 5×5 weight gradient (the default keeps every
/// convolution within 1e-7), and at batch 32 some 3×3 convolutions run up to 2.6× faster
/// (docs/performance.md).
void set_fast_convolutions(bool enabled);
/// Whether fast convolutions are on.
bool fast_convolutions();
/// Benchmark mode: convolution algorithms chosen by timing each candidate once per geometry
/// (cudnnFind) instead of by cuDNN's heuristics. Off by default.
void set_benchmark_algorithms(bool enabled);

/// What the caching allocator holds (bytes, and counts since the process started).
struct MemoryStats {
  std::size_t allocated_bytes = 0;       ///< in tensors now
  std::size_t peak_allocated_bytes = 0;  ///< the most ever in tensors at once
  std::size_t reserved_bytes = 0;        ///< obtained from the driver (allocated + cached)
  std::int64_t device_mallocs = 0;       ///< cudaMalloc calls
  std::int64_t device_frees = 0;         ///< cudaFree calls
  std::int64_t allocations = 0;          ///< blocks handed out
};
/// The allocator's statistics.
MemoryStats memory_stats();
/// Returns every cached block that no tensor uses to the driver (waits for the device first).
/// Throws while a CUDA graph is being captured on any thread (the wait would break the capture).
void empty_cache();

/// Allocates `bytes` of device memory from the caching allocator, zero-filled when `zero` (the
/// fill is enqueued on this thread's stream). requires: bytes > 0.
void* device_alloc(std::size_t bytes, bool zero = true);
/// Returns memory from device_alloc to the cache; null is ignored. Never throws.
void device_free(void* ptr) noexcept;
/// Page-locked host memory for at least `bytes` (rounded up to 2 MiB), from a cache of freed
/// blocks: copies from it to a GPU run asynchronously (copy_host_to_device). A block is handed out
/// again only after every copy that read it has finished, so a tensor in it may die while its
/// copy is still queued; the host must not write it while a copy from it may run. Returns null
/// when page-locked memory runs short (the caller then takes ordinary memory).
void* pinned_alloc(std::size_t bytes);
/// Returns memory from pinned_alloc to the cache; null is ignored. Never throws.
void pinned_free(void* ptr) noexcept;
/// Sets `bytes` of device memory to zero (enqueued on the stream).
void fill_zero(void* dst, std::size_t bytes);
/// Copies host memory to device memory. From pinned_alloc's memory it is enqueued on the stream
/// and returns at once; from other memory it returns once the copy has finished.
void copy_host_to_device(void* dst, const void* src, std::size_t bytes);
/// The point where copies queued by copy_host_to_device_ahead end: make_stream_wait() makes this
/// thread's stream wait for them without the host waiting. Movable; an empty fence is complete.
class Fence {
public:
  /// A complete fence.
  Fence() = default;
  /// Takes ownership of a CUDA event (cudaEvent_t) recorded after the copies.
  explicit Fence(void* event) : event_(event) {}
  Fence(const Fence&) = delete;
  Fence& operator=(const Fence&) = delete;
  Fence(Fence&& other) noexcept : event_(other.event_) { other.event_ = nullptr; }
  Fence& operator=(Fence&& other) noexcept;
  ~Fence();
  /// Makes the work enqueued on this thread's stream from now on wait for the copies.
  void make_stream_wait() const;

private:
  void* event_ = nullptr;
};
/// Copies host memory to device memory on this thread's second (copy) stream, so that the copy
/// runs while this thread's stream computes: the copy first waits for the work already queued on
/// the stream (`dst` may be a block that this work still reads), then runs alongside whatever is
/// queued next. Read or free `dst` only after the returned fence's make_stream_wait() (UploadAhead
/// does both in order). The source must be pinned_alloc's memory (it may be freed at once, as with
/// copy_host_to_device); from other memory, and during stream capture, this is
/// copy_host_to_device and the fence is empty.
Fence copy_host_to_device_ahead(void* dst, const void* src, std::size_t bytes);
/// Copies device memory to host memory (waits for the stream).
void copy_device_to_host(void* dst, const void* src, std::size_t bytes);
/// Copies device memory to device memory (enqueued on the stream).
void copy_device_to_device(void* dst, const void* src, std::size_t bytes);

/// A CUDA graph of the work that a call enqueues on this thread's stream: made once, then
/// replayed by launch() with no host work per kernel (docs/cuda.md, "CUDA graphs").
///
/// The constructor runs `work` once eagerly and once more under stream capture. Both runs
/// allocate from a memory pool of the graph's own: the capture finds its blocks cached, and
/// no other tensor gets a block that a replay writes. The pool goes back to the stream when the
/// graph is destroyed. `work` must enqueue the same work each time and must not wait for the
/// device (a copy to the host, synchronize()); such a call makes the constructor throw. Tensors
/// that `work` creates and keeps (its outputs) are rewritten by each replay; inputs that it
/// reads are read again by each replay, at the addresses they had during the capture.
class Graph {
public:
  explicit Graph(const std::function<void()>& work);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  /// Enqueues one replay on this thread's stream, which must be the stream that made the graph.
  void launch();

private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace fcam::cuda
#endif

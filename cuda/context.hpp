/// \file
/// \brief Private to cuda/: error checks and this thread's stream, cuDNN and cuBLAS handles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace fcam::cuda {

/// Throws fcam::Error "CUDA <what> failed: <reason>" unless `status` is success.
void check(cudaError_t status, const char* what);
/// Throws fcam::Error "cuDNN <what> failed: <reason>" unless `status` is success.
void check(cudnnStatus_t status, const char* what);
/// Throws fcam::Error "cuBLAS <what> failed: <reason>" unless `status` is success.
void check(cublasStatus_t status, const char* what);
/// Throws fcam::Error naming `kernel` when its launch failed (bad configuration, no device).
void check_launch(const char* kernel);

/// This thread's non-blocking stream on the current device (created on first use).
cudaStream_t stream();
/// This thread's second stream on the current device, for copies that run while stream() computes
/// (copy_host_to_device_ahead; created on first use).
cudaStream_t copy_stream();
/// This thread's cuDNN handle, bound to stream().
cudnnHandle_t cudnn_handle();
/// This thread's cuBLAS handle, bound to stream(), math mode following set_tf32().
cublasHandle_t cublas_handle();
/// Whether convolution algorithms are chosen by timing (set_benchmark_algorithms).
bool benchmark_algorithms();

/// Whether the environment variable FCAM_CUDA_TRACE is set to anything but "" or "0" (read once).
/// Then each new convolution plan writes one line to stderr saying which path cuDNN gives it
/// (graph-API engine or legacy algorithm, data types, workspace): what a card actually runs.
bool tracing();
/// Writes "fcam cuda: <line>" to stderr as one whole line (threads do not interleave).
void trace(const std::string& line);

/// Whether [src, src + bytes) lies in one block of pinned_alloc (pinned.cpp).
bool is_pinned(const void* src, std::size_t bytes);
/// When [src, src + bytes) lies in one block of pinned_alloc (pinned.cpp) and `on` (default: this
/// thread's stream) is not being captured: enqueues the copy to `dst` on `on` without waiting,
/// records it against the block, and returns true. Otherwise returns false and does nothing.
bool copy_from_pinned_async(void* dst, const void* src, std::size_t bytes, cudaStream_t on = nullptr);

/// Copies a small host table (class targets or indices, per-plane values) to the device without
/// waiting: it is first copied into a pinned_alloc block, so the caller may free its source at
/// once, and the device copy is queued on this thread's stream ahead of the kernels that read
/// it. When page-locked memory runs short it is copy_host_to_device; during stream capture it is
/// refused (a graph would replay the copy from a staging block long since reused).
void copy_host_to_device_staged(void* dst, const void* src, std::size_t bytes);

/// From now on this thread allocates from a new private pool (a CUDA graph being made, see
/// allocator.cpp); returns its id. Throws while another private pool is active on the thread.
std::uintptr_t begin_private_pool();
/// This thread allocates from its stream's pool again.
void end_private_pool();
/// Hands every block of private pool `pool`, used or free, to `stream`'s pool: its graph is gone,
/// and the stream orders any later use after the graph's last replay.
void release_private_pool(std::uintptr_t pool, cudaStream_t stream);
/// Held by a stream capture while it runs (cuda::Graph): meanwhile empty_cache() is refused and
/// the allocator does not give its cache back on running out of memory, on any thread, since both
/// wait for the whole device, which would invalidate the capture. Made while such a call runs, it
/// waits for it.
class DeviceWaitsHeldOff {
public:
  DeviceWaitsHeldOff();
  ~DeviceWaitsHeldOff();
  DeviceWaitsHeldOff(const DeviceWaitsHeldOff&) = delete;
  DeviceWaitsHeldOff& operator=(const DeviceWaitsHeldOff&) = delete;
};
/// How many CUDA graphs exist in the process. A graph replays the device addresses it captured,
/// including those of cached buffers (resize tables): caches must not free entries while any
/// graph lives.
int live_graphs();

}  // namespace fcam::cuda

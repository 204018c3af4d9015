// The caching allocator of page-locked host memory: batches that the data loader fills there are
// copied to the GPU asynchronously (a copy from pageable memory waits for the stream, and the
// driver stages it through its own pinned buffer at about half the bandwidth).
//
// cudaHostAlloc is slow (it page-locks the memory) and cudaFreeHost synchronises the device, so
// freed blocks are kept and reused. A block may still be read by a copy that is queued on a
// stream when its tensor dies: each copy from it records the block's event after itself, and a
// free block is handed out again only once that event has completed. Blocks are never returned
// to the driver: a training run reuses the same few batch-sized blocks.
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "context.hpp"
#include "fcam/core/error.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam::cuda {

namespace {

constexpr std::size_t rounding = 2 << 20;  // block sizes are multiples of 2 MiB

struct PinnedBlock {
  std::size_t bytes = 0;
  bool in_use = false;
  cudaEvent_t last_copy = nullptr;  // recorded after each copy that reads the block
  cudaStream_t copy_stream = nullptr;  // the stream of the last such copy
};

struct PinnedCache {
  std::mutex mutex;
  std::map<char*, PinnedBlock> blocks;  // by start address, for the lookup of a pointer inside

  // The block holding `p`, or blocks.end().
  std::map<char*, PinnedBlock>::iterator find(const void* p) {
    auto* c = static_cast<char*>(const_cast<void*>(p));
    auto it = blocks.upper_bound(c);
    if (it == blocks.begin()) return blocks.end();
    --it;
    return c < it->first + it->second.bytes ? it : blocks.end();
  }
};

// Never destroyed: freeing page-locked memory during process exit races the driver's teardown.
PinnedCache& cache() {
  static auto* c = new PinnedCache;
  return *c;
}

// Whether every copy that read `b` has finished.
bool copies_done(const PinnedBlock& b) {
  if (!b.last_copy) return true;
  const cudaError_t status = cudaEventQuery(b.last_copy);
  if (status == cudaErrorNotReady) {
    // Not an error; clear it only if the runtime kept it as the last error (an older error stays).
    if (cudaPeekAtLastError() == cudaErrorNotReady) (void)cudaGetLastError();
    return false;
  }
  check(status, "pinned block event query");
  return true;
}

}  // namespace

void* pinned_alloc(std::size_t bytes) {
  FCAM_CHECK(bytes > 0, "pinned_alloc: zero bytes");
  const std::size_t size = (bytes + rounding - 1) / rounding * rounding;
  PinnedCache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    // The smallest free block that fits, at most twice the size (a batch's block is reused by the
    // next batch of that size; a small request does not take a large block).
    auto best = c.blocks.end();
    for (auto it = c.blocks.begin(); it != c.blocks.end(); ++it) {
      const PinnedBlock& b = it->second;
      if (b.in_use || b.bytes < size || b.bytes > 2 * size) continue;
      if ((best == c.blocks.end() || b.bytes < best->second.bytes) && copies_done(b)) best = it;
    }
    if (best != c.blocks.end()) {
      best->second.in_use = true;
      return best->first;
    }
  }
  // A new block, allocated without the lock: cudaHostAlloc of a batch takes milliseconds, during
  // which the training thread's staged copies and checks must not wait.
  void* p = nullptr;
  if (cudaHostAlloc(&p, size, cudaHostAllocDefault) != cudaSuccess) {
    (void)cudaGetLastError();  // page-locked memory ran short: the caller takes ordinary memory
    return nullptr;
  }
  std::lock_guard lock(c.mutex);
  PinnedBlock& block = c.blocks.emplace(static_cast<char*>(p), PinnedBlock{size}).first->second;
  block.in_use = true;
  return p;
}

void pinned_free(void* ptr) noexcept {
  if (!ptr) return;
  PinnedCache& c = cache();
  std::lock_guard lock(c.mutex);
  const auto it = c.blocks.find(static_cast<char*>(ptr));
  if (it != c.blocks.end()) it->second.in_use = false;
}

bool is_pinned(const void* src, std::size_t bytes) {
  PinnedCache& c = cache();
  std::lock_guard lock(c.mutex);
  const auto it = c.find(src);
  return it != c.blocks.end() && static_cast<const char*>(src) + bytes <= it->first + it->second.bytes;
}

bool copy_from_pinned_async(void* dst, const void* src, std::size_t bytes, cudaStream_t on) {
  if (!on) on = stream();
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(on, &capture), "cudaStreamIsCapturing");
  if (capture != cudaStreamCaptureStatusNone) return false;  // a graph replays copies later: not this path
  PinnedCache& c = cache();
  std::lock_guard lock(c.mutex);
  const auto it = c.find(src);
  if (it == c.blocks.end() || static_cast<const char*>(src) + bytes > it->first + it->second.bytes) return false;
  PinnedBlock& b = it->second;
  if (!b.last_copy) check(cudaEventCreateWithFlags(&b.last_copy, cudaEventDisableTiming), "cudaEventCreate");
  // One event per block: a copy from another stream first waits for the previous stream's copy,
  // so that the event's last record covers every copy. Rare (batches are copied by one thread),
  // so waiting under the lock, which holds up the other threads' allocations meanwhile, is fine.
  if (b.copy_stream && b.copy_stream != on) check(cudaEventSynchronize(b.last_copy), "pinned block event");
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, on), "host-to-device copy (pinned)");
  b.copy_stream = on;
  // Queued: from here on a failure waits for the copy before it throws, so that neither the block
  // nor the caller's destination is reused while the copy runs.
  if (const cudaError_t recorded = cudaEventRecord(b.last_copy, on); recorded != cudaSuccess) {
    (void)cudaStreamSynchronize(on);
    check(recorded, "pinned block event record");
  }
  return true;
}

Fence& Fence::operator=(Fence&& other) noexcept {
  if (this != &other) {
    if (event_) (void)cudaEventDestroy(static_cast<cudaEvent_t>(event_));
    event_ = other.event_;
    other.event_ = nullptr;
  }
  return *this;
}

Fence::~Fence() {
  // Destroying a recorded event is safe: CUDA releases it once the work before it has completed.
  if (event_) (void)cudaEventDestroy(static_cast<cudaEvent_t>(event_));
}

void Fence::make_stream_wait() const {
  if (event_) check(cudaStreamWaitEvent(stream(), static_cast<cudaEvent_t>(event_), 0), "cudaStreamWaitEvent");
}

Fence copy_host_to_device_ahead(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return Fence();
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(stream(), &capture), "cudaStreamIsCapturing");
  if (capture != cudaStreamCaptureStatusNone || !is_pinned(src, bytes)) {
    copy_host_to_device(dst, src, bytes);
    return Fence();
  }
  // The copy stream first catches up with the work queued so far (dst's block may have been
  // freed by that work, and is reused in this stream's order).
  // Both events exist before the copy is queued: once it is, a failing record waits for the copy
  // (here and in copy_from_pinned_async), so that the caller may free dst when the error unwinds.
  cudaEvent_t queued = nullptr, copied = nullptr;
  check(cudaEventCreateWithFlags(&queued, cudaEventDisableTiming), "cudaEventCreate");
  Fence catch_up(queued);  // destroyed once the wait below is enqueued
  check(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming), "cudaEventCreate");
  Fence done(copied);
  check(cudaEventRecord(queued, stream()), "cudaEventRecord");
  check(cudaStreamWaitEvent(copy_stream(), queued, 0), "cudaStreamWaitEvent");
  FCAM_CHECK(copy_from_pinned_async(dst, src, bytes, copy_stream()), "copy_host_to_device_ahead: the pinned block ",
             "of the source disappeared");
  if (const cudaError_t recorded = cudaEventRecord(copied, copy_stream()); recorded != cudaSuccess) {
    (void)cudaStreamSynchronize(copy_stream());
    check(recorded, "cudaEventRecord (after a copy ahead)");
  }
  return done;
}

void copy_host_to_device_staged(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  // Under capture the copy would become a graph node that reads the staging block again at every
  // replay, long after it was reused: refuse it with the way out.
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(stream(), &capturing), "cudaStreamIsCapturing");
  FCAM_CHECK(capturing == cudaStreamCaptureStatusNone,
             "host values (classes, channel weights or fill values given in host memory) cannot be copied to the ",
             "GPU inside a CUDA graph: keep them on the device (ClassIndices::uploaded, top_class)");
  // A copy from pageable memory waits for the stream; one from a staging block only queues.
  if (void* staging = pinned_alloc(bytes)) {
    // Given back on every way out, a CUDA error's throw included; reused only once the copy has
    // run (its event).
    const std::unique_ptr<void, void (*)(void*) noexcept> block(staging, pinned_free);
    std::memcpy(staging, src, bytes);
    if (copy_from_pinned_async(dst, staging, bytes)) return;
  }
  copy_host_to_device(dst, src, bytes);
}

}  // namespace fcam::cuda

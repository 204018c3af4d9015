// The CUDA emulation's runtime API: device memory is host memory registered in a table (new
// allocations are filled with 0xff bytes, NaN as floats, so reads of never-written memory show).
// Work on a stream waits in the stream's queue until something makes the host wait for it:
// synchronising the stream, the device or an event recorded after it, another stream waiting for
// such an event, a free (cudaFree waits for the device), or a copy to or from pageable host
// memory (which CUDA runs in stream order before returning). So host code that reads a result or
// reuses a buffer without waiting sees stale data here too, as it may on a GPU. An event queried
// before its work ran answers "not ready" once. A capture records its stream's work for the
// graph's replays; work on the legacy default stream runs at once. Rules are checked where fcam
// could break them: copies, fills and kernel pointers must stay inside allocations (checked when the
// operation runs, so a graph replay over freed memory is caught too), a capturing stream must not
// be synchronised, and handles must be live. A broken rule stops the program with a message.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <cuda_runtime.h>

struct CUgraph_st {
  std::vector<std::pair<const char*, std::function<void()>>> nodes;
};
struct CUgraphExec_st {
  std::vector<std::pair<const char*, std::function<void()>>> nodes;
};
struct CUstream_st {
  CUgraph_st* capture = nullptr;  // the graph being captured, if any
  bool invalidated = false;
  std::deque<std::function<void()>> pending;  // queued, not yet run
  unsigned long long queued = 0;              // work items ever queued
  unsigned long long done = 0;                // of which have run
};
struct CUevent_st {
  CUgraph_st* captured_in = nullptr;  // recorded during that capture
  cudaStream_t stream = nullptr;      // recorded on it, after its first `position` work items
  unsigned long long position = 0;
};

namespace fcam_emu {

/// enqueue() that queues `work` on `queue` (nullptr: runs it now) unless `stream` is capturing.
cudaError_t enqueue(cudaStream_t stream, const char* what, cudaStream_t queue, std::function<void()> work);

namespace {

struct Allocation {
  std::size_t bytes;
  bool pinned;
};

std::mutex table_mutex;
// Queues and their runs: recursive, because a flush runs work that may itself look up tables.
std::recursive_mutex execution_mutex;
std::set<cudaStream_t> streams;
std::map<std::uintptr_t, Allocation> allocations;
std::size_t device_bytes = 0;
std::set<const void*> live_handles;  // streams, events, graphs and executable graphs
thread_local cudaError_t last_error = cudaSuccess;

/// The emulated device's memory: FCAM_CUDA_EMULATION_BYTES, else 4 GiB.
std::size_t capacity() {
  static const std::size_t bytes = [] {
    const char* value = std::getenv("FCAM_CUDA_EMULATION_BYTES");
    return value && *value ? std::strtoull(value, nullptr, 10) : std::size_t(4) << 30;
  }();
  return bytes;
}

/// The allocation holding [p, p + bytes), or nullptr.
const Allocation* find(const void* p, std::size_t bytes) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  auto it = allocations.upper_bound(address);
  if (it == allocations.begin()) return nullptr;
  --it;
  const std::uintptr_t end = it->first + it->second.bytes;
  return address <= end && bytes <= end - address ? &it->second : nullptr;
}

enum class Memory { pageable, device, pinned };

/// Where `p` points: into a device allocation, a page-locked host one, or neither.
Memory memory_at(const void* p) {
  std::lock_guard lock(table_mutex);
  const Allocation* a = find(p, 0);
  return !a ? Memory::pageable : a->pinned ? Memory::pinned : Memory::device;
}

void* allocate(std::size_t bytes, bool pinned) {
  const std::size_t rounded = (bytes + 255) / 256 * 256;
  void* p = std::aligned_alloc(256, rounded);
  if (!p) return nullptr;
  std::memset(p, 0xff, rounded);
  std::lock_guard lock(table_mutex);
  allocations[reinterpret_cast<std::uintptr_t>(p)] = {bytes, pinned};
  return p;
}

/// Runs `stream`'s queued work until its first `position` items have run.
void flush(cudaStream_t stream, unsigned long long position) {
  std::lock_guard lock(execution_mutex);
  while (stream->done < position && !stream->pending.empty()) {
    const std::function<void()> work = std::move(stream->pending.front());
    stream->pending.pop_front();
    work();
    ++stream->done;
  }
}

void flush(cudaStream_t stream) {
  if (stream) flush(stream, stream->queued);
}

void flush_all() {
  std::lock_guard lock(execution_mutex);
  for (cudaStream_t s : streams) flush(s);
}

cudaError_t release(void* p, bool pinned, const char* what) {
  if (!p) return cudaSuccess;
  flush_all();  // as cudaFree, which waits for the device
  {
    std::lock_guard lock(table_mutex);
    const auto it = allocations.find(reinterpret_cast<std::uintptr_t>(p));
    if (it == allocations.end() || it->second.pinned != pinned)
      violation(what, "the pointer is not the start of a live allocation of its kind");
    if (!pinned) device_bytes -= it->second.bytes;
    allocations.erase(it);
  }
  std::free(p);
  return cudaSuccess;
}

void add_handle(const void* h) {
  std::lock_guard lock(table_mutex);
  live_handles.insert(h);
}
void require_handle(const void* h, const char* what) {
  std::lock_guard lock(table_mutex);
  if (!live_handles.count(h)) violation(what, "the handle is not live (destroyed, or never created)");
}
void remove_handle(const void* h, const char* what) {
  std::lock_guard lock(table_mutex);
  if (!live_handles.erase(h)) violation(what, "the handle is not live (destroyed twice, or never created)");
}

void check_stream(cudaStream_t s, const char* what) {
  if (s) require_handle(s, what);
}

/// Copies `rows` rows of `width` bytes after checking that each side lies where `kind` says.
cudaError_t copy_rows(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                      std::size_t rows, cudaMemcpyKind kind, cudaStream_t stream, const char* what) {
  check_stream(stream, what);
  if (rows == 0 || width == 0) return cudaSuccess;
  if (width > dpitch || width > spitch) return cudaErrorInvalidValue;
  if (kind != cudaMemcpyHostToDevice && kind != cudaMemcpyDeviceToHost && kind != cudaMemcpyDeviceToDevice)
    violation(what, "only host-to-device, device-to-host and device-to-device copies are emulated");
  const std::size_t dst_span = (rows - 1) * dpitch + width, src_span = (rows - 1) * spitch + width;
  const void* host = kind == cudaMemcpyHostToDevice ? src : kind == cudaMemcpyDeviceToHost ? dst : nullptr;
  const bool pageable = host && memory_at(host) != Memory::pinned;
  if (pageable && stream && !stream->capture) flush(stream);  // CUDA copies pageable memory before returning
  return enqueue(stream, what, pageable ? nullptr : stream, [=] {
    const bool dst_device = kind != cudaMemcpyDeviceToHost, src_device = kind != cudaMemcpyHostToDevice;
    if (dst_device) require_device_range(dst, dst_span, what);
    else if (memory_at(dst) == Memory::device) violation(what, "the host destination is device memory");
    if (src_device) require_device_range(src, src_span, what);
    else if (memory_at(src) == Memory::device) violation(what, "the host source is device memory");
    for (std::size_t r = 0; r < rows; ++r)
      std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  });
}

cudaError_t fail(cudaError_t error) {
  last_error = error;
  return error;
}

}  // namespace

void violation(const char* what, const char* detail) {
  std::fprintf(stderr, "fcam CUDA emulation: %s: %s\n", what, detail);
  std::fflush(stderr);
  std::_Exit(violation_exit_status);  // nothing after a broken rule can be trusted, destructors included
}

void require_device_range(const void* p, std::size_t bytes, const char* what) {
  bool inside;
  {
    std::lock_guard lock(table_mutex);
    inside = find(p, bytes) != nullptr;
  }
  if (!inside) {
    char detail[120];
    std::snprintf(detail, sizeof detail, "[%p, +%zu bytes) is not inside one device allocation", p, bytes);
    violation(what, detail);
  }
}

void set_last_error(cudaError_t error) { last_error = error; }

cudaError_t enqueue(cudaStream_t stream, const char* what, std::function<void()> work) {
  return enqueue(stream, what, stream, std::move(work));
}

cudaError_t enqueue(cudaStream_t stream, const char* what, cudaStream_t queue, std::function<void()> work) {
  check_stream(stream, what);
  if (stream && stream->capture) {
    if (stream->invalidated) return cudaErrorStreamCaptureInvalidated;
    stream->capture->nodes.emplace_back(what, std::move(work));
    return cudaSuccess;
  }
  std::lock_guard lock(execution_mutex);
  if (!queue) {
    work();
    return cudaSuccess;
  }
  queue->pending.push_back(std::move(work));
  ++queue->queued;
  return cudaSuccess;
}

}  // namespace fcam_emu

using namespace fcam_emu;

cudaError_t cudaMalloc(void** ptr, std::size_t bytes) {
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  {
    std::lock_guard lock(table_mutex);
    if (bytes > capacity() - std::min(device_bytes, capacity())) return fail(cudaErrorMemoryAllocation);
    device_bytes += bytes;
  }
  *ptr = allocate(bytes, false);
  if (!*ptr) {
    std::lock_guard lock(table_mutex);
    device_bytes -= bytes;
    return fail(cudaErrorMemoryAllocation);
  }
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) { return release(ptr, false, "cudaFree"); }

cudaError_t cudaHostAlloc(void** ptr, std::size_t bytes, unsigned) {
  *ptr = allocate(bytes == 0 ? 1 : bytes, true);
  return *ptr ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}

cudaError_t cudaFreeHost(void* ptr) { return release(ptr, true, "cudaFreeHost"); }

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  return copy_rows(dst, bytes, src, bytes, bytes, 1, kind, stream, "cudaMemcpyAsync");
}

cudaError_t cudaMemcpy2DAsync(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                              std::size_t height, cudaMemcpyKind kind, cudaStream_t stream) {
  return copy_rows(dst, dpitch, src, spitch, width, height, kind, stream, "cudaMemcpy2DAsync");
}

cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  return enqueue(stream, "cudaMemsetAsync", [=] {
    require_device_range(dst, bytes, "cudaMemsetAsync");
    std::memset(dst, value, bytes);
  });
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  *stream = new CUstream_st;
  add_handle(*stream);
  std::lock_guard lock(execution_mutex);
  streams.insert(*stream);
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  remove_handle(stream, "cudaStreamDestroy");
  std::lock_guard lock(execution_mutex);
  flush(stream);  // as on a GPU, queued work still completes
  streams.erase(stream);
  delete stream->capture;
  stream->capture = nullptr;
  // Not deleted: an event recorded on it may still be asked about (its work has all run).
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  check_stream(stream, "cudaStreamSynchronize");
  if (stream && stream->capture) {  // as CUDA: the call fails and the capture is invalidated
    stream->invalidated = true;
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  flush(stream);
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  check_stream(stream, "cudaStreamIsCapturing");
  *status = !stream || !stream->capture ? cudaStreamCaptureStatusNone
            : stream->invalidated       ? cudaStreamCaptureStatusInvalidated
                                        : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  check_stream(stream, "cudaStreamBeginCapture");
  if (!stream) return fail(cudaErrorStreamCaptureUnsupported);  // the legacy default stream
  if (stream->capture) return fail(cudaErrorInvalidValue);
  stream->capture = new CUgraph_st;
  stream->invalidated = false;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  check_stream(stream, "cudaStreamEndCapture");
  *graph = nullptr;
  if (!stream || !stream->capture) return fail(cudaErrorInvalidValue);
  CUgraph_st* captured = stream->capture;
  stream->capture = nullptr;
  if (stream->invalidated) {
    delete captured;
    return fail(cudaErrorStreamCaptureInvalidated);
  }
  add_handle(captured);
  *graph = captured;
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  check_stream(stream, "cudaStreamWaitEvent");
  require_handle(event, "cudaStreamWaitEvent");
  if (event->captured_in && (!stream || stream->capture != event->captured_in))
    violation("cudaStreamWaitEvent", "a stream joining another stream's capture is not emulated");
  // The waited-for work runs now, so whatever `stream` queues from here on comes after it.
  if (!event->captured_in && event->stream) flush(event->stream, event->position);
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  require_handle(graph, "cudaGraphInstantiate");
  *exec = new CUgraphExec_st{graph->nodes};
  add_handle(*exec);
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  require_handle(exec, "cudaGraphLaunch");
  for (auto& node : exec->nodes)
    if (const cudaError_t queued = enqueue(stream, node.first, node.second); queued != cudaSuccess)
      return fail(queued);
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  remove_handle(graph, "cudaGraphDestroy");
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  remove_handle(exec, "cudaGraphExecDestroy");
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  *event = new CUevent_st;
  add_handle(*event);
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  require_handle(event, "cudaEventRecord");
  check_stream(stream, "cudaEventRecord");
  std::lock_guard lock(execution_mutex);
  event->captured_in = stream ? stream->capture : nullptr;
  event->stream = stream && !stream->capture ? stream : nullptr;
  event->position = event->stream ? stream->queued : 0;
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  require_handle(event, "cudaEventQuery");
  if (event->captured_in) return fail(cudaErrorStreamCaptureUnsupported);
  std::lock_guard lock(execution_mutex);
  if (event->stream && event->stream->done < event->position) {
    flush(event->stream, event->position);  // "not ready" now; done when asked again
    return cudaErrorNotReady;
  }
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  require_handle(event, "cudaEventSynchronize");
  if (event->captured_in) return fail(cudaErrorStreamCaptureUnsupported);
  if (event->stream) flush(event->stream, event->position);
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  remove_handle(event, "cudaEventDestroy");
  std::lock_guard lock(execution_mutex);
  delete event;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int) {
  if (attribute != cudaDevAttrMaxPitch) return fail(cudaErrorInvalidValue);
  *value = 2147483647;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  flush_all();
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  const cudaError_t error = last_error;
  last_error = cudaSuccess;
  return error;
}

cudaError_t cudaPeekAtLastError() { return last_error; }

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureWrongThread:
      return "attempt to terminate a thread-local capture sequence from another thread";
  }
  return "unknown error";
}

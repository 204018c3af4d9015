// cuda::Graph: stream capture of a call's work into a CUDA graph, with a private memory pool
// (allocator.cpp), and its replay.
#include <atomic>
#include <cstdint>
#include <exception>
#include <string>

#include "context.hpp"
#include "fcam/core/error.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam::cuda {

namespace {
std::atomic<int> graph_count{0};
}  // namespace

int live_graphs() { return graph_count.load(); }

struct Graph::Parts {
  cudaStream_t stream = nullptr;
  std::uintptr_t pool = 0;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;

  /// Destroys the graph and gives the pool back (never throws: it runs in destructors).
  void release() noexcept {
    (void)cudaStreamSynchronize(stream);  // replays still in flight read the graph and the pool
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
    exec = nullptr;
    graph = nullptr;
    (void)cudaGetLastError();
    if (pool) release_private_pool(pool, stream);
    pool = 0;
  }
};

namespace {

constexpr const char* cannot_capture =
    "cuda::Graph: the work could not be captured (it must enqueue work on this thread's stream only, and never "
    "wait for the device or copy to the host): ";

/// Ends the capture on `stream` and drops what it recorded. Never throws: it runs while an
/// exception is on its way out.
void abandon_capture(cudaStream_t stream) noexcept {
  cudaGraph_t partial = nullptr;
  (void)cudaStreamEndCapture(stream, &partial);
  if (partial) cudaGraphDestroy(partial);
  (void)cudaGetLastError();
}

/// Runs `work` under capture on `stream` into `graph`. Relaxed mode: the private pool may still
/// need a cudaMalloc, which the stricter modes forbid; a wait for the device fails either way.
/// The capture is always ended, or the thread's stream would stay in capture mode and every later
/// op fail.
void capture(const std::function<void()>& work, cudaStream_t stream, cudaGraph_t& graph) {
  const DeviceWaitsHeldOff held;
  check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
  try {
    work();
  } catch (const std::exception& e) {
    abandon_capture(stream);
    fail(cannot_capture, e.what());
  } catch (...) {
    // Anything else (a test framework's exception, a thread's cancellation) goes on as it is:
    // a cancellation must be rethrown from its own handler, or the process aborts.
    abandon_capture(stream);
    throw;
  }
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  if (ended == cudaSuccess) return;
  if (graph) cudaGraphDestroy(graph);
  graph = nullptr;
  (void)cudaGetLastError();
  fail(cannot_capture, "the capture ended with: ", cudaGetErrorString(ended));
}

}  // namespace

Graph::Graph(const std::function<void()>& work) : parts_(std::make_unique<Parts>()) {
  Parts& p = *parts_;
  p.stream = stream();
  p.pool = begin_private_pool();  // throws inside another graph's work: nothing to undo yet
  ++graph_count;                  // from here on no cache frees what the capture may take
  try {
    work();  // eagerly: plans, algorithms, tables and the pool's blocks are made here
    capture(work, p.stream, p.graph);
    check(cudaGraphInstantiate(&p.exec, p.graph, 0), "cudaGraphInstantiate");
  } catch (...) {
    end_private_pool();
    p.release();
    --graph_count;
    throw;
  }
  end_private_pool();
}

Graph::~Graph() {
  parts_->release();
  --graph_count;
}

void Graph::launch() {
  FCAM_CHECK(stream() == parts_->stream,
             "cuda::Graph::launch: called on another thread than the one that made the graph (each thread has "
             "its own stream)");
  check(cudaGraphLaunch(parts_->exec, parts_->stream), "cudaGraphLaunch");
}

}  // namespace fcam::cuda

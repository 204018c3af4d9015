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

/// Runs `work` under capture on `stream` into `graph`. Relaxed mode: the private pool may still
/// need a cudaMalloc, which the stricter modes forbid; a wait for the device fails either way.
void capture(const std::function<void()>& work, cudaStream_t stream, cudaGraph_t& graph) {
  check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
  std::string failure;
  std::exception_ptr other;  // not a std::exception (a test framework's): rethrown as it is
  try {
    work();
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    other = std::current_exception();
  }
  // Always ended, or the thread's stream would stay in capture mode and every later op fail.
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  if (failure.empty() && !other && ended != cudaSuccess)
    failure = std::string("the capture ended with: ") + cudaGetErrorString(ended);
  if (failure.empty() && !other) return;
  if (graph) cudaGraphDestroy(graph);
  graph = nullptr;
  (void)cudaGetLastError();
  if (other) std::rethrow_exception(other);
  fail("cuda::Graph: the work could not be captured (it must enqueue work on this thread's stream only, "
       "and never wait for the device or copy to the host): ", failure);
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

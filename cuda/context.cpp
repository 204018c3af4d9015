// The per-thread CUDA context (stream and library handles), math modes and error checks.
#include "context.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam::cuda {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) fail("CUDA ", what, " failed: ", cudaGetErrorString(status));
}

void check(cudnnStatus_t status, const char* what) {
  if (status != CUDNN_STATUS_SUCCESS) fail("cuDNN ", what, " failed: ", cudnnGetErrorString(status));
}

void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) fail("cuBLAS ", what, " failed: ", cublasGetStatusString(status));
}

void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

namespace {

std::atomic<bool> tf32{false};
std::atomic<bool> bf16{false};
std::atomic<bool> deterministic_mode{false};
std::atomic<bool> benchmark_mode{false};
std::atomic<bool> fast_mode{false};

/// A stream with its library handles on one device.
struct Context {
  int device = 0;
  cudaStream_t stream = nullptr;
  cudaStream_t copies = nullptr;  // copy_stream(), made on first use
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
};

// Contexts are never destroyed: destroying handles during process exit races the driver's own
// teardown. A thread that ends returns its contexts here for the next thread to reuse, so
// threads that come and go do not leak.
std::mutex pool_mutex;
std::vector<Context*> pool;

Context* take_context(int device) {
  {
    std::lock_guard lock(pool_mutex);
    for (auto it = pool.begin(); it != pool.end(); ++it)
      if ((*it)->device == device) {
        Context* c = *it;
        pool.erase(it);
        return c;
      }
  }
  auto* c = new Context{device};
  try {
    check(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    check(cudnnCreate(&c->cudnn), "cudnnCreate");
    check(cudnnSetStream(c->cudnn, c->stream), "cudnnSetStream");
    check(cublasCreate(&c->cublas), "cublasCreate");
    check(cublasSetStream(c->cublas, c->stream), "cublasSetStream");
  } catch (...) {  // e.g. a missing cuDNN: each later call would otherwise leak another stream
    if (c->cublas) cublasDestroy(c->cublas);
    if (c->cudnn) cudnnDestroy(c->cudnn);
    if (c->stream) cudaStreamDestroy(c->stream);
    delete c;
    throw;
  }
  return c;
}

/// This thread's contexts, one per device it used.
struct ThreadContexts {
  std::vector<Context*> contexts;
  ~ThreadContexts() {
    std::lock_guard lock(pool_mutex);
    pool.insert(pool.end(), contexts.begin(), contexts.end());
  }
  Context& current() {
    int device = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    for (Context* c : contexts)
      if (c->device == device) return *c;
    contexts.push_back(take_context(device));
    return *contexts.back();
  }
};

Context& current_context() {
  thread_local ThreadContexts contexts;
  return contexts.current();
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

void synchronize() { check(cudaStreamSynchronize(stream()), "stream synchronisation (an earlier kernel failed)"); }

void set_tf32(bool enabled) { tf32 = enabled; }
bool tf32_enabled() { return tf32; }
void set_bf16(bool enabled) { bf16 = enabled; }
bool bf16_enabled() { return bf16; }
void set_deterministic(bool enabled) { deterministic_mode = enabled; }
bool deterministic() { return deterministic_mode; }
void set_benchmark_algorithms(bool enabled) { benchmark_mode = enabled; }
void set_fast_convolutions(bool enabled) { fast_mode = enabled; }
bool fast_convolutions() { return fast_mode; }
bool benchmark_algorithms() { return benchmark_mode; }

bool tracing() {
  static const bool on = [] {
    const char* value = std::getenv("FCAM_CUDA_TRACE");
    return value && *value && std::string_view(value) != "0";
  }();
  return on;
}

void trace(const std::string& line) {
  static std::mutex output;
  std::lock_guard lock(output);
  std::fprintf(stderr, "fcam cuda: %s\n", line.c_str());
}

cudaStream_t stream() { return current_context().stream; }

cudaStream_t copy_stream() {
  Context& c = current_context();
  if (!c.copies) check(cudaStreamCreateWithFlags(&c.copies, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  return c.copies;
}
cudnnHandle_t cudnn_handle() { return current_context().cudnn; }

cublasHandle_t cublas_handle() {
  cublasHandle_t handle = current_context().cublas;
  // Default math keeps float products in float precision; TF32 only when asked for.
  check(cublasSetMathMode(handle, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  return handle;
}

}  // namespace fcam::cuda

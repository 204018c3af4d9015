/// \file
/// \brief The CUDA emulation's stand-in for the CUDA runtime header: the types, enums and API
/// functions that fcam's cuda/ calls, the kernel-side built-ins (threadIdx, __syncthreads, warp
/// shuffles, atomics, rounding intrinsics) and the launcher that the build's translation step
/// (translate_launches.py) puts in place of each `kernel<<<grid, block, shared, stream>>>(args)`.
///
/// Why: no GPU is lent to most sessions, so the kernels and their host code would otherwise only
/// ever be compiled. Here g++ compiles them unchanged and every kernel thread runs as a fiber on
/// the CPU (scheduler.cpp), with CUDA's rules checked where they are cheap to check: barriers that
/// not every thread reaches, warp operations with exited or mismatched lanes, kernel pointer
/// arguments and copies outside device allocations, synchronisation during stream capture.
/// Nothing here measures or imitates GPU speed, and an emulated pass is not a GPU result.
#pragma once

#include <math.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

// Kernel qualifiers vanish; shared memory is one per host thread (blocks run one after another).
#define __global__
#define __device__
#define __shared__ static thread_local

// ---- types and enums ----------------------------------------------------------------------
enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureWrongThread = 908,
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2
};
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2
};
enum cudaDeviceAttr { cudaDevAttrMaxPitch = 11 };

#define cudaStreamDefault 0x00u
#define cudaStreamNonBlocking 0x01u
#define cudaEventDefault 0x00u
#define cudaEventDisableTiming 0x02u
#define cudaHostAllocDefault 0x00u

typedef struct CUstream_st* cudaStream_t;
typedef struct CUevent_st* cudaEvent_t;
typedef struct CUgraph_st* cudaGraph_t;
typedef struct CUgraphExec_st* cudaGraphExec_t;

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

// ---- runtime API (runtime.cpp) ------------------------------------------------------------
cudaError_t cudaMalloc(void** ptr, std::size_t bytes);
template <class T>
cudaError_t cudaMalloc(T** ptr, std::size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaHostAlloc(void** ptr, std::size_t bytes, unsigned flags);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemcpy2DAsync(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                              std::size_t height, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t error);

// ---- the emulator's own entry points ------------------------------------------------------
namespace fcam_emu {

/// Queues `work` on `stream`, to run when the host waits for it (runtime.cpp); records it for
/// each replay when `stream` is being captured; runs it now on the legacy default stream.
/// `what` names it in error messages. Returns the error to report (capture invalidated...).
cudaError_t enqueue(cudaStream_t stream, const char* what, std::function<void()> work);

/// Stops the program (violation()) unless [p, p + bytes) lies in one device (or page-locked host)
/// allocation; `what` names the caller.
void require_device_range(const void* p, std::size_t bytes, const char* what);

/// Ends the program with a message naming `what` (a CUDA rule the emulated code broke) and the
/// exit status violation_exit_status.
[[noreturn]] void violation(const char* what, const char* detail);
inline constexpr int violation_exit_status = 70;

/// Runs body() once per thread of the grid (scheduler.cpp): each thread a fiber of its block
/// with `fibers`, else a plain call (for kernels that never synchronise threads).
void run_grid(const char* kernel, bool fibers, dim3 grid, dim3 block, const std::function<void()>& body);

/// Sets the launch error (like an invalid configuration) for cudaGetLastError.
void set_last_error(cudaError_t error);

template <class A>
void check_pointer_argument(const char* kernel, const A& arg) {
  if constexpr (std::is_pointer_v<A>) {
    if (arg != nullptr) require_device_range(arg, 0, kernel);
  }
}

/// The callable that replaces `kernel<<<grid, block, shared, stream>>>`: called with the kernel's
/// arguments, it checks the configuration and pointer arguments, then enqueues the grid.
template <class Kernel>
struct Launch {
  const char* name;
  bool fibers;
  Kernel kernel;
  dim3 grid, block;
  std::size_t shared;
  cudaStream_t stream;

  template <class... Args>
  void operator()(Args&&... args) const {
    const unsigned long long threads = 1ull * block.x * block.y * block.z;
    if (threads == 0 || threads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 ||
        grid.z > 65535 || shared > 48 * 1024) {
      set_last_error(cudaErrorInvalidConfiguration);
      return;
    }
    if (shared != 0) violation("dynamic shared memory is not emulated", name);
    // Parameters are copied at launch, as CUDA copies them into the kernel's parameter space;
    // pointers are checked when the grid runs (a graph replay may run after a free).
    auto copies = std::make_tuple(std::decay_t<Args>(std::forward<Args>(args))...);
    const Kernel k = kernel;
    const char* n = name;
    const bool f = fibers;
    const dim3 g = grid, b = block;
    const cudaError_t queued = enqueue(stream, name, [k, n, f, g, b, copies] {
      std::apply([&](const auto&... a) { (check_pointer_argument(n, a), ...); }, copies);
      run_grid(n, f, g, b, [&] { std::apply([&](const auto&... a) { k(a...); }, copies); });
    });
    if (queued != cudaSuccess) set_last_error(queued);
  }
};

/// `kernel` calls the kernel with the launch's arguments (a lambda, so that the kernel's template
/// arguments are deduced from them as CUDA deduces them); `fibers`: see run_grid.
template <class Kernel>
Launch<Kernel> launcher(const char* name, bool fibers, Kernel kernel, dim3 grid, dim3 block, std::size_t shared = 0,
                        cudaStream_t stream = nullptr) {
  return {name, fibers, kernel, grid, block, shared, stream};
}

/// One lane's side of a warp exchange: writes `bytes` of `value`, waits for every lane of `mask`
/// and returns the 32 lanes' slots (each 16 bytes). `operation` names the call for mismatches.
const unsigned char* warp_exchange(unsigned mask, const void* value, std::size_t bytes, const char* operation);
/// This thread's lane in its warp.
unsigned lane_id();

}  // namespace fcam_emu

// ---- kernel built-ins (scheduler.cpp) -----------------------------------------------------
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

void __syncthreads();

template <class T>
T __shfl_sync(unsigned mask, T var, int source_lane, int width = 32) {
  static_assert(sizeof(T) <= 16 && std::is_trivially_copyable_v<T>);
  if (width != 32) fcam_emu::violation("__shfl_sync with a width other than 32 is not emulated", "");
  const unsigned char* slots = fcam_emu::warp_exchange(mask, &var, sizeof(T), "__shfl_sync");
  const unsigned source = static_cast<unsigned>(source_lane) % 32u;
  if (!(mask >> source & 1u)) fcam_emu::violation("__shfl_sync reads a lane outside its mask", "");
  T out;
  std::memcpy(&out, slots + 16 * source, sizeof(T));
  return out;
}

template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32) {
  static_assert(sizeof(T) <= 16 && std::is_trivially_copyable_v<T>);
  if (width != 32) fcam_emu::violation("__shfl_down_sync with a width other than 32 is not emulated", "");
  const unsigned char* slots = fcam_emu::warp_exchange(mask, &var, sizeof(T), "__shfl_down_sync");
  const unsigned source = fcam_emu::lane_id() + delta;
  if (source >= 32) return var;  // beyond the warp: the lane keeps its own value
  if (!(mask >> source & 1u)) fcam_emu::violation("__shfl_down_sync reads a lane outside its mask", "");
  T out;
  std::memcpy(&out, slots + 16 * source, sizeof(T));
  return out;
}

inline unsigned __ballot_sync(unsigned mask, int predicate) {
  const int mine = predicate != 0;
  const unsigned char* slots = fcam_emu::warp_exchange(mask, &mine, sizeof mine, "__ballot_sync");
  unsigned bits = 0;
  for (unsigned lane = 0; lane < 32; ++lane) {
    int v;
    std::memcpy(&v, slots + 16 * lane, sizeof v);
    if ((mask >> lane & 1u) && v) bits |= 1u << lane;
  }
  return bits;
}

// Atomics: the fibers of a block never run at once, and blocks run one after another.
template <class T>
T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}

// The intrinsics fcam's kernels use. Rounding: the emulation is compiled without contraction, so
// a plain operation is already the correctly rounded one.
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }

template <class To, class From>
To fcam_emu_bits(From from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}
inline unsigned __float_as_uint(float x) { return fcam_emu_bits<unsigned>(x); }
inline float __int_as_float(int x) { return fcam_emu_bits<float>(x); }
inline double __longlong_as_double(long long x) { return fcam_emu_bits<double>(x); }
// The device's integer and float min / max (CUDA declares them globally for device code).
#define FCAM_EMU_MIN_MAX(T)                        \
  inline T min(T a, T b) { return b < a ? b : a; } \
  inline T max(T a, T b) { return a < b ? b : a; }
FCAM_EMU_MIN_MAX(int)
FCAM_EMU_MIN_MAX(unsigned)
FCAM_EMU_MIN_MAX(long)
FCAM_EMU_MIN_MAX(unsigned long)
FCAM_EMU_MIN_MAX(long long)
FCAM_EMU_MIN_MAX(unsigned long long)
#undef FCAM_EMU_MIN_MAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }

inline int __ffs(int x) { return __builtin_ffs(x); }

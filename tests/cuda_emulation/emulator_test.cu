// test_cuda_emulator: the emulation's own semantics and checks, so that a pass of
// test_backend_ops on it means something. `semantics` runs kernels whose results depend on the
// barrier, the warp operations, multi-dimensional indices, graph replays and deferred stream work
// being emulated correctly (exit 0, or 1 naming each mismatch). Every other argument breaks one CUDA rule and
// must stop with the emulation's message (tests/cuda_emulation/CMakeLists.txt checks it).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    ++failures;
  }
}

__global__ void reverse_in_block(const int* in, int* out) {
  __shared__ int s[256];
  const unsigned t = threadIdx.x, base = blockIdx.x * blockDim.x;
  s[t] = in[base + t];
  __syncthreads();  // without it, thread t would read s[255 - t] before thread 255 - t wrote it
  out[base + t] = s[blockDim.x - 1 - t];
}

__global__ void warp_operations(int* sums, int* broadcasts, unsigned* ballots) {
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int sum = static_cast<int>(lane);
  for (unsigned offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  const int from_five = __shfl_sync(0xffffffffu, static_cast<int>(lane * 10 + warp), 5);
  const unsigned odd = __ballot_sync(0xffffffffu, lane % 2);
  if (lane == 0) sums[warp] = sum;
  broadcasts[threadIdx.x] = from_five;
  if (lane == 0) ballots[warp] = odd;
}

__global__ void write_indices(int* out) {
  const unsigned block = blockIdx.z * gridDim.y * gridDim.x + blockIdx.y * gridDim.x + blockIdx.x;
  const unsigned thread = threadIdx.z * blockDim.y * blockDim.x + threadIdx.y * blockDim.x + threadIdx.x;
  out[block * blockDim.x * blockDim.y * blockDim.z + thread] = static_cast<int>(1000 * block + thread);
}

__global__ void count_in_shared(const int* in, int n, int* counts) {
  __shared__ unsigned bins[4];
  if (threadIdx.x < 4) bins[threadIdx.x] = 0;
  __syncthreads();
  for (int i = static_cast<int>(threadIdx.x); i < n; i += static_cast<int>(blockDim.x)) atomicAdd(&bins[in[i] % 4], 1u);
  __syncthreads();
  if (threadIdx.x < 4) counts[threadIdx.x] = static_cast<int>(bins[threadIdx.x]);
}

__global__ void add_one(float* x, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) x[i] += 1.0f;
}

__global__ void last_writer(int* out) { out[blockIdx.x] = static_cast<int>(threadIdx.x); }  // a race on purpose

__global__ void barrier_after_early_exit(int* out) {
  if (threadIdx.x < 10) return;  // these threads never reach the barrier: a hang on a GPU
  __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void shuffle_with_exited_lane(int* out) {
  if (threadIdx.x == 3) return;
  out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x), 0);
}

template <class T>
T* device_array(std::size_t n) {
  void* p = nullptr;
  if (cudaMalloc(&p, n * sizeof(T)) != cudaSuccess) std::abort();
  return static_cast<T*>(p);
}

template <class T>
std::vector<T> to_host(const T* device, std::size_t n) {
  std::vector<T> host(n);
  cudaMemcpyAsync(host.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost, nullptr);
  return host;
}

void semantics() {
  std::vector<int> values(512);
  for (int i = 0; i < 512; ++i) values[i] = 3 * i + 1;
  int* in = device_array<int>(512);
  int* out = device_array<int>(512);
  cudaMemcpyAsync(in, values.data(), sizeof(int) * 512, cudaMemcpyHostToDevice, nullptr);
  reverse_in_block<<<2, 256>>>(in, out);
  const auto reversed = to_host(out, 512);
  bool ok = true;
  for (int i = 0; i < 512; ++i) ok &= reversed[i] == values[i / 256 * 256 + 255 - i % 256];
  expect(ok, "__syncthreads: each thread reads what another wrote before the barrier");

  int* sums = device_array<int>(4);
  int* broadcasts = device_array<int>(128);
  unsigned* ballots = device_array<unsigned>(4);
  warp_operations<<<1, 128>>>(sums, broadcasts, ballots);
  const auto s = to_host(sums, 4);
  const auto b = to_host(broadcasts, 128);
  const auto v = to_host(ballots, 4);
  ok = true;
  for (int w = 0; w < 4; ++w) ok &= s[w] == 496 && v[w] == 0xaaaaaaaau;
  for (int t = 0; t < 128; ++t) ok &= b[t] == 50 + t / 32;
  expect(ok, "__shfl_down_sync sums a warp, __shfl_sync broadcasts lane 5, __ballot_sync sets the odd lanes");

  int* indices = device_array<int>(2 * 3 * 2 * 4 * 2 * 2);
  write_indices<<<dim3(2, 3, 2), dim3(4, 2, 2)>>>(indices);
  const auto idx = to_host(indices, 2 * 3 * 2 * 4 * 2 * 2);
  ok = true;
  for (int i = 0; i < 2 * 3 * 2 * 16; ++i) ok &= idx[i] == 1000 * (i / 16) + i % 16;
  expect(ok, "three-dimensional grids and blocks: every (block, thread) pair once");

  int* counts = device_array<int>(4);
  count_in_shared<<<1, 64>>>(in, 512, counts);
  const auto c = to_host(counts, 4);
  expect(c[0] == 128 && c[1] == 128 && c[2] == 128 && c[3] == 128, "atomicAdd on shared memory counts every add");

  // Threads run in ascending order in one block and descending in the next, and the other way
  // round on the next launch: a race's winner changes, as it may on a GPU.
  int* winners = device_array<int>(4);
  last_writer<<<2, 64>>>(winners);
  last_writer<<<2, 64>>>(winners + 2);
  const auto w = to_host(winners, 4);
  expect(w[0] + w[1] == 63 && w[0] * w[1] == 0 && w[2] == w[1] && w[3] == w[0],
         "a block's threads run in both orders, alternating between blocks and between launches");

  cudaStream_t stream = nullptr;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  float* x = device_array<float>(300);
  cudaMemsetAsync(x, 0, sizeof(float) * 300, stream);
  cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed);
  add_one<<<2, 256, 0, stream>>>(x, 300);
  cudaGraph_t graph = nullptr;
  cudaStreamEndCapture(stream, &graph);
  cudaStreamSynchronize(stream);  // the memset; to_host copies on the default stream
  expect(to_host(x, 300)[7] == 0.0f, "a captured launch does not run at capture");
  cudaGraphExec_t exec = nullptr;
  cudaGraphInstantiate(&exec, graph, 0);
  for (int r = 0; r < 3; ++r) cudaGraphLaunch(exec, stream);
  cudaStreamSynchronize(stream);
  const auto replayed = to_host(x, 300);
  expect(replayed[0] == 3.0f && replayed[299] == 3.0f, "three replays of a captured launch add three");

  cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed);
  expect(cudaStreamSynchronize(stream) == cudaErrorStreamCaptureUnsupported,
         "synchronising a capturing stream fails, as on a GPU");
  cudaGraph_t broken = nullptr;
  expect(cudaStreamEndCapture(stream, &broken) == cudaErrorStreamCaptureInvalidated && broken == nullptr,
         "that capture ends invalidated");
  (void)cudaGetLastError();

  // Stream work waits until the host waits for it: a copy into page-locked memory lands only then,
  // and an event recorded after it answers "not ready" once.
  float* pinned = nullptr;
  cudaHostAlloc(reinterpret_cast<void**>(&pinned), sizeof(float) * 300, cudaHostAllocDefault);
  pinned[0] = -1.0f;
  cudaMemcpyAsync(pinned, x, sizeof(float) * 300, cudaMemcpyDeviceToHost, stream);
  cudaEvent_t copied = nullptr;
  cudaEventCreateWithFlags(&copied, cudaEventDisableTiming);
  cudaEventRecord(copied, stream);
  expect(pinned[0] == -1.0f, "a queued copy into page-locked memory has not landed before the host waits");
  expect(cudaEventQuery(copied) == cudaErrorNotReady, "an event behind queued work is not ready at first");
  expect(cudaEventQuery(copied) == cudaSuccess && pinned[0] == 3.0f, "asked again, it is, and the copy landed");
  cudaEventDestroy(copied);
  cudaFreeHost(pinned);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);

  float* fresh = device_array<float>(4);
  const auto unwritten = to_host(fresh, 4);
  expect(unwritten[0] != unwritten[0], "new device memory reads as NaN until written");
  for (void* p : {static_cast<void*>(in), static_cast<void*>(out), static_cast<void*>(sums),
                  static_cast<void*>(broadcasts), static_cast<void*>(ballots), static_cast<void*>(indices),
                  static_cast<void*>(counts), static_cast<void*>(winners), static_cast<void*>(x),
                  static_cast<void*>(fresh)})
    cudaFree(p);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string rule = argc > 1 ? argv[1] : "semantics";
  if (rule == "semantics") {
    semantics();
    std::printf("%s\n", failures == 0 ? "all emulation semantics hold" : "emulation semantics broken");
    return failures == 0 ? 0 : 1;
  }
  int* out = device_array<int>(64);
  if (rule == "divergent-barrier") barrier_after_early_exit<<<1, 64>>>(out);
  if (rule == "exited-lane") shuffle_with_exited_lane<<<1, 32>>>(out);
  if (rule == "host-pointer") {
    std::vector<float> host(64);
    add_one<<<1, 64>>>(host.data(), 64);
  }
  if (rule == "copy-overflow") {
    std::vector<int> host(65);
    cudaMemcpyAsync(out, host.data(), sizeof(int) * 65, cudaMemcpyHostToDevice, nullptr);
  }
  if (rule == "replay-after-free") {
    cudaStream_t stream = nullptr;
    cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
    float* x = device_array<float>(16);
    cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed);
    add_one<<<1, 16, 0, stream>>>(x, 16);
    cudaGraph_t graph = nullptr;
    cudaStreamEndCapture(stream, &graph);
    cudaGraphExec_t exec = nullptr;
    cudaGraphInstantiate(&exec, graph, 0);
    cudaFree(x);
    cudaGraphLaunch(exec, stream);
    cudaStreamSynchronize(stream);
  }
  if (rule == "destroyed-stream") {
    cudaStream_t stream = nullptr;
    cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
    cudaStreamDestroy(stream);
    cudaStreamSynchronize(stream);
  }
  std::printf("the rule '%s' was broken and nothing stopped the program\n", rule.c_str());
  return 1;
}

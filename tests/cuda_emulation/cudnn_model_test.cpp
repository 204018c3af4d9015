// test_cudnn_model: the emulation's cuDNN model (cudnn_model.hpp) against a direct sum written
// here, so that fcam's convolution cases on the emulation mean something. `semantics` checks the
// arithmetic of each kind of candidate, alpha and beta, the workspace rule, and the graph API's
// ranking, notes and plans (exit 0, or 1 naming each mismatch). Every other argument breaks one rule and
// must stop with the emulation's message (CMakeLists.txt checks it).
#include <cudnn.h>

#include <cmath>
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

void ok(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS) std::printf("FAILED: %s returned %s\n", what, cudnnGetErrorString(s));
  failures += s != CUDNN_STATUS_SUCCESS;
}

// The problem: x 1×2×5×5, w 3×2×3×3, padding 1, stride 2 → y 1×3×3×3.
constexpr int C = 2, H = 5, K = 3, R = 3, OH = 3;
constexpr int x_size = C * H * H, w_size = K * C * R * R, y_size = K * OH * OH;

/// The direct sum in double (cross-correlation, padding 1, stride 2).
std::vector<double> direct(const std::vector<float>& x, const std::vector<float>& w) {
  std::vector<double> y(y_size, 0.0);
  for (int k = 0; k < K; ++k)
    for (int i = 0; i < OH; ++i)
      for (int j = 0; j < OH; ++j)
        for (int c = 0; c < C; ++c)
          for (int r = 0; r < R; ++r)
            for (int s = 0; s < R; ++s) {
              const int h = 2 * i - 1 + r, v = 2 * j - 1 + s;
              if (h >= 0 && h < H && v >= 0 && v < H)
                y[(k * OH + i) * OH + j] += double(x[(c * H + h) * H + v]) * w[((k * C + c) * R + r) * R + s];
            }
  return y;
}

/// Values with many mantissa bits, so that TF32 rounding changes them.
std::vector<float> values(int n, float scale) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = scale * std::sin(1.2345f * static_cast<float>(i) + 0.1f);
  return v;
}

template <class T>
T* device_copy(const std::vector<T>& host) {
  void* p = nullptr;
  cudaMalloc(&p, host.size() * sizeof(T));
  cudaMemcpyAsync(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);  // pageable: done on return
  return static_cast<T*>(p);
}

template <class T>
std::vector<T> host_copy(const T* p, std::size_t n) {
  std::vector<T> host(n);
  cudaMemcpyAsync(host.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost);
  return host;
}

double largest_difference(const std::vector<float>& got, const std::vector<double>& want) {
  double d = 0;
  for (std::size_t i = 0; i < got.size(); ++i) d = std::fmax(d, std::fabs(got[i] - want[i]));
  return d;
}

struct Legacy {
  cudnnHandle_t h = nullptr;
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  Legacy() {
    cudnnCreate(&h);
    cudnnCreateTensorDescriptor(&x);
    cudnnCreateTensorDescriptor(&y);
    cudnnCreateFilterDescriptor(&w);
    cudnnCreateConvolutionDescriptor(&conv);
    cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, C, H, H);
    cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, K, OH, OH);
    cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, K, C, R, R);
    cudnnSetConvolution2dDescriptor(conv, 1, 1, 2, 2, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
  }
  std::vector<float> forward(cudnnConvolutionFwdAlgo_t algo, cudnnMathType_t math, const float* xd, const float* wd,
                             float beta, std::vector<float> start) {
    cudnnSetConvolutionMathType(conv, math);
    float* yd = device_copy(start);
    const float one = 1.0f;
    ok(cudnnConvolutionForward(h, &one, x, xd, w, wd, conv, algo, nullptr, 0, &beta, y, yd), "forward");
    std::vector<float> out = host_copy(yd, y_size);
    cudaFree(yd);
    return out;
  }
};

void legacy_semantics() {
  const std::vector<float> x = values(x_size, 1.0f), w = values(w_size, 0.3f);
  const std::vector<double> want = direct(x, w);
  const float* xd = device_copy(x);
  const float* wd = device_copy(w);
  Legacy l;
  int n = 0, c = 0, oh = 0, ow = 0;
  ok(cudnnGetConvolution2dForwardOutputDim(l.conv, l.x, l.w, &n, &c, &oh, &ow), "output size");
  expect(n == 1 && c == K && oh == OH && ow == OH, "the output size is cuDNN's formula");

  const std::vector<float> nan_start(y_size, std::nanf(""));
  const auto fma = l.forward(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_FMA_MATH, xd, wd, 0.0f, nan_start);
  expect(largest_difference(fma, want) < 1e-6, "FMA math gives the direct sum (beta 0 ignores a NaN output)");
  const auto tf32 = l.forward(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_TENSOR_OP_MATH, xd, wd, 0.0f, nan_start);
  const double tf32_error = largest_difference(tf32, want);
  expect(tf32_error > 1e-5 && tf32_error < 1e-2, "tensor-op math rounds float operands to TF32");
  const std::vector<float> ones(y_size, 1.0f);
  const auto added = l.forward(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_FMA_MATH, xd, wd, 2.0f, ones);
  std::vector<double> want_added = want;
  for (double& v : want_added) v += 2.0;
  expect(largest_difference(added, want_added) < 1e-6, "beta 2 adds twice the output");

  // Candidates: the first offered is tensor-op math; the transforms do not fit stride 2.
  cudnnConvolutionFwdAlgoPerf_t perf[8];
  int count = 0;
  ok(cudnnGetConvolutionForwardAlgorithm_v7(l.h, l.x, l.w, l.conv, l.y, 8, &count, perf), "forward candidates");
  expect(count == 6 && perf[0].mathType == CUDNN_TENSOR_OP_MATH, "tensor-op math is offered first");
  expect(perf[1].algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING && perf[1].status == CUDNN_STATUS_NOT_SUPPORTED,
         "FFT does not fit a strided convolution");

  // A workspace below the exact size is refused; the exact size is accepted.
  std::size_t bytes = 0;
  const cudnnConvolutionFwdAlgo_t precomp = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  ok(cudnnGetConvolutionForwardWorkspaceSize(l.h, l.x, l.w, l.conv, l.y, precomp, &bytes), "workspace size");
  void* workspace = nullptr;
  cudaMalloc(&workspace, bytes);
  float* yd = device_copy(ones);
  const float one = 1.0f, zero = 0.0f;
  const auto forward = [&](std::size_t given) {
    return cudnnConvolutionForward(l.h, &one, l.x, xd, l.w, wd, l.conv, precomp, workspace, given, &zero, l.y, yd);
  };
  expect(forward(bytes - 1) == CUDNN_STATUS_BAD_PARAM, "a workspace one byte short is refused");
  ok(forward(bytes), "forward with its workspace");

  // Backward filter: the nondeterministic algorithm changes last bits from call to call.
  const std::vector<float> dy = values(y_size, 1.0f);
  const float* dyd = device_copy(dy);
  cudnnSetConvolutionMathType(l.conv, CUDNN_FMA_MATH);
  const auto weight_gradient = [&](cudnnConvolutionBwdFilterAlgo_t algo) {
    float* dw = device_copy(std::vector<float>(w_size, 0.0f));
    ok(cudnnConvolutionBackwardFilter(l.h, &one, l.x, xd, l.y, dyd, l.conv, algo, workspace, bytes, &one, l.w, dw),
       "backward filter");
    std::vector<float> out = host_copy(dw, w_size);
    cudaFree(dw);
    return out;
  };
  const auto a = weight_gradient(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0);
  const auto b = weight_gradient(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0);
  const auto c1 = weight_gradient(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1);
  const auto c2 = weight_gradient(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1);
  expect(a != b, "a nondeterministic algorithm gives different bits on two calls");
  expect(c1 == c2, "a deterministic algorithm gives the same bits");
  bool within_ulp = true;
  for (int i = 0; i < w_size; ++i) within_ulp &= a[i] == c1[i] || std::nextafter(c1[i], 0.0f) == a[i];
  expect(within_ulp, "... and differs from it by at most one ulp");
  cudaFree(workspace);
  cudaFree(yd);
}

using Handle = cudnnBackendDescriptor_t;

Handle backend(cudnnBackendDescriptorType_t type) {
  Handle d = nullptr;
  ok(cudnnBackendCreateDescriptor(type, &d), "create descriptor");
  return d;
}

template <class V>
void set(Handle d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, std::int64_t count, const V* v) {
  ok(cudnnBackendSetAttribute(d, name, type, count, v), "set attribute");
}

Handle tensor(std::int64_t uid, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  Handle d = backend(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  const cudnnDataType_t type = CUDNN_DATA_FLOAT;
  const std::int64_t dims[] = {n, c, h, w}, strides[] = {c * h * w, h * w, w, 1}, alignment = 16;
  set(d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
  set(d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
  set(d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
  set(d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  set(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
  ok(cudnnBackendFinalize(d), "finalize tensor");
  return d;
}

/// The graph API on the same problem: the engines offered and their notes, a plan of the plain
/// engine that outlives the descriptors it was built from, and its run.
void graph_semantics() {
  const std::vector<float> x = values(x_size, 1.0f), w = values(w_size, 0.3f);
  const std::vector<double> want = direct(x, w);
  cudnnHandle_t h = nullptr;
  cudnnCreate(&h);
  Handle xd = tensor('x', 1, C, H, H), wd = tensor('w', K, C, R, R), yd = tensor('y', 1, K, OH, OH);
  Handle conv = backend(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const std::int64_t spatial = 2, pad[] = {1, 1}, stride[] = {2, 2}, dilation[] = {1, 1};
  const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  set(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial);
  set(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
  set(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  set(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
  set(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
  set(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dilation);
  set(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, stride);
  ok(cudnnBackendFinalize(conv), "finalize convolution");
  Handle op = backend(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
  const float alpha = 1.0f, beta = 0.0f;
  set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &xd);
  set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &wd);
  set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &yd);
  set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv);
  set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
  set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
  ok(cudnnBackendFinalize(op), "finalize operation");
  Handle graph = backend(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  set(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op);
  set(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
  ok(cudnnBackendFinalize(graph), "finalize graph");
  Handle heuristics = backend(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  const cudnnBackendHeurMode_t heuristics_mode = CUDNN_HEUR_MODE_A;
  set(heuristics, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph);
  set(heuristics, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &heuristics_mode);
  ok(cudnnBackendFinalize(heuristics), "finalize heuristics");
  std::int64_t count = 0;
  ok(cudnnBackendGetAttribute(heuristics, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                              nullptr),
     "engine count");
  expect(count == 5, "five engines are offered for float operands");
  std::vector<Handle> configs;
  for (std::int64_t i = 0; i < count; ++i) configs.push_back(backend(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
  ok(cudnnBackendGetAttribute(heuristics, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &count,
                              configs.data()),
     "engine configurations");
  Handle first = backend(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  std::int64_t got = 0;
  ok(cudnnBackendGetAttribute(configs[0], CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &got, &first),
     "engine");
  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  ok(cudnnBackendGetAttribute(first, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                              CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &got, notes),
     "notes");
  expect(got == 2 && notes[0] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE, "the first engine notes tensor cores");

  Handle plan = backend(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
  set(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &configs[4]);
  set(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
  ok(cudnnBackendFinalize(plan), "finalize plan");
  std::int64_t workspace_size = -1;
  ok(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &got,
                              &workspace_size),
     "workspace size");
  // The plan keeps what it needs: the descriptors it was built from may go.
  for (Handle d : {xd, wd, yd, conv, op, graph, heuristics, first}) cudnnBackendDestroyDescriptor(d);
  for (Handle d : configs) cudnnBackendDestroyDescriptor(d);

  void* workspace = nullptr;
  cudaMalloc(&workspace, static_cast<std::size_t>(workspace_size));
  float* y = device_copy(std::vector<float>(y_size, std::nanf("")));
  void* pointers[] = {device_copy(x), device_copy(w), y};
  const std::int64_t uids[] = {'x', 'w', 'y'};
  Handle pack = backend(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  set(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, pointers);
  set(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids);
  set(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
  ok(cudnnBackendFinalize(pack), "finalize variant pack");
  ok(cudnnBackendExecute(h, plan, pack), "execute");
  expect(largest_difference(host_copy(y, y_size), want) < 1e-6, "the plain engine gives the direct sum");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string rule = argc > 1 ? argv[1] : "semantics";
  if (rule == "semantics") {
    legacy_semantics();
    graph_semantics();
    std::printf("%s\n", failures == 0 ? "all cuDNN model checks passed" : "cuDNN model checks failed");
    return failures == 0 ? 0 : 1;
  }
  Legacy l;
  if (rule == "destroyed-descriptor") {
    cudnnDestroyTensorDescriptor(l.x);
    cudnnSetTensor4dDescriptor(l.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 1, 1);
  }
  if (rule == "host-workspace") {
    const std::vector<float> x(x_size, 1.0f), w(w_size, 1.0f);
    std::vector<char> host_workspace(1 << 20);
    float* yd = device_copy(std::vector<float>(y_size, 0.0f));
    const float one = 1.0f, zero = 0.0f;
    cudnnSetConvolutionMathType(l.conv, CUDNN_FMA_MATH);
    cudnnConvolutionForward(l.h, &one, l.x, device_copy(x), l.w, device_copy(w), l.conv,
                            CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, host_workspace.data(),
                            host_workspace.size(), &zero, l.y, yd);
    cudaDeviceSynchronize();
  }
  std::printf("the rule '%s' was not refused\n", rule.c_str());
  return 1;
}

// The CUDA emulation's legacy cuDNN convolution API: 4-d descriptors, the candidate algorithms of
// each pass (the heuristics and the timed search give the same list), their workspace sizes,
// and the runs, computed by the model of cudnn_model.hpp.
//
// The candidates, in the order offered: a tensor-op one first, then FFT and non-fused Winograd
// (where they fit), then nondeterministic ones (backward passes), then plain FMA ones. fcam's
// rules must skip whatever its math modes forbid; the model makes a wrong pick show in the
// numbers. The heuristics underestimate the transform algorithms' workspace by half (cuDNN's
// estimates can be below what the call needs): a run given less than the exact size fails.
#include <algorithm>
#include <array>
#include <vector>

#include "cudnn_model.hpp"

struct cudnnTensorStruct {
  bool set = false;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  fcam::Shape dims;
};
struct cudnnFilterStruct : cudnnTensorStruct {};
struct cudnnConvolutionStruct {
  bool set = false;
  fcam::Conv2dGeometry g;  // kernel sizes come from the filter
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

namespace {

using namespace fcam_emu::cudnn;

template <class D>
D& live_set(D* d, const char* what) {
  require_live(d, what);
  if (!d->set) throw Refusal{CUDNN_STATUS_BAD_PARAM};
  return *d;
}

/// The problem of (x, w) → y under `conv`; every descriptor must be live and set.
Problem problem_of(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                   cudnnTensorDescriptor_t y, const char* what) {
  const cudnnTensorStruct& xs = live_set(x, what);
  const cudnnFilterStruct& ws = live_set(w, what);
  const cudnnConvolutionStruct& cs = live_set(conv, what);
  const cudnnTensorStruct& ys = live_set(y, what);
  if (xs.type != ws.type || ys.type != xs.type || cs.compute != CUDNN_DATA_FLOAT) throw Refusal{CUDNN_STATUS_BAD_PARAM};
  if (cs.mode != CUDNN_CROSS_CORRELATION) throw Refusal{CUDNN_STATUS_NOT_SUPPORTED};  // not emulated
  Problem p{xs.dims, ws.dims, ys.dims, cs.g, xs.type, ys.type};
  p.g.kernel_h = ws.dims[2];
  p.g.kernel_w = ws.dims[3];
  validate(p);
  return p;
}

/// One candidate: its algorithm (the pass's enum value), math type, determinism and workspace.
struct Candidate {
  int algo;
  cudnnMathType_t math;
  cudnnDeterminism_t determinism;
  Workspace workspace;
};

constexpr cudnnMathType_t tensor_op = CUDNN_TENSOR_OP_MATH, fma = CUDNN_FMA_MATH;
constexpr cudnnDeterminism_t det = CUDNN_DETERMINISTIC, nondet = CUDNN_NON_DETERMINISTIC;

std::vector<Candidate> candidates(Pass pass) {
  if (pass == Pass::forward)
    return {{CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, tensor_op, det, Workspace::small},
            {CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING, fma, det, Workspace::large},
            {CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED, fma, det, Workspace::large},
            {CUDNN_CONVOLUTION_FWD_ALGO_DIRECT, fma, det, Workspace::none},
            {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, fma, det, Workspace::small},
            {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, fma, det, Workspace::none}};
  if (pass == Pass::backward_data)
    return {{CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, tensor_op, det, Workspace::small},
            {CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, fma, nondet, Workspace::none},
            {CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING, fma, det, Workspace::large},
            {CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED, fma, det, Workspace::large},
            {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, fma, det, Workspace::small}};
  return {{CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, tensor_op, det, Workspace::small},
          {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, fma, nondet, Workspace::none},
          {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3, fma, nondet, Workspace::small},
          {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, fma, det, Workspace::large},
          {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED, fma, det, Workspace::large},
          {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, fma, det, Workspace::small}};
}

bool is_fft(Pass pass, int algo) {
  switch (pass) {
    case Pass::forward: return algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT || algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING;
    case Pass::backward_data:
      return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT || algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING;
    default:
      return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING;
  }
}

bool is_winograd_nonfused(Pass pass, int algo) {
  switch (pass) {
    case Pass::forward: return algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
    case Pass::backward_data: return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
    default: return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
  }
}

bool is_nondeterministic(Pass pass, int algo) {
  return (pass == Pass::backward_data && algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0) ||
         (pass == Pass::backward_filter &&
          (algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3));
}

/// Whether `algo` runs `p`: transforms where they fit; bfloat16 data only in the forward GEMMs;
/// never the direct algorithm (cuDNN has none).
bool fits(Pass pass, int algo, const Problem& p) {
  if (is_fft(pass, algo)) return fft_fits(p);
  if (is_winograd_nonfused(pass, algo)) return winograd_fits(p);
  if (pass == Pass::forward && algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT) return false;
  if (p.operands == CUDNN_DATA_BFLOAT16)
    return pass == Pass::forward && (algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM ||
                                     algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM);
  return true;
}

/// The exact workspace of `algo` (the candidates' kind for it); NOT_SUPPORTED when it cannot run p.
std::size_t exact_workspace(Pass pass, int algo, const Problem& p) {
  if (!fits(pass, algo, p)) throw Refusal{CUDNN_STATUS_NOT_SUPPORTED};
  for (const Candidate& c : candidates(pass))
    if (c.algo == algo) return workspace_bytes(c.workspace, p);
  throw Refusal{CUDNN_STATUS_NOT_SUPPORTED};  // an algorithm the model does not offer
}

/// What a run of `algo` under the descriptor's math type does to the arithmetic (cudnn_model.hpp).
/// Any math type but FMA lets float convolutions use TF32 tensor cores, as on Ampere and later.
Arithmetic arithmetic_of(Pass pass, int algo, cudnnMathType_t math, const Problem& p) {
  if (p.operands == CUDNN_DATA_BFLOAT16) return Arithmetic::exact;  // bfloat16 products are exact in float
  const bool three_by_three = p.g.kernel_h == 3 && p.g.kernel_w == 3;
  if (math != CUDNN_FMA_MATH || is_fft(pass, algo) || (is_winograd_nonfused(pass, algo) && !three_by_three))
    return Arithmetic::tf32_operands;
  return is_nondeterministic(pass, algo) ? Arithmetic::nondeterministic : Arithmetic::exact;
}

template <class Perf>
cudnnStatus_t offer(cudnnHandle_t h, Pass pass, const Problem& p, int requested, int* returned, Perf* perf,
                    const char* what) {
  return guarded([&] {
    require_live(h, what);
    if (requested < 1 || !returned || !perf) throw Refusal{CUDNN_STATUS_BAD_PARAM};
    const std::vector<Candidate> offered = candidates(pass);
    *returned = static_cast<int>(std::min<std::size_t>(offered.size(), static_cast<std::size_t>(requested)));
    for (int i = 0; i < *returned; ++i) {
      const Candidate& c = offered[static_cast<std::size_t>(i)];
      const bool ok = fits(pass, c.algo, p);
      const std::size_t exact = workspace_bytes(c.workspace, p);
      perf[i] = Perf{};
      perf[i].algo = static_cast<decltype(perf[i].algo)>(c.algo);
      perf[i].status = ok ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED;
      perf[i].time = ok ? 0.1f * static_cast<float>(i + 1) : -1.0f;
      perf[i].memory = c.workspace == Workspace::large ? exact / 2 : exact;
      perf[i].determinism = c.determinism;
      perf[i].mathType = c.math;
    }
  });
}

/// The timed search: cuDNN runs every candidate and waits for the device, so it cannot be
/// captured; the emulation waits for the handle's stream (which fails, and invalidates a capture).
template <class Perf>
cudnnStatus_t find(cudnnHandle_t h, Pass pass, const Problem& p, int requested, int* returned, Perf* perf,
                   const char* what) {
  require_live(h, what);
  if (cudaStreamSynchronize(h->stream) != cudaSuccess) return CUDNN_STATUS_EXECUTION_FAILED;
  return offer(h, pass, p, requested, returned, perf, what);
}

template <class F>
cudnnStatus_t with_problem(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                           cudnnTensorDescriptor_t y, const char* what, F&& f) {
  try {
    return f(problem_of(x, w, conv, y, what));
  } catch (const Refusal& r) {
    return r.status;
  }
}

/// A run of `algo`: the workspace must hold its exact size.
cudnnStatus_t convolve(cudnnHandle_t h, Pass pass, int algo, cudnnConvolutionDescriptor_t conv, const Problem& p,
                       const void* alpha, const void* a, const void* b, const void* beta, void* out, void* workspace,
                       std::size_t workspace_size, const char* what) {
  std::size_t needed = 0;
  if (const cudnnStatus_t s = guarded([&] { needed = exact_workspace(pass, algo, p); }); s != CUDNN_STATUS_SUCCESS)
    return s;
  return run(h, pass, p, arithmetic_of(pass, algo, conv->math, p), a, b, out, *static_cast<const float*>(alpha),
             *static_cast<const float*>(beta), workspace, workspace_size, needed, what);
}

}  // namespace

// ---- descriptors ----------------------------------------------------------------------------
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) { return create(d, new cudnnTensorStruct); }
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) {
  return destroy(d, "cudnnDestroyTensorDescriptor");
}
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format, cudnnDataType_t type,
                                         int n, int c, int h, int w) {
  require_live(d, "cudnnSetTensor4dDescriptor");
  if (format != CUDNN_TENSOR_NCHW || n <= 0 || c <= 0 || h <= 0 || w <= 0) return CUDNN_STATUS_BAD_PARAM;
  *d = cudnnTensorStruct{true, type, {n, c, h, w}};
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) { return create(d, new cudnnFilterStruct); }
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) {
  return destroy(d, "cudnnDestroyFilterDescriptor");
}
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t type, cudnnTensorFormat_t format,
                                         int k, int c, int h, int w) {
  require_live(d, "cudnnSetFilter4dDescriptor");
  if (format != CUDNN_TENSOR_NCHW || k <= 0 || c <= 0 || h <= 0 || w <= 0) return CUDNN_STATUS_BAD_PARAM;
  static_cast<cudnnTensorStruct&>(*d) = cudnnTensorStruct{true, type, {k, c, h, w}};
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) {
  return create(d, new cudnnConvolutionStruct);
}
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) {
  return destroy(d, "cudnnDestroyConvolutionDescriptor");
}
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int stride_h,
                                              int stride_w, int dilation_h, int dilation_w,
                                              cudnnConvolutionMode_t mode, cudnnDataType_t compute) {
  require_live(d, "cudnnSetConvolution2dDescriptor");
  if (pad_h < 0 || pad_w < 0 || stride_h <= 0 || stride_w <= 0 || dilation_h <= 0 || dilation_w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  d->set = true;
  d->g = fcam::Conv2dGeometry{1, 1, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, d->g.groups};
  d->mode = mode;
  d->compute = compute;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int groups) {
  require_live(d, "cudnnSetConvolutionGroupCount");
  if (groups <= 0) return CUDNN_STATUS_BAD_PARAM;
  d->g.groups = groups;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t math) {
  require_live(d, "cudnnSetConvolutionMathType");
  d->math = math;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t x,
                                                    cudnnFilterDescriptor_t w, int* n, int* c, int* h, int* w_out) {
  return guarded([&] {
    const char* what = "cudnnGetConvolution2dForwardOutputDim";
    const cudnnTensorStruct& xs = live_set(x, what);
    const cudnnFilterStruct& ws = live_set(w, what);
    fcam::Conv2dGeometry g = live_set(conv, what).g;
    g.kernel_h = ws.dims[2];
    g.kernel_w = ws.dims[3];
    if (xs.dims[1] != ws.dims[1] * g.groups || g.out_h(xs.dims[2]) <= 0 || g.out_w(xs.dims[3]) <= 0)
      throw Refusal{CUDNN_STATUS_BAD_PARAM};
    *n = static_cast<int>(xs.dims[0]);
    *c = static_cast<int>(ws.dims[0]);
    *h = static_cast<int>(g.out_h(xs.dims[2]));
    *w_out = static_cast<int>(g.out_w(xs.dims[3]));
  });
}

// ---- algorithms -----------------------------------------------------------------------------
cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                     cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                                                     cudnnTensorDescriptor_t y, int requested, int* returned,
                                                     cudnnConvolutionFwdAlgoPerf_t* perf) {
  const char* what = "cudnnGetConvolutionForwardAlgorithm_v7";
  return with_problem(x, w, conv, y, what,
                      [&](const Problem& p) { return offer(h, Pass::forward, p, requested, returned, perf, what); });
}
cudnnStatus_t cudnnFindConvolutionForwardAlgorithm(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                   cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                                                   cudnnTensorDescriptor_t y, int requested, int* returned,
                                                   cudnnConvolutionFwdAlgoPerf_t* perf) {
  const char* what = "cudnnFindConvolutionForwardAlgorithm";
  return with_problem(x, w, conv, y, what,
                      [&](const Problem& p) { return find(h, Pass::forward, p, requested, returned, perf, what); });
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                          cudnnTensorDescriptor_t dy,
                                                          cudnnConvolutionDescriptor_t conv,
                                                          cudnnTensorDescriptor_t dx, int requested, int* returned,
                                                          cudnnConvolutionBwdDataAlgoPerf_t* perf) {
  const char* what = "cudnnGetConvolutionBackwardDataAlgorithm_v7";
  return with_problem(dx, w, conv, dy, what, [&](const Problem& p) {
    return offer(h, Pass::backward_data, p, requested, returned, perf, what);
  });
}
cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithm(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                        cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t conv,
                                                        cudnnTensorDescriptor_t dx, int requested, int* returned,
                                                        cudnnConvolutionBwdDataAlgoPerf_t* perf) {
  const char* what = "cudnnFindConvolutionBackwardDataAlgorithm";
  return with_problem(dx, w, conv, dy, what, [&](const Problem& p) {
    return find(h, Pass::backward_data, p, requested, returned, perf, what);
  });
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                            cudnnTensorDescriptor_t dy,
                                                            cudnnConvolutionDescriptor_t conv,
                                                            cudnnFilterDescriptor_t dw, int requested, int* returned,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
  const char* what = "cudnnGetConvolutionBackwardFilterAlgorithm_v7";
  return with_problem(x, dw, conv, dy, what, [&](const Problem& p) {
    return offer(h, Pass::backward_filter, p, requested, returned, perf, what);
  });
}
cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithm(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                          cudnnTensorDescriptor_t dy,
                                                          cudnnConvolutionDescriptor_t conv,
                                                          cudnnFilterDescriptor_t dw, int requested, int* returned,
                                                          cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
  const char* what = "cudnnFindConvolutionBackwardFilterAlgorithm";
  return with_problem(x, dw, conv, dy, what, [&](const Problem& p) {
    return find(h, Pass::backward_filter, p, requested, returned, perf, what);
  });
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                      cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                                                      cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t algo,
                                                      std::size_t* bytes) {
  require_live(h, "cudnnGetConvolutionForwardWorkspaceSize");
  return with_problem(x, w, conv, y, "cudnnGetConvolutionForwardWorkspaceSize", [&](const Problem& p) {
    return guarded([&] { *bytes = exact_workspace(Pass::forward, algo, p); });
  });
}
cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                           cudnnTensorDescriptor_t dy,
                                                           cudnnConvolutionDescriptor_t conv,
                                                           cudnnTensorDescriptor_t dx,
                                                           cudnnConvolutionBwdDataAlgo_t algo, std::size_t* bytes) {
  require_live(h, "cudnnGetConvolutionBackwardDataWorkspaceSize");
  return with_problem(dx, w, conv, dy, "cudnnGetConvolutionBackwardDataWorkspaceSize", [&](const Problem& p) {
    return guarded([&] { *bytes = exact_workspace(Pass::backward_data, algo, p); });
  });
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                             cudnnTensorDescriptor_t dy,
                                                             cudnnConvolutionDescriptor_t conv,
                                                             cudnnFilterDescriptor_t dw,
                                                             cudnnConvolutionBwdFilterAlgo_t algo, std::size_t* bytes) {
  require_live(h, "cudnnGetConvolutionBackwardFilterWorkspaceSize");
  return with_problem(x, dw, conv, dy, "cudnnGetConvolutionBackwardFilterWorkspaceSize", [&](const Problem& p) {
    return guarded([&] { *bytes = exact_workspace(Pass::backward_filter, algo, p); });
  });
}

// ---- runs -----------------------------------------------------------------------------------
cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void* alpha, cudnnTensorDescriptor_t x_desc,
                                      const void* x, cudnnFilterDescriptor_t w_desc, const void* w,
                                      cudnnConvolutionDescriptor_t conv, cudnnConvolutionFwdAlgo_t algo,
                                      void* workspace, std::size_t workspace_bytes, const void* beta,
                                      cudnnTensorDescriptor_t y_desc, void* y) {
  const char* what = "cudnnConvolutionForward";
  return with_problem(x_desc, w_desc, conv, y_desc, what, [&](const Problem& p) {
    return convolve(h, Pass::forward, algo, conv, p, alpha, x, w, beta, y, workspace, workspace_bytes, what);
  });
}
cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const void* alpha, cudnnFilterDescriptor_t w_desc,
                                           const void* w, cudnnTensorDescriptor_t dy_desc, const void* dy,
                                           cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdDataAlgo_t algo,
                                           void* workspace, std::size_t workspace_bytes, const void* beta,
                                           cudnnTensorDescriptor_t dx_desc, void* dx) {
  const char* what = "cudnnConvolutionBackwardData";
  return with_problem(dx_desc, w_desc, conv, dy_desc, what, [&](const Problem& p) {
    return convolve(h, Pass::backward_data, algo, conv, p, alpha, w, dy, beta, dx, workspace, workspace_bytes, what);
  });
}
cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void* alpha, cudnnTensorDescriptor_t x_desc,
                                             const void* x, cudnnTensorDescriptor_t dy_desc, const void* dy,
                                             cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdFilterAlgo_t algo,
                                             void* workspace, std::size_t workspace_bytes, const void* beta,
                                             cudnnFilterDescriptor_t dw_desc, void* dw) {
  const char* what = "cudnnConvolutionBackwardFilter";
  return with_problem(x_desc, dw_desc, conv, dy_desc, what, [&](const Problem& p) {
    return convolve(h, Pass::backward_filter, algo, conv, p, alpha, x, dy, beta, dw, workspace, workspace_bytes,
                    what);
  });
}

namespace {

/// The float 4-d shape of a live, set descriptor (BAD_PARAM otherwise).
fcam::Shape float_shape(cudnnTensorDescriptor_t d, const char* what) {
  const cudnnTensorStruct& s = live_set(d, what);
  if (s.type != CUDNN_DATA_FLOAT) throw Refusal{CUDNN_STATUS_NOT_SUPPORTED};
  return s.dims;
}

/// The float shape of `data_desc`, whose C channels `channel_desc` (1×C×1×1, float) must match.
fcam::Shape with_channels(cudnnTensorDescriptor_t data_desc, cudnnTensorDescriptor_t channel_desc, const char* what) {
  const fcam::Shape shape = float_shape(data_desc, what);
  if (float_shape(channel_desc, what) != fcam::Shape{1, shape[1], 1, 1}) throw Refusal{CUDNN_STATUS_BAD_PARAM};
  return shape;
}

}  // namespace

cudnnStatus_t cudnnConvolutionBackwardBias(cudnnHandle_t h, const void* alpha, cudnnTensorDescriptor_t dy_desc,
                                           const void* dy, const void* beta, cudnnTensorDescriptor_t db_desc,
                                           void* db) {
  fcam::Shape dy_shape;
  const auto described = [&] { dy_shape = with_channels(dy_desc, db_desc, "cudnnConvolutionBackwardBias"); };
  if (const cudnnStatus_t s = guarded(described); s != CUDNN_STATUS_SUCCESS) return s;
  return bias_gradient(h, dy_shape, dy, db, *static_cast<const float*>(alpha), *static_cast<const float*>(beta));
}

cudnnStatus_t cudnnAddTensor(cudnnHandle_t h, const void* alpha, cudnnTensorDescriptor_t bias_desc, const void* bias,
                             const void* beta, cudnnTensorDescriptor_t y_desc, void* y) {
  fcam::Shape y_shape;
  const auto described = [&] { y_shape = with_channels(y_desc, bias_desc, "cudnnAddTensor"); };
  if (const cudnnStatus_t s = guarded(described); s != CUDNN_STATUS_SUCCESS) return s;
  return add_bias(h, y_shape, bias, y, *static_cast<const float*>(alpha), *static_cast<const float*>(beta));
}

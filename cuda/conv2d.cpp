// Convolutions through cuDNN (in float, or the forward pass in bfloat16 when set_bf16 is on;
// forward passes through the graph API where it has an engine, conv2d_graph.hpp, else the legacy
// convolution API): descriptors and algorithm choices are made once per geometry and kept in a
// per-thread cache, workspaces come from the caching allocator (freed stream-ordered, so they may
// go back as soon as the call is enqueued), and nothing waits for the device.
#include "fcam/cuda/ops/conv2d.hpp"

#include <array>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "context.hpp"
#include "conv2d_graph.hpp"
#include "elementwise_kernels.hpp"
#include "fcam/core/error.hpp"
#include "fcam/core/storage.hpp"
#include "fcam/cuda/api.hpp"
#include "fcam/cuda/ops/elementwise.hpp"
#include "fcam/ops/conv2d_geometry.hpp"

namespace fcam::cuda {

namespace {

enum class Pass { forward, backward_data, backward_filter };

const char* name_of(Pass pass) {
  return pass == Pass::forward ? "forward" : pass == Pass::backward_data ? "backward-data" : "backward-filter";
}

const char* name_of(cudnnMathType_t math) {
  switch (math) {
    case CUDNN_FMA_MATH: return "FMA math";
    case CUDNN_TENSOR_OP_MATH: return "tensor-op math";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return "tensor-op math with conversion";
    default: return "default math";
  }
}

/// Everything that changes a cuDNN choice: the full geometry, the device, the math modes and
/// whether the tensors are bfloat16.
using PlanKey = std::array<std::int64_t, 20>;

int checked_int(std::int64_t v, const char* what) {
  FCAM_CHECK(v <= std::numeric_limits<int>::max(), "conv2d (CUDA): ", what, " ", v, " exceeds cuDNN's int range");
  return static_cast<int>(v);
}

/// Descriptors of one geometry and, per pass, the algorithm, its math type and workspace size.
/// The input, weight and output are float, or bfloat16 (`bf16`, forward only) with float
/// accumulation (cuDNN's PSEUDO_BFLOAT16_CONFIG).
class ConvPlan {
public:
  ConvPlan(const Tensor<float>& x, const Tensor<float>& weight, const Conv2dGeometry& g, const Shape& out, bool bf16)
      : bf16_(bf16) {
    const cudnnDataType_t data = bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    check(cudnnCreateTensorDescriptor(&x_), "cudnnCreateTensorDescriptor");
    check(cudnnCreateTensorDescriptor(&y_), "cudnnCreateTensorDescriptor");
    check(cudnnCreateTensorDescriptor(&bias_), "cudnnCreateTensorDescriptor");
    check(cudnnCreateFilterDescriptor(&w_), "cudnnCreateFilterDescriptor");
    check(cudnnCreateConvolutionDescriptor(&conv_), "cudnnCreateConvolutionDescriptor");
    const auto dims = [](const Shape& s) {
      return std::array<int, 4>{checked_int(s[0], "batch"), checked_int(s[1], "channels"),
                                checked_int(s[2], "height"), checked_int(s[3], "width")};
    };
    const auto xd = dims(x.shape()), yd = dims(out), wd = dims(weight.shape());
    check(cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NCHW, data, xd[0], xd[1], xd[2], xd[3]),
          "cudnnSetTensor4dDescriptor (input)");
    check(cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NCHW, data, yd[0], yd[1], yd[2], yd[3]),
          "cudnnSetTensor4dDescriptor (output)");
    check(cudnnSetTensor4dDescriptor(bias_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, yd[1], 1, 1),
          "cudnnSetTensor4dDescriptor (bias)");
    check(cudnnSetFilter4dDescriptor(w_, data, CUDNN_TENSOR_NCHW, wd[0], wd[1], wd[2], wd[3]),
          "cudnnSetFilter4dDescriptor");
    check(cudnnSetConvolution2dDescriptor(conv_, checked_int(g.pad_h, "padding"), checked_int(g.pad_w, "padding"),
                                          checked_int(g.stride_h, "stride"), checked_int(g.stride_w, "stride"),
                                          checked_int(g.dilation_h, "dilation"), checked_int(g.dilation_w, "dilation"),
                                          CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
          "cudnnSetConvolution2dDescriptor");
    check(cudnnSetConvolutionGroupCount(conv_, checked_int(g.groups, "groups")), "cudnnSetConvolutionGroupCount");
    std::array<int, 4> computed{};
    check(cudnnGetConvolution2dForwardOutputDim(conv_, x_, w_, &computed[0], &computed[1], &computed[2], &computed[3]),
          "cudnnGetConvolution2dForwardOutputDim");
    FCAM_CHECK(computed == yd, "conv2d (CUDA): cuDNN's output size differs from fcam's for input ",
               to_string(x.shape()), " and weight ", to_string(weight.shape()));
    three_by_three_ = g.kernel_h == 3 && g.kernel_w == 3;
    describe_ = "input " + to_string(x.shape()) + ", weight " + to_string(weight.shape()) + ", stride " +
                std::to_string(g.stride_h) + "x" + std::to_string(g.stride_w) + ", groups " + std::to_string(g.groups);
  }
  ~ConvPlan() {
    cudnnDestroyConvolutionDescriptor(conv_);
    cudnnDestroyFilterDescriptor(w_);
    cudnnDestroyTensorDescriptor(bias_);
    cudnnDestroyTensorDescriptor(y_);
    cudnnDestroyTensorDescriptor(x_);
  }
  ConvPlan(const ConvPlan&) = delete;
  ConvPlan& operator=(const ConvPlan&) = delete;

  /// The algorithm of `pass` (chosen on first use): sets the descriptor's math type to it and
  /// returns its workspace size.
  template <class Algo>
  std::size_t prepare(Pass pass, Algo& algo) {
    Choice& c = choices_[static_cast<int>(pass)];
    if (!c.made) choose(pass, c);
    set_math(c.math);
    algo = static_cast<Algo>(c.algo);
    return c.workspace;
  }

  cudnnTensorDescriptor_t x() const { return x_; }
  cudnnTensorDescriptor_t y() const { return y_; }
  cudnnTensorDescriptor_t bias() const { return bias_; }
  cudnnFilterDescriptor_t w() const { return w_; }
  cudnnConvolutionDescriptor_t conv() const { return conv_; }

private:
  struct Choice {
    bool made = false;
    int algo = 0;
    cudnnMathType_t math = CUDNN_FMA_MATH;
    std::size_t workspace = 0;
  };

  // Transform-based algorithms lose more than float rounding on some geometries: cuDNN's
  // heuristics gave an NMSE of 5.7e-7 against the CPU's direct sums on a 5×5 weight gradient
  // (H200), while its 3×3 Winograd choices stayed below 1e-7 on every geometry of the tests.
  // So FFT is never used with TF32 off, and non-fused Winograd only for 3×3 kernels.
  template <class Algo>
  bool imprecise(Algo a, Algo fft, Algo fft_tiling, Algo winograd_nonfused) const {
    return a == fft || a == fft_tiling || (a == winograd_nonfused && !three_by_three_);
  }
  bool imprecise(cudnnConvolutionFwdAlgo_t a) const {
    return imprecise(a, CUDNN_CONVOLUTION_FWD_ALGO_FFT, CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING,
                     CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED);
  }
  bool imprecise(cudnnConvolutionBwdDataAlgo_t a) const {
    return imprecise(a, CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT, CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,
                     CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED);
  }
  bool imprecise(cudnnConvolutionBwdFilterAlgo_t a) const {
    return imprecise(a, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING,
                     CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED);
  }

  /// Whether a candidate fits the modes. Without TF32, float results must track the CPU's: only
  /// plain FMA math (cuDNN's default math may use TF32 tensor cores for float on Ampere and
  /// later) and, unless fast convolutions are on, no imprecise transform.
  template <class Perf>
  bool acceptable(const Perf& perf) const {
    if (perf.status != CUDNN_STATUS_SUCCESS) return false;
    if (deterministic() && perf.determinism != CUDNN_DETERMINISTIC) return false;
    return bf16_ || tf32_enabled() ||
           (perf.mathType == CUDNN_FMA_MATH && (fast_convolutions() || !imprecise(perf.algo)));
  }

  template <class Perf>
  void pick(const Perf* perf, int count, Choice& c, const char* pass) {
    for (int i = 0; i < count; ++i)
      if (acceptable(perf[i])) {
        c = Choice{true, static_cast<int>(perf[i].algo), perf[i].mathType, perf[i].memory};
        return;
      }
    fail("conv2d (CUDA): cuDNN offers no ", pass, " algorithm for ", describe_,
         bf16_ ? " in bfloat16" : tf32_enabled() ? " with TF32 on" : " with TF32 off",
         deterministic() ? " in deterministic mode" : "");
  }

  /// Sets the descriptor's math type (the chosen algorithm's, or the one candidates are asked for).
  void set_math(cudnnMathType_t math) {
    check(cudnnSetConvolutionMathType(conv_, math), "cudnnSetConvolutionMathType");
  }

  void choose(Pass pass, Choice& c) {
    cudnnHandle_t h = cudnn_handle();
    // Candidates are asked for under the math type the modes allow.
    set_math(bf16_ || tf32_enabled() ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH);
    constexpr int max_candidates = 16;
    int count = 0;
    const bool timed = benchmark_algorithms();
    if (pass == Pass::forward) {
      cudnnConvolutionFwdAlgoPerf_t perf[max_candidates];
      check(timed ? cudnnFindConvolutionForwardAlgorithm(h, x_, w_, conv_, y_, max_candidates, &count, perf)
                  : cudnnGetConvolutionForwardAlgorithm_v7(h, x_, w_, conv_, y_, max_candidates, &count, perf),
            "choosing a forward algorithm");
      pick(perf, count, c, name_of(pass));
    } else if (pass == Pass::backward_data) {
      cudnnConvolutionBwdDataAlgoPerf_t perf[max_candidates];
      check(timed ? cudnnFindConvolutionBackwardDataAlgorithm(h, w_, y_, conv_, x_, max_candidates, &count, perf)
                  : cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w_, y_, conv_, x_, max_candidates, &count, perf),
            "choosing a backward-data algorithm");
      pick(perf, count, c, name_of(pass));
    } else {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[max_candidates];
      check(timed ? cudnnFindConvolutionBackwardFilterAlgorithm(h, x_, y_, conv_, w_, max_candidates, &count, perf)
                  : cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, x_, y_, conv_, w_, max_candidates, &count, perf),
            "choosing a backward-filter algorithm");
      pick(perf, count, c, name_of(pass));
    }
    // The heuristics' size estimate can be below what the call needs; ask for the exact size.
    set_math(c.math);
    if (pass == Pass::forward)
      check(cudnnGetConvolutionForwardWorkspaceSize(h, x_, w_, conv_, y_,
                                                    static_cast<cudnnConvolutionFwdAlgo_t>(c.algo), &c.workspace),
            "cudnnGetConvolutionForwardWorkspaceSize");
    else if (pass == Pass::backward_data)
      check(cudnnGetConvolutionBackwardDataWorkspaceSize(
                h, w_, y_, conv_, x_, static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo), &c.workspace),
            "cudnnGetConvolutionBackwardDataWorkspaceSize");
    else
      check(cudnnGetConvolutionBackwardFilterWorkspaceSize(
                h, x_, y_, conv_, w_, static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo), &c.workspace),
            "cudnnGetConvolutionBackwardFilterWorkspaceSize");
    if (tracing())
      trace("conv2d " + describe_ + ", " + name_of(pass) + ": legacy API, algorithm " + std::to_string(c.algo) +
            (timed ? " (timed)" : "") + ", " + name_of(c.math) +
            (bf16_ ? ", bfloat16 data" : tf32_enabled() ? ", TF32 on" : ", TF32 off") + ", workspace " +
            std::to_string(c.workspace) + " B");
  }

  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr, bias_ = nullptr;
  cudnnFilterDescriptor_t w_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
  std::array<Choice, 3> choices_{};
  bool bf16_ = false;
  bool three_by_three_ = false;
  std::string describe_;
};

/// This thread's plan for the geometry, in float or bfloat16 (made on first use).
ConvPlan& plan_for(const Tensor<float>& x, const Tensor<float>& weight, const Conv2dGeometry& g, const Shape& out,
                   bool bf16 = false) {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  const PlanKey key{x.size(0),  x.size(1),    x.size(2),    x.size(3),    weight.size(0), g.kernel_h,
                    g.kernel_w, g.stride_h,   g.stride_w,   g.pad_h,      g.pad_w,        g.dilation_h,
                    g.dilation_w, g.groups,   device,       tf32_enabled(), deterministic(), benchmark_algorithms(),
                    fast_convolutions(), bf16};
  thread_local std::map<PlanKey, std::unique_ptr<ConvPlan>> plans;
  std::unique_ptr<ConvPlan>& plan = plans[key];
  if (!plan) plan = std::make_unique<ConvPlan>(x, weight, g, out, bf16);
  return *plan;
}

Shape output_shape(const Tensor<float>& x, const Tensor<float>& weight, const Conv2dGeometry& g) {
  return {x.size(0), weight.size(0), g.out_h(x.size(2)), g.out_w(x.size(3))};
}

/// cuDNN's forward convolution of `plan` from device data x and w into y (of the plan's type).
void convolve(ConvPlan& plan, const void* x, const void* w, void* y, const char* what) {
  cudnnConvolutionFwdAlgo_t algo{};
  Storage<std::byte> workspace(plan.prepare(Pass::forward, algo), Device::cuda, false);
  const float one = 1.0f, zero = 0.0f;
  check(cudnnConvolutionForward(cudnn_handle(), &one, plan.x(), x, plan.w(), w, plan.conv(), algo, workspace.data(),
                                workspace.size(), &zero, plan.y(), y),
        what);
}

/// The forward convolution in bfloat16 (set_bf16): input and weight rounded to bfloat16, cuDNN's
/// product with float accumulation into `y`. Through the graph API (a kept plan: a fraction of
/// the legacy call's host time) with a float output where cuDNN offers that, else with a bfloat16
/// output widened to float; the legacy API when the graph API has no engine, or when algorithms
/// are timed (cudnnFind exists in the legacy API only).
void conv2d_bf16(const Tensor<float>& x, const Tensor<float>& weight, const Conv2dGeometry& g, Tensor<float>& y) {
  Storage<std::uint16_t> x16(static_cast<std::size_t>(x.numel()), Device::cuda, false);
  Storage<std::uint16_t> w16(static_cast<std::size_t>(weight.numel()), Device::cuda, false);
  launch::to_bfloat16(x.data(), x16.data(), x.numel(), stream());
  launch::to_bfloat16(weight.data(), w16.data(), weight.numel(), stream());
  check_launch("to_bfloat16 kernel");
  const bool graph = !benchmark_algorithms();
  if (graph && conv2d_forward_graph_bf16(x.shape(), x16.data(), weight.shape(), w16.data(), g, y.shape(), y.data(),
                                         CUDNN_DATA_FLOAT))
    return;
  Storage<std::uint16_t> y16(static_cast<std::size_t>(y.numel()), Device::cuda, false);
  if (!graph || !conv2d_forward_graph_bf16(x.shape(), x16.data(), weight.shape(), w16.data(), g, y.shape(),
                                           y16.data(), CUDNN_DATA_BFLOAT16))
    convolve(plan_for(x, weight, g, y.shape(), true), x16.data(), w16.data(), y16.data(),
             "cudnnConvolutionForward (bfloat16)");
  launch::from_bfloat16(y16.data(), y.data(), y.numel(), stream());
  check_launch("from_bfloat16 kernel");
}

}  // namespace

Tensor<float> conv2d(const Tensor<float>& x, const Tensor<float>& weight, const Tensor<float>& bias,
                     const Conv2dGeometry& g, const Shape& out) {
  auto y = Tensor<float>::uninitialized(out, Device::cuda);
  if (y.numel() == 0) return y;
  if (bf16_enabled()) {
    conv2d_bf16(x, weight, g, y);
    if (bias.defined()) channel_epilogue(y, Tensor<float>(), bias, Tensor<float>(), false, 0.0f);
    return y;
  }
  // The graph API's kept plans cost a fraction of the legacy call's host time (conv2d_graph.hpp);
  // algorithms chosen by timing (cudnnFind) exist in the legacy API only.
  if (!benchmark_algorithms() && conv2d_forward_graph(x, weight, g, y)) {
    if (bias.defined()) channel_epilogue(y, Tensor<float>(), bias, Tensor<float>(), false, 0.0f);
    return y;
  }
  ConvPlan& plan = plan_for(x, weight, g, out);
  convolve(plan, x.data(), weight.data(), y.data(), "cudnnConvolutionForward");
  const float one = 1.0f;
  if (bias.defined())
    check(cudnnAddTensor(cudnn_handle(), &one, plan.bias(), bias.data(), &one, plan.y(), y.data()), "cudnnAddTensor");
  return y;
}

Tensor<float> conv2d_backward(const Tensor<float>& x, const Tensor<float>& weight, const Tensor<float>& grad_y,
                              const Conv2dGeometry& g, bool need_grad_x, Tensor<float>* grad_weight,
                              Tensor<float>* grad_bias) {
  Tensor<float> grad_x;
  if (grad_y.numel() == 0) return need_grad_x ? Tensor<float>(x.shape(), Device::cuda) : grad_x;  // zeros
  if (need_grad_x) grad_x = Tensor<float>::uninitialized(x.shape(), Device::cuda);  // cuDNN writes all of it
  ConvPlan& plan = plan_for(x, weight, g, output_shape(x, weight, g));
  const float one = 1.0f, zero = 0.0f;
  if (need_grad_x) {
    cudnnConvolutionBwdDataAlgo_t algo{};
    Storage<std::byte> workspace(plan.prepare(Pass::backward_data, algo), Device::cuda, false);
    check(cudnnConvolutionBackwardData(cudnn_handle(), &one, plan.w(), weight.data(), plan.y(), grad_y.data(),
                                       plan.conv(), algo, workspace.data(), workspace.size(), &zero, plan.x(), grad_x.data()),
          "cudnnConvolutionBackwardData");
  }
  if (grad_weight) {  // beta = 1: the gradient is added, as on the CPU
    cudnnConvolutionBwdFilterAlgo_t algo{};
    Storage<std::byte> workspace(plan.prepare(Pass::backward_filter, algo), Device::cuda, false);
    check(cudnnConvolutionBackwardFilter(cudnn_handle(), &one, plan.x(), x.data(), plan.y(), grad_y.data(),
                                         plan.conv(), algo, workspace.data(), workspace.size(), &one, plan.w(), grad_weight->data()),
          "cudnnConvolutionBackwardFilter");
  }
  if (grad_bias)
    check(cudnnConvolutionBackwardBias(cudnn_handle(), &one, plan.y(), grad_y.data(), &one, plan.bias(),
                                       grad_bias->data()),
          "cudnnConvolutionBackwardBias");
  return grad_x;
}

}  // namespace fcam::cuda

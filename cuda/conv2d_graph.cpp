// Forward convolution through cuDNN's graph (backend) API, in float or with bfloat16 operands:
// per geometry, data types, math modes and pointer alignment, the operation graph is built once,
// cuDNN's heuristics rank its engines, the first engine that fits the math modes becomes an
// execution plan, and the plan is kept per thread (it is bound to this thread's cuDNN handle). A
// call then builds a variant pack (the pointers) and executes. FCAM_CUDA_TRACE=1 prints each
// plan's choice (context.hpp).
#include "conv2d_graph.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/core/storage.hpp"
#include "fcam/cuda/api.hpp"
#include "fcam/ops/conv2d_geometry.hpp"

namespace fcam::cuda {

namespace {

constexpr std::int64_t x_uid = 'x', w_uid = 'w', y_uid = 'y';

/// A backend descriptor, destroyed with its owner.
class Descriptor {
public:
  explicit Descriptor(cudnnBackendDescriptorType_t type) {
    check(cudnnBackendCreateDescriptor(type, &d_), "cudnnBackendCreateDescriptor");
  }
  ~Descriptor() {
    if (d_) cudnnBackendDestroyDescriptor(d_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  Descriptor(Descriptor&& other) noexcept : d_(other.d_) { other.d_ = nullptr; }

  cudnnBackendDescriptor_t get() const { return d_; }

  template <class V>
  Descriptor& set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, std::int64_t count,
                  const V* values) {
    check(cudnnBackendSetAttribute(d_, name, type, count, values), "cudnnBackendSetAttribute");
    return *this;
  }
  void finalize() { check(cudnnBackendFinalize(d_), "cudnnBackendFinalize"); }

private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

/// A finalized NCHW tensor descriptor of elements of `type` with packed strides.
Descriptor tensor(const std::array<std::int64_t, 4>& dims, std::int64_t uid, std::int64_t alignment,
                  cudnnDataType_t type) {
  const std::array<std::int64_t, 4> strides{dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1};
  Descriptor d(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  d.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type)
      .set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data())
      .set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data())
      .set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid)
      .set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment)
      .finalize();
  return d;
}

/// The engine that `config` uses.
Descriptor engine_of(const Descriptor& config) {
  Descriptor engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  cudnnBackendDescriptor_t engine_handle = engine.get();
  std::int64_t count = 0;
  check(cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &count,
                                 &engine_handle),
        "cudnnBackendGetAttribute (engine)");
  return engine;
}

/// The numerical notes of `engine`.
std::vector<cudnnBackendNumericalNote_t> notes_of(const Descriptor& engine) {
  std::int64_t count = 0;
  std::array<cudnnBackendNumericalNote_t, CUDNN_NUMERICAL_NOTE_TYPE_COUNT> notes{};
  check(cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                 CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &count, notes.data()),
        "cudnnBackendGetAttribute (numerical notes)");
  return {notes.begin(), notes.begin() + count};
}

/// cuDNN's number of `engine` (for the trace: the same number names the same kernel family), −1
/// when cuDNN does not say: the trace must not change which path a convolution takes.
std::int64_t global_index_of(const Descriptor& engine) {
  std::int64_t index = -1, count = 0;
  if (cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &count, &index) !=
      CUDNN_STATUS_SUCCESS)
    return -1;
  return index;
}

/// Whether a note marks a Winograd engine (cuDNN 9 may name only its tile size).
bool winograd_note(cudnnBackendNumericalNote_t n) {
  return n == CUDNN_NUMERICAL_NOTE_WINOGRAD || n == CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4 ||
         n == CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_6x6 || n == CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_13x13;
}

/// The notes that decide acceptable(), in words, for the trace.
std::string describe(const std::vector<cudnnBackendNumericalNote_t>& notes) {
  std::string words;
  for (cudnnBackendNumericalNote_t n : notes) {
    const char* word = n == CUDNN_NUMERICAL_NOTE_TENSOR_CORE                  ? "tensor cores"
                       : n == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS        ? "down-converted inputs"
                       : n == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION ? "reduced-precision sums"
                       : n == CUDNN_NUMERICAL_NOTE_FFT                        ? "FFT"
                       : winograd_note(n)                                     ? "Winograd"
                       : n == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC           ? "nondeterministic"
                                                                              : nullptr;
    if (word) words += (words.empty() ? "" : ", ") + std::string(word);
  }
  return words.empty() ? "no notes" : words;
}

/// Whether an engine with these notes fits the math modes, by the rules of the legacy path
/// (conv2d.cpp): with TF32 off no tensor cores (TF32 for float) and no down-converted inputs; no
/// FFT, nor Winograd but for 3×3 kernels, unless fast convolutions are on; nothing
/// nondeterministic in deterministic mode. bfloat16 operands (`bf16`) take any engine that
/// accumulates in float.
bool acceptable(const std::vector<cudnnBackendNumericalNote_t>& notes, bool three_by_three, bool bf16) {
  const auto has = [&](cudnnBackendNumericalNote_t n) {
    return std::find(notes.begin(), notes.end(), n) != notes.end();
  };
  if (deterministic() && has(CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC)) return false;
  if (bf16) return !has(CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION);
  if (tf32_enabled()) return true;
  if (has(CUDNN_NUMERICAL_NOTE_TENSOR_CORE) || has(CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS) ||
      has(CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION))
    return false;
  if (fast_convolutions()) return true;
  return !has(CUDNN_NUMERICAL_NOTE_FFT) && (three_by_three || std::none_of(notes.begin(), notes.end(), winograd_note));
}

/// One geometry's execution plan (or none: no acceptable engine) and its workspace size.
class GraphPlan {
public:
  GraphPlan() = default;  // unusable
  /// The plan of x (w) → y with operands of type `operands` and an output of type `output`.
  GraphPlan(const Shape& x, const Shape& w, const Shape& y, const Conv2dGeometry& g, std::int64_t alignment,
            cudnnDataType_t operands, cudnnDataType_t output) {
    cudnnHandle_t handle = cudnn_handle();
    const auto dims = [](const Shape& s) { return std::array<std::int64_t, 4>{s[0], s[1], s[2], s[3]}; };
    Descriptor xd = tensor(dims(x), x_uid, alignment, operands), wd = tensor(dims(w), w_uid, alignment, operands),
               yd = tensor(dims(y), y_uid, alignment, output);
    const std::int64_t spatial = 2;
    const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    const std::array<std::int64_t, 2> pad{g.pad_h, g.pad_w}, stride{g.stride_h, g.stride_w},
        dilation{g.dilation_h, g.dilation_w};
    Descriptor conv(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
    conv.set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial)
        .set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute)
        .set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode)
        .set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad.data())
        .set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad.data())
        .set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dilation.data())
        .set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, stride.data())
        .finalize();
    const float alpha = 1.0f, beta = 0.0f;
    const cudnnBackendDescriptor_t xh = xd.get(), wh = wd.get(), yh = yd.get(), ch = conv.get();
    Descriptor op(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
    op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &xh)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &wh)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &yh)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &ch)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta)
        .finalize();
    const cudnnBackendDescriptor_t oph = op.get();
    Descriptor graph(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &oph)
        .set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle)
        .finalize();
    const cudnnBackendDescriptor_t gh = graph.get();
    const cudnnBackendHeurMode_t heuristics_mode = CUDNN_HEUR_MODE_A;
    Descriptor heuristics(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    heuristics.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &gh)
        .set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &heuristics_mode)
        .finalize();
    std::int64_t count = 0;
    check(cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                   &count, nullptr),
          "cudnnBackendGetAttribute (heuristics' result count)");
    std::vector<Descriptor> configs;
    std::vector<cudnnBackendDescriptor_t> handles;
    for (std::int64_t i = 0; i < count; ++i) {
      configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
      handles.push_back(configs.back().get());
    }
    check(cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                   count, &count, handles.data()),
          "cudnnBackendGetAttribute (heuristics' results)");
    const bool three_by_three = g.kernel_h == 3 && g.kernel_w == 3;
    offered_ = count;
    for (std::int64_t i = 0; i < count; ++i) {  // in the heuristics' order: the first that fits and builds
      // An engine whose description cannot be read is skipped, not the whole geometry.
      std::optional<Descriptor> engine;
      std::vector<cudnnBackendNumericalNote_t> notes;
      try {
        engine.emplace(engine_of(configs[static_cast<std::size_t>(i)]));
        notes = notes_of(*engine);
      } catch (const Error& e) {
        if (skipped_.unreadable++ == 0) skipped_.first_error = e.what();
        continue;
      }
      if (!acceptable(notes, three_by_three, operands != CUDNN_DATA_FLOAT)) {
        ++skipped_.refused;
        continue;
      }
      auto plan = std::make_unique<Descriptor>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
      const cudnnBackendDescriptor_t config = handles[static_cast<std::size_t>(i)];
      plan->set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &config)
          .set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
      if (cudnnBackendFinalize(plan->get()) != CUDNN_STATUS_SUCCESS) {  // this engine cannot run it
        ++skipped_.unfinalized;
        continue;
      }
      std::int64_t got = 0;
      check(cudnnBackendGetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &got,
                                     &workspace_),
            "cudnnBackendGetAttribute (workspace size)");
      if (tracing())
        chosen_ = "engine " + std::to_string(global_index_of(*engine)) + " (" + describe(notes) +
                  ", heuristics' rank " + std::to_string(i + 1) + " of " + std::to_string(count) + "), workspace " +
                  std::to_string(workspace_) + " B" + (i > 0 ? "; passed over: " + skipped_.describe() : "");
      plan_ = std::move(plan);
      return;
    }
  }

  bool usable() const { return plan_ != nullptr; }
  /// For the trace: the engine taken (and why the heuristics' better-ranked ones were passed over),
  /// or why there is none.
  std::string chosen() const {
    return usable() ? chosen_ : "none of the " + std::to_string(offered_) + " engines offered: " + skipped_.describe();
  }

  /// Runs the plan and returns cuDNN's status (a failed workspace allocation throws).
  cudnnStatus_t execute(const void* x, const void* w, void* y) const {
    Storage<std::byte> workspace(static_cast<std::size_t>(workspace_), Device::cuda, false);
    void* pointers[] = {const_cast<void*>(x), const_cast<void*>(w), y};  // cuDNN's API takes void*
    const std::int64_t uids[] = {x_uid, w_uid, y_uid};
    void* workspace_pointer = workspace.data();
    Descriptor pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, pointers)
        .set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids)
        .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace_pointer)
        .finalize();
    return cudnnBackendExecute(cudnn_handle(), plan_->get(), pack.get());
  }

private:
  /// The engines passed over, by reason, for the trace: on a GPU it tells whether a geometry
  /// left the graph API by fcam's math-mode rules or by cuDNN's refusals.
  struct Skipped {
    int refused = 0;      // acceptable() said no
    int unfinalized = 0;  // the execution plan did not finalize
    int unreadable = 0;   // the engine's description could not be read
    std::string first_error;
    std::string describe() const {
      return std::to_string(refused) + " refused by the math modes, " + std::to_string(unfinalized) +
             " not finalized, " + std::to_string(unreadable) + " unreadable" +
             (first_error.empty() ? "" : " (" + first_error + ")");
    }
  };
  std::unique_ptr<Descriptor> plan_;
  std::int64_t workspace_ = 0;
  std::int64_t offered_ = 0;
  Skipped skipped_;
  std::string chosen_;
};

/// The largest power of two up to 16 that divides every address.
std::int64_t alignment_of(std::initializer_list<const void*> pointers) {
  std::int64_t alignment = 16;
  for (const void* p : pointers)
    while (reinterpret_cast<std::uintptr_t>(p) % static_cast<std::uintptr_t>(alignment) != 0) alignment /= 2;
  return alignment;
}

/// For the trace: a plan's geometry and data types.
std::string describe(const Shape& x, const Shape& w, const Conv2dGeometry& g, cudnnDataType_t operands,
                     cudnnDataType_t output) {
  const auto type = [](cudnnDataType_t t) { return t == CUDNN_DATA_FLOAT ? "float" : "bfloat16"; };
  return "conv2d input " + to_string(x) + ", weight " + to_string(w) + ", stride " + std::to_string(g.stride_h) + "x" +
         std::to_string(g.stride_w) + ", groups " + std::to_string(g.groups) + ", " + type(operands) + " operands, " +
         type(output) + " output";
}

/// conv2d_forward_graph of device data: operands of type `operands`, the output of type `output`.
bool forward_graph(const Shape& x_shape, const void* x, const Shape& w_shape, const void* w, const Conv2dGeometry& g,
                   const Shape& y_shape, void* y, cudnnDataType_t operands, cudnnDataType_t output) {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  const std::int64_t alignment = alignment_of({x, w, y});
  using Key = std::array<std::int64_t, 21>;
  const Key key{x_shape[0], x_shape[1], x_shape[2], x_shape[3], w_shape[0], w_shape[1], g.kernel_h, g.kernel_w,
                g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dilation_h, g.dilation_w, device, tf32_enabled(),
                deterministic(), fast_convolutions(), alignment, operands, output};
  thread_local std::map<Key, GraphPlan> plans;
  auto found = plans.find(key);
  const bool fresh = found == plans.end();
  if (fresh) {
    // A geometry the graph API refuses (an error while building) is kept as unusable, so that
    // every call of it goes to the legacy API without trying again.
    GraphPlan plan;
    std::string refusal;
    try {
      plan = GraphPlan(x_shape, w_shape, y_shape, g, alignment, operands, output);
    } catch (const Error& e) {
      plan = GraphPlan();
      refusal = e.what();
    }
    if (tracing())
      trace(describe(x_shape, w_shape, g, operands, output) + ": graph API, " +
            (refusal.empty() ? plan.chosen() : "refused: " + refusal));
    found = plans.emplace(key, std::move(plan)).first;
  }
  if (!found->second.usable()) return false;
  const bool healthy = cudaPeekAtLastError() == cudaSuccess;  // no earlier kernel's error pending
  const cudnnStatus_t status = found->second.execute(x, w, y);
  if (status == CUDNN_STATUS_SUCCESS) return true;
  // An engine that fails its first run on a healthy device is dropped: the caller takes the next
  // path (the legacy API writes all of y). Its failure may be a launch its kernel could not make
  // (too much shared memory): that error is cleared, unless it stays (a sticky device error). A
  // kept plan's failure, or a device already in error (an earlier kernel's), is reported.
  if (fresh && healthy) {
    (void)cudaGetLastError();
    if (cudaPeekAtLastError() == cudaSuccess) {
      if (tracing())
        trace(describe(x_shape, w_shape, g, operands, output) + ": graph API, the new plan failed its first run (" +
              cudnnGetErrorString(status) + "), dropped");
      found->second = GraphPlan();
      return false;
    }
  }
  check(status, "cudnnBackendExecute (convolution)");
  return true;
}

}  // namespace

bool conv2d_forward_graph(const Tensor<float>& x, const Tensor<float>& weight, const Conv2dGeometry& g,
                          Tensor<float>& y) {
  return forward_graph(x.shape(), x.data(), weight.shape(), weight.data(), g, y.shape(), y.data(), CUDNN_DATA_FLOAT,
                       CUDNN_DATA_FLOAT);
}

bool conv2d_forward_graph_bf16(const Shape& x_shape, const void* x, const Shape& w_shape, const void* w,
                               const Conv2dGeometry& g, const Shape& y_shape, void* y, cudnnDataType_t output) {
  return forward_graph(x_shape, x, w_shape, w, g, y_shape, y, CUDNN_DATA_BFLOAT16, output);
}

}  // namespace fcam::cuda

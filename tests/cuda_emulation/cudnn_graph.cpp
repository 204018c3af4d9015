// The CUDA emulation's cuDNN graph (backend) API, as far as fcam's conv2d_graph.cpp uses it: a
// forward convolution's tensor, convolution, operation and operation-graph descriptors,
// heuristics that rank the model's engines, engine configurations and their numerical notes,
// execution plans with a workspace size, variant packs and the execution.
//
// Attributes are checked against the descriptor type that owns them and their attribute type;
// a descriptor copies what it refers to when it is finalized (cuDNN's rule, so fcam may destroy
// the tensors and the graph once the plan exists). The engines, in the heuristics' order:
//   0  tensor cores: TF32 for float operands (notes: tensor core, down-converted inputs), exact
//      for bfloat16; needs 16-byte alignment, and no float output of grouped bfloat16 products;
//   1  FFT (float, one group, unit stride and dilation), TF32-like error;
//   2  Winograd 4×4 (as 1, 3×3 or 5×5 kernels), exact for 3×3 and TF32-like error otherwise;
//   3  a plain engine that refuses dilation when finalized and whose kernel cannot be launched
//      for grouped convolutions (the run fails with a pending launch error, as a kernel that
//      asks for too much shared memory does);
//   4  a plain engine for everything;
//   5  (bfloat16 operands only, ranked first) reduced-precision sums: writes NaN.
#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <vector>

#include "cudnn_model.hpp"

namespace {

using namespace fcam_emu::cudnn;

struct TensorSpec {
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  fcam::Shape dims;
  std::int64_t uid = 0;
  std::int64_t alignment = 1;
};

/// A finalized forward convolution: its problem, tensors (x, w, y), scalars and handle.
struct Graph {
  Problem problem;
  std::array<TensorSpec, 3> tensors;
  float alpha = 1.0f, beta = 0.0f;
  cudnnHandle_t handle = nullptr;
};

struct Attribute {
  cudnnBackendAttributeType_t type;
  std::int64_t count;
  std::vector<std::byte> bytes;
};

struct Descriptor {
  explicit Descriptor(cudnnBackendDescriptorType_t t) : type(t) {}
  cudnnBackendDescriptorType_t type;
  bool finalized = false;
  std::map<cudnnBackendAttributeName_t, Attribute> attributes;
  // What finalization made of the attributes, by value (per type, only what that type needs).
  TensorSpec tensor;
  fcam::Conv2dGeometry geometry;  // a convolution's (no kernel sizes)
  Graph graph;                    // operation, graph, heuristics, configuration, engine, plan
  std::vector<int> ranked;        // heuristics
  int engine = -1;                // configuration, engine, plan
  std::int64_t workspace = 0;     // plan
  std::vector<void*> pointers;    // variant pack
  std::vector<std::int64_t> uids;
  void* workspace_pointer = nullptr;
};

/// The descriptor type that owns `name` and the attribute type its values have.
std::pair<cudnnBackendDescriptorType_t, cudnnBackendAttributeType_t> owner_of(cudnnBackendAttributeName_t name) {
  switch (name) {
    case CUDNN_ATTR_CONVOLUTION_COMP_TYPE: return {CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, CUDNN_TYPE_DATA_TYPE};
    case CUDNN_ATTR_CONVOLUTION_CONV_MODE: return {CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, CUDNN_TYPE_CONVOLUTION_MODE};
    case CUDNN_ATTR_CONVOLUTION_DILATIONS:
    case CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES:
    case CUDNN_ATTR_CONVOLUTION_POST_PADDINGS:
    case CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS:
    case CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS: return {CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, CUDNN_TYPE_INT64};
    case CUDNN_ATTR_ENGINECFG_ENGINE: return {CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR};
    case CUDNN_ATTR_ENGINEHEUR_MODE: return {CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, CUDNN_TYPE_HEUR_MODE};
    case CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH:
    case CUDNN_ATTR_ENGINEHEUR_RESULTS: return {CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR};
    case CUDNN_ATTR_ENGINE_GLOBAL_INDEX: return {CUDNN_BACKEND_ENGINE_DESCRIPTOR, CUDNN_TYPE_INT64};
    case CUDNN_ATTR_ENGINE_NUMERICAL_NOTE: return {CUDNN_BACKEND_ENGINE_DESCRIPTOR, CUDNN_TYPE_NUMERICAL_NOTE};
    case CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG:
      return {CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR};
    case CUDNN_ATTR_EXECUTION_PLAN_HANDLE: return {CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, CUDNN_TYPE_HANDLE};
    case CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE: return {CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, CUDNN_TYPE_INT64};
    case CUDNN_ATTR_OPERATIONGRAPH_HANDLE: return {CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, CUDNN_TYPE_HANDLE};
    case CUDNN_ATTR_OPERATIONGRAPH_OPS: return {CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR};
    case CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA:
    case CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, CUDNN_TYPE_FLOAT};
    case CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC:
    case CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W:
    case CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X:
    case CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR};
    case CUDNN_ATTR_TENSOR_DATA_TYPE: return {CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_TYPE_DATA_TYPE};
    case CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT:
    case CUDNN_ATTR_TENSOR_DIMENSIONS:
    case CUDNN_ATTR_TENSOR_STRIDES:
    case CUDNN_ATTR_TENSOR_UNIQUE_ID: return {CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_TYPE_INT64};
    case CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS:
    case CUDNN_ATTR_VARIANT_PACK_WORKSPACE: return {CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, CUDNN_TYPE_VOID_PTR};
    case CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS: return {CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, CUDNN_TYPE_INT64};
  }
  throw Refusal{CUDNN_STATUS_BAD_PARAM};
}

std::size_t element_size(cudnnBackendAttributeType_t type) {
  switch (type) {
    case CUDNN_TYPE_INT64: return sizeof(std::int64_t);
    case CUDNN_TYPE_FLOAT: return sizeof(float);
    case CUDNN_TYPE_DATA_TYPE: return sizeof(cudnnDataType_t);
    case CUDNN_TYPE_CONVOLUTION_MODE: return sizeof(cudnnConvolutionMode_t);
    case CUDNN_TYPE_HEUR_MODE: return sizeof(cudnnBackendHeurMode_t);
    case CUDNN_TYPE_NUMERICAL_NOTE: return sizeof(cudnnBackendNumericalNote_t);
    default: return sizeof(void*);  // handles, pointers, descriptors
  }
}

/// The live descriptor behind `d` (stops the program when it is not live).
Descriptor& live_descriptor(cudnnBackendDescriptor_t d, const char* what) {
  require_live(d, what);
  return *static_cast<Descriptor*>(d);
}

/// The values of `name` (`count` of them, any number when negative): BAD_PARAM when not set.
template <class V>
std::vector<V> values_of(const Descriptor& d, cudnnBackendAttributeName_t name, std::int64_t count) {
  const auto found = d.attributes.find(name);
  if (found == d.attributes.end() || (count >= 0 && found->second.count != count))
    throw Refusal{CUDNN_STATUS_BAD_PARAM};
  std::vector<V> values(static_cast<std::size_t>(found->second.count));
  if (!values.empty()) std::memcpy(values.data(), found->second.bytes.data(), found->second.bytes.size());
  return values;
}

template <class V>
V value_of(const Descriptor& d, cudnnBackendAttributeName_t name) {
  return values_of<V>(d, name, 1)[0];
}

/// The finalized descriptor of `type` that attribute `name` of d refers to.
const Descriptor& referred(const Descriptor& d, cudnnBackendAttributeName_t name, cudnnBackendDescriptorType_t type) {
  const Descriptor& r = live_descriptor(value_of<cudnnBackendDescriptor_t>(d, name), "cudnnBackendFinalize");
  if (r.type != type || !r.finalized) throw Refusal{CUDNN_STATUS_BAD_PARAM};
  return r;
}

// ---- the engines (see the file's comment) --------------------------------------------------
constexpr int reduced_precision_engine = 5;

std::vector<int> ranked_engines(const Problem& p) {
  if (p.operands == CUDNN_DATA_BFLOAT16) return {reduced_precision_engine, 0, 3, 4};
  return {0, 1, 2, 3, 4};
}

std::vector<cudnnBackendNumericalNote_t> notes_of(int engine, const Problem& p) {
  switch (engine) {
    case 0:
      if (p.operands == CUDNN_DATA_BFLOAT16) return {CUDNN_NUMERICAL_NOTE_TENSOR_CORE};
      return {CUDNN_NUMERICAL_NOTE_TENSOR_CORE, CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS};
    case 1: return {CUDNN_NUMERICAL_NOTE_FFT};
    case 2: return {CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4};
    case reduced_precision_engine:
      return {CUDNN_NUMERICAL_NOTE_TENSOR_CORE, CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION};
    default: return {};
  }
}

/// Whether the engine builds a plan for the graph (cudnnBackendFinalize of the plan).
bool engine_fits(int engine, const Graph& graph) {
  const Problem& p = graph.problem;
  switch (engine) {
    case 0: {
      const bool aligned = std::all_of(graph.tensors.begin(), graph.tensors.end(),
                                       [](const TensorSpec& t) { return t.alignment % 16 == 0; });
      const bool grouped_float_output =
          p.operands == CUDNN_DATA_BFLOAT16 && p.output == CUDNN_DATA_FLOAT && p.g.groups > 1;
      return aligned && !grouped_float_output;
    }
    case 1: return fft_fits(p);
    case 2: return winograd_fits(p);
    case 3: return p.g.dilation_h == 1 && p.g.dilation_w == 1;
    case reduced_precision_engine: return p.operands == CUDNN_DATA_BFLOAT16;
    default: return true;
  }
}

Arithmetic arithmetic_of(int engine, const Problem& p) {
  const bool three_by_three = p.g.kernel_h == 3 && p.g.kernel_w == 3;
  if (engine == reduced_precision_engine) return Arithmetic::poisoned;
  if (p.operands == CUDNN_DATA_BFLOAT16) return Arithmetic::exact;
  if (engine == 0 || engine == 1 || (engine == 2 && !three_by_three)) return Arithmetic::tf32_operands;
  return Arithmetic::exact;
}

Workspace workspace_of(int engine) {
  return engine == 1 || engine == 2 ? Workspace::large : engine == 3 ? Workspace::none : Workspace::small;
}

// ---- finalization, per descriptor type -----------------------------------------------------
void finalize_tensor(Descriptor& d) {
  TensorSpec t;
  t.type = value_of<cudnnDataType_t>(d, CUDNN_ATTR_TENSOR_DATA_TYPE);
  const auto dims = values_of<std::int64_t>(d, CUDNN_ATTR_TENSOR_DIMENSIONS, 4);
  const auto strides = values_of<std::int64_t>(d, CUDNN_ATTR_TENSOR_STRIDES, 4);
  t.uid = value_of<std::int64_t>(d, CUDNN_ATTR_TENSOR_UNIQUE_ID);
  t.alignment = value_of<std::int64_t>(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT);
  if (t.type != CUDNN_DATA_FLOAT && t.type != CUDNN_DATA_BFLOAT16) throw Refusal{CUDNN_STATUS_NOT_SUPPORTED};
  if (std::any_of(dims.begin(), dims.end(), [](std::int64_t v) { return v <= 0; }) || t.alignment <= 0 ||
      (t.alignment & (t.alignment - 1)) != 0)
    throw Refusal{CUDNN_STATUS_BAD_PARAM};
  const std::vector<std::int64_t> packed{dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1};
  if (strides != packed) throw Refusal{CUDNN_STATUS_NOT_SUPPORTED};  // only packed NCHW is emulated
  t.dims = dims;
  d.tensor = t;
}

void finalize_convolution(Descriptor& d) {
  const auto pre = values_of<std::int64_t>(d, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, 2);
  const auto post = values_of<std::int64_t>(d, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, 2);
  const auto dilation = values_of<std::int64_t>(d, CUDNN_ATTR_CONVOLUTION_DILATIONS, 2);
  const auto stride = values_of<std::int64_t>(d, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, 2);
  if (value_of<std::int64_t>(d, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS) != 2 ||
      value_of<cudnnDataType_t>(d, CUDNN_ATTR_CONVOLUTION_COMP_TYPE) != CUDNN_DATA_FLOAT)
    throw Refusal{CUDNN_STATUS_BAD_PARAM};
  // Convolution proper (a flipped kernel) and asymmetric padding are not emulated.
  if (value_of<cudnnConvolutionMode_t>(d, CUDNN_ATTR_CONVOLUTION_CONV_MODE) != CUDNN_CROSS_CORRELATION || pre != post)
    throw Refusal{CUDNN_STATUS_NOT_SUPPORTED};
  d.geometry = fcam::Conv2dGeometry{1, 1, stride[0], stride[1], pre[0], pre[1], dilation[0], dilation[1], 1};
}

void finalize_forward_operation(Descriptor& d) {
  Graph& graph = d.graph;
  const auto tensor = [&](cudnnBackendAttributeName_t name) {
    return referred(d, name, CUDNN_BACKEND_TENSOR_DESCRIPTOR).tensor;
  };
  graph.tensors = {tensor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X),
                   tensor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W),
                   tensor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y)};
  const auto& [x, w, y] = graph.tensors;
  fcam::Conv2dGeometry g =
      referred(d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR).geometry;
  graph.alpha = value_of<float>(d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA);
  graph.beta = value_of<float>(d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA);
  if (x.dims[1] % w.dims[1] != 0 || x.type != w.type || (x.type == CUDNN_DATA_FLOAT && y.type != CUDNN_DATA_FLOAT) ||
      x.uid == w.uid || x.uid == y.uid || w.uid == y.uid)
    throw Refusal{CUDNN_STATUS_BAD_PARAM};
  g.kernel_h = w.dims[2];
  g.kernel_w = w.dims[3];
  g.groups = x.dims[1] / w.dims[1];
  graph.problem = Problem{x.dims, w.dims, y.dims, g, x.type, y.type};
  validate(graph.problem);
}

void finalize_operation_graph(Descriptor& d) {
  const auto ops = values_of<cudnnBackendDescriptor_t>(d, CUDNN_ATTR_OPERATIONGRAPH_OPS, 1);  // one op emulated
  const Descriptor& op = live_descriptor(ops[0], "cudnnBackendFinalize");
  if (op.type != CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR || !op.finalized)
    throw Refusal{CUDNN_STATUS_BAD_PARAM};
  d.graph = op.graph;
  d.graph.handle = value_of<cudnnHandle_t>(d, CUDNN_ATTR_OPERATIONGRAPH_HANDLE);
  require_live(d.graph.handle, "cudnnBackendFinalize (operation graph handle)");
}

void finalize_heuristics(Descriptor& d) {
  d.graph = referred(d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR).graph;
  if (value_of<cudnnBackendHeurMode_t>(d, CUDNN_ATTR_ENGINEHEUR_MODE) != CUDNN_HEUR_MODE_A)
    throw Refusal{CUDNN_STATUS_NOT_SUPPORTED};
  d.ranked = ranked_engines(d.graph.problem);
}

void finalize_plan(Descriptor& d) {
  const Descriptor& config = referred(d, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
  const cudnnHandle_t handle = value_of<cudnnHandle_t>(d, CUDNN_ATTR_EXECUTION_PLAN_HANDLE);
  require_live(handle, "cudnnBackendFinalize (execution plan handle)");
  if (handle != config.graph.handle) throw Refusal{CUDNN_STATUS_BAD_PARAM};
  if (!engine_fits(config.engine, config.graph)) throw Refusal{CUDNN_STATUS_NOT_SUPPORTED};
  d.graph = config.graph;
  d.engine = config.engine;
  d.workspace = static_cast<std::int64_t>(workspace_bytes(workspace_of(d.engine), d.graph.problem));
}

void finalize_variant_pack(Descriptor& d) {
  d.pointers = values_of<void*>(d, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, -1);
  d.uids = values_of<std::int64_t>(d, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, static_cast<std::int64_t>(d.pointers.size()));
  d.workspace_pointer = value_of<void*>(d, CUDNN_ATTR_VARIANT_PACK_WORKSPACE);
}

/// Makes `target` (a live descriptor of `type` that fcam created) the finalized `source` with `engine`.
void fill(cudnnBackendDescriptor_t target, cudnnBackendDescriptorType_t type, const Graph& graph, int engine) {
  Descriptor& d = live_descriptor(target, "cudnnBackendGetAttribute");
  if (d.type != type) throw Refusal{CUDNN_STATUS_BAD_PARAM};
  d.graph = graph;
  d.engine = engine;
  d.finalized = true;
}

template <class V>
void give(const std::vector<V>& values, std::int64_t requested, std::int64_t* count, void* out) {
  const std::size_t n = std::min(values.size(), static_cast<std::size_t>(std::max<std::int64_t>(requested, 0)));
  if (n > 0) std::memcpy(out, values.data(), n * sizeof(V));
  *count = static_cast<std::int64_t>(n);
}

}  // namespace

cudnnStatus_t cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t type, cudnnBackendDescriptor_t* d) {
  return create(d, new Descriptor(type));
}

cudnnStatus_t cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t d) {
  return destroy(static_cast<Descriptor*>(d), "cudnnBackendDestroyDescriptor");
}

cudnnStatus_t cudnnBackendSetAttribute(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                                       cudnnBackendAttributeType_t type, std::int64_t count, const void* values) {
  return guarded([&] {
    Descriptor& descriptor = live_descriptor(d, "cudnnBackendSetAttribute");
    const auto [owner, expected] = owner_of(name);
    if (descriptor.finalized || owner != descriptor.type || type != expected || count < 0 || (count > 0 && !values))
      throw Refusal{CUDNN_STATUS_BAD_PARAM};
    const auto* bytes = static_cast<const std::byte*>(values);
    const std::size_t size = element_size(type) * static_cast<std::size_t>(count);
    descriptor.attributes[name] = Attribute{type, count, std::vector<std::byte>(bytes, bytes + size)};
  });
}

cudnnStatus_t cudnnBackendFinalize(cudnnBackendDescriptor_t d) {
  return guarded([&] {
    Descriptor& descriptor = live_descriptor(d, "cudnnBackendFinalize");
    if (descriptor.finalized) throw Refusal{CUDNN_STATUS_BAD_PARAM};
    switch (descriptor.type) {
      case CUDNN_BACKEND_TENSOR_DESCRIPTOR: finalize_tensor(descriptor); break;
      case CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR: finalize_convolution(descriptor); break;
      case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR: finalize_forward_operation(descriptor); break;
      case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR: finalize_operation_graph(descriptor); break;
      case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR: finalize_heuristics(descriptor); break;
      case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR: finalize_plan(descriptor); break;
      case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR: finalize_variant_pack(descriptor); break;
      default: throw Refusal{CUDNN_STATUS_BAD_PARAM};  // engines and configurations come from the heuristics
    }
    descriptor.finalized = true;
  });
}

cudnnStatus_t cudnnBackendGetAttribute(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                                       cudnnBackendAttributeType_t type, std::int64_t requested, std::int64_t* count,
                                       void* values) {
  return guarded([&] {
    const Descriptor& descriptor = live_descriptor(d, "cudnnBackendGetAttribute");
    const auto [owner, expected] = owner_of(name);
    if (!descriptor.finalized || owner != descriptor.type || type != expected || !count || (requested > 0 && !values))
      throw Refusal{CUDNN_STATUS_BAD_PARAM};
    const Problem& p = descriptor.graph.problem;
    switch (name) {
      case CUDNN_ATTR_ENGINEHEUR_RESULTS: {  // fills fcam's configuration descriptors
        const std::size_t n =
            std::min(descriptor.ranked.size(), static_cast<std::size_t>(std::max<std::int64_t>(requested, 0)));
        for (std::size_t i = 0; i < n; ++i)
          fill(static_cast<cudnnBackendDescriptor_t*>(values)[i], CUDNN_BACKEND_ENGINECFG_DESCRIPTOR,
               descriptor.graph, descriptor.ranked[i]);
        *count = static_cast<std::int64_t>(requested > 0 ? n : descriptor.ranked.size());
        return;
      }
      case CUDNN_ATTR_ENGINECFG_ENGINE:
        if (requested != 1) throw Refusal{CUDNN_STATUS_BAD_PARAM};
        fill(*static_cast<cudnnBackendDescriptor_t*>(values), CUDNN_BACKEND_ENGINE_DESCRIPTOR, descriptor.graph,
             descriptor.engine);
        *count = 1;
        return;
      case CUDNN_ATTR_ENGINE_NUMERICAL_NOTE: return give(notes_of(descriptor.engine, p), requested, count, values);
      case CUDNN_ATTR_ENGINE_GLOBAL_INDEX:
        return give(std::vector<std::int64_t>{descriptor.engine}, requested, count, values);
      case CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE:
        return give(std::vector<std::int64_t>{descriptor.workspace}, requested, count, values);
      default: throw Refusal{CUDNN_STATUS_NOT_SUPPORTED};  // readable in cuDNN, but fcam does not read it
    }
  });
}

cudnnStatus_t cudnnBackendExecute(cudnnHandle_t h, cudnnBackendDescriptor_t plan_descriptor,
                                  cudnnBackendDescriptor_t pack_descriptor) {
  const char* what = "cudnnBackendExecute";
  const Descriptor& plan = live_descriptor(plan_descriptor, what);
  const Descriptor& pack = live_descriptor(pack_descriptor, what);
  require_live(h, what);
  if (plan.type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR || pack.type != CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR ||
      !plan.finalized || !pack.finalized || h != plan.graph.handle)
    return CUDNN_STATUS_BAD_PARAM;  // a plan runs on the handle it was made with
  std::array<void*, 3> operands{};
  for (std::size_t t = 0; t < 3; ++t) {
    const TensorSpec& spec = plan.graph.tensors[t];
    const auto found = std::find(pack.uids.begin(), pack.uids.end(), spec.uid);
    if (found == pack.uids.end()) return CUDNN_STATUS_BAD_PARAM;
    operands[t] = pack.pointers[static_cast<std::size_t>(found - pack.uids.begin())];
    if (reinterpret_cast<std::uintptr_t>(operands[t]) % static_cast<std::uintptr_t>(spec.alignment) != 0)
      return CUDNN_STATUS_BAD_PARAM;  // the plan was built for a larger alignment
  }
  if (plan.engine == 3 && plan.graph.problem.g.groups > 1) {  // its kernel cannot be launched (file comment)
    fcam_emu::set_last_error(cudaErrorInvalidConfiguration);
    return CUDNN_STATUS_EXECUTION_FAILED;
  }
  const std::size_t needed = static_cast<std::size_t>(plan.workspace);
  return run(h, Pass::forward, plan.graph.problem, arithmetic_of(plan.engine, plan.graph.problem), operands[0],
             operands[1], operands[2], plan.graph.alpha, plan.graph.beta, pack.workspace_pointer, needed, needed, what);
}

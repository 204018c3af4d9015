// The CUDA emulation's cuDNN handle and the convolution model both of its APIs run
// (cudnn_model.hpp): operands read from device memory when the stream reaches the work, the
// arithmetic of the chosen candidate, fcam's CPU convolution, the result written with alpha and
// beta.
#include "cudnn_model.hpp"

#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <set>

#include "fcam/core/tensor.hpp"
#include "fcam/io/half.hpp"
#include "fcam/ops/cpu/conv2d.hpp"

namespace fcam_emu::cudnn {

namespace {

std::mutex live_mutex;
std::set<const void*> live;

std::size_t element_bytes(cudnnDataType_t type) { return type == CUDNN_DATA_BFLOAT16 ? 2 : 4; }

/// The device data at `p` (of `type`, checked to lie in one allocation) as a host float tensor.
fcam::Tensor<float> read(const void* p, const fcam::Shape& shape, cudnnDataType_t type, const char* what) {
  auto t = fcam::Tensor<float>::uninitialized(shape);
  const std::size_t bytes = element_bytes(type) * static_cast<std::size_t>(t.numel());
  require_device_range(p, bytes, what);
  if (type == CUDNN_DATA_FLOAT) {
    if (bytes > 0) std::memcpy(t.data(), p, bytes);
  } else {
    const auto* bits = static_cast<const std::uint16_t*>(p);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = fcam::io::bfloat16_to_float(bits[i]);
  }
  return t;
}

/// out = alpha·r + beta·out at `p` (of `type`); out is not read when beta is 0, as cuDNN's.
void write(const fcam::Tensor<float>& r, void* p, cudnnDataType_t type, float alpha, float beta, const char* what) {
  require_device_range(p, element_bytes(type) * static_cast<std::size_t>(r.numel()), what);
  for (std::int64_t i = 0; i < r.numel(); ++i) {
    float v = alpha * r.data()[i];
    if (type == CUDNN_DATA_FLOAT) {
      float* out = static_cast<float*>(p) + i;
      *out = beta == 0.0f ? v : v + beta * *out;
    } else {
      std::uint16_t* out = static_cast<std::uint16_t*>(p) + i;
      if (beta != 0.0f) v += beta * fcam::io::bfloat16_to_float(*out);
      *out = fcam::io::float_to_bfloat16(v);
    }
  }
}

/// f rounded to TF32 (10 explicit mantissa bits, to nearest even); infinities and NaN unchanged.
float to_tf32(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7F800000u) == 0x7F800000u) return f;
  return std::bit_cast<float>((x + 0xFFFu + ((x >> 13) & 1u)) & 0xFFFFE000u);
}

void round_to_tf32(fcam::Tensor<float>& t) {
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = to_tf32(t.data()[i]);
}

/// Every fourth output, a different quarter on each call, moves by one ulp towards zero: the
/// last-bit differences that order-dependent atomics leave.
void perturb(fcam::Tensor<float>& t) {
  static std::atomic<unsigned> calls{0};
  const unsigned phase = calls++ % 4u;
  for (std::int64_t i = 0; i < t.numel(); ++i)
    if (static_cast<unsigned>(i % 4) == phase && t.data()[i] != 0.0f && std::isfinite(t.data()[i]))
      t.data()[i] = std::nextafter(t.data()[i], 0.0f);
}

/// The pass's result from host operands (a: x or w, b: w or dy), before alpha and beta.
fcam::Tensor<float> compute(Pass pass, const Problem& p, fcam::Tensor<float> a, fcam::Tensor<float> b,
                            Arithmetic arithmetic) {
  if (arithmetic == Arithmetic::tf32_operands && p.operands == CUDNN_DATA_FLOAT) {
    round_to_tf32(a);
    round_to_tf32(b);
  }
  fcam::Tensor<float> r;
  if (pass == Pass::forward) {
    r = fcam::cpu::conv2d(a, b, fcam::Tensor<float>(), p.g, p.y);
  } else if (pass == Pass::backward_data) {  // the CPU's input gradient reads x's shape only
    r = fcam::cpu::conv2d_backward<float>(fcam::Tensor<float>::uninitialized(p.x), a, b, p.g, true, nullptr, nullptr);
  } else {  // ... and its weight gradient the weight's shape only; it adds into zeros
    r = fcam::Tensor<float>(p.w);
    fcam::cpu::conv2d_backward<float>(a, fcam::Tensor<float>::uninitialized(p.w), b, p.g, false, &r, nullptr);
  }
  if (arithmetic == Arithmetic::nondeterministic) perturb(r);
  if (arithmetic == Arithmetic::poisoned) r.fill(std::numeric_limits<float>::quiet_NaN());
  return r;
}

void enqueue_on(cudnnHandle_t handle, const char* what, std::function<void()> work) {
  if (enqueue(handle->stream, what, std::move(work)) != cudaSuccess) throw Refusal{CUDNN_STATUS_EXECUTION_FAILED};
}

}  // namespace

void track(const void* handle) {
  std::lock_guard<std::mutex> lock(live_mutex);
  live.insert(handle);
}

void untrack(const void* handle, const char* what) {
  std::lock_guard<std::mutex> lock(live_mutex);
  if (!live.erase(handle))
    violation(what, "the cuDNN handle or descriptor is not live (destroyed twice, or never created)");
}

void require_live(const void* handle, const char* what) {
  std::lock_guard<std::mutex> lock(live_mutex);
  if (!live.count(handle)) violation(what, "the cuDNN handle or descriptor is not live (destroyed, or never created)");
}

void validate(const Problem& p) {
  const auto positive = [](const fcam::Shape& s) {
    return s.size() == 4 && s[0] > 0 && s[1] > 0 && s[2] > 0 && s[3] > 0;
  };
  const fcam::Conv2dGeometry& g = p.g;
  const bool geometry = g.stride_h > 0 && g.stride_w > 0 && g.dilation_h > 0 && g.dilation_w > 0 && g.pad_h >= 0 &&
                        g.pad_w >= 0 && g.groups > 0 && g.kernel_h == p.w[2] && g.kernel_w == p.w[3];
  if (!positive(p.x) || !positive(p.w) || !positive(p.y) || !geometry || p.x[1] != p.w[1] * g.groups ||
      p.w[0] % g.groups != 0 || g.out_h(p.x[2]) <= 0 || g.out_w(p.x[3]) <= 0 ||
      p.y != fcam::Shape{p.x[0], p.w[0], g.out_h(p.x[2]), g.out_w(p.x[3])})
    throw Refusal{CUDNN_STATUS_BAD_PARAM};
}

std::size_t workspace_bytes(Workspace kind, const Problem& p) {
  switch (kind) {
    case Workspace::none: return 0;
    case Workspace::small: return 1024 + 4 * static_cast<std::size_t>(fcam::numel_of(p.w));
    default: return 8 * static_cast<std::size_t>(fcam::numel_of(p.x) + fcam::numel_of(p.w) + fcam::numel_of(p.y));
  }
}

bool fft_fits(const Problem& p) {
  return p.operands == CUDNN_DATA_FLOAT && p.g.groups == 1 && p.g.stride_h == 1 && p.g.stride_w == 1 &&
         p.g.dilation_h == 1 && p.g.dilation_w == 1;
}

bool winograd_fits(const Problem& p) {
  return fft_fits(p) && p.g.kernel_h == p.g.kernel_w && (p.g.kernel_h == 3 || p.g.kernel_h == 5);
}

cudnnStatus_t run(cudnnHandle_t handle, Pass pass, const Problem& p, Arithmetic arithmetic, const void* a,
                  const void* b, void* out, float alpha, float beta, void* workspace, std::size_t given,
                  std::size_t needed, const char* what) {
  return guarded([&] {
    require_live(handle, what);
    validate(p);
    if (given < needed || (needed > 0 && workspace == nullptr)) throw Refusal{CUDNN_STATUS_BAD_PARAM};
    // The operands' shapes and types per pass; backward passes are float only.
    if (pass != Pass::forward && (p.operands != CUDNN_DATA_FLOAT || p.output != CUDNN_DATA_FLOAT))
      throw Refusal{CUDNN_STATUS_NOT_SUPPORTED};
    const fcam::Shape a_shape = pass == Pass::backward_data ? p.w : p.x;
    const fcam::Shape b_shape = pass == Pass::forward ? p.w : p.y;
    const fcam::Shape out_shape = pass == Pass::forward ? p.y : pass == Pass::backward_data ? p.x : p.w;
    const Problem problem = p;
    enqueue_on(handle, what, [=] {
      if (needed > 0) {  // the algorithm's scratch: cuDNN leaves it in no particular state
        require_device_range(workspace, needed, what);
        std::memset(workspace, 0xA5, needed);
      }
      const fcam::Tensor<float> r = compute(pass, problem, read(a, a_shape, problem.operands, what),
                                            read(b, b_shape, pass == Pass::forward ? problem.operands : problem.output,
                                                 what),
                                            arithmetic);
      if (r.shape() != out_shape) violation(what, "the emulated result has the wrong shape");
      write(r, out, pass == Pass::forward ? problem.output : CUDNN_DATA_FLOAT, alpha, beta, what);
    });
  });
}

cudnnStatus_t add_bias(cudnnHandle_t handle, const fcam::Shape& y_shape, const void* bias, void* y, float alpha,
                       float beta) {
  return guarded([&] {
    require_live(handle, "cudnnAddTensor");
    enqueue_on(handle, "cudnnAddTensor", [=] {
      const fcam::Tensor<float> b = read(bias, {y_shape[1]}, CUDNN_DATA_FLOAT, "cudnnAddTensor bias");
      fcam::Tensor<float> r = fcam::Tensor<float>::uninitialized(y_shape);
      const std::int64_t plane = y_shape[2] * y_shape[3];
      for (std::int64_t i = 0; i < r.numel(); ++i) r.data()[i] = b.data()[(i / plane) % y_shape[1]];
      write(r, y, CUDNN_DATA_FLOAT, alpha, beta, "cudnnAddTensor output");
    });
  });
}

cudnnStatus_t bias_gradient(cudnnHandle_t handle, const fcam::Shape& dy_shape, const void* dy, void* db, float alpha,
                            float beta) {
  return guarded([&] {
    require_live(handle, "cudnnConvolutionBackwardBias");
    enqueue_on(handle, "cudnnConvolutionBackwardBias", [=] {
      const fcam::Tensor<float> g = read(dy, dy_shape, CUDNN_DATA_FLOAT, "cudnnConvolutionBackwardBias input");
      fcam::Tensor<float> r({dy_shape[1]});
      const std::int64_t plane = dy_shape[2] * dy_shape[3];
      for (std::int64_t c = 0; c < dy_shape[1]; ++c) {
        double sum = 0.0;
        for (std::int64_t n = 0; n < dy_shape[0]; ++n)
          for (std::int64_t i = 0; i < plane; ++i) sum += g.data()[(n * dy_shape[1] + c) * plane + i];
        r.data()[c] = static_cast<float>(sum);
      }
      write(r, db, CUDNN_DATA_FLOAT, alpha, beta, "cudnnConvolutionBackwardBias output");
    });
  });
}

}  // namespace fcam_emu::cudnn

using namespace fcam_emu::cudnn;

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) { return create(handle, new cudnnContext); }

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) { return destroy(handle, "cudnnDestroy"); }

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
  require_live(handle, "cudnnSetStream");
  handle->stream = stream;
  return CUDNN_STATUS_SUCCESS;
}

const char* cudnnGetErrorString(cudnnStatus_t status) {
  switch (status) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    default: return "CUDNN_STATUS_EXECUTION_FAILED";
  }
}

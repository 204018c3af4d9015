// The CUDA emulation has no cuDNN, so fcam's cuDNN convolutions (cuda/conv2d.cpp,
// conv2d_graph.cpp) are left out of its build and these stand-ins run fcam's CPU convolution in
// their place, as stream work (so that a captured plan replays them). The cases that test the
// convolution itself are tagged [cudnn] and do not run on the emulation: here both sides of
// their comparison would be the same CPU code. What the stand-ins let run is everything around
// the convolutions: the models, plans, CAM methods and training steps on the other kernels.
#include <cstring>

#include <cuda_runtime.h>

#include "context.hpp"
#include "fcam/core/error.hpp"
#include "fcam/cuda/api.hpp"
#include "fcam/cuda/ops/conv2d.hpp"
#include "fcam/ops/cpu/conv2d.hpp"

namespace fcam::cuda {

namespace {

/// A host tensor of `shape` holding the device data at `p`, which must lie in one allocation.
Tensor<float> host_copy(const float* p, const Shape& shape, const char* what) {
  auto t = Tensor<float>::uninitialized(shape);
  const std::size_t bytes = sizeof(float) * static_cast<std::size_t>(t.numel());
  fcam_emu::require_device_range(p, bytes, what);
  if (bytes > 0) std::memcpy(t.data(), p, bytes);
  return t;
}

/// Writes t to the device data at `p`, which must lie in one allocation.
void write_back(const Tensor<float>& t, float* p, const char* what) {
  const std::size_t bytes = sizeof(float) * static_cast<std::size_t>(t.numel());
  fcam_emu::require_device_range(p, bytes, what);
  if (bytes > 0) std::memcpy(p, t.data(), bytes);
}

void enqueue_on_stream(const char* what, std::function<void()> work) {
  const cudaError_t queued = fcam_emu::enqueue(stream(), what, std::move(work));
  FCAM_CHECK(queued == cudaSuccess, what, " (CUDA emulation): ", cudaGetErrorString(queued));
}

}  // namespace

Tensor<float> conv2d(const Tensor<float>& x, const Tensor<float>& weight, const Tensor<float>& bias,
                     const Conv2dGeometry& g, const Shape& out) {
  FCAM_CHECK(!bf16_enabled(), "conv2d (CUDA emulation): bfloat16 convolutions are cuDNN's; run this on a GPU");
  auto y = Tensor<float>::uninitialized(out, Device::cuda);
  if (y.numel() == 0) return y;
  const float* xp = x.data();
  const float* wp = weight.data();
  const float* bp = bias.defined() ? bias.data() : nullptr;
  float* yp = y.data();
  const Shape xs = x.shape(), ws = weight.shape(), bs = bias.defined() ? bias.shape() : Shape{};
  enqueue_on_stream("conv2d", [=] {
    const Tensor<float> host_bias = bp ? host_copy(bp, bs, "conv2d bias") : Tensor<float>();
    write_back(cpu::conv2d(host_copy(xp, xs, "conv2d input"), host_copy(wp, ws, "conv2d weight"), host_bias, g, out),
               yp, "conv2d output");
  });
  return y;
}

Tensor<float> conv2d_backward(const Tensor<float>& x, const Tensor<float>& weight, const Tensor<float>& grad_y,
                              const Conv2dGeometry& g, bool need_grad_x, Tensor<float>* grad_weight,
                              Tensor<float>* grad_bias) {
  Tensor<float> grad_x;
  if (need_grad_x) grad_x = Tensor<float>::uninitialized(x.shape(), Device::cuda);
  const float* xp = x.data();
  const float* wp = weight.data();
  const float* dyp = grad_y.data();
  float* dxp = need_grad_x ? grad_x.data() : nullptr;
  float* dwp = grad_weight ? grad_weight->data() : nullptr;
  float* dbp = grad_bias ? grad_bias->data() : nullptr;
  const Shape xs = x.shape(), ws = weight.shape(), ys = grad_y.shape();
  const Shape bs = grad_bias ? grad_bias->shape() : Shape{};
  enqueue_on_stream("conv2d_backward", [=] {
    // The weight and bias gradients are added to, as by cuDNN with beta = 1.
    Tensor<float> dw = dwp ? host_copy(dwp, ws, "conv2d weight gradient") : Tensor<float>();
    Tensor<float> db = dbp ? host_copy(dbp, bs, "conv2d bias gradient") : Tensor<float>();
    const Tensor<float> dx =
        cpu::conv2d_backward(host_copy(xp, xs, "conv2d input"), host_copy(wp, ws, "conv2d weight"),
                             host_copy(dyp, ys, "conv2d output gradient"), g, need_grad_x, dwp ? &dw : nullptr,
                             dbp ? &db : nullptr);
    if (dxp) write_back(dx, dxp, "conv2d input gradient");
    if (dwp) write_back(dw, dwp, "conv2d weight gradient");
    if (dbp) write_back(db, dbp, "conv2d bias gradient");
  });
  return grad_x;
}

}  // namespace fcam::cuda

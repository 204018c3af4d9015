/// \file
/// \brief The CUDA emulation's model of cuDNN's convolutions, shared by its legacy API
/// (cudnn_legacy.cpp) and its graph API (cudnn_graph.cpp): the problem a set of descriptors
/// describes, what an algorithm or engine does to the arithmetic, and the run itself, queued on
/// the handle's stream with every operand checked against the device allocations.
///
/// Why a model and not a pass-through to the CPU: fcam's cuda/conv2d.cpp and conv2d_graph.cpp
/// choose among cuDNN's candidates by their notes (tensor cores, FFT, Winograd, determinism) and
/// keep plans, workspaces and data types per geometry. The model offers candidates that those
/// rules must refuse, ranked first, and makes a wrong choice visible in the results:
/// - tensor-core math on float operands rounds them to TF32 (10 explicit mantissa bits), as
///   Ampere and later GPUs do;
/// - FFT algorithms, and Winograd ones on kernels other than 3×3, round the operands the same
///   way: a stand-in for their transform error (cuDNN's FFT gave an NMSE of 5.7e-7 on an H200;
///   TF32 rounding gives up to about 1e-6 on the tests' geometries), about fcam's float bound
///   (1e-7) and below its TF32 one (1e-5);
/// - nondeterministic algorithms change the last bit of some outputs from call to call, as
///   order-dependent atomics do;
/// - an engine with reduced-precision sums writes NaN: fcam must never take it.
///
/// Otherwise an algorithm computes fcam's CPU convolution of its operands: the emulation tests
/// the calls, the choices and the data flow around cuDNN, not cuDNN's kernels.
#pragma once

#include <cudnn.h>

#include <cstddef>
#include <cstdint>

#include "fcam/core/shape.hpp"
#include "fcam/ops/conv2d_geometry.hpp"

struct cudnnContext {
  cudaStream_t stream = nullptr;  ///< where the handle's work is queued (cudnnSetStream)
};

namespace fcam_emu::cudnn {

/// Thrown inside the emulated API and returned to the caller as its status.
struct Refusal {
  cudnnStatus_t status;
};

/// Registers a handle or descriptor as live (created and not yet destroyed).
void track(const void* handle);
/// Unregisters it; a handle that is not live stops the program (violation()), naming `what`.
void untrack(const void* handle, const char* what);
/// Stops the program unless `handle` is live.
void require_live(const void* handle, const char* what);

/// A cuDNN Create…: `object` (new) becomes live and is stored in *out.
template <class T, class Out>
cudnnStatus_t create(Out* out, T* object) {
  *out = object;
  track(object);
  return CUDNN_STATUS_SUCCESS;
}
/// A cuDNN Destroy…: `object` must be live; it is deleted.
template <class T>
cudnnStatus_t destroy(T* object, const char* what) {
  untrack(object, what);
  delete object;
  return CUDNN_STATUS_SUCCESS;
}

/// One convolution as descriptors give it: NCHW input, KCRS weight, NCHW output, the geometry
/// (symmetric padding) and the data types of the operands and of the output.
struct Problem {
  fcam::Shape x, w, y;
  fcam::Conv2dGeometry g;
  cudnnDataType_t operands = CUDNN_DATA_FLOAT;
  cudnnDataType_t output = CUDNN_DATA_FLOAT;
};

/// Throws Refusal{CUDNN_STATUS_BAD_PARAM} unless the shapes agree: positive sizes, input channels
/// = weight channels × groups, output channels a multiple of the groups, the output of cuDNN's
/// size formula.
void validate(const Problem& p);

/// What a candidate does to the arithmetic (see the file's comment).
enum class Arithmetic { exact, tf32_operands, nondeterministic, poisoned };

/// Workspace a candidate asks for: none, small (index tables) or large (transformed copies).
enum class Workspace { none, small, large };
std::size_t workspace_bytes(Workspace kind, const Problem& p);

enum class Pass { forward, backward_data, backward_filter };

/// Whether an FFT or non-fused Winograd candidate can run the problem (float operands, one group,
/// unit stride and dilation; Winograd also a 3×3 or 5×5 kernel).
bool fft_fits(const Problem& p);
bool winograd_fits(const Problem& p);

/// Queues `pass` of `p` on the handle's stream. The operands are (forward) x, w → y,
/// (backward data) w, dy → dx, (backward filter) x, dy → dw; the result r is written as
/// alpha·r + beta·out (out is not read when beta is 0). The workspace, `needed` bytes of the
/// `given`, is checked and overwritten. Returns the status (the work itself checks the ranges
/// when it runs: a graph replay may run after a free).
cudnnStatus_t run(cudnnHandle_t handle, Pass pass, const Problem& p, Arithmetic arithmetic, const void* a,
                  const void* b, void* out, float alpha, float beta, void* workspace, std::size_t given,
                  std::size_t needed, const char* what);

/// Queues cudnnAddTensor's y = alpha·bias[c] + beta·y (bias of shape 1×C×1×1, float).
cudnnStatus_t add_bias(cudnnHandle_t handle, const fcam::Shape& y_shape, const void* bias, void* y, float alpha,
                       float beta);
/// Queues cudnnConvolutionBackwardBias's db[c] = alpha·Σ_{n,h,w} dy + beta·db[c] (float).
cudnnStatus_t bias_gradient(cudnnHandle_t handle, const fcam::Shape& dy_shape, const void* dy, void* db, float alpha,
                            float beta);

/// Runs the API body `f`, turning a Refusal into its status.
template <class F>
cudnnStatus_t guarded(F&& f) {
  try {
    f();
    return CUDNN_STATUS_SUCCESS;
  } catch (const Refusal& r) {
    return r.status;
  }
}

}  // namespace fcam_emu::cudnn

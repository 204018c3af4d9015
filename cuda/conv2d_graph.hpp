/// \file
/// \brief Private to cuda/: forward convolution through cuDNN's graph (backend) API, with one
/// execution plan per geometry kept per thread.
///
/// Why: on an H200, cuDNN 9's legacy cudnnConvolutionForward costs 50-70 µs of host time per
/// call (benchmarks/gpu/results/h200-2026-11-29-run4), several times PyTorch's convolution
/// (13-15 µs, which runs a kept execution plan). At batch 1 a backbone's ~50 convolutions then
/// leave the GPU waiting for the host. A kept plan costs a variant pack and one execute per call.
#pragma once

#include "context.hpp"
#include "fcam/core/tensor.hpp"

namespace fcam {
struct Conv2dGeometry;
}

namespace fcam::cuda {

/// y = conv(x, weight) (cross-correlation, no bias) through a kept execution plan of cuDNN's graph
/// API, under the math modes (TF32, deterministic, fast convolutions). Returns false when cuDNN
/// has no acceptable engine for the geometry, or when a new plan fails its first execution (the
/// caller then uses the legacy API, which writes all of y); throws when a kept plan fails.
bool conv2d_forward_graph(const Tensor<float>& x, const Tensor<float>& weight, const Conv2dGeometry& g,
                          Tensor<float>& y);

/// The bfloat16 forward convolution (set_bf16) through the graph API: device data x and w in
/// bfloat16 of the shapes `x_shape` and `w_shape`, products accumulated in float, written to y of
/// `y_shape` in `output` (CUDNN_DATA_FLOAT or CUDNN_DATA_BFLOAT16). Returns false and throws as
/// conv2d_forward_graph does.
bool conv2d_forward_graph_bf16(const Shape& x_shape, const void* x, const Shape& w_shape, const void* w,
                               const Conv2dGeometry& g, const Shape& y_shape, void* y, cudnnDataType_t output);

}  // namespace fcam::cuda

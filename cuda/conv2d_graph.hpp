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
/// API, under the math modes (TF32, deterministic, fast convolutions). Returns false, having
/// done nothing, when cuDNN has no acceptable engine for the geometry (the caller then uses the
/// legacy API); throws on a failed execution.
bool conv2d_forward_graph(const Tensor<float>& x, const Tensor<float>& weight, const Conv2dGeometry& g,
                          Tensor<float>& y);

}  // namespace fcam::cuda

/// \file
/// \brief CPU depthwise convolution (one input and one output channel per group, as in
/// MobileNetV2's 3×3 layers), computed directly instead of by the GEMM.
///
/// Why: through the GEMM each group is a 1×(kh·kw) by (kh·kw)×P product, so the kernel's
/// register tile (MR output channels) holds one useful row and the rest is waste; a depthwise
/// layer then ran at about 7 GFLOP/s and the depthwise layers took ~30 % of a MobileNetV2
/// forward. Here each (image, channel) plane is zero-padded and split into its stride phases
/// once (PhaseLayout, as the GEMM's in-place path does); then every tap is one contiguous
/// multiply-add over the whole plane computed on the phase width Wq, and the epilogue writes
/// the Wo valid columns of each row into the output.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/conv2d_geometry.hpp"
#include "fcam/ops/cpu/conv2d_parts.hpp"
#include "fcam/ops/cpu/workspace.hpp"

namespace fcam::cpu {

/// True when a convolution with `weight` (O×C/groups×kh×kw) and `groups` has one input and one
/// output channel per group: depthwise_conv2d_forward computes it.
template <class T>
bool is_depthwise(const Tensor<T>& weight, std::int64_t groups) {
  return weight.size(1) == 1 && weight.size(0) == groups;
}

/// y = epilogue(depthwise conv(x, weight)). x: N×C×H×W; weight: C values of kh·kw taps each
/// (C×1×kh×kw, contiguous); y: N×C×H'×W', every element written. Planes are spread over the
/// threads; scratch memory is per thread (no allocation after the first call).
template <class T>
void depthwise_conv2d_forward(const Tensor<T>& x, const T* weight, const Conv2dGeometry& g, const ConvEpilogue<T>& e,
                              Tensor<T>& y) {
  using namespace detail;
  const ConvSizes s = conv_sizes(x, x.size(1), g);
  if (y.numel() == 0) return;
  const PhaseLayout L(s, g);
  // Computed on the phase width, the last plane row reads up to Wq + (kw−1)·dw past the plane.
  const std::int64_t slack = L.wq + (g.kernel_w - 1) * g.dilation_w;
  const std::int64_t taps = g.kernel_h * g.kernel_w, span = s.out_h * L.wq;
  parallel_items(s.n * s.c_in, [&](std::int64_t plane) {
    const std::int64_t c = plane % s.c_in;
    T* phased = scratch<T>(ScratchSlot::padded_input, static_cast<std::size_t>(L.plane + slack));
    split_phases(x.data() + plane * s.h * s.w, s, g, L, phased);
    std::fill(phased + L.plane, phased + L.plane + slack, T(0));
    T* wide = scratch<T>(ScratchSlot::wide_output, static_cast<std::size_t>(span));
    std::fill(wide, wide + span, T(0));
    const T* w = weight + c * taps;
    for (std::int64_t ki = 0; ki < g.kernel_h; ++ki)
      for (std::int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const std::int64_t dy = ki * g.dilation_h, dx = kj * g.dilation_w;
        const std::int64_t phase = (dy % g.stride_h) * g.stride_w + dx % g.stride_w;
        const T* src = phased + phase * L.hq * L.wq + (dy / g.stride_h) * L.wq + dx / g.stride_w;
        const T tap = w[ki * g.kernel_w + kj];
        for (std::int64_t i = 0; i < span; ++i) wide[i] += tap * src[i];
      }
    T* out = y.data() + plane * s.p;
    const T* residual = e.residual ? e.residual + plane * s.p : nullptr;
    for (std::int64_t r = 0; r < s.out_h; ++r)
      epilogue_row(e, c, wide + r * L.wq, out + r * s.out_w, residual ? residual + r * s.out_w : nullptr, s.out_w);
  });
}

}  // namespace fcam::cpu

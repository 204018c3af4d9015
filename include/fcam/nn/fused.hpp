/// \file
/// \brief Inference fusion: Conv2d → BatchNorm2d → (+ residual) → ReLU as one pass over the
/// output, and the chain runner that finds such runs in a list of layers.
///
/// Why: in evaluation mode without gradients BatchNorm is a per-channel affine map, so it, the
/// residual addition and the ReLU can be applied to each block of the convolution's output while
/// the GEMM still has it in cache, instead of three more passes over memory (and three more
/// parallel regions). With gradients on, or a module training, the modules run one by one as
/// usual, so backward sees exactly what it expects.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "fcam/nn/activation.hpp"
#include "fcam/nn/batchnorm2d.hpp"
#include "fcam/nn/conv2d.hpp"
#include "fcam/ops/elementwise.hpp"

namespace fcam::nn {

/// relu(bn(conv(x)) + residual), where bn, relu and residual are optional (null / undefined):
/// fused when the conv and the BatchNorm are in inference (Module::inference(); a ReLU has no
/// mode), else their forwards.
template <Scalar T>
Tensor<T> conv_bn_relu(Conv2d<T>& conv, BatchNorm2d<T>* bn, ReLU<T>* relu, const Tensor<T>& x,
                       const Tensor<T>& residual = Tensor<T>()) {
  const bool fuse = x.is_cpu() && conv.inference() && (!bn || bn->inference());
  if (!fuse) {
    Tensor<T> y = conv(x);
    if (bn) y = (*bn)(y);
    if (residual.defined()) y = add(y, residual);
    return relu ? (*relu)(y) : y;
  }
  const Tensor<T>& bias = conv.bias().value;
  ConvEpilogue<T> epilogue{.scale = Tensor<T>(), .shift = bias, .relu = relu != nullptr};
  if (bn) {
    auto [scale, shift] = bn->eval_affine();
    epilogue.scale = scale;
    epilogue.shift = bias.defined() ? add(shift, multiply(bias, scale)) : shift;  // (v + b)·s + t = v·s + (b·s + t)
  }
  return conv.forward_fused(x, epilogue, residual);
}

/// Runs layers[0 .. count) from x on, at least the first one; in inference, a Conv2d followed
/// by a BatchNorm2d and/or a ReLU among them runs fused. Returns how many layers were run.
template <Scalar T>
std::size_t forward_fusing(const std::unique_ptr<Module<T>>* layers, std::size_t count, Tensor<T>& x) {
  auto* conv = dynamic_cast<Conv2d<T>*>(layers[0].get());
  if (!conv || !conv->inference() || !x.is_cpu()) {
    x = layers[0]->forward(x);
    return 1;
  }
  std::size_t used = 1;
  auto* bn = used < count ? dynamic_cast<BatchNorm2d<T>*>(layers[used].get()) : nullptr;
  if (bn && !bn->inference()) {  // a BatchNorm left training: no fusion
    x = conv->forward(x);
    return 1;
  }
  if (bn) ++used;
  auto* relu = used < count ? dynamic_cast<ReLU<T>*>(layers[used].get()) : nullptr;
  if (relu) ++used;
  x = conv_bn_relu(*conv, bn, relu, x);
  return used;
}

}  // namespace fcam::nn

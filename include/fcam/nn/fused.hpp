/// \file
/// \brief Fusion of Conv2d → BatchNorm2d → (+ residual) → ReLU, and the chain runners that find
/// such runs in a list of layers.
///
/// Why: in evaluation mode without gradients BatchNorm is a per-channel affine map, so it, the
/// residual addition and the ReLU can be applied to each block of the convolution's output while
/// the GEMM still has it in cache, instead of three more passes over memory (and three more
/// parallel regions). With gradients on, or a module training, the convolution runs on its own
/// and BatchNorm, residual and ReLU make one pass after it (the BatchNorm's statistics need the
/// whole output first); in backward, the ReLU's mask is applied inside the BatchNorm's passes.
/// A training convolution followed directly by a ReLU (VGG16) clamps its output in the GEMM's
/// epilogue, as in inference.
/// Every module still keeps what its own backward reads.
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
  const bool fuse = conv.inference() && (!bn || bn->inference());
  if (!fuse) {
    if (!bn && relu && !residual.defined()) {
      Tensor<T> y = conv.forward_relu(x);
      relu->keep_output(y);
      return y;
    }
    Tensor<T> y = conv(x);
    if (bn) {
      y = bn->forward_fused(y, residual, relu != nullptr);
      if (relu) relu->keep_output(y);
      return y;
    }
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

/// relu6(conv(x)): in inference (Module::inference()) one pass, the clamp in the convolution's
/// epilogue; else the two forwards (ReLU6's backward reads its input, which the fused pass never
/// has).
template <Scalar T>
Tensor<T> conv_relu6(Conv2d<T>& conv, ReLU6<T>& relu6, const Tensor<T>& x) {
  if (!conv.inference()) return relu6(conv(x));
  return conv.forward_fused(
      x, ConvEpilogue<T>{.scale = Tensor<T>(), .shift = conv.bias().value, .relu = true, .relu_max = T(6)});
}

/// Runs layers[0 .. count) from x on, at least the first one; a Conv2d followed by a
/// BatchNorm2d and/or a ReLU among them runs as conv_bn_relu, a Conv2d followed by a ReLU6 as
/// conv_relu6. Returns how many layers were run.
template <Scalar T>
std::size_t forward_fusing(const std::unique_ptr<Module<T>>* layers, std::size_t count, Tensor<T>& x) {
  auto* conv = dynamic_cast<Conv2d<T>*>(layers[0].get());
  if (!conv) {
    x = layers[0]->forward(x);
    return 1;
  }
  std::size_t used = 1;
  auto* bn = used < count ? dynamic_cast<BatchNorm2d<T>*>(layers[used].get()) : nullptr;
  if (bn) ++used;
  auto* relu6 = !bn && used < count ? dynamic_cast<ReLU6<T>*>(layers[used].get()) : nullptr;
  if (relu6) {
    x = conv_relu6(*conv, *relu6, x);
    return used + 1;
  }
  auto* relu = used < count ? dynamic_cast<ReLU<T>*>(layers[used].get()) : nullptr;
  if (relu) ++used;
  x = conv_bn_relu(*conv, bn, relu, x);
  return used;
}

/// Runs the backward of layers[count − 1], or of a BatchNorm2d and the ReLU after it together
/// (BatchNorm2d::backward_after_relu), from g on. Returns how many layers were run.
template <Scalar T>
std::size_t backward_fusing(const std::unique_ptr<Module<T>>* layers, std::size_t count, Tensor<T>& g) {
  auto* relu = dynamic_cast<ReLU<T>*>(layers[count - 1].get());
  auto* bn = relu && count > 1 ? dynamic_cast<BatchNorm2d<T>*>(layers[count - 2].get()) : nullptr;
  if (!bn) {
    g = layers[count - 1]->backward(g);
    return 1;
  }
  g = bn->backward_after_relu(relu->output(), g);
  return 2;
}

}  // namespace fcam::nn

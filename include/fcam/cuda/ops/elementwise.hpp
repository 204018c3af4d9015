/// \file
/// \brief CUDA kernels of the element-wise ops (ops/elementwise.hpp, ops/scale.hpp) and the keyed
/// noise of ops/random.hpp, float tensors.
#pragma once

#include <cstdint>

#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// max(x, 0).
Tensor<float> relu(const Tensor<float>& x);
/// dy where y > 0, else 0.
Tensor<float> relu_backward(const Tensor<float>& y, const Tensor<float>& grad_y);
/// min(max(x, 0), 6).
Tensor<float> relu6(const Tensor<float>& x);
/// dy where 0 < x < 6, else 0.
Tensor<float> relu6_backward(const Tensor<float>& x, const Tensor<float>& grad_y);
/// a + b.
Tensor<float> add(const Tensor<float>& a, const Tensor<float>& b);
/// x * m.
Tensor<float> multiply(const Tensor<float>& x, const Tensor<float>& m);
/// x * factor.
Tensor<float> scaled(const Tensor<float>& x, double factor);
/// In place: t[i] += float(sigma · keyed_normal(key, i)) (ops/keyed_noise_rule.hpp).
void add_keyed_normal_noise(Tensor<float>& t, double sigma, std::uint64_t key);
/// Dropout's mask of `shape`: keyed_dropout_value(key, i, p, float(1/(1 − p))), 0 when p = 1.
Tensor<float> keyed_dropout_mask(const Shape& shape, double p, std::uint64_t key);
/// The convolution epilogue in place on y (N×C×H×W): y = y·scale[c] + shift[c] (+ residual),
/// then min(max(y, 0), relu_max) when `relu`; undefined scale = 1, shift = 0, residual = none.
void channel_epilogue(Tensor<float>& y, const Tensor<float>& scale, const Tensor<float>& shift,
                      const Tensor<float>& residual, bool relu, float relu_max);

}  // namespace fcam::cuda

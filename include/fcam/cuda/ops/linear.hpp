/// \file
/// \brief CUDA fully connected layer (cuBLAS) behind ops/linear.hpp, float tensors.
#pragma once

#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// y = x·Wᵀ + b for x N×I, W O×I, b O (or undefined).
Tensor<float> linear(const Tensor<float>& x, const Tensor<float>& weight, const Tensor<float>& bias);
/// dx = dy·W; adds dW += dyᵀ·x and db += Σ_rows dy into the non-null targets.
Tensor<float> linear_backward(const Tensor<float>& x, const Tensor<float>& weight, const Tensor<float>& grad_y,
                              Tensor<float>* grad_weight, Tensor<float>* grad_bias);

}  // namespace fcam::cuda

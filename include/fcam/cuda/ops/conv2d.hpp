/// \file
/// \brief CUDA convolution (cuDNN) behind ops/conv2d.hpp, float tensors.
#pragma once

#include "fcam/core/tensor.hpp"

namespace fcam {
struct Conv2dGeometry;  // ops/conv2d_geometry.hpp; cuda/ stays below ops/ in the include graph
}  // namespace fcam

namespace fcam::cuda {

/// y = conv(x, weight) + bias (bias may be undefined) into a new N×O×H'×W' tensor.
Tensor<float> conv2d(const Tensor<float>& x, const Tensor<float>& weight, const Tensor<float>& bias,
                     const Conv2dGeometry& g, const Shape& out);
/// Returns dL/dx (undefined unless need_grad_x) and adds dL/dW, dL/db into the non-null targets.
Tensor<float> conv2d_backward(const Tensor<float>& x, const Tensor<float>& weight, const Tensor<float>& grad_y,
                              const Conv2dGeometry& g, bool need_grad_x, Tensor<float>* grad_weight,
                              Tensor<float>* grad_bias);

}  // namespace fcam::cuda

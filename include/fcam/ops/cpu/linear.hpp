/// \file
/// \brief CPU kernels of the fully connected layer and its gradients (contracts in fcam/ops/linear.hpp).
///
/// The products are Eigen's, on row-major maps of the tensors' memory (no copies).
#pragma once

#include <Eigen/Core>

#include <cstdint>

#include "fcam/core/tensor.hpp"

namespace fcam::cpu {

namespace detail {
template <class T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix<T>>;
template <class T>
using MutMatrixMap = Eigen::Map<RowMajorMatrix<T>>;
}  // namespace detail

/// y = x·Wᵀ (+ b when defined): x N×in, weight out×in, bias out → N×out.
template <Scalar T>
Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias) {
  using detail::ConstMatrixMap;
  using detail::MutMatrixMap;
  Tensor<T> y({x.size(0), weight.size(0)});
  MutMatrixMap<T> out(y.data(), x.size(0), weight.size(0));
  out.noalias() = ConstMatrixMap<T>(x.data(), x.size(0), x.size(1)) *
                  ConstMatrixMap<T>(weight.data(), weight.size(0), weight.size(1)).transpose();
  if (bias.defined())
    out.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias.data(), weight.size(0));
  return y;
}

/// dx = dy·W; adds dW += dyᵀ·x and db += Σ_rows dy when those are non-null.
template <Scalar T>
Tensor<T> linear_backward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& grad_y, Tensor<T>* grad_weight,
                          Tensor<T>* grad_bias) {
  using detail::ConstMatrixMap;
  using detail::MutMatrixMap;
  const std::int64_t n = x.size(0), in = x.size(1), out = weight.size(0);
  ConstMatrixMap<T> dy(grad_y.data(), n, out), xm(x.data(), n, in), wm(weight.data(), out, in);
  Tensor<T> grad_x({n, in});
  MutMatrixMap<T>(grad_x.data(), n, in).noalias() = dy * wm;
  if (grad_weight) MutMatrixMap<T>(grad_weight->data(), out, in).noalias() += dy.transpose() * xm;
  if (grad_bias)
    Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(grad_bias->data(), out) += dy.colwise().sum();
  return grad_x;
}

}  // namespace fcam::cpu

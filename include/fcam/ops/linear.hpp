/// \file
/// \brief Fully connected layer y = x·Wᵀ + b and its gradients (Eigen products).
#pragma once

#include <Eigen/Core>

#include <type_traits>

#include "fcam/core/tensor.hpp"

namespace fcam {

namespace detail {
template <class T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix<T>>;
template <class T>
using MutMatrixMap = Eigen::Map<RowMajorMatrix<T>>;
}  // namespace detail

/// x: N×in, weight: out×in, bias: out or undefined → N×out.
template <Scalar T>
Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias) {
  x.require_cpu("linear");
  check_rank(x, 2, "linear input");
  check_rank(weight, 2, "linear weight");
  FCAM_CHECK(x.size(1) == weight.size(1), "linear: input has ", x.size(1), " features but the weight expects ",
             weight.size(1), " (weight shape ", to_string(weight.shape()), ")");
  if (bias.defined())
    FCAM_CHECK(bias.ndim() == 1 && bias.size(0) == weight.size(0), "linear: bias shape ", to_string(bias.shape()),
               " does not match ", weight.size(0), " outputs");
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

/// Gradient of linear: returns dL/dx and adds dL/dweight, dL/dbias (when non-null).
template <Scalar T>
Tensor<T> linear_backward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& grad_y,
                          std::type_identity_t<Tensor<T>>* grad_weight,
                          std::type_identity_t<Tensor<T>>* grad_bias) {
  grad_y.require_cpu("linear_backward");
  FCAM_CHECK(grad_y.shape() == Shape({x.size(0), weight.size(0)}), "linear_backward: gradient shape ",
             to_string(grad_y.shape()), " does not match the output");
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

}  // namespace fcam

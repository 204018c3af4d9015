/// \file
/// \brief nn::Linear: fully connected layer with optional bias.
#pragma once

#include <cmath>

#include "fcam/nn/module.hpp"
#include "fcam/ops/linear.hpp"

namespace fcam::nn {

/// PyTorch's Linear. Parameters "weight" (out×in) and, with bias, "bias" (out); initialised
/// U(−1/√in, 1/√in) like PyTorch.
template <Scalar T>
class Linear : public Module<T> {
public:
  /// in/out features (>= 1).
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true) {
    FCAM_CHECK(in_features >= 1 && out_features >= 1, "Linear: invalid sizes ", in_features, " -> ", out_features);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    weight_.reset(Tensor<T>({out_features, in_features}));
    uniform_(weight_.value, -bound, bound);
    this->register_parameter("weight", weight_);
    if (bias) {
      bias_.reset(Tensor<T>({out_features}));
      uniform_(bias_.value, -bound, bound);
      this->register_parameter("bias", bias_);
    }
  }
  Tensor<T> forward(const Tensor<T>& x) override {
    if (this->caching()) input_ = x;
    return linear(x, weight_.value, bias_.value);
  }
  Tensor<T> backward(const Tensor<T>& grad_y) override {
    this->require_cached(input_, "Linear");
    Tensor<T> grad_x =
        linear_backward(input_, weight_.value, grad_y, &weight_.grad, bias_.value.defined() ? &bias_.grad : nullptr);
    weight_.grad_ready();
    if (bias_.value.defined()) bias_.grad_ready();
    return grad_x;
  }
  /// The weight parameter.
  Parameter<T>& weight() { return weight_; }
  /// The bias parameter (value undefined without bias).
  Parameter<T>& bias() { return bias_; }

private:
  Parameter<T> weight_, bias_;
  Tensor<T> input_;
};

}  // namespace fcam::nn

/// \file
/// \brief nn::Dropout with its own seeded generator (identity in evaluation mode).
#pragma once

#include <cstdint>

#include "fcam/nn/module.hpp"
#include "fcam/ops/elementwise.hpp"
#include "fcam/ops/random.hpp"

namespace fcam::nn {

/// Zeroes each element with probability p in training and scales the rest by 1/(1−p).
/// Each forward pass draws one key from the module's own Rng, and the mask is keyed_dropout_mask
/// of that key, made on the input's device: runs are reproducible for a seed, and a GPU gives the
/// CPU's masks without copying them.
template <Scalar T>
class Dropout : public Module<T> {
public:
  /// requires: 0 <= p <= 1.
  explicit Dropout(double p = 0.5, std::uint64_t seed = 0) : p_(p), rng_(seed) {
    FCAM_CHECK(p >= 0.0 && p <= 1.0, "Dropout: probability must be in [0, 1], got ", p);
  }
  /// Restarts the mask sequence.
  void seed(std::uint64_t s) { rng_.reseed(s); }

  Tensor<T> forward(const Tensor<T>& x) override {
    if (!this->is_training() || p_ == 0.0) {
      mask_ = Tensor<T>();
      return x;
    }
    mask_ = keyed_dropout_mask<T>(x.shape(), p_, rng_.next_u64(), x.device());
    return multiply(x, mask_);
  }
  Tensor<T> backward(const Tensor<T>& grad_y) override {
    return mask_.defined() ? multiply(grad_y, mask_) : grad_y;
  }

private:
  double p_;
  Rng rng_;
  Tensor<T> mask_;
};

}  // namespace fcam::nn

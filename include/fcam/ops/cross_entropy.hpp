/// \file
/// \brief Mean cross-entropy of logits against class indices, with an ignore index, and its gradient.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/cross_entropy.hpp"
#include "fcam/ops/dispatch.hpp"
#include "fcam/ops/softmax.hpp"

namespace fcam {

/// Loss value and gradient with respect to the logits.
template <Scalar T>
struct CrossEntropyResult {
  T loss = 0;          ///< mean over the non-ignored targets (0 when every target is ignored)
  Tensor<T> grad;      ///< dL/dlogits, same shape as the logits
  std::int64_t count;  ///< number of non-ignored targets
};

/// Cross-entropy of `logits` (N×C or N×C×H×W) against `targets` (N or N·H·W class indices in
/// row-major order), averaged over targets that are not `ignore_index` (PyTorch's "mean"
/// reduction). Unlike PyTorch, which returns NaN, an all-ignored batch gives loss 0 and a zero
/// gradient, so partially labelled training never poisons the weights.
/// requires: every other target in [0, C), else fcam::Error naming it.
template <Scalar T>
CrossEntropyResult<T> cross_entropy(const Tensor<T>& logits, const std::vector<std::int64_t>& targets,
                                    std::int64_t ignore_index = -100) {
  const Device device = operand_device("cross_entropy", logits);
  std::int64_t n, c, inner;
  detail::channel_layout(logits, n, c, inner);
  FCAM_CHECK(static_cast<std::int64_t>(targets.size()) == n * inner, "cross_entropy: ", targets.size(),
             " targets for logits of shape ", to_string(logits.shape()), " (expected ", n * inner, ")");
  for (std::size_t k = 0; k < targets.size(); ++k) {
    const std::int64_t t = targets[k];
    FCAM_CHECK(t == ignore_index || (t >= 0 && t < c), "cross_entropy: target ", t, " at position ", k,
               " is outside [0, ", c, ")");
  }
  CrossEntropyResult<T> r{T(0), Tensor<T>(), 0};
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      r.grad = cuda::cross_entropy(logits, targets, ignore_index, n, c, inner, r.loss, r.count);
      return r;
    } else cuda::unavailable_for<T>("cross_entropy");
  }
  r.grad = cpu::cross_entropy(logits, targets, ignore_index, n, c, inner, r.loss, r.count);
  return r;
}

}  // namespace fcam

/// \file
/// \brief Mean cross-entropy of logits against class indices, with an ignore index, and its gradient.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fcam/core/loss_sums.hpp"
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
namespace detail {
/// Checks the targets of cross_entropy against the logits' layout (n, c, inner).
inline void check_targets(const std::vector<std::int64_t>& targets, std::int64_t ignore_index, const Shape& shape,
                          std::int64_t n, std::int64_t c, std::int64_t inner) {
  FCAM_CHECK(static_cast<std::int64_t>(targets.size()) == n * inner, "cross_entropy: ", targets.size(),
             " targets for logits of shape ", to_string(shape), " (expected ", n * inner, ")");
  for (std::size_t k = 0; k < targets.size(); ++k) {
    const std::int64_t t = targets[k];
    FCAM_CHECK(t == ignore_index || (t >= 0 && t < c), "cross_entropy: target ", t, " at position ", k,
               " is outside [0, ", c, ")");
  }
}
}  // namespace detail

template <Scalar T>
CrossEntropyResult<T> cross_entropy(const Tensor<T>& logits, const std::vector<std::int64_t>& targets,
                                    std::int64_t ignore_index = -100) {
  const Device device = operand_device("cross_entropy", logits);
  std::int64_t n, c, inner;
  detail::channel_layout(logits, n, c, inner);
  detail::check_targets(targets, ignore_index, logits.shape(), n, c, inner);
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

/// cross_entropy whose mean loss is added to `into` (a LossSums slot on the logits' device)
/// instead of returned, so that on a GPU nothing waits for the device; returns the gradient. On
/// the CPU it adds cross_entropy's loss as returned (rounded to T).
template <Scalar T>
Tensor<T> cross_entropy_into(const Tensor<T>& logits, const std::vector<std::int64_t>& targets, LossSlot into,
                             std::int64_t ignore_index = -100) {
  const Device device = operand_device("cross_entropy", logits);
  check_slot(into, device, "cross_entropy");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      std::int64_t n, c, inner;
      detail::channel_layout(logits, n, c, inner);
      detail::check_targets(targets, ignore_index, logits.shape(), n, c, inner);
      return cuda::cross_entropy_into(logits, targets, ignore_index, n, c, inner, into.at);
    } else {
      cuda::unavailable_for<T>("cross_entropy");
    }
  }
  CrossEntropyResult<T> r = cross_entropy(logits, targets, ignore_index);
  *into.at += static_cast<double>(r.loss);
  return r.grad;
}

}  // namespace fcam

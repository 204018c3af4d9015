/// \file
/// \brief Mean cross-entropy of logits against class indices, with an ignore index, and its gradient.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"
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
  logits.require_cpu("cross_entropy");
  std::int64_t n, c, inner;
  detail::channel_layout(logits, n, c, inner);
  FCAM_CHECK(static_cast<std::int64_t>(targets.size()) == n * inner, "cross_entropy: ", targets.size(),
             " targets for logits of shape ", to_string(logits.shape()), " (expected ", n * inner, ")");
  Tensor<T> prob = softmax_channels(logits);
  CrossEntropyResult<T> r{T(0), prob, 0};
  double total = 0;
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t i = 0; i < inner; ++i) {
      const std::int64_t t = targets[static_cast<std::size_t>(b * inner + i)];
      T* p = r.grad.data() + b * c * inner + i;
      if (t == ignore_index) {
        for (std::int64_t k = 0; k < c; ++k) p[k * inner] = 0;
        continue;
      }
      FCAM_CHECK(t >= 0 && t < c, "cross_entropy: target ", t, " at position ", b * inner + i,
                 " is outside [0, ", c, ")");
      // log-softmax computed from the logits directly for accuracy
      const T* z = logits.data() + b * c * inner + i;
      T m = z[0];
      for (std::int64_t k = 1; k < c; ++k) m = std::max(m, z[k * inner]);
      double sum = 0;
      for (std::int64_t k = 0; k < c; ++k) sum += std::exp(static_cast<double>(z[k * inner] - m));
      total += std::log(sum) - static_cast<double>(z[t * inner] - m);
      p[t * inner] -= T(1);
      ++r.count;
    }
  if (r.count == 0) return r;
  r.loss = static_cast<T>(total / static_cast<double>(r.count));
  const T scale = T(1) / static_cast<T>(r.count);
  T* g = r.grad.data();
  for (std::int64_t i = 0; i < r.grad.numel(); ++i) g[i] *= scale;
  return r;
}

}  // namespace fcam

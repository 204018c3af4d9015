/// \file
/// \brief CPU kernel of the mean cross-entropy and its gradient (contract in fcam/ops/cross_entropy.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/softmax.hpp"

namespace fcam::cpu {

/// Cross-entropy of logits (batch × channels × inner) against `targets` (batch·inner indices, each
/// in [0, channels) or `ignore_index`: the contract checked them). Returns dL/dlogits and writes
/// the mean loss over the `count` non-ignored targets (0 and a zero gradient when there are none).
template <Scalar T>
Tensor<T> cross_entropy(const Tensor<T>& logits, const std::vector<std::int64_t>& targets, std::int64_t ignore_index,
                        std::int64_t n, std::int64_t c, std::int64_t inner, T& loss, std::int64_t& count) {
  // The gradient starts as the softmax; the target's probability then loses 1.
  Tensor<T> grad = softmax_channels(logits, n, c, inner);
  loss = T(0);
  count = 0;
  double total = 0;
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t i = 0; i < inner; ++i) {
      const std::int64_t t = targets[static_cast<std::size_t>(b * inner + i)];
      T* p = grad.data() + b * c * inner + i;
      if (t == ignore_index) {
        for (std::int64_t k = 0; k < c; ++k) p[k * inner] = 0;
        continue;
      }
      // log-softmax computed from the logits directly for accuracy
      const T* z = logits.data() + b * c * inner + i;
      T m = z[0];
      for (std::int64_t k = 1; k < c; ++k) m = std::max(m, z[k * inner]);
      double sum = 0;
      for (std::int64_t k = 0; k < c; ++k) sum += std::exp(static_cast<double>(z[k * inner] - m));
      total += std::log(sum) - static_cast<double>(z[t * inner] - m);
      p[t * inner] -= T(1);
      ++count;
    }
  if (count == 0) return grad;
  loss = static_cast<T>(total / static_cast<double>(count));
  const T scale = T(1) / static_cast<T>(count);
  T* g = grad.data();
  for (std::int64_t i = 0; i < grad.numel(); ++i) g[i] *= scale;
  return grad;
}

}  // namespace fcam::cpu

/// \file
/// \brief CPU kernel of the labelled two-class cross-entropy (fcam/ops/labelled_cross_entropy.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "fcam/core/label_map.hpp"
#include "fcam/core/tensor.hpp"

namespace fcam::cpu {

/// Σ over the pixels labelled 0 or 1 of −log softmax(z)[label] for `logits` N×2×H×W, in double,
/// image by image in pixel order; with `grad`, writes grad_scale·∂/∂z there (0 where unlabelled).
template <Scalar T>
double labelled_cross_entropy(const Tensor<T>& logits, const LabelMap& labels, double grad_scale,
                              Tensor<T>* grad) {
  const std::int64_t batch = logits.size(0), plane = logits.size(2) * logits.size(3);
  double total = 0;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t i = 0; i < plane; ++i) {
      const std::uint8_t label = labels.data()[b * plane + i];
      if (label > 1) continue;  // unlabelled
      const T* z = logits.data() + b * 2 * plane + i;
      const double z0 = z[0], z1 = z[plane], top = std::max(z0, z1);
      const double log_sum = top + std::log(std::exp(z0 - top) + std::exp(z1 - top));
      total += log_sum - (label == 1 ? z1 : z0);
      if (grad) {
        T* g = grad->data() + b * 2 * plane + i;
        const double p1 = std::exp(z1 - log_sum);
        g[0] = static_cast<T>(grad_scale * ((1 - p1) - (label == 0 ? 1 : 0)));
        g[plane] = static_cast<T>(grad_scale * (p1 - (label == 1 ? 1 : 0)));
      }
    }
  return total;
}

}  // namespace fcam::cpu

/// \file
/// \brief The partial cross-entropy of F-CAM's stage 2 (docs/method.md §5.1): cross-entropy of the
/// 2-channel segmentation logits against the sampled pseudo-labels, averaged over the labelled
/// pixels of the whole batch, weighted by α.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/losses/sampling_regions.hpp"

namespace fcam::losses {

/// α · mean over labelled pixels of −log softmax(logits)[label]. `logits` N×2×H×W, `labels` N·H·W
/// PixelLabel values (image-major). Writes ∂/∂logits into `grad` when non-null. No labelled
/// pixel: 0, and a zero gradient.
template <Scalar T>
T partial_cross_entropy(const Tensor<T>& logits, const std::vector<std::uint8_t>& labels, double alpha,
                        Tensor<T>* grad = nullptr) {
  check_rank(logits, 4, "partial_cross_entropy logits");
  FCAM_CHECK(logits.size(1) == 2, "partial_cross_entropy: expected 2 channels, got ", to_string(logits.shape()));
  const std::int64_t batch = logits.size(0), plane = logits.size(2) * logits.size(3);
  FCAM_CHECK(static_cast<std::int64_t>(labels.size()) == batch * plane, "partial_cross_entropy: ", labels.size(),
             " labels for logits ", to_string(logits.shape()));
  if (grad) *grad = Tensor<T>(logits.shape());
  const auto count = std::count_if(labels.begin(), labels.end(), [](std::uint8_t l) { return l != unlabelled; });
  if (count == 0) return T(0);
  const double scale = alpha / static_cast<double>(count);
  double total = 0;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t i = 0; i < plane; ++i) {
      const std::uint8_t label = labels[static_cast<std::size_t>(b * plane + i)];
      if (label == unlabelled) continue;
      FCAM_CHECK(label == background || label == foreground, "partial_cross_entropy: label ", int(label),
                 " is not 0, 1 or 255");
      const T* z = logits.data() + b * 2 * plane + i;
      const double z0 = z[0], z1 = z[plane], top = std::max(z0, z1);
      const double log_sum = top + std::log(std::exp(z0 - top) + std::exp(z1 - top));
      total += log_sum - (label == foreground ? z1 : z0);
      if (grad) {
        T* g = grad->data() + b * 2 * plane + i;
        const double p1 = std::exp(z1 - log_sum);
        g[0] = static_cast<T>(scale * ((1 - p1) - (label == background ? 1 : 0)));
        g[plane] = static_cast<T>(scale * (p1 - (label == foreground ? 1 : 0)));
      }
    }
  return static_cast<T>(scale * total);
}

}  // namespace fcam::losses

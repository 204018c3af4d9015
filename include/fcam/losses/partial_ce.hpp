/// \file
/// \brief The partial cross-entropy of F-CAM's stage 2 (docs/method.md §5.1): cross-entropy of the
/// 2-channel segmentation logits against the sampled pseudo-labels, averaged over the labelled
/// pixels of the whole batch, weighted by α.
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/core/label_map.hpp"
#include "fcam/core/loss_sums.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/labelled_cross_entropy.hpp"

namespace fcam::losses {

/// α · mean over labelled pixels of −log softmax(logits)[label]. `logits` N×2×H×W, `labels` N·H·W
/// PixelLabel values (image-major). Writes ∂/∂logits into `grad` when non-null. No labelled
/// pixel: 0, and a zero gradient.
template <Scalar T>
T partial_cross_entropy(const Tensor<T>& logits, const std::vector<std::uint8_t>& labels, double alpha,
                        Tensor<T>* grad = nullptr) {
  return static_cast<T>(labelled_cross_entropy(logits, labels, alpha, grad));
}

/// partial_cross_entropy of labels already on the logits' device (keyed_region_labels' output).
template <Scalar T>
T partial_cross_entropy(const Tensor<T>& logits, const LabelMap& labels, double alpha, Tensor<T>* grad = nullptr) {
  return static_cast<T>(labelled_cross_entropy(logits, labels, alpha, grad));
}

/// partial_cross_entropy added to `into` (a LossSums slot on the logits' device) instead of
/// returned, so that on a GPU nothing waits, not even for the sampler's labelled count; returns
/// ∂/∂logits.
template <Scalar T>
Tensor<T> partial_cross_entropy(const Tensor<T>& logits, const LabelMap& labels, double alpha, LossSlot into) {
  return labelled_cross_entropy_into(logits, labels, alpha, into);
}

}  // namespace fcam::losses

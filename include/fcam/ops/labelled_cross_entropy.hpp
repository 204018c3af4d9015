/// \file
/// \brief The element loop of the partial cross-entropy (docs/method.md §5.1): two-class
/// cross-entropy averaged over the labelled pixels only.
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/core/label_map.hpp"
#include "fcam/core/loss_sums.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/labelled_cross_entropy.hpp"
#include "fcam/ops/dispatch.hpp"

namespace fcam {

namespace detail {
/// Checks the operands of labelled_cross_entropy and returns their device.
template <Scalar T>
Device labelled_operands_device(const Tensor<T>& logits, const LabelMap& labels) {
  check_rank(logits, 4, "labelled_cross_entropy logits");
  FCAM_CHECK(logits.size(1) == 2, "labelled_cross_entropy: expected 2 channels, got ", to_string(logits.shape()));
  FCAM_CHECK(labels.size() == logits.size(0) * logits.size(2) * logits.size(3), "labelled_cross_entropy: ",
             labels.size(), " labels for logits ", to_string(logits.shape()));
  const Device device = operand_device("labelled_cross_entropy", logits);
  FCAM_CHECK(labels.size() == 0 || labels.device() == device, "labelled_cross_entropy: labels on ",
             to_string(labels.device()), ", logits on ", to_string(device));
  return device;
}
}  // namespace detail

/// weight · mean over the labelled pixels of −log softmax(logits)[label] (0 when no pixel is
/// labelled), summed in double. `logits` N×2×H×W, `labels` its N·H·W pixel labels on the same
/// device. When `grad` is non-null it becomes a tensor of the logits' shape holding the derivative
/// (0 at unlabelled pixels).
template <Scalar T>
double labelled_cross_entropy(const Tensor<T>& logits, const LabelMap& labels, double weight,
                              Tensor<T>* grad = nullptr) {
  const Device device = detail::labelled_operands_device(logits, labels);
  const std::int64_t labelled = labels.labelled();  // on a GPU, maybe a wait for the sampler's counts
  if (labelled == 0) {
    if (grad) *grad = Tensor<T>(logits.shape(), device);
    return 0.0;
  }
  const double scale = weight / static_cast<double>(labelled);
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      Tensor<T> g;
      const double total = cuda::labelled_cross_entropy(logits, labels, scale, g);
      if (grad) *grad = g;
      return scale * total;
    } else {
      cuda::unavailable_for<T>("labelled_cross_entropy");
    }
  }
  if (grad) *grad = Tensor<T>(logits.shape());
  return scale * cpu::labelled_cross_entropy(logits, labels, scale, grad);
}

/// labelled_cross_entropy whose value is added to `into` (a LossSums slot on the logits' device)
/// instead of returned; returns the gradient. On a GPU nothing waits for the device, not even for
/// the labelled count that keyed_region_labels leaves there (a CAM that held NaN then adds NaN).
template <Scalar T>
Tensor<T> labelled_cross_entropy_into(const Tensor<T>& logits, const LabelMap& labels, double weight, LossSlot into) {
  const Device device = detail::labelled_operands_device(logits, labels);
  check_slot(into, device, "labelled_cross_entropy");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      return cuda::labelled_cross_entropy_into(logits, labels, weight, into.at);
    } else {
      cuda::unavailable_for<T>("labelled_cross_entropy");
    }
  }
  Tensor<T> grad;
  *into.at += labelled_cross_entropy(logits, labels, weight, &grad);
  return grad;
}

/// labelled_cross_entropy of `labels` in host memory (0 background, 1 foreground, 255
/// unlabelled), copied to the logits' device first. Throws fcam::Error naming a value that is no
/// label.
template <Scalar T>
double labelled_cross_entropy(const Tensor<T>& logits, const std::vector<std::uint8_t>& labels, double weight,
                              Tensor<T>* grad = nullptr) {
  FCAM_CHECK(logits.defined(), "labelled_cross_entropy: an operand is undefined");
  check_rank(logits, 4, "labelled_cross_entropy logits");  // the count is checked before the copy
  FCAM_CHECK(static_cast<std::int64_t>(labels.size()) == logits.size(0) * logits.size(2) * logits.size(3),
             "labelled_cross_entropy: ", labels.size(), " labels for logits ", to_string(logits.shape()));
  return labelled_cross_entropy(logits, LabelMap::from_host(labels, logits.device()), weight, grad);
}

}  // namespace fcam

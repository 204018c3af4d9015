/// \file
/// \brief The k largest entries of each row of an N×K tensor (e.g. the top-5 classes of logits).
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/core/class_indices.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/top_k.hpp"
#include "fcam/ops/dispatch.hpp"

namespace fcam {

/// The result of top_k.
template <Scalar T>
struct TopK {
  Tensor<T> values;                  ///< N×k, each row largest first
  std::vector<std::int64_t> indices; ///< N·k column indices, row-major, aligned with values
};

/// \brief The k largest entries of each row of x, largest first, with their column indices.
///
/// Equal values keep their column order (the lower index first, as a stable sort in decreasing
/// order gives); NaN counts as larger than every number, as in torch.topk.
/// A CUDA tensor is copied to the host first (a few logits; the indices are host values anyway),
/// so the values come back on the CPU.
/// requires: x is N×K and 0 <= k <= K, else fcam::Error.
template <Scalar T>
TopK<T> top_k(const Tensor<T>& x, std::int64_t k) {
  check_rank(x, 2, "top_k input");
  const std::int64_t rows = x.size(0), cols = x.size(1);
  FCAM_CHECK(k >= 0 && k <= cols, "top_k: k = ", k, " is outside [0, ", cols, "] for a tensor of shape ",
             to_string(x.shape()));
  const Tensor<T> host = operand_device("top_k", x) == Device::cuda ? x.to(Device::cpu) : x;
  TopK<T> r{Tensor<T>::uninitialized({rows, k}), std::vector<std::int64_t>(static_cast<std::size_t>(rows * k))};
  cpu::top_k(host, rows, cols, k, r.values, r.indices);
  return r;
}

/// \brief The top class of each row of N×K logits (top_k's first index: the largest value, the
/// lower index among equals, NaN above every number), kept on the logits' device.
///
/// Why: a GPU CAM pass of the predicted class thus never reads the logits back, and can be
/// captured in a CUDA graph (models::InferencePlan, cam::plan_maps).
/// requires: x is N×K with K >= 1 (and K < 2³¹), else fcam::Error.
template <Scalar T>
ClassIndices top_class(const Tensor<T>& x) {
  check_rank(x, 2, "top_class input");
  const std::int64_t rows = x.size(0), cols = x.size(1);
  FCAM_CHECK(cols >= 1 && cols < (std::int64_t{1} << 31), "top_class: logits of shape ", to_string(x.shape()),
             " (need 1 to 2^31 - 1 classes)");
  if (operand_device("top_class", x) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      ClassIndices classes = ClassIndices::on_device(rows, cols);
      cuda::top_class(x, classes.device_data());
      return classes;
    } else {
      cuda::unavailable_for<T>("top_class");
    }
  }
  return ClassIndices(cpu::top_class(x, rows, cols));
}

}  // namespace fcam

/// \file
/// \brief Reductions whose few results host code decides on: per-plane sums (the size loss,
/// GradCAM++), per-item dot products (the CRF loss), the largest difference of two tensors (parity
/// checks), the first non-finite value, and a tensor's values on the host.
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/core/loss_sums.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/reduce.hpp"
#include "fcam/ops/dispatch.hpp"

namespace fcam {

/// Σ over each plane of an N×C×… tensor (every dimension after the second): N·C sums, row-major,
/// accumulated in double in memory order.
template <Scalar T>
std::vector<double> plane_sums(const Tensor<T>& x) {
  FCAM_CHECK(x.defined() && x.ndim() >= 2, "plane_sums: expects at least N×C, got ", to_string(x.shape()));
  const std::int64_t count = x.size(0) * x.size(1), length = count > 0 ? x.numel() / count : 0;
  if (operand_device("plane_sums", x) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::run_sums(x, count, length);
    else cuda::unavailable_for<T>("plane_sums");
  }
  return cpu::run_sums(x, count, length);
}

/// Σ a·b over each item (first dimension) of two tensors of one shape: N sums in double.
template <Scalar T>
std::vector<double> item_dots(const Tensor<T>& a, const Tensor<T>& b) {
  check_same_shape(a, b, "item_dots");
  FCAM_CHECK(a.defined() && a.ndim() >= 1, "item_dots: expects at least one dimension");
  const std::int64_t count = a.size(0), length = count > 0 ? a.numel() / count : 0;
  if (operand_device<T>("item_dots", {&a, &b}) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::run_dots(a, b, count, length);
    else cuda::unavailable_for<T>("item_dots");
  }
  return cpu::run_dots(a, b, count, length);
}

/// Adds factor · Σ_items item_dots(a, b) to `into` (a LossSums slot on the operands' device), the
/// items' dots added in order: on a GPU without copying them back (no wait).
template <Scalar T>
void add_item_dots(const Tensor<T>& a, const Tensor<T>& b, double factor, LossSlot into) {
  check_same_shape(a, b, "item_dots");
  FCAM_CHECK(a.defined() && a.ndim() >= 1, "item_dots: expects at least one dimension");
  const Device device = operand_device<T>("item_dots", {&a, &b});
  check_slot(into, device, "item_dots");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      const std::int64_t count = a.size(0), length = count > 0 ? a.numel() / count : 0;
      return cuda::add_run_dots(a, b, count, length, factor, into.at);
    } else {
      cuda::unavailable_for<T>("item_dots");
    }
  }
  double total = 0;
  for (const double v : item_dots(a, b)) total += v;
  *into.at += factor * total;
}

/// max |a − b| over the elements of two tensors of one shape (0 when empty).
template <Scalar T>
T max_abs_difference(const Tensor<T>& a, const Tensor<T>& b) {
  check_same_shape(a, b, "max_abs_difference");
  if (operand_device<T>("max_abs_difference", {&a, &b}) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::max_abs_difference(a, b);
    else cuda::unavailable_for<T>("max_abs_difference");
  }
  return cpu::max_abs_difference(a, b);
}

/// The flat index of the first NaN or infinity in `x`, or −1 when every value is finite (the
/// check behind "holds a non-finite value" errors on weights, inputs and outputs).
template <Scalar T>
std::int64_t first_non_finite(const Tensor<T>& x) {
  if (operand_device("first_non_finite", x) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::first_non_finite(x);
    else cuda::unavailable_for<T>("first_non_finite");
  }
  return cpu::first_non_finite(x);
}

/// A copy of the tensor's values, in row-major order, as host memory (from any device).
template <Scalar T>
std::vector<T> host_values(const Tensor<T>& x) {
  if (operand_device("host_values", x) == Device::cuda) return cpu::host_values(x.to(Device::cpu));
  return cpu::host_values(x);
}

}  // namespace fcam

/// \file
/// \brief CPU kernels of the reductions in fcam/ops/reduce.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"

namespace fcam::cpu {

/// Σ of each of the `count` consecutive runs of `length` values, accumulated in double in order.
template <Scalar T>
std::vector<double> run_sums(const Tensor<T>& x, std::int64_t count, std::int64_t length) {
  std::vector<double> sums(static_cast<std::size_t>(count), 0.0);
  for (std::int64_t r = 0; r < count; ++r) {
    const T* a = x.data() + r * length;
    double sum = 0;
    for (std::int64_t i = 0; i < length; ++i) sum += a[i];
    sums[static_cast<std::size_t>(r)] = sum;
  }
  return sums;
}

/// Σ a·b of each of the `count` consecutive runs of `length` values, in double, in order (runs
/// in parallel; each sum's order is fixed, so the result does not depend on the thread count).
template <Scalar T>
std::vector<double> run_dots(const Tensor<T>& a, const Tensor<T>& b, std::int64_t count, std::int64_t length) {
  std::vector<double> dots(static_cast<std::size_t>(count), 0.0);
  parallel_items(count, [&](std::int64_t r) {
    const T* x = a.data() + r * length;
    const T* y = b.data() + r * length;
    double sum = 0;
    for (std::int64_t i = 0; i < length; ++i) sum += static_cast<double>(x[i]) * y[i];
    dots[static_cast<std::size_t>(r)] = sum;
  });
  return dots;
}

/// max |a − b| over all elements (0 for empty tensors).
template <Scalar T>
T max_abs_difference(const Tensor<T>& a, const Tensor<T>& b) {
  T worst = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a.data()[i] - b.data()[i]));
  return worst;
}

/// The flat index of the first NaN or infinity, or −1.
template <Scalar T>
std::int64_t first_non_finite(const Tensor<T>& x) {
  const T* v = x.data();
  for (std::int64_t i = 0; i < x.numel(); ++i)
    if (!std::isfinite(v[i])) return i;
  return -1;
}

/// The values of a CPU tensor, in order.
template <Scalar T>
std::vector<T> host_values(const Tensor<T>& x) {
  return std::vector<T>(x.data(), x.data() + x.numel());
}

}  // namespace fcam::cpu

/// \file
/// \brief CPU kernels of top_k and top_class (contracts in fcam/ops/top_k.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/top_class_rule.hpp"

namespace fcam::cpu {

/// The k largest values of each row of the rows×cols tensor x, largest first, into `values`
/// (rows×k) and `indices` (rows·k, row-major). Ties go to the lower index and NaN counts as
/// larger than every number, so the order is a strict total order and the result does not depend
/// on the sort algorithm.
template <Scalar T>
void top_k(const Tensor<T>& x, std::int64_t rows, std::int64_t cols, std::int64_t k, Tensor<T>& values,
           std::vector<std::int64_t>& indices) {
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (x.numel() > (1 << 15))
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* in = x.data() + r * cols;
    auto before = [in](std::int64_t a, std::int64_t b) {
      const bool nan_a = std::isnan(in[a]), nan_b = std::isnan(in[b]);
      if (nan_a || nan_b) return nan_a && (!nan_b || a < b);
      return in[a] > in[b] || (in[a] == in[b] && a < b);
    };
    std::vector<std::int64_t> order(static_cast<std::size_t>(cols));
    std::iota(order.begin(), order.end(), std::int64_t{0});
    std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
    for (std::int64_t j = 0; j < k; ++j) {
      const std::int64_t i = order[static_cast<std::size_t>(j)];
      indices[static_cast<std::size_t>(r * k + j)] = i;
      values.data()[r * k + j] = in[i];
    }
  }
}

/// The top class of each row of the rows×cols tensor x (top_index of ops/top_class_rule.hpp).
template <Scalar T>
std::vector<int> top_class(const Tensor<T>& x, std::int64_t rows, std::int64_t cols) {
  std::vector<int> classes(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r)
    classes[static_cast<std::size_t>(r)] = top_index(x.data() + r * cols, static_cast<int>(cols));
  return classes;
}

}  // namespace fcam::cpu

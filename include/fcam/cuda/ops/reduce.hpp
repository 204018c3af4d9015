/// \file
/// \brief CUDA kernels of the reductions of ops/reduce.hpp, float tensors: computed on the
/// device, the few results copied back to the host (each call waits for the stream), except
/// top_class, whose result stays on the device.
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// Σ of each of the `count` consecutive runs of `length` values of x, in double.
std::vector<double> run_sums(const Tensor<float>& x, std::int64_t count, std::int64_t length);
/// Σ a·b of each of the `count` consecutive runs of `length` values, in double.
std::vector<double> run_dots(const Tensor<float>& a, const Tensor<float>& b, std::int64_t count,
                             std::int64_t length);
/// max |a − b| over all elements (0 for empty tensors).
float max_abs_difference(const Tensor<float>& a, const Tensor<float>& b);
/// out[r] = top_index of row r of the N×K logits (ops/top_class_rule.hpp) for r < N, written on
/// the device (nothing waits).
void top_class(const Tensor<float>& logits, std::int32_t* out);
/// The flat index of the first NaN or infinity, or −1.
std::int64_t first_non_finite(const Tensor<float>& x);

}  // namespace fcam::cuda

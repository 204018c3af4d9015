/// \file
/// \brief CUDA versions of the channel concatenation and split (ops/concat.hpp), float tensors.
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// The parts (batch × C_i × …, on the device) side by side in a tensor of `shape` (batch × ΣC_i × …).
Tensor<float> concat_channels(const std::vector<Tensor<float>>& parts, const Shape& shape);
/// Consecutive channel blocks of x (batch × total × …) as tensors of the given channel counts.
std::vector<Tensor<float>> split_channels(const Tensor<float>& x, const std::vector<std::int64_t>& channels,
                                          std::int64_t total);

}  // namespace fcam::cuda

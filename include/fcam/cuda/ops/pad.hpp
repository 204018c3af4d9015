/// \file
/// \brief CUDA kernel of the padding ops (ops/pad.hpp), float tensors.
#pragma once

#include <cstdint>

#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// y (N×C×out_h×out_w) with y[n, c, i, j] = x[n, c, i + off_h, j + off_w] inside x, else 0.
Tensor<float> copy_window(const Tensor<float>& x, std::int64_t out_h, std::int64_t out_w, std::int64_t off_h,
                          std::int64_t off_w);

}  // namespace fcam::cuda

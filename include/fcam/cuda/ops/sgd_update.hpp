/// \file
/// \brief CUDA kernel of the SGD update (ops/sgd_update.hpp), float tensors.
#pragma once

#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// In place, the CPU's arithmetic element by element (same roundings, so the same bits).
void sgd_update(Tensor<float>& value, const Tensor<float>& grad, Tensor<float>& buffer, bool momentum, float lr,
                float mu, float wd, bool nesterov, bool fresh_buffer);

}  // namespace fcam::cuda

/// \file
/// \brief CUDA kernel of the keyed pseudo-label sampler of ops/region_labels.hpp, float CAMs.
#pragma once

#include <cstdint>

#include "fcam/core/label_map.hpp"
#include "fcam/core/tensor.hpp"

namespace fcam::sampling {
struct SamplingOptions;
}  // namespace fcam::sampling

namespace fcam::cuda {

/// The labels of sampling::keyed_labels_of_batch for the N×H×W CAMs `cams` (H·W < 2^32, options
/// checked by the op), on the GPU: the same bits. Never waits: the per-CAM labelled counts stay on
/// the GPU (−1 for a CAM that holds NaN), read by LabelMap::labelled() when asked.
LabelMap keyed_region_labels(const Tensor<float>& cams, const sampling::SamplingOptions& o, std::uint64_t seed);

}  // namespace fcam::cuda

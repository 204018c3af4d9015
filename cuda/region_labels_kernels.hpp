/// \file
/// \brief Private to cuda/: the launcher of the keyed pseudo-label sampler behind
/// ops/region_labels.hpp (region_labels.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fcam::cuda::launch {

/// The sampler's settings, resolved on the host (SamplingOptions of ops/cpu/region_sampling.hpp).
struct RegionParams {
  std::int64_t n_foreground;  ///< pixels drawn from the foreground candidates
  std::int64_t n_background;  ///< pixels drawn from the background candidates
  std::int64_t candidates;    ///< background candidates per CAM, ⌊n_minus·h·w⌋
  std::int64_t erosion;       ///< odd square size, 1: none
  std::int64_t dilation;      ///< odd square size, 1: none
};

/// The labels (0, 1, 255) of `count` h×w CAMs (h·w < 2^32) with the keyed draws of `seed`, one
/// block per CAM; `work` holds 3·count·h·w bytes of scratch. labelled[b] receives CAM b's number
/// of labelled pixels, or −1 when it holds a NaN (its labels are then all 255).
void keyed_region_labels(const float* cams, std::int64_t count, std::int64_t h, std::int64_t w,
                         const RegionParams& params, std::uint64_t seed, std::uint8_t* work, std::uint8_t* labels,
                         std::int64_t* labelled, cudaStream_t stream);

}  // namespace fcam::cuda::launch

/// \file
/// \brief F-CAM's pseudo-labels of a batch of CAMs on the CAMs' own device (docs/method.md §5.1),
/// with the keyed draws that a GPU can make in parallel: the labels stay on the GPU for the
/// partial cross-entropy, and the CPU computes the same bits.
#pragma once

#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/region_sampling.hpp"
#include "fcam/ops/dispatch.hpp"
#include "fcam/core/label_map.hpp"

namespace fcam {

/// The pseudo-labels of the N×H×W CAMs `cams` (values in [0, 1]) on their device: the candidates of
/// sampling::sampling_pools, the keyed draws of sampling::draw_keyed for image b of a step seeded
/// `seed`, and sampling::labels_of_samples. CPU and GPU give the same labels for the same seed.
/// The draws are uniform without replacement like those of losses::sample_regions, but they are
/// other pixels (the generator's sequence is inherently serial). Throws fcam::Error on bad options
/// (sampling::check_sampling_options), an empty CAM, H·W ≥ 2^32, and on the CPU a CAM holding NaN.
/// On a GPU it does not wait for the device: the labelled counts stay there, and a NaN CAM is
/// reported when LabelMap::labelled() reads them (a partial cross-entropy into a LossSlot adds NaN).
template <Scalar T>
LabelMap keyed_region_labels(const Tensor<T>& cams, const sampling::SamplingOptions& o, std::uint64_t seed) {
  check_rank(cams, 3, "keyed_region_labels cams");
  const Device device = operand_device("keyed_region_labels", cams);
  sampling::check_sampling_options(o);
  const std::int64_t n = cams.size(0), h = cams.size(1), w = cams.size(2);
  FCAM_CHECK(n == 0 || (h > 0 && w > 0), "keyed_region_labels: empty CAMs ", to_string(cams.shape()));
  FCAM_CHECK(h * w < (std::int64_t{1} << 32), "keyed_region_labels: ", h, "x", w, " pixels per CAM (at most 2^32 - 1)");
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) {
      return cuda::keyed_region_labels(cams, o, seed);
    } else {
      cuda::unavailable_for<T>("keyed_region_labels");
    }
  }
  return sampling::keyed_label_map(cams, o, seed);
}

}  // namespace fcam

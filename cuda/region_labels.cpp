// Tensor-level keyed pseudo-label sampler: scratch and outputs on the device, one launch. The
// per-CAM labelled counts stay there (LabelMap reads them when asked; −1 marks a NaN CAM).
#include "fcam/cuda/ops/region_labels.hpp"

#include <cmath>
#include <memory>

#include "context.hpp"
#include "fcam/cuda/api.hpp"
#include "fcam/ops/sampling_options.hpp"
#include "fcam/core/label_map.hpp"
#include "region_labels_kernels.hpp"

namespace fcam::cuda {

LabelMap keyed_region_labels(const Tensor<float>& cams, const sampling::SamplingOptions& o, std::uint64_t seed) {
  const std::int64_t count = cams.size(0), h = cams.size(1), w = cams.size(2), plane = h * w;
  auto labels = std::make_shared<Storage<std::uint8_t>>(static_cast<std::size_t>(count * plane), Device::cuda, false);
  if (count * plane == 0) return LabelMap::adopt(std::move(labels), 0);
  const launch::RegionParams params{o.n_foreground, o.n_background,
                                    static_cast<std::int64_t>(std::floor(o.n_minus * static_cast<double>(plane))),
                                    o.erosion, o.dilation};
  Storage<std::uint8_t> work(static_cast<std::size_t>(3 * count * plane), Device::cuda, false);
  auto labelled = std::make_shared<Storage<std::int64_t>>(static_cast<std::size_t>(count), Device::cuda, false);
  launch::keyed_region_labels(cams.data(), count, h, w, params, seed, work.data(), labels->data(), labelled->data(),
                              stream());
  check_launch("keyed_region_labels kernel");
  return LabelMap::adopt_with_device_counts(std::move(labels), std::move(labelled));
}

}  // namespace fcam::cuda

// Tensor-level GPU permutohedral lattice (crf_filter.cu): buffers and the launch sequence. Nothing
// is read back: the vertex tables are sized for the most vertices there can be, and the range of
// the vertex keys is checked on the host from the σ's and the image size (pixels in [0, 255]).
#include "fcam/cuda/ops/crf_filter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "context.hpp"
#include "crf_kernels.hpp"
#include "fcam/core/error.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam::cuda {

namespace {

/// The CPU lattice's constants (PermutohedralLattice and crf_filter_image), rounded as it rounds them.
launch::LatticeConstants lattice_constants(double sigma_rgb, double sigma_xy) {
  constexpr int d = launch::lattice_dims;
  launch::LatticeConstants c{};
  const double inv_std = std::sqrt(2.0 / 3.0) * (d + 1);
  for (int k = 0; k < d; ++k) c.scale[k] = static_cast<float>(inv_std / std::sqrt((k + 1.0) * (k + 2.0)));
  c.inv_xy = static_cast<float>(1.0 / sigma_xy);
  c.inv_rgb = static_cast<float>(1.0 / sigma_rgb);
  c.alpha = 1.0f / (1.0f + std::pow(2.0f, -static_cast<float>(d)));
  return c;
}

template <class V>
Storage<V> device_buffer(std::int64_t count) {
  return Storage<V>(static_cast<std::size_t>(count), Device::cuda, false);
}

template <class V>
V read_back(const V* device_value) {
  V value{};
  copy_device_to_host(&value, device_value, sizeof(V));
  return value;
}

/// Whether every vertex key of an h×w image with values in [0, 255] fits the keys' ±1024 range.
/// The features are then ≥ 0, so (crf_filter.cu's embed) elevated[0] = Σ_m cf_m and elevated[j] =
/// Σ_{m≥j} cf_m − j·cf_{j−1} lie within max(Σ_{m≥j} cf_m, j·cf_{j−1}) of 0, cf_m being the largest
/// scaled feature m; a key lies within 15 of its elevated coordinate (rounding 3, the rank's
/// correction 6, the vertex offset 6).
bool keys_fit(const launch::LatticeConstants& c, std::int64_t h, std::int64_t w) {
  constexpr int d = launch::lattice_dims;
  const double features[d] = {static_cast<double>(w) * c.inv_xy, static_cast<double>(h) * c.inv_xy,
                              255.0 * c.inv_rgb, 255.0 * c.inv_rgb, 255.0 * c.inv_rgb};
  double cf[d];
  for (int m = 0; m < d; ++m) cf[m] = features[m] * c.scale[m];
  double worst = 0;
  for (int j = 0; j <= d; ++j) {
    double above = 0;
    for (int m = j; m < d; ++m) above += cf[m];
    worst = std::max(worst, above);
    if (j > 0) worst = std::max(worst, j * cf[j - 1]);
  }
  return worst + 16 < 1023;  // NaN (no σ) fails, and the flag is read
}

}  // namespace

Tensor<float> crf_filter(const Tensor<float>& images, const Tensor<float>& probs, double sigma_rgb, double sigma_xy,
                         bool transposed) {
  const std::int64_t batch = probs.size(0), channels = probs.size(1), h = probs.size(2), w = probs.size(3);
  const std::int64_t points = batch * h * w, count = points * launch::lattice_vertices_per_point;
  FCAM_CHECK(channels >= 1 && channels <= 8, "crf_filter (CUDA): 1 to 8 channels, got ", channels);
  FCAM_CHECK(batch < 512, "crf_filter (CUDA): at most 511 images per call, got ", batch);
  FCAM_CHECK(count < std::numeric_limits<std::int32_t>::max(), "crf_filter (CUDA): ", points,
             " pixels are too many for one call");
  auto out = Tensor<float>::uninitialized(probs.shape(), Device::cuda);
  if (points == 0) return out;
  const launch::LatticeConstants constants = lattice_constants(sigma_rgb, sigma_xy);
  cudaStream_t s = stream();

  auto sorted_keys = device_buffer<std::uint64_t>(count);
  auto sorted_entries = device_buffer<std::int32_t>(count), ids = device_buffer<std::int32_t>(count);
  auto weights = device_buffer<float>(count);
  Storage<int> out_of_range(1, Device::cuda, true);
  {  // The sort's and the numbering's scratch goes back to the stream's pool at the end of this
     // block, where the vertex tables and values below take it again: at 2 channels the call
     // holds about 56 bytes per lattice entry instead of 80 (~540 MB at batch 32, 224²).
    auto keys = device_buffer<std::uint64_t>(count);
    auto entries = device_buffer<std::int32_t>(count), heads = device_buffer<std::int32_t>(count);
    launch::lattice_embed(images.data(), batch, h, w, constants, keys.data(), entries.data(), weights.data(),
                          out_of_range.data(), s);
    check_launch("crf_filter embed kernel");
    const std::size_t temp_bytes = launch::lattice_sort_workspace(count);
    Storage<std::byte> temp(temp_bytes, Device::cuda, false);
    check(launch::lattice_sort(keys.data(), entries.data(), sorted_keys.data(), sorted_entries.data(), count,
                               temp.data(), temp_bytes, s),
          "crf_filter sort");
    check(launch::lattice_number(sorted_keys.data(), heads.data(), ids.data(), count, temp.data(), temp_bytes, s),
          "crf_filter vertex numbering");
  }
  // Images within [0, 255] (the CRF loss's raw crops) cannot leave the keys' range when keys_fit:
  // then nothing is read back, and other values make the output NaN (lattice_slice). Otherwise
  // (small σ's) the flag is read, to name the cause.
  if (!keys_fit(constants, h, w))
    FCAM_CHECK(read_back(out_of_range.data()) == 0, "crf_filter (CUDA): a lattice coordinate leaves the ±1024 of the ",
               "vertex keys; σ_rgb ", sigma_rgb, " or σ_xy ", sigma_xy, " is too small for the GPU lattice");
  const std::int32_t* vertex_count = ids.data() + count - 1;  // on the device only

  auto vertex_keys = device_buffer<std::uint64_t>(count);
  auto first = device_buffer<std::int32_t>(count + 1);
  auto vertex_of = device_buffer<std::int32_t>(count);
  launch::lattice_compact(sorted_keys.data(), sorted_entries.data(), ids.data(), count, vertex_keys.data(),
                          first.data(), vertex_of.data(), s);
  check_launch("crf_filter compact kernel");

  auto values = device_buffer<float>((count + 1) * channels);
  auto blurred = device_buffer<float>((count + 1) * channels);
  float *current = values.data(), *next = blurred.data();
  launch::lattice_splat(first.data(), sorted_entries.data(), weights.data(), probs.data(), vertex_count, count,
                        channels, h * w, current, s);
  check_launch("crf_filter splat kernel");
  for (int step = 0; step <= launch::lattice_dims; ++step) {  // the CPU's order, reversed for Wᵀ
    const int direction = transposed ? launch::lattice_dims - step : step;
    launch::lattice_blur(current, vertex_keys.data(), vertex_count, count, direction, channels, next, s);
    check_launch("crf_filter blur kernel");
    std::swap(current, next);
  }
  launch::lattice_slice(vertex_of.data(), weights.data(), current, constants.alpha, out_of_range.data(), points,
                        channels, h * w, out.data(), s);
  check_launch("crf_filter slice kernel");
  return out;
}

}  // namespace fcam::cuda

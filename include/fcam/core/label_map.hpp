/// \file
/// \brief Pseudo-label maps on a device: the N·H·W pixel labels (0 background, 1 foreground, 255
/// unlabelled) that the partial cross-entropy reads, kept where the logits are so that labels
/// sampled on a GPU never visit the host, with their count of labelled pixels: known on the host,
/// or left on the GPU by the sampler per image (read only when asked).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "fcam/core/device.hpp"
#include "fcam/core/error.hpp"
#include "fcam/core/storage.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam {

/// N·H·W pixel labels (0, 1 or 255) in one buffer on one device, image-major, and how many of
/// them are 0 or 1. Copies share the buffer.
class LabelMap {
public:
  /// No labels.
  LabelMap() = default;

  /// Adopts `values`, labels that a kernel wrote on their device, `labelled` of them 0 or 1 and
  /// the others 255 (not checked: the kernel's contract).
  static LabelMap adopt(std::shared_ptr<Storage<std::uint8_t>> values, std::int64_t labelled) {
    LabelMap map;
    map.values_ = std::move(values);
    map.labelled_ = labelled;
    return map;
  }

  /// Adopts `values` that a kernel wrote on a GPU together with `counts`, the labelled pixels of
  /// each image, also on the GPU (−1 for an image whose CAM held NaN); they stay there until
  /// labelled() reads them.
  static LabelMap adopt_with_device_counts(std::shared_ptr<Storage<std::uint8_t>> values,
                                           std::shared_ptr<Storage<std::int64_t>> counts) {
    LabelMap map;
    map.values_ = std::move(values);
    map.counts_ = std::move(counts);
    return map;
  }

  /// `labels` copied to `device`. Throws fcam::Error naming the first value that is not 0, 1 or
  /// 255.
  static LabelMap from_host(std::span<const std::uint8_t> labels, Device device) {
    const auto labelled = std::count_if(labels.begin(), labels.end(), [](std::uint8_t l) { return l <= 1; });
    if (labelled + std::count(labels.begin(), labels.end(), std::uint8_t{255}) !=
        static_cast<std::ptrdiff_t>(labels.size())) {
      const auto bad = *std::find_if(labels.begin(), labels.end(), [](std::uint8_t l) { return l > 1 && l != 255; });
      fail("pseudo-labels: label ", int(bad), " is not 0, 1 or 255");
    }
    auto values = std::make_shared<Storage<std::uint8_t>>(labels.size(), device, false);
    if (!labels.empty()) {
      if (device == Device::cpu) {
        std::copy(labels.begin(), labels.end(), values->data());
      } else {
#if FCAM_WITH_CUDA
        cuda::copy_host_to_device(values->data(), labels.data(), labels.size());
#endif
      }
    }
    return adopt(std::move(values), labelled);
  }

  /// Number of pixels.
  std::int64_t size() const { return values_ ? static_cast<std::int64_t>(values_->size()) : 0; }
  /// Pixels labelled 0 or 1. Counts left on a GPU are read (a wait for the device) and checked:
  /// throws fcam::Error naming an image whose CAM held NaN.
  std::int64_t labelled() const {
    if (!counts_) return labelled_;
    std::vector<std::int64_t> per_image(counts_->size());
#if FCAM_WITH_CUDA
    if (!per_image.empty())
      cuda::copy_device_to_host(per_image.data(), counts_->data(), per_image.size() * sizeof(std::int64_t));
#endif
    std::int64_t total = 0;
    for (std::size_t b = 0; b < per_image.size(); ++b) {
      FCAM_CHECK(per_image[b] >= 0, "pseudo-labels: CAM ", b, " holds NaN");
      total += per_image[b];
    }
    return total;
  }
  /// The per-image counts on the GPU (null when the count is known on the host: labelled()
  /// returns it without waiting).
  const Storage<std::int64_t>* device_counts() const { return counts_.get(); }
  /// Where the labels live (the CPU when there are none).
  Device device() const { return values_ ? values_->device() : Device::cpu; }
  /// The first label (a device pointer for CUDA labels; null when there are none).
  const std::uint8_t* data() const { return values_ ? values_->data() : nullptr; }

  /// The labels in host memory (a copy).
  std::vector<std::uint8_t> host_values() const {
    std::vector<std::uint8_t> out(static_cast<std::size_t>(size()));
    if (out.empty()) return out;
    if (device() == Device::cpu) {
      std::copy(data(), data() + size(), out.begin());
    } else {
#if FCAM_WITH_CUDA
      cuda::copy_device_to_host(out.data(), data(), out.size());
#endif
    }
    return out;
  }

private:
  std::shared_ptr<Storage<std::uint8_t>> values_;
  std::int64_t labelled_ = 0;                        // when counts_ is null
  std::shared_ptr<Storage<std::int64_t>> counts_;  // per image, on the GPU
};

}  // namespace fcam

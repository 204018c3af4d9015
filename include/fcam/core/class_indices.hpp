/// \file
/// \brief One class index per image, kept on the device that chose or needs it, so that a GPU
/// CAM pass (and its CUDA graph) never reads a class through the host (ops/planes.hpp,
/// ops/top_k.hpp).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <utility>
#include <vector>

#include "fcam/core/device.hpp"
#include "fcam/core/error.hpp"
#include "fcam/core/storage.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam {

/// The class of each image of a batch: a host vector (a caller's choice, checked by the op that
/// reads it), or device memory written by a GPU op such as top_class, or uploaded once with
/// ClassIndices::uploaded (the classes of a CUDA graph). Device classes carry `bound`, the number
/// of classes they are known to lie below, which the ops check instead of every value.
class ClassIndices {
public:
  /// No classes.
  ClassIndices() = default;
  /// Host classes (implicit, so that a std::vector<int> or a braced list can be passed).
  ClassIndices(std::vector<int> host) : host_(std::move(host)) {}  // NOLINT(google-explicit-constructor)
  /// Host classes from a braced list.
  ClassIndices(std::initializer_list<int> host) : host_(host) {}
  /// `count` classes that a GPU op writes into device memory, each below `bound`.
  static ClassIndices on_device(std::int64_t count, std::int64_t bound) {
    ClassIndices c;
    c.device_ = std::make_shared<Storage<std::int32_t>>(static_cast<std::size_t>(count), Device::cuda, false);
    c.bound_ = bound;
    return c;
  }
  /// `host` copied to device memory once (it waits for the copy), each checked to lie in
  /// [0, `classes`): the classes a CUDA graph reads at every replay.
  static ClassIndices uploaded(const std::vector<int>& host, std::int64_t classes) {
    for (const int cls : host)
      FCAM_CHECK(cls >= 0 && cls < classes, "ClassIndices: class ", cls, " outside [0, ", classes, ")");
    ClassIndices c = on_device(static_cast<std::int64_t>(host.size()), classes);
#if FCAM_WITH_CUDA
    const std::vector<std::int32_t> values(host.begin(), host.end());
    if (!values.empty()) cuda::copy_host_to_device(c.device_data(), values.data(), values.size() * sizeof(std::int32_t));
#endif
    return c;
  }

  /// Where the classes live.
  Device device() const { return device_ ? Device::cuda : Device::cpu; }
  /// Number of classes (images).
  std::int64_t size() const {
    return device_ ? static_cast<std::int64_t>(device_->size()) : static_cast<std::int64_t>(host_.size());
  }
  /// The host classes (empty for device classes).
  const std::vector<int>& host() const { return host_; }
  /// The device classes (null for host classes).
  std::int32_t* device_data() const { return device_ ? device_->data() : nullptr; }
  /// Device classes: every one lies in [0, bound) (0 for host classes).
  std::int64_t bound() const { return bound_; }
  /// The classes in host memory (a copy; from a GPU it waits for the device).
  std::vector<int> host_values() const {
    if (!device_) return host_;
    std::vector<std::int32_t> values(device_->size());
#if FCAM_WITH_CUDA
    if (!values.empty()) cuda::copy_device_to_host(values.data(), device_->data(), values.size() * sizeof(std::int32_t));
#endif
    return {values.begin(), values.end()};
  }

private:
  std::vector<int> host_;
  std::shared_ptr<Storage<std::int32_t>> device_;
  std::int64_t bound_ = 0;
};

/// Checks `classes` for `images` images and classes [0, `count`): their number, each host value,
/// or the bound of device classes; errors start with `what`.
inline void check_classes(const ClassIndices& classes, std::int64_t images, std::int64_t count, const char* what) {
  FCAM_CHECK(classes.size() == images, what, ": ", classes.size(), " classes for ", images, " images");
  for (const int cls : classes.host())
    FCAM_CHECK(cls >= 0 && cls < count, what, ": class ", cls, " outside [0, ", count, ")");
  FCAM_CHECK(classes.bound() <= count, what, ": classes chosen among ", classes.bound(), " for ", count,
             " fc rows");
}

}  // namespace fcam

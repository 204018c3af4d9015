/// \file
/// \brief The argmax table of a max pooling, kept on the device the pooling ran on, so that its
/// backward on a GPU never copies it through the host (ops/pooling.hpp).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "fcam/core/device.hpp"
#include "fcam/core/error.hpp"
#include "fcam/core/storage.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam {

/// Per output of a max pooling, the flat in-plane index (h·W + w) of its maximum, kept where the
/// pooling ran: a host vector for the CPU, device memory for a GPU. Training on a GPU thus never
/// copies the table through the host (at batch 32, VGG16's three poolings hold 45 million indices).
/// Device indices are 32-bit (an in-plane index; half the memory of 64-bit ones).
class MaxPoolArgmax {
public:
  /// No indices.
  MaxPoolArgmax() = default;
  /// Indices in host memory (the CPU pooling's, or a caller's: max_pool2d_backward checks them).
  explicit MaxPoolArgmax(std::vector<std::int64_t> host) : host_(std::move(host)) {}
  /// The pooling window of device indices (Pool2dGeometry's fields but the divisor rule, which
  /// core/ cannot name): the backward gathers each input's gradient over the windows that hold it.
  struct Window {
    std::int64_t kernel = 0, stride = 0, padding = 0;
    bool ceil_mode = false;
  };

  /// `count` indices that a GPU pooling of planes of `in_plane` pixels with `window` writes into
  /// device memory (each inside its window: the backward relies on it, so only max_pool2d makes
  /// these).
  static MaxPoolArgmax on_device(std::int64_t count, std::int64_t in_plane, const Window& window) {
    FCAM_CHECK(in_plane <= std::numeric_limits<std::int32_t>::max(), "max_pool2d: input planes of ", in_plane,
               " pixels exceed the GPU's 32-bit argmax");
    MaxPoolArgmax a;
    a.device_ = std::make_shared<Storage<std::int32_t>>(static_cast<std::size_t>(count), Device::cuda, false);
    a.in_plane_ = in_plane;
    a.window_ = window;
    return a;
  }

  /// Where the indices live.
  Device device() const { return device_ ? Device::cuda : Device::cpu; }
  /// Number of indices.
  std::int64_t size() const {
    return device_ ? static_cast<std::int64_t>(device_->size()) : static_cast<std::int64_t>(host_.size());
  }
  /// Whether there are none.
  bool empty() const { return size() == 0; }
  /// The host indices (empty for device indices).
  const std::vector<std::int64_t>& host() const { return host_; }
  /// The device indices (null for host indices).
  std::int32_t* device_data() const { return device_ ? device_->data() : nullptr; }
  /// Device indices: the plane size of the pooling that wrote them (0 for host indices).
  std::int64_t in_plane() const { return in_plane_; }
  /// Device indices: the window of the pooling that wrote them.
  const Window& window() const { return window_; }
  /// The indices in host memory (a copy; from a GPU it waits for the device).
  std::vector<std::int64_t> host_values() const {
    if (!device_) return host_;
    std::vector<std::int32_t> values(device_->size());
#if FCAM_WITH_CUDA
    if (!values.empty())
      cuda::copy_device_to_host(values.data(), device_->data(), values.size() * sizeof(std::int32_t));
#endif
    return {values.begin(), values.end()};
  }

private:
  std::vector<std::int64_t> host_;
  std::shared_ptr<Storage<std::int32_t>> device_;
  std::int64_t in_plane_ = 0;
  Window window_;
};

}  // namespace fcam

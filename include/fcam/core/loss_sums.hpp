/// \file
/// \brief Running sums of loss terms kept on the model's device: the loss ops of a training step
/// add their value there (a one-thread kernel on a GPU), and the host reads the sums only when it
/// reports them, so that a step on a GPU does not wait for the device once per loss term.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "fcam/core/device.hpp"
#include "fcam/core/error.hpp"
#include "fcam/core/storage.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam {

/// Where one loss op adds its value: a double in host memory for the CPU, in device memory for a
/// GPU (LossSums::slot). The op adds in stream order, so sums over steps are deterministic.
struct LossSlot {
  double* at = nullptr;        ///< the running sum
  Device device = Device::cpu; ///< where it lives
};

/// Throws fcam::Error naming `what` unless `slot` is a sum on `device`.
inline void check_slot(const LossSlot& slot, Device device, const char* what) {
  FCAM_CHECK(slot.at, what, ": no loss slot");
  FCAM_CHECK(slot.device == device, what, ": the loss slot is on ", to_string(slot.device), ", the operands on ",
             to_string(device));
}

/// `count` running sums, zero at the start, on `device`. Copies share the sums.
class LossSums {
public:
  /// `count` zeros on `device`.
  LossSums(std::int64_t count, Device device)
      : sums_(std::make_shared<Storage<double>>(checked_count(count), device)) {}

  /// Where the sums live.
  Device device() const { return sums_->device(); }
  /// Number of sums.
  std::int64_t size() const { return static_cast<std::int64_t>(sums_->size()); }
  /// The slot of sum `i`.
  LossSlot slot(std::int64_t i) const {
    FCAM_CHECK(i >= 0 && i < size(), "LossSums: slot ", i, " of ", size());
    return {sums_->data() + i, device()};
  }
  /// The sums in host memory: a copy, which on a GPU waits for every op enqueued before.
  std::vector<double> read() const {
    std::vector<double> out(sums_->size());
    if (device() == Device::cpu) {
      std::copy(sums_->data(), sums_->data() + sums_->size(), out.begin());
    } else {
#if FCAM_WITH_CUDA
      cuda::copy_device_to_host(out.data(), sums_->data(), out.size() * sizeof(double));
#endif
    }
    return out;
  }
  /// Sets every sum to zero (on a GPU, enqueued: after the ops already queued).
  void clear() {
    if (device() == Device::cpu) {
      std::fill(sums_->data(), sums_->data() + sums_->size(), 0.0);
    } else {
#if FCAM_WITH_CUDA
      cuda::fill_zero(sums_->data(), sums_->size() * sizeof(double));
#endif
    }
  }

private:
  static std::size_t checked_count(std::int64_t count) {
    FCAM_CHECK(count > 0, "LossSums: at least one sum, got ", count);
    return static_cast<std::size_t>(count);
  }

  std::shared_ptr<Storage<double>> sums_;
};

}  // namespace fcam

/// \file
/// \brief A training batch whose network inputs and raw images are on their way to the model's
/// device (UploadAhead): the trainer starts the next batch's copy before the current step, so
/// that on a GPU the copy runs on the copy stream while the step computes.
#pragma once

#include <utility>

#include "fcam/core/device.hpp"
#include "fcam/core/upload_ahead.hpp"
#include "fcam/data/loader.hpp"

namespace fcam::data {

/// `batch` with its tensors being copied to `device`.
class BatchAhead {
public:
  /// Starts the copies (on the CPU, nothing to do). The raw images go too only `with_raw` (the CRF
  /// loss reads them); otherwise they stay where they are.
  BatchAhead(Batch batch, Device device, bool with_raw = true)
      : batch_(std::move(batch)), inputs_(batch_.inputs, device),
        raw_(batch_.raw, with_raw ? device : batch_.raw.device()) {}

  /// The batch with its tensors on the device; on a GPU, the work this thread enqueues from now on
  /// waits for their copies (the host does not).
  Batch take() {
    batch_.inputs = inputs_.take();
    batch_.raw = raw_.take();
    return std::move(batch_);
  }

private:
  Batch batch_;
  UploadAhead<float> inputs_, raw_;
};

}  // namespace fcam::data

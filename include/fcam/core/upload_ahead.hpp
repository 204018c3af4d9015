/// \file
/// \brief A CPU tensor's copy to the GPU made ahead of its use on a second stream
/// (cuda::copy_host_to_device_ahead), so that the next training batch travels while the current
/// step computes. On the CPU, or for a tensor already on the device, there is nothing to copy.
#pragma once

#include <memory>
#include <utility>

#include "fcam/core/device.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam {

/// `source` on its way to `device`; take() hands it over.
template <Scalar T>
class UploadAhead {
public:
  /// Nothing.
  UploadAhead() = default;

  /// Starts the copy of `source` to `device`. A copy to a GPU from page-locked memory
  /// (Tensor::uninitialized_pinned, as the data loader makes for a GPU run) runs on the copy
  /// stream, after the work queued so far and alongside what is queued next; from other memory it
  /// waits, as Tensor::to does. A tensor already on `device` is kept; one on a GPU is copied back.
  UploadAhead(const Tensor<T>& source, Device device) : tensor_(source) {
    if (!source.defined() || source.device() == device) return;
    if (device == Device::cpu) {
      tensor_ = source.to(device);
      return;
    }
#if FCAM_WITH_CUDA
    tensor_ = Tensor<T>::uninitialized(source.shape(), Device::cuda);
    const auto bytes = static_cast<std::size_t>(source.numel()) * sizeof(T);
    fence_ = std::make_shared<cuda::Fence>(cuda::copy_host_to_device_ahead(tensor_.data(), source.data(), bytes));
#else
    require_device_available(device, "UploadAhead");
#endif
  }

  /// The tensor on the device. On a GPU, the work this thread enqueues from now on first waits for
  /// the copy (the host does not wait).
  Tensor<T> take() {
#if FCAM_WITH_CUDA
    if (fence_) fence_->make_stream_wait();
    fence_.reset();
#endif
    return std::move(tensor_);
  }

private:
  Tensor<T> tensor_;
#if FCAM_WITH_CUDA
  std::shared_ptr<cuda::Fence> fence_;
#endif
};

}  // namespace fcam

/// \file
/// \brief A CPU tensor's copy to the GPU made ahead of its use on a second stream
/// (cuda::copy_host_to_device_ahead), so that the next training batch travels while the current
/// step computes. On the CPU, or for a tensor already on the device, there is nothing to copy.
#pragma once

#include <cstddef>
#include <utility>

#include "fcam/core/device.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam {

/// `source` on its way to `device`; take() hands it over. Movable, not copyable.
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
    fence_ = cuda::copy_host_to_device_ahead(tensor_.data(), source.data(), bytes);
#else
    require_device_available(device, "UploadAhead");
#endif
  }

  UploadAhead(const UploadAhead&) = delete;
  UploadAhead& operator=(const UploadAhead&) = delete;
  UploadAhead(UploadAhead&&) noexcept = default;
  /// Replaces the upload; the one replaced is released as by the destructor.
  UploadAhead& operator=(UploadAhead&& other) noexcept {
    if (this != &other) {
      release();
      tensor_ = std::move(other.tensor_);
#if FCAM_WITH_CUDA
      fence_ = std::move(other.fence_);
#endif
    }
    return *this;
  }
  /// An upload dropped before take() (an exception between two steps): this thread's stream
  /// waits for its copy before anything else, so that the destination's memory, which returns to
  /// the stream's cache, cannot be handed out while the copy still writes it.
  ~UploadAhead() { release(); }

  /// The tensor on the device. On a GPU, the work this thread enqueues from now on first waits for
  /// the copy (the host does not wait).
  Tensor<T> take() {
#if FCAM_WITH_CUDA
    fence_.make_stream_wait();
    fence_ = cuda::Fence();
#endif
    return std::move(tensor_);
  }

private:
  void release() noexcept {
#if FCAM_WITH_CUDA
    try {
      fence_.make_stream_wait();
    } catch (...) {  // a failed device: its error surfaces at the next check
    }
    fence_ = cuda::Fence();
#endif
  }

  Tensor<T> tensor_;
#if FCAM_WITH_CUDA
  cuda::Fence fence_;
#endif
};

}  // namespace fcam

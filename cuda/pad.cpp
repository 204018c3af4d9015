// Tensor-level CUDA padding and cropping (ops/pad.hpp): one launch of the window-copy kernel.
#include "fcam/cuda/ops/pad.hpp"

#include "context.hpp"
#include "small_kernels.hpp"

namespace fcam::cuda {

Tensor<float> copy_window(const Tensor<float>& x, std::int64_t out_h, std::int64_t out_w, std::int64_t off_h,
                          std::int64_t off_w) {
  auto y = Tensor<float>::uninitialized({x.size(0), x.size(1), out_h, out_w}, Device::cuda);
  launch::copy_window(x.data(), y.data(), x.size(0) * x.size(1), x.size(2), x.size(3), out_h, out_w, off_h, off_w,
                      stream());
  check_launch("copy_window");
  return y;
}

}  // namespace fcam::cuda

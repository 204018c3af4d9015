// The CUDA emulation has no cuDNN: fcam's convolutions (cuda/conv2d.cpp, conv2d_graph.cpp) are
// left out of its build, and these stand-ins say so when a test reaches them.
#include "fcam/core/error.hpp"
#include "fcam/cuda/ops/conv2d.hpp"

namespace fcam::cuda {

Tensor<float> conv2d(const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, const Conv2dGeometry&,
                     const Shape&) {
  fail("conv2d (CUDA emulation): cuDNN's convolutions are not emulated; run this test on a GPU");
}

Tensor<float> conv2d_backward(const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, const Conv2dGeometry&,
                              bool, Tensor<float>*, Tensor<float>*) {
  fail("conv2d_backward (CUDA emulation): cuDNN's convolutions are not emulated; run this test on a GPU");
}

}  // namespace fcam::cuda

// The fully connected layer through cuBLAS, and the SGD update. fcam's matrices are row-major;
// cuBLAS is column-major, so each product is written for the transposed (column-major) views.
#include "fcam/cuda/ops/linear.hpp"

#include <limits>

#include "context.hpp"
#include "fcam/core/error.hpp"
#include "fcam/cuda/ops/elementwise.hpp"
#include "fcam/cuda/ops/sgd_update.hpp"
#include "small_kernels.hpp"

namespace fcam::cuda {

namespace {
int blas_int(std::int64_t v) {
  FCAM_CHECK(v <= std::numeric_limits<int>::max(), "linear (CUDA): size ", v, " exceeds cuBLAS's int range");
  return static_cast<int>(v);
}
}  // namespace

Tensor<float> linear(const Tensor<float>& x, const Tensor<float>& weight, const Tensor<float>& bias) {
  const int n = blas_int(x.size(0)), in = blas_int(x.size(1)), out = blas_int(weight.size(0));
  auto y = Tensor<float>::uninitialized({x.size(0), weight.size(0)}, Device::cuda);
  if (y.numel() == 0) return y;
  const float one = 1.0f, zero = 0.0f;
  // Column-major: yᵀ (out×n) = W (in×out)ᵀ · xᵀ (in×n).
  check(cublasSgemm(cublas_handle(), CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, weight.data(), in, x.data(), in,
                    &zero, y.data(), out),
        "cublasSgemm (linear)");
  if (bias.defined()) channel_epilogue(y, Tensor<float>(), bias, Tensor<float>(), false, 0.0f);
  return y;
}

Tensor<float> linear_backward(const Tensor<float>& x, const Tensor<float>& weight, const Tensor<float>& grad_y,
                              Tensor<float>* grad_weight, Tensor<float>* grad_bias) {
  const int n = blas_int(x.size(0)), in = blas_int(x.size(1)), out = blas_int(weight.size(0));
  if (n == 0 || in == 0 || out == 0) return Tensor<float>(x.shape(), Device::cuda);  // zeros
  auto grad_x = Tensor<float>::uninitialized(x.shape(), Device::cuda);
  const float one = 1.0f, zero = 0.0f;
  // dxᵀ (in×n) = Wᵀ (in×out) · dyᵀ (out×n).
  check(cublasSgemm(cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, weight.data(), in, grad_y.data(), out,
                    &zero, grad_x.data(), in),
        "cublasSgemm (linear input gradient)");
  if (grad_weight)  // dWᵀ (in×out) += xᵀ (in×n) · dy (n×out)
    check(cublasSgemm(cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x.data(), in, grad_y.data(), out,
                      &one, grad_weight->data(), in),
          "cublasSgemm (linear weight gradient)");
  if (grad_bias) {
    launch::add_column_sums(grad_y.data(), n, out, grad_bias->data(), stream());
    check_launch("linear bias gradient kernel");
  }
  return grad_x;
}

void sgd_update(Tensor<float>& value, const Tensor<float>& grad, Tensor<float>& buffer, bool momentum, float lr,
                float mu, float wd, bool nesterov, bool fresh_buffer) {
  launch::sgd_update(value.data(), grad.data(), momentum ? buffer.data() : nullptr, lr, mu, wd, nesterov, fresh_buffer,
                     value.numel(), stream());
  check_launch("sgd_update kernel");
}

}  // namespace fcam::cuda

// Tensor-level CUDA element-wise ops: allocate the output, launch, check the launch.
#include "fcam/cuda/ops/elementwise.hpp"

#include "context.hpp"
#include "elementwise_kernels.hpp"

namespace fcam::cuda {

namespace {
Tensor<float> mapped(launch::Map f, const Tensor<float>& a, const Tensor<float>* b, const char* what) {
  auto y = Tensor<float>::uninitialized(a.shape(), Device::cuda);
  launch::map(f, a.data(), b ? b->data() : nullptr, y.data(), a.numel(), stream());
  check_launch(what);
  return y;
}
}  // namespace

Tensor<float> relu(const Tensor<float>& x) { return mapped(launch::Map::relu, x, nullptr, "relu kernel"); }
Tensor<float> relu_backward(const Tensor<float>& y, const Tensor<float>& grad_y) {
  return mapped(launch::Map::relu_backward, y, &grad_y, "relu_backward kernel");
}
Tensor<float> relu6(const Tensor<float>& x) { return mapped(launch::Map::relu6, x, nullptr, "relu6 kernel"); }
Tensor<float> relu6_backward(const Tensor<float>& x, const Tensor<float>& grad_y) {
  return mapped(launch::Map::relu6_backward, x, &grad_y, "relu6_backward kernel");
}
Tensor<float> add(const Tensor<float>& a, const Tensor<float>& b) { return mapped(launch::Map::add, a, &b, "add kernel"); }
Tensor<float> multiply(const Tensor<float>& x, const Tensor<float>& m) {
  return mapped(launch::Map::multiply, x, &m, "multiply kernel");
}

Tensor<float> scaled(const Tensor<float>& x, double factor) {
  auto y = Tensor<float>::uninitialized(x.shape(), Device::cuda);
  launch::scale(x.data(), factor, y.data(), x.numel(), stream());
  check_launch("scaled kernel");
  return y;
}

void add_keyed_normal_noise(Tensor<float>& t, double sigma, std::uint64_t key) {
  launch::add_keyed_normal_noise(t.data(), sigma, key, t.numel(), stream());
  check_launch("keyed noise kernel");
}

Tensor<float> keyed_dropout_mask(const Shape& shape, double p, std::uint64_t key) {
  auto mask = Tensor<float>::uninitialized(shape, Device::cuda);
  const float keep_scale = p < 1.0 ? static_cast<float>(1.0 / (1.0 - p)) : 0.0f;
  launch::keyed_dropout_mask(mask.data(), p, keep_scale, key, mask.numel(), stream());
  check_launch("keyed dropout kernel");
  return mask;
}

void channel_epilogue(Tensor<float>& y, const Tensor<float>& scale, const Tensor<float>& shift,
                      const Tensor<float>& residual, bool relu, float relu_max) {
  const std::int64_t channels = y.size(1), plane = y.numel() / std::max<std::int64_t>(y.size(0) * channels, 1);
  launch::channel_epilogue(y.data(), scale.defined() ? scale.data() : nullptr, shift.defined() ? shift.data() : nullptr,
                           residual.defined() ? residual.data() : nullptr, relu, relu_max, channels, plane, y.numel(),
                           stream());
  check_launch("conv2d epilogue kernel");
}

}  // namespace fcam::cuda

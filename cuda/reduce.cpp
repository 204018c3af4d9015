// Tensor-level CUDA reductions: scratch on the device, launch, copy the results to the host.
#include "fcam/cuda/ops/reduce.hpp"

#include "context.hpp"
#include "fcam/cuda/api.hpp"
#include "reduce_kernels.hpp"

namespace fcam::cuda {

namespace {
std::vector<double> runs(const float* a, const float* b, std::int64_t count, std::int64_t length, const char* what) {
  std::vector<double> sums(static_cast<std::size_t>(count), 0.0);
  if (count == 0) return sums;
  Storage<double> device_sums(sums.size(), Device::cuda, false);
  launch::run_sums(a, b, count, length, device_sums.data(), stream());
  check_launch(what);
  copy_device_to_host(sums.data(), device_sums.data(), sums.size() * sizeof(double));
  return sums;
}

/// The result of a two-launch reduction: scratch[launch::partial_blocks], copied to the host.
template <class T>
T result_of(const Storage<T>& scratch) {
  T value{};
  copy_device_to_host(&value, scratch.data() + launch::partial_blocks, sizeof value);
  return value;
}
}  // namespace

std::vector<double> run_sums(const Tensor<float>& x, std::int64_t count, std::int64_t length) {
  return runs(x.data(), nullptr, count, length, "plane_sums kernel");
}

std::vector<double> run_dots(const Tensor<float>& a, const Tensor<float>& b, std::int64_t count,
                             std::int64_t length) {
  return runs(a.data(), b.data(), count, length, "item_dots kernel");
}

void top_class(const Tensor<float>& logits, std::int32_t* out) {
  launch::top_class(logits.data(), logits.size(0), logits.size(1), out, stream());
  check_launch("top_class kernel");
}

float max_abs_difference(const Tensor<float>& a, const Tensor<float>& b) {
  if (a.numel() == 0) return 0.0f;
  Storage<float> scratch(launch::partial_blocks + 1, Device::cuda, false);
  launch::max_abs_difference(a.data(), b.data(), a.numel(), scratch.data(), stream());
  check_launch("max_abs_difference kernels");
  return result_of(scratch);
}

std::int64_t first_non_finite(const Tensor<float>& x) {
  const std::int64_t n = x.numel();
  if (n == 0) return -1;
  Storage<std::int64_t> scratch(launch::partial_blocks + 1, Device::cuda, false);
  launch::first_non_finite(x.data(), n, scratch.data(), stream());
  check_launch("first_non_finite kernels");
  const std::int64_t first = result_of(scratch);
  return first < n ? first : -1;
}

}  // namespace fcam::cuda

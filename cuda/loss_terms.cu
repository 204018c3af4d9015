// One-thread kernels that finish a loss term on the device. They run on a handful of values per
// step (partial sums, counts, plane sizes), so one thread in a fixed order costs nothing and
// keeps the CPU's order of additions. Compiled without fused multiply-adds (CMakeLists.txt), so
// that the log-barrier's arithmetic is the CPU's operation by operation (CUDA's double log may
// still differ from glibc's by an ulp).
#include "fcam/ops/log_barrier_rules.hpp"
#include "loss_terms_kernels.hpp"

namespace fcam::cuda::launch {

namespace {

__global__ void add_sum_kernel(const double* __restrict__ values, std::int64_t count, double factor,
                               const double* __restrict__ device_factor, double divisor, double* __restrict__ slot) {
  double sum = 0;
  for (std::int64_t i = 0; i < count; ++i) sum += values[i];
  const double f = device_factor ? device_factor[0] : factor;
  slot[0] += f * sum / divisor;
}

__global__ void label_scale_kernel(const std::int64_t* __restrict__ counts, std::int64_t images, double weight,
                                   double* __restrict__ scale) {
  std::int64_t total = 0;
  bool nan = false;
  for (std::int64_t b = 0; b < images; ++b) {
    nan = nan || counts[b] < 0;
    total += counts[b] < 0 ? 0 : counts[b];
  }
  scale[0] = nan ? __longlong_as_double(0x7ff8000000000000LL) : total > 0 ? weight / static_cast<double>(total) : 0.0;
}

__global__ void size_barrier_kernel(const double* __restrict__ sizes, std::int64_t planes, double t, double scale,
                                    float* __restrict__ slopes, double* __restrict__ slot) {
  double total = 0;
  for (std::int64_t i = 0; i < planes; ++i) {
    total += log_barrier_rules::value(-sizes[i], t);
    slopes[i] = static_cast<float>(-scale * log_barrier_rules::derivative(-sizes[i], t));
  }
  slot[0] += scale * total;
}

}  // namespace

void add_sum(const double* values, std::int64_t count, double factor, const double* device_factor, double divisor,
             double* slot, cudaStream_t stream) {
  add_sum_kernel<<<1, 1, 0, stream>>>(values, count, factor, device_factor, divisor, slot);
}

void label_scale(const std::int64_t* counts, std::int64_t images, double weight, double* scale, cudaStream_t stream) {
  label_scale_kernel<<<1, 1, 0, stream>>>(counts, images, weight, scale);
}

void size_barrier(const double* sizes, std::int64_t planes, double t, double scale, float* slopes, double* slot,
                  cudaStream_t stream) {
  size_barrier_kernel<<<1, 1, 0, stream>>>(sizes, planes, t, scale, slopes, slot);
}

}  // namespace fcam::cuda::launch

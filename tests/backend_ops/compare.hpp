/// \file
/// \brief The CPU-vs-CUDA comparison of tests/backend_ops/: random inputs, normalised mean squared
/// error, NaN/Inf agreement and guard values around accumulated outputs.
///
/// Every case runs an op on the CPU and on CUDA from the same inputs and compares the results
/// by NMSE = Σ(cpu − cuda)² / Σcpu² (ggml's test-backend-ops measure), after checking that both
/// have NaN and ±Inf in the same places.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <fcam/fcam.hpp>

namespace fcam::test {

/// The bound with TF32 off: float rounding of two different summation orders.
inline constexpr double nmse_bound = 1e-7;
/// The bound with TF32 on (10-bit mantissa products, float accumulation), and for fast
/// convolutions (cuda::set_fast_convolutions).
inline constexpr double nmse_bound_tf32 = 1e-5;

/// Turns one of CUDA's global modes (cuda::set_tf32, set_bf16, set_deterministic,
/// set_fast_convolutions, each with its getter) on for a scope and back to what it was at its
/// end, also when a check throws: a mode left on would fail every later case of the program for
/// the wrong reason.
class ModeScope {
public:
  ModeScope(void (*set)(bool), bool (*get)()) : set_(set), was_(get()) { set_(true); }
  ~ModeScope() { set_(was_); }
  ModeScope(const ModeScope&) = delete;
  ModeScope& operator=(const ModeScope&) = delete;

private:
  void (*set_)(bool);
  bool was_;
};

/// A CPU tensor of uniform values in [lo, hi), reproducible from `seed`.
inline Tensor<float> random_tensor(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor<float> t(shape);
  Rng rng(seed);
  fill_uniform(t, lo, hi, rng);
  return t;
}

/// "2x3x4x4".
inline std::string shape_text(const Shape& shape) { return to_string(shape); }

/// NMSE of `cuda` against `cpu` (either may live on either device: both are read through host
/// copies); the NaN/Inf positions must agree first. Fails the test case with `what` in the message.
inline void expect_close(const Tensor<float>& reference, const Tensor<float>& cuda, const std::string& what,
                         double bound = nmse_bound) {
  INFO(what);
  REQUIRE(cuda.shape() == reference.shape());
  const Tensor<float> cpu = reference.to(Device::cpu), got = cuda.to(Device::cpu);
  double err = 0, ref = 0;
  std::int64_t mismatched_special = 0;
  for (std::int64_t i = 0; i < cpu.numel(); ++i) {
    const double a = cpu.data()[i], b = got.data()[i];
    if (!std::isfinite(a) || !std::isfinite(b)) {
      const bool same = (std::isnan(a) && std::isnan(b)) || a == b;
      mismatched_special += same ? 0 : 1;
      continue;
    }
    err += (a - b) * (a - b);
    ref += a * a;
  }
  CHECK(mismatched_special == 0);
  const double nmse = ref > 0 ? err / ref : err;
  INFO("NMSE " << nmse << " (bound " << bound << ")");
  CHECK(nmse <= bound);
}

/// The largest |a − b| of two tensors of one shape, either on either device (read through host
/// copies); +∞ where one holds NaN and the other does not (so that a NaN result never passes as
/// equal), 0 where both do.
inline float largest_difference(const Tensor<float>& a, const Tensor<float>& b) {
  REQUIRE(a.shape() == b.shape());
  const Tensor<float> x = a.to(Device::cpu), y = b.to(Device::cpu);
  float worst = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float u = x.data()[i], v = y.data()[i];
    if (std::isnan(u) != std::isnan(v)) return std::numeric_limits<float>::infinity();
    if (!std::isnan(u)) worst = std::max(worst, std::abs(u - v));
  }
  return worst;
}

/// Runs `call` `warmups` times (the cache and the convolution plans fill), then `repeats` times:
/// those must neither take device memory from the driver nor keep any, while still allocating
/// (from the cache).
template <class Call>
void expect_steady_device_memory(Call&& call, int warmups, int repeats) {
  for (int i = 0; i < warmups; ++i) call();
  cuda::synchronize();
  const cuda::MemoryStats before = cuda::memory_stats();
  for (int i = 0; i < repeats; ++i) call();
  cuda::synchronize();
  const cuda::MemoryStats after = cuda::memory_stats();
  CHECK(after.device_mallocs == before.device_mallocs);
  CHECK(after.reserved_bytes == before.reserved_bytes);
  CHECK(after.allocated_bytes == before.allocated_bytes);
  CHECK(after.allocations > before.allocations);  // the blocks were reused, not absent
}

/// Sentinel written around accumulated outputs: a kernel that writes out of bounds changes it.
inline constexpr float guard_value = -12345.5f;

/// An output tensor with one guard item before and after it in the same storage: `view` is
/// what the op writes, the items around it must keep guard_value.
struct Guarded {
  Tensor<float> whole;  ///< (3·numel) values: guard, view, guard
  Tensor<float> view;   ///< the op's target, of the requested shape

  /// A guarded tensor on `device` whose view holds `initial` (same shape as it).
  Guarded(const Tensor<float>& initial, Device device) {
    const std::int64_t n = initial.numel();
    Tensor<float> host = Tensor<float>::full({3, n}, guard_value);
    std::copy(initial.data(), initial.data() + n, host.data() + n);
    whole = host.to(device);
    view = whole.batch(1).reshape(initial.shape());
  }

  /// Fails the test case unless both guard items still hold guard_value.
  void check_guards(const std::string& what) const {
    const Tensor<float> host = whole.to(Device::cpu);
    const std::int64_t n = whole.size(1);
    std::int64_t changed = 0;
    for (std::int64_t i = 0; i < n; ++i)
      changed += (host.data()[i] != guard_value) + (host.data()[2 * n + i] != guard_value);
    INFO(what << ": guard values changed");
    CHECK(changed == 0);
  }
};

}  // namespace fcam::test

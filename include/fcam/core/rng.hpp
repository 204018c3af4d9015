/// \file
/// \brief A portable seeded random generator (xoshiro256**) with its own uniform and normal samplers.
///
/// The same seed gives the same numbers with every compiler and standard library, which
/// std::normal_distribution does not guarantee.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <utility>
#include <vector>

#include "fcam/core/error.hpp"

namespace fcam {

/// xoshiro256** seeded through splitmix64; normal variates by the Box-Muller transform.
class Rng {
public:
  /// Seeds the four state words from `seed` with splitmix64 (never all zero).
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }

  /// Restarts the sequence for `seed`.
  void reseed(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& word : state_) word = splitmix64(x);
    has_spare_ = false;
  }

  /// Next 64 random bits.
  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  /// Uniform double in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  /// Uniform integer in [0, n) without modulo bias. requires: n > 0, else fcam::Error.
  std::uint64_t below(std::uint64_t n) {
    FCAM_CHECK(n > 0, "Rng::below: the range must not be empty");
    const std::uint64_t limit = -n % n;  // 2^64 mod n
    for (;;) {
      const std::uint64_t r = next_u64();
      if (r >= limit) return r % n;
    }
  }

  /// Shuffles `items` in place (Fisher–Yates from the back, one uniform() per swap).
  template <class Item>
  void shuffle(std::vector<Item>& items) {
    for (std::size_t i = items.size(); i > 1; --i)
      std::swap(items[i - 1], items[static_cast<std::size_t>(uniform() * static_cast<double>(i))]);
  }

  /// Standard normal variate (Box-Muller; the second value of each pair is kept for the next call).
  double normal() {
    double value = 0.0;
    if (take_spare(value)) return value;
    const auto [u1, u2] = box_muller_uniforms();
    const auto [first, second] = box_muller(u1, u2);
    keep_spare(second);
    return first;
  }

  /// The uniforms (u1 > 0, u2) of the next Box–Muller pair, drawn as normal() draws them when it
  /// holds no spare. With box_muller and the spare functions, a caller can draw a run of pairs in
  /// order and transform them on several threads, getting normal()'s values (cpu::add_normal_noise).
  std::pair<double, double> box_muller_uniforms() {
    double u1 = 0.0;
    while (u1 <= 0.0) u1 = uniform();
    return {u1, uniform()};
  }

  /// The pair of standard normals of the uniforms (u1, u2): r·cos θ, then r·sin θ, with
  /// r = √(−2 ln u1) and θ = 2π·u2.
  static std::pair<double, double> box_muller(double u1, double u2) {
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    return {radius * std::cos(angle), radius * std::sin(angle)};
  }

  /// Takes the kept second value of the last pair into `value` (what normal() returns next without
  /// drawing); false when none is kept.
  bool take_spare(double& value) {
    if (!has_spare_) return false;
    has_spare_ = false;
    value = spare_;
    return true;
  }

  /// Keeps `value`, the second value of a pair, for the next normal().
  void keep_spare(double value) {
    spare_ = value;
    has_spare_ = true;
  }

  /// Normal variate with the given mean and standard deviation.
  double normal(double mean, double stddev) { return mean + stddev * normal(); }

private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t state_[4]{};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace fcam

namespace fcam {

/// The generator that module constructors draw their initial weights from (like torch's default
/// generator) and that samplers use when no generator is passed (nn::uniform_,
/// cam::smooth_gradcampp). Seed it with manual_seed() for reproducible initialisation.
///
/// It is per thread (thread_local), never shared: every thread's starts at seed 0 and
/// manual_seed() reseeds the calling thread's only. Models built concurrently on several threads
/// therefore neither race on one generator nor depend on each other's timing, and a model is
/// reproducible from the seed of the thread that builds it. A program that builds its models on
/// one thread draws the same numbers as with a single process-wide generator. Pass an explicit
/// Rng where one generator must serve several threads (and synchronise it yourself).
inline Rng& default_rng() {
  thread_local Rng rng(0);
  return rng;
}

/// Reseeds the calling thread's default_rng().
inline void manual_seed(std::uint64_t seed) { default_rng().reseed(seed); }

/// Reseeds the calling thread's default_rng() for this object's lifetime and then gives it back
/// its earlier state: what is built inside (a model's initial weights) depends on `seed` alone, and
/// the caller's draws go on as if nothing had been drawn. train::run_training runs so.
class ScopedDefaultSeed {
 public:
  explicit ScopedDefaultSeed(std::uint64_t seed) : saved_(default_rng()) { default_rng().reseed(seed); }
  ~ScopedDefaultSeed() { default_rng() = saved_; }
  ScopedDefaultSeed(const ScopedDefaultSeed&) = delete;
  ScopedDefaultSeed& operator=(const ScopedDefaultSeed&) = delete;

 private:
  Rng saved_;
};

}  // namespace fcam

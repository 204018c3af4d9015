/// \file
/// \brief CPU kernels of the ops that draw from a generator (contracts in fcam/ops/random.hpp).
///
/// One draw per element, in element order: the values depend only on the seed, never on the
/// thread count (add_normal_noise draws on one thread and transforms on several).
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "fcam/core/rng.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/ops/keyed_noise_rule.hpp"

namespace fcam::cpu {

/// t[i] = U(lo, hi).
template <Scalar T>
void fill_uniform(Tensor<T>& t, double lo, double hi, Rng& rng) {
  T* out = t.data();
  for (std::int64_t i = 0, n = t.numel(); i < n; ++i) out[i] = static_cast<T>(rng.uniform(lo, hi));
}

/// t[i] += N(0, sigma), the draw rounded to T before the addition: rng.normal(0, sigma)'s values
/// in element order. The pairs' uniforms are drawn on this thread (the generator is sequential);
/// their Box–Muller transforms, most of the work, run on the kernel threads, a chunk at a time.
template <Scalar T>
void add_normal_noise(Tensor<T>& t, double sigma, Rng& rng) {
  T* out = t.data();
  const std::int64_t n = t.numel();
  std::int64_t i = 0;  // the next element
  double spare = 0.0;
  if (n > 0 && rng.take_spare(spare)) out[i++] += static_cast<T>(0.0 + sigma * spare);
  constexpr std::int64_t chunk_pairs = std::int64_t{1} << 16, block_pairs = 2048;
  std::vector<std::pair<double, double>> uniforms;
  while (i < n) {
    const std::int64_t left = n - i, pairs = std::min(chunk_pairs, (left + 1) / 2);
    uniforms.resize(static_cast<std::size_t>(pairs));
    for (auto& u : uniforms) u = rng.box_muller_uniforms();
    T* chunk = out + i;
    parallel_items((pairs + block_pairs - 1) / block_pairs, [&](std::int64_t block) {
      for (std::int64_t p = block * block_pairs, end = std::min(pairs, p + block_pairs); p < end; ++p) {
        const auto [u1, u2] = uniforms[static_cast<std::size_t>(p)];
        const auto [first, second] = Rng::box_muller(u1, u2);
        chunk[2 * p] += static_cast<T>(0.0 + sigma * first);
        if (2 * p + 1 < left) chunk[2 * p + 1] += static_cast<T>(0.0 + sigma * second);
      }
    });
    if (2 * pairs > left) {  // an odd element count: the last pair's second value stays in the generator
      const auto [u1, u2] = uniforms.back();
      rng.keep_spare(Rng::box_muller(u1, u2).second);
    }
    i += std::min(2 * pairs, left);
  }
}

/// t[i] += N(0, sigma) of keyed_normal(key, i), rounded to T before the addition (elements in
/// parallel: each depends on its index alone).
template <Scalar T>
void add_keyed_normal_noise(Tensor<T>& t, double sigma, std::uint64_t key) {
  T* out = t.data();
  constexpr std::int64_t block = 4096;
  const std::int64_t n = t.numel();
  parallel_items((n + block - 1) / block, [&](std::int64_t b) {
    for (std::int64_t i = b * block, end = std::min(n, i + block); i < end; ++i)
      out[i] += static_cast<T>(sigma * keyed_normal(key, static_cast<std::uint64_t>(i)));
  });
}

/// Dropout's mask: keyed_dropout_value(key, i, p, 1/(1 − p)) (all 0 when p = 1), elements in
/// parallel.
template <Scalar T>
Tensor<T> keyed_dropout_mask(const Shape& shape, double p, std::uint64_t key) {
  auto mask = Tensor<T>::uninitialized(shape);
  const T keep_scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  T* out = mask.data();
  constexpr std::int64_t block = 4096;
  const std::int64_t n = mask.numel();
  parallel_items((n + block - 1) / block, [&](std::int64_t b) {
    for (std::int64_t i = b * block, end = std::min(n, i + block); i < end; ++i)
      out[i] = keyed_dropout_value(key, static_cast<std::uint64_t>(i), p, keep_scale);
  });
  return mask;
}

}  // namespace fcam::cpu

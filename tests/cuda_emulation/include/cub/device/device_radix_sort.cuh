/// \file
/// \brief The CUDA emulation's stand-in for CUB's DeviceRadixSort::SortPairs (both forms): a
/// stable sort by the key bits [begin_bit, end_bit), run in stream order. It asks for a
/// temporary buffer as CUB does and scribbles over it, so a buffer that overlaps another shows.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

namespace cub {

template <class T>
struct DoubleBuffer {
  T* d_buffers[2] = {nullptr, nullptr};
  int selector = 0;
  DoubleBuffer() = default;
  DoubleBuffer(T* current, T* alternate) : d_buffers{current, alternate} {}
  T* Current() { return d_buffers[selector]; }
  T* Alternate() { return d_buffers[selector ^ 1]; }
};

namespace emulation {

inline std::size_t temp_bytes_for(long long items) { return 512 + 8 * static_cast<std::size_t>(items); }

/// The radix digit of a key over [begin_bit, end_bit): signed keys flip their sign bit first, as
/// CUB orders them.
template <class K>
unsigned long long digits(K key, int begin_bit, int end_bit) {
  static_assert(std::is_integral_v<K>, "the emulation sorts integer keys only");
  using U = std::make_unsigned_t<K>;
  U u = static_cast<U>(key);
  if constexpr (std::is_signed_v<K>) u ^= U(1) << (8 * sizeof(K) - 1);
  const int width = end_bit - begin_bit;
  const unsigned long long shifted = static_cast<unsigned long long>(u) >> begin_bit;
  return width >= 64 ? shifted : shifted & ((1ull << width) - 1);
}

template <class K, class V>
cudaError_t sort_pairs(void* temp, std::size_t temp_bytes, const K* keys_in, K* keys_out, const V* values_in,
                       V* values_out, long long n, int begin_bit, int end_bit, cudaStream_t stream) {
  if (begin_bit < 0 || end_bit > int(8 * sizeof(K)) || begin_bit >= end_bit) return cudaErrorInvalidValue;
  if (temp_bytes < temp_bytes_for(n)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  const std::size_t bytes = static_cast<std::size_t>(n);
  return fcam_emu::enqueue(stream, "cub::DeviceRadixSort::SortPairs", [=] {
    // Checked when the sort runs, as kernels are: a graph replay may come after a free.
    fcam_emu::require_device_range(temp, temp_bytes, "cub::DeviceRadixSort temporary storage");
    fcam_emu::require_device_range(keys_in, bytes * sizeof(K), "cub::DeviceRadixSort keys in");
    fcam_emu::require_device_range(keys_out, bytes * sizeof(K), "cub::DeviceRadixSort keys out");
    fcam_emu::require_device_range(values_in, bytes * sizeof(V), "cub::DeviceRadixSort values in");
    fcam_emu::require_device_range(values_out, bytes * sizeof(V), "cub::DeviceRadixSort values out");
    std::memset(temp, 0xab, temp_bytes);
    std::vector<long long> order(bytes);
    std::iota(order.begin(), order.end(), 0LL);
    std::stable_sort(order.begin(), order.end(), [&](long long a, long long b) {
      return digits(keys_in[a], begin_bit, end_bit) < digits(keys_in[b], begin_bit, end_bit);
    });
    std::vector<K> keys(bytes);
    std::vector<V> values(bytes);
    for (std::size_t i = 0; i < bytes; ++i) keys[i] = keys_in[order[i]], values[i] = values_in[order[i]];
    std::copy(keys.begin(), keys.end(), keys_out);
    std::copy(values.begin(), values.end(), values_out);
  });
}

}  // namespace emulation

struct DeviceRadixSort {
  template <class K, class V, class N>
  static cudaError_t SortPairs(void* temp, std::size_t& temp_bytes, const K* keys_in, K* keys_out, const V* values_in,
                               V* values_out, N items, int begin_bit = 0, int end_bit = sizeof(K) * 8,
                               cudaStream_t stream = nullptr) {
    if (temp == nullptr) {
      temp_bytes = emulation::temp_bytes_for(static_cast<long long>(items));
      return cudaSuccess;
    }
    return emulation::sort_pairs(temp, temp_bytes, keys_in, keys_out, values_in, values_out,
                                 static_cast<long long>(items), begin_bit, end_bit, stream);
  }

  /// The double-buffer form: the sorted pairs land in the alternate buffers, which become current.
  template <class K, class V, class N>
  static cudaError_t SortPairs(void* temp, std::size_t& temp_bytes, DoubleBuffer<K>& keys, DoubleBuffer<V>& values,
                               N items, int begin_bit = 0, int end_bit = sizeof(K) * 8, cudaStream_t stream = nullptr) {
    if (temp == nullptr) {
      temp_bytes = emulation::temp_bytes_for(static_cast<long long>(items));
      return cudaSuccess;
    }
    const cudaError_t status =
        emulation::sort_pairs(temp, temp_bytes, keys.Current(), keys.Alternate(), values.Current(), values.Alternate(),
                              static_cast<long long>(items), begin_bit, end_bit, stream);
    if (status == cudaSuccess) keys.selector ^= 1, values.selector ^= 1;
    return status;
  }
};

}  // namespace cub

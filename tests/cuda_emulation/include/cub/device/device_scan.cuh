/// \file
/// \brief The CUDA emulation's stand-in for CUB's DeviceScan::InclusiveSum, run in stream order,
/// with CUB's temporary-storage protocol.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstring>
#include <iterator>

namespace cub {

struct DeviceScan {
  template <class In, class Out, class N>
  static cudaError_t InclusiveSum(void* temp, std::size_t& temp_bytes, In in, Out out, N items,
                                  cudaStream_t stream = nullptr) {
    const std::size_t needed = 256;
    if (temp == nullptr) {
      temp_bytes = needed;
      return cudaSuccess;
    }
    if (temp_bytes < needed) return cudaErrorInvalidValue;
    const long long n = static_cast<long long>(items);
    if (n <= 0) return cudaSuccess;
    using Value = typename std::iterator_traits<In>::value_type;
    return fcam_emu::enqueue(stream, "cub::DeviceScan::InclusiveSum", [=] {
      fcam_emu::require_device_range(temp, temp_bytes, "cub::DeviceScan temporary storage");
      fcam_emu::require_device_range(&in[0], sizeof(Value) * static_cast<std::size_t>(n), "cub::DeviceScan input");
      fcam_emu::require_device_range(&out[0], sizeof(out[0]) * static_cast<std::size_t>(n), "cub::DeviceScan output");
      std::memset(temp, 0xab, temp_bytes);
      Value sum = in[0];
      out[0] = sum;
      for (long long i = 1; i < n; ++i) out[i] = sum = sum + in[i];
    });
  }
};

}  // namespace cub

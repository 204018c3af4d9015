// Channel concatenation and split on CUDA. A tensor is batch × channels × inner; per batch entry
// each part's channel block is contiguous in both tensors, so every part moves as one strided
// copy (batch rows of C_i·inner values) enqueued on this thread's stream: no kernel needed.
#include "fcam/cuda/ops/concat.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>

#include "context.hpp"

namespace fcam::cuda {

namespace {

/// Copies `rows` rows of `width` values from src (rows `src_pitch` values apart) to dst (rows
/// `dst_pitch` values apart), device to device on stream().
void copy_rows(float* dst, std::int64_t dst_pitch, const float* src, std::int64_t src_pitch, std::int64_t width,
               std::int64_t rows) {
  if (width == 0 || rows == 0) return;
  const auto bytes = [](std::int64_t values) { return static_cast<std::size_t>(values) * sizeof(float); };
  // cudaMemcpy2DAsync refuses pitches above cudaDevAttrMaxPitch (2^31 − 1 bytes on current
  // GPUs); rows that long make one copy per row cost nothing extra.
  constexpr std::size_t max_pitch = std::numeric_limits<std::int32_t>::max();
  if (rows == 1 || bytes(std::max(dst_pitch, src_pitch)) > max_pitch) {
    for (std::int64_t r = 0; r < rows; ++r)
      check(cudaMemcpyAsync(dst + r * dst_pitch, src + r * src_pitch, bytes(width), cudaMemcpyDeviceToDevice,
                            stream()),
            "channel copy");
    return;
  }
  check(cudaMemcpy2DAsync(dst, bytes(dst_pitch), src, bytes(src_pitch), bytes(width), static_cast<std::size_t>(rows),
                          cudaMemcpyDeviceToDevice, stream()),
        "channel copy");
}

/// Values per channel of a batch × channels × … tensor of `numel` values.
std::int64_t inner_size(std::int64_t numel, std::int64_t batch, std::int64_t channels) {
  return numel / std::max<std::int64_t>(batch * channels, 1);
}

}  // namespace

Tensor<float> concat_channels(const std::vector<Tensor<float>>& parts, const Shape& shape) {
  auto y = Tensor<float>::uninitialized(shape, Device::cuda);
  const std::int64_t batch = shape[0], channels = shape[1], inner = inner_size(y.numel(), batch, channels);
  std::int64_t offset = 0;  // values into each batch entry's row of y
  for (const auto& part : parts) {
    const std::int64_t chunk = part.size(1) * inner;
    copy_rows(y.data() + offset, channels * inner, part.data(), chunk, chunk, batch);
    offset += chunk;
  }
  return y;
}

std::vector<Tensor<float>> split_channels(const Tensor<float>& x, const std::vector<std::int64_t>& channels,
                                          std::int64_t total) {
  const std::int64_t batch = x.size(0), inner = inner_size(x.numel(), batch, total);
  std::vector<Tensor<float>> parts;
  std::int64_t offset = 0;  // values into each batch entry's row of x
  for (const std::int64_t c : channels) {
    Shape shape = x.shape();
    shape[1] = c;
    auto part = Tensor<float>::uninitialized(shape, Device::cuda);
    copy_rows(part.data(), c * inner, x.data() + offset, total * inner, c * inner, batch);
    parts.push_back(part);
    offset += c * inner;
  }
  return parts;
}

}  // namespace fcam::cuda

/// \file
/// \brief Private to cuda/: the launch geometry shared by the element-wise style kernels.
#pragma once

#include <cstdint>

namespace fcam::cuda {

/// Threads per block of the one-thread-per-element kernels.
inline constexpr int block_threads = 256;
/// Threads per warp, and the mask of all of them for the warp's shuffles and ballots.
inline constexpr int warp_size = 32;
inline constexpr unsigned full_warp = 0xffffffffu;
static_assert(block_threads % warp_size == 0, "blocks run whole warps (the warp-level kernels need it)");

/// Blocks for `n` elements with a grid-stride loop: enough to fill the device, capped so that
/// the grid size stays in range for any n (each thread then handles several elements).
inline unsigned grid_for(std::int64_t n) {
  const std::int64_t blocks = (n + block_threads - 1) / block_threads;
  return static_cast<unsigned>(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536);
}

}  // namespace fcam::cuda

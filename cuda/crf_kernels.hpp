/// \file
/// \brief Private to cuda/: raw-pointer launchers of the GPU permutohedral lattice behind the
/// crf_filter op (crf_filter.cu): the CPU lattice's arithmetic (ops/cpu/permutohedral.hpp) for a
/// whole batch in one sequence of launches, deterministic.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace fcam::cuda::launch {

/// Feature dimension (x, y, R, G, B) and vertices per point.
inline constexpr int lattice_dims = 5, lattice_vertices_per_point = lattice_dims + 1;

/// The constants the CPU lattice computes in double and rounds to float.
struct LatticeConstants {
  float scale[lattice_dims];  ///< √(2/3)·(D+1) / √((k+1)(k+2)) per feature
  float inv_xy, inv_rgb;      ///< 1/σ_xy, 1/σ_rgb
  float alpha;                ///< the slice factor 1/(1 + 2^−D)
};

/// Per entry e = point·(D+1) + r (points image-major, pixels row-major): the key of vertex r of
/// the point's simplex (image index and the vertex's first D coordinates, packed in 64 bits),
/// e itself, and its barycentric weight. Sets *out_of_range to 1 when a coordinate does not fit
/// the key's 11 bits.
void lattice_embed(const float* images, std::int64_t batch, std::int64_t h, std::int64_t w, const LatticeConstants& c,
                   std::uint64_t* keys, std::int32_t* entries, float* weights, int* out_of_range, cudaStream_t stream);

/// Bytes of temporary storage that lattice_sort and lattice_number need for `count` entries.
std::size_t lattice_sort_workspace(std::int64_t count);

/// Sorts the (key, entry) pairs by key, stably (entries of one key stay in increasing order).
cudaError_t lattice_sort(const std::uint64_t* keys, const std::int32_t* entries, std::uint64_t* sorted_keys,
                         std::int32_t* sorted_entries, std::int64_t count, void* temp, std::size_t temp_bytes,
                         cudaStream_t stream);

/// Numbers the distinct sorted keys 0, 1, …: ids[j] = the vertex number of sorted entry j, plus
/// one (an inclusive scan of the key changes); the last id is the vertex count.
cudaError_t lattice_number(const std::uint64_t* sorted_keys, std::int32_t* heads, std::int32_t* ids,
                           std::int64_t count, void* temp, std::size_t temp_bytes, cudaStream_t stream);

// After the numbering, the vertex count exists only on the device (`vertex_count`: the last id).
// The vertex tables are sized for `capacity` = count vertices (every entry its own vertex), so
// the host never waits to read it.

/// From the numbering: vertex_keys[v], first[v] (the first sorted entry of v; first[vertices]
/// = count) and vertex_of[e] for every entry e.
void lattice_compact(const std::uint64_t* sorted_keys, const std::int32_t* sorted_entries, const std::int32_t* ids,
                     std::int64_t count, std::uint64_t* vertex_keys, std::int32_t* first, std::int32_t* vertex_of,
                     cudaStream_t stream);
/// values[(v + 1)·C + k] = Σ over v's entries, in entry order, of weight·probs (channel k of the
/// entry's point); row 0 (the zero that missing neighbours read) is set to 0.
void lattice_splat(const std::int32_t* first, const std::int32_t* sorted_entries, const float* weights,
                   const float* probs, const std::int32_t* vertex_count, std::int64_t capacity, std::int64_t channels,
                   std::int64_t points_per_image, float* values, cudaStream_t stream);

/// out = self + ½(neighbour₁ + neighbour₂) along `direction` (0 … D) for every vertex, the
/// neighbours v ∓ (1, …, 1, −D at direction, 1, …) of the same image found by binary search in
/// the sorted vertex keys (absent: row 0); row 0 of out is 0.
void lattice_blur(const float* in, const std::uint64_t* vertex_keys, const std::int32_t* vertex_count,
                  std::int64_t capacity, int direction, std::int64_t channels, float* out, cudaStream_t stream);

/// out (N×C×H×W) at each point: Σ_r (weight·α)·values[vertex_of[e] + 1] over its D+1 entries; NaN
/// everywhere when *out_of_range is set (a vertex key did not fit: lattice_embed).
void lattice_slice(const std::int32_t* vertex_of, const float* weights, const float* values, float alpha,
                   const int* out_of_range, std::int64_t points, std::int64_t channels, std::int64_t points_per_image,
                   float* out, cudaStream_t stream);

}  // namespace fcam::cuda::launch

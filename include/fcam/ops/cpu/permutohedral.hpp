/// \file
/// \brief The permutohedral lattice (Adams, Baek, Davis 2010) in the dense-CRF variant of
/// Krähenbühl & Koltun: the CPU filter behind the crf_filter op (fcam/ops/crf_filter.hpp) and so
/// the F-CAM CRF loss: out_i ≈ Σ_j k(f_i, f_j)·in_j for a Gaussian k, in time linear in the number
/// of points.
///
/// The approximation, and why its scale is not 1 (docs/method.md §5.2): each point's d-dimensional
/// feature (already divided by its σ) is scaled by √(2/3)·(d+1), lifted onto the hyperplane
/// Σ = 0 of R^{d+1} and splatted onto the d+1 vertices of its enclosing simplex with barycentric
/// weights; the lattice values are blurred with the kernel [½ 1 ½] once along each of the d+1
/// lattice directions, then sliced back with the same weights and multiplied by 1/(1+2^−d). That
/// chain is a Gaussian of roughly the right width but not of unit peak: against the exact sum
/// Σ_j exp(−‖f_i−f_j‖²/2)·in_j it returns about 0.46–0.56× (≈ 0.5 at the CRF loss's σ's), and
/// varies with the position of a point in its simplex (tests/test_crf_loss.cpp, against a
/// brute-force sum on 64×64 images: after dividing by the median factor, 90 % of the values are
/// within 7–11 % and all within 30 %). The reference F-CAM code
/// uses exactly this filter, and its λ = 2e−9 was tuned on that scale, so fcam reproduces the
/// filter rather than the exact Gaussian (tests check both: the reference values, and the
/// shape against a brute-force sum).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "fcam/core/error.hpp"

namespace fcam::cpu {

/// Dense indices 0, 1, 2, … for fixed-size integer keys (open addressing, linear probing): the
/// lattice's vertex and simplex tables.
template <int N>
class KeyIndex {
public:
  /// Number of keys.
  std::int32_t size() const { return static_cast<std::int32_t>(keys_.size() / N); }
  /// The key of index `i` (N values).
  const std::int32_t* key(std::int32_t i) const { return keys_.data() + static_cast<std::size_t>(i) * N; }

  /// The index of `key`, added when absent.
  std::int32_t insert(const std::int32_t* key) {
    if (static_cast<std::size_t>(size()) * 2 >= table_.size()) grow();
    std::size_t slot = hash(key) & (table_.size() - 1);
    while (table_[slot] >= 0) {
      if (std::equal(key, key + N, this->key(table_[slot]))) return table_[slot];
      slot = (slot + 1) & (table_.size() - 1);
    }
    table_[slot] = size();
    keys_.insert(keys_.end(), key, key + N);
    return table_[slot];
  }

  /// The index of `key`, −1 when absent.
  std::int32_t find(const std::int32_t* key) const {
    if (table_.empty()) return -1;
    std::size_t slot = hash(key) & (table_.size() - 1);
    while (table_[slot] >= 0) {
      if (std::equal(key, key + N, this->key(table_[slot]))) return table_[slot];
      slot = (slot + 1) & (table_.size() - 1);
    }
    return -1;
  }

private:
  static std::size_t hash(const std::int32_t* key) {
    std::uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int k = 0; k < N; ++k) h = (h ^ static_cast<std::uint32_t>(key[k])) * 0x100000001b3ull;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }

  void grow() {
    table_.assign(std::max<std::size_t>(64, table_.size() * 2), -1);
    for (std::int32_t i = 0; i < size(); ++i) {
      std::size_t slot = hash(key(i)) & (table_.size() - 1);
      while (table_[slot] >= 0) slot = (slot + 1) & (table_.size() - 1);
      table_[slot] = i;
    }
  }

  std::vector<std::int32_t> keys_;   // size() × N
  std::vector<std::int32_t> table_;  // slots holding indices (−1: empty); a power of two
};

/// A permutohedral lattice over n points with D-dimensional features, reusable for any number of
/// filter() calls (the CRF loss filters both softmax channels at once). Not thread-safe while
/// building; filter() is const.
template <int D>
class PermutohedralLattice {
public:
  static_assert(D >= 1 && D <= 16, "PermutohedralLattice: feature dimension out of range");

  /// Builds the lattice of `n` points; features[i·D + k] is feature k of point i, already divided
  /// by its standard deviation. A point whose lifted coordinates leave ±2^24 (a NaN or infinite
  /// feature, or one a few 10^6 beyond its σ) has no simplex: filter() then gives NaN.
  PermutohedralLattice(const float* features, std::int64_t n) : n_(n) {
    FCAM_CHECK(n >= 0, "PermutohedralLattice: negative point count ", n);
    vertex_.resize(static_cast<std::size_t>(n) * (D + 1));
    weight_.resize(static_cast<std::size_t>(n) * (D + 1));
    std::array<float, D> scale{};
    const double inv_std = std::sqrt(2.0 / 3.0) * (D + 1);
    for (int k = 0; k < D; ++k) scale[static_cast<std::size_t>(k)] = static_cast<float>(inv_std / std::sqrt((k + 1.0) * (k + 2.0)));
    for (std::int64_t i = 0; i < n; ++i) embed(features + i * D, scale, i);
    find_blur_neighbours();
  }

  /// Number of lattice vertices in use.
  std::int64_t vertices() const { return vertices_.size(); }

  /// out = the lattice filter of in, both channel-major (channels × n: channel k of point i at
  /// k·n + i, the layout of a C×H×W map). The filter is
  /// α·Pᵀ·B_D⋯B_0·P (P the splat, B_j the symmetric blur along direction j); with `transposed`
  /// the blurs run in the opposite order, which gives its transpose (the blurs do not quite
  /// commute on a sparse lattice, so the two differ by a few percent).
  void filter(const float* in, std::int64_t channels, float* out, bool transposed = false) const {
    FCAM_CHECK(channels >= 1 && channels <= 8, "PermutohedralLattice::filter: 1 to 8 channels, got ", channels);
    if (poisoned_) {  // NaN rather than a filter that silently drops points
      std::fill_n(out, channels * n_, std::numeric_limits<float>::quiet_NaN());
      return;
    }
    const std::int64_t m = vertices();
    const auto c = static_cast<std::size_t>(channels);
    // Row 0 is the zero value that missing neighbours read; vertex v lives in row v + 1.
    std::vector<float> values((static_cast<std::size_t>(m) + 1) * c, 0.0f), blurred(values.size(), 0.0f);
    for (std::int64_t i = 0; i < n_; ++i)  // splat
      for (int r = 0; r <= D; ++r) {
        const std::size_t at = static_cast<std::size_t>(i) * (D + 1) + static_cast<std::size_t>(r);
        float* v = values.data() + (static_cast<std::size_t>(vertex_[at]) + 1) * c;
        for (std::size_t k = 0; k < c; ++k) v[k] += weight_[at] * in[k * static_cast<std::size_t>(n_) + static_cast<std::size_t>(i)];
      }
    for (int step = 0; step <= D; ++step) {  // [½ 1 ½] along each lattice direction
      const int direction = transposed ? D - step : step;
      const std::int32_t* nb = neighbours_.data() + static_cast<std::size_t>(direction) * 2 * static_cast<std::size_t>(m);
      for (std::int64_t v = 0; v < m; ++v) {
        const float* self = values.data() + (static_cast<std::size_t>(v) + 1) * c;
        const float* a = values.data() + (static_cast<std::size_t>(nb[2 * v]) + 1) * c;
        const float* b = values.data() + (static_cast<std::size_t>(nb[2 * v + 1]) + 1) * c;
        float* dst = blurred.data() + (static_cast<std::size_t>(v) + 1) * c;
        for (std::size_t k = 0; k < c; ++k) dst[k] = self[k] + 0.5f * (a[k] + b[k]);
      }
      values.swap(blurred);
    }
    const float alpha = 1.0f / (1.0f + std::pow(2.0f, -static_cast<float>(D)));
    for (std::int64_t i = 0; i < n_; ++i) {  // slice
      std::array<float, 8> sum{};  // channels ≤ 8 (checked above)
      for (int r = 0; r <= D; ++r) {
        const std::size_t at = static_cast<std::size_t>(i) * (D + 1) + static_cast<std::size_t>(r);
        const float* v = values.data() + (static_cast<std::size_t>(vertex_[at]) + 1) * c;
        const float w = weight_[at] * alpha;
        for (std::size_t k = 0; k < c; ++k) sum[k] += w * v[k];
      }
      for (std::size_t k = 0; k < c; ++k) out[k * static_cast<std::size_t>(n_) + static_cast<std::size_t>(i)] = sum[k];
    }
  }

private:
  using Key = std::array<std::int32_t, D>;  // the first D of a vertex's D+1 coordinates (they sum to 0)

  /// Lifts point i onto the lattice: its enclosing simplex's vertices and barycentric weights.
  void embed(const float* f, const std::array<float, D>& scale, std::int64_t i) {
    constexpr int d = D;
    std::array<float, d + 1> elevated{};
    float sum = 0;  // Σ_{k ≥ j} of the scaled features, built from the top
    for (int j = d; j > 0; --j) {
      const float cf = f[j - 1] * scale[static_cast<std::size_t>(j - 1)];
      elevated[static_cast<std::size_t>(j)] = sum - static_cast<float>(j) * cf;
      sum += cf;
    }
    elevated[0] = sum;
    // NaN, infinite or enormous features have no reliable simplex: past 2^24 a float holds no
    // fraction, the roundings below may sum to more than one step off the plane (ranks outside
    // [0, d], which index bary) and the keys near int32's end. Such a point poisons the lattice.
    bool fits = true;
    for (int k = 0; k <= d; ++k) fits = fits && std::abs(elevated[static_cast<std::size_t>(k)]) < max_elevated;
    if (!fits) {
      poisoned_ = true;
      return;
    }
    // The nearest remainder-0 point (coordinates multiples of d+1), then the ranks of the
    // differences, which order the simplex's vertices.
    std::array<std::int32_t, d + 1> rem0{}, rank{};
    std::int32_t off_plane = 0;
    for (int k = 0; k <= d; ++k) {
      const std::int32_t rounded = round_to_int(elevated[static_cast<std::size_t>(k)] / (d + 1));
      rem0[static_cast<std::size_t>(k)] = rounded * (d + 1);
      off_plane += rounded;
    }
    std::array<float, d + 1> diff{};
    for (int k = 0; k <= d; ++k)
      diff[static_cast<std::size_t>(k)] = elevated[static_cast<std::size_t>(k)] - static_cast<float>(rem0[static_cast<std::size_t>(k)]);
    for (int a = 0; a < d; ++a)
      for (int b = a + 1; b <= d; ++b) {  // branch-free: the outcomes are unpredictable
        const std::int32_t a_first = diff[static_cast<std::size_t>(a)] < diff[static_cast<std::size_t>(b)];
        rank[static_cast<std::size_t>(a)] += a_first;
        rank[static_cast<std::size_t>(b)] += 1 - a_first;
      }
    for (int k = 0; k <= d; ++k) {  // back onto the plane Σ = 0
      auto& r = rank[static_cast<std::size_t>(k)];
      r += off_plane;
      if (r < 0) {
        r += d + 1;
        rem0[static_cast<std::size_t>(k)] += d + 1;
      } else if (r > d) {
        r -= d + 1;
        rem0[static_cast<std::size_t>(k)] -= d + 1;
      }
    }
    std::array<float, d + 2> bary{};
    for (int k = 0; k <= d; ++k) {
      const float v = (elevated[static_cast<std::size_t>(k)] - static_cast<float>(rem0[static_cast<std::size_t>(k)])) / (d + 1);
      const auto r = static_cast<std::size_t>(d - rank[static_cast<std::size_t>(k)]);
      bary[r] += v;
      bary[r + 1] -= v;
    }
    bary[0] += 1.0f + bary[static_cast<std::size_t>(d + 1)];
    const std::size_t at = static_cast<std::size_t>(i) * (d + 1);
    std::copy(bary.begin(), bary.begin() + d + 1, weight_.begin() + static_cast<std::ptrdiff_t>(at));
    // Pixels share simplices (a 224² image has a few thousand): look the simplex up once, and
    // its d+1 vertices only the first time it is seen. Its key: rem0's first d coordinates and
    // the ranks packed in 4 bits each.
    std::array<std::int32_t, d + 1> simplex_key{};
    std::copy(rem0.begin(), rem0.begin() + d, simplex_key.begin());
    for (int k = 0; k <= d; ++k) simplex_key[d] |= rank[static_cast<std::size_t>(k)] << (4 * k);
    const std::int32_t simplex = simplices_.insert(simplex_key.data());
    if (static_cast<std::size_t>(simplex) * (d + 1) == simplex_vertices_.size()) {  // new: find its vertices
      Key key{};
      for (int remainder = 0; remainder <= d; ++remainder) {
        for (int k = 0; k < d; ++k) {
          // Vertex `remainder` of the canonical simplex, permuted by the ranks.
          const std::int32_t rk = rank[static_cast<std::size_t>(k)];
          key[static_cast<std::size_t>(k)] = rem0[static_cast<std::size_t>(k)] + (rk <= d - remainder ? remainder : remainder - (d + 1));
        }
        simplex_vertices_.push_back(vertices_.insert(key.data()));
      }
    }
    std::copy_n(simplex_vertices_.begin() + static_cast<std::ptrdiff_t>(simplex) * (d + 1), d + 1,
                vertex_.begin() + static_cast<std::ptrdiff_t>(at));
  }

  /// Rounds half away from zero, like std::lround, without the library call.
  static std::int32_t round_to_int(float v) {
    return static_cast<std::int32_t>(v >= 0 ? std::floor(v + 0.5f) : std::ceil(v - 0.5f));
  }

  /// For each direction j and vertex v: the vertices v ∓ (1, …, 1, −d at j, 1, …) (−1: absent).
  void find_blur_neighbours() {
    const std::int64_t m = vertices();
    neighbours_.assign(static_cast<std::size_t>(D + 1) * 2 * static_cast<std::size_t>(m), -1);
    std::array<std::int32_t, D + 1> n1{}, n2{};
    for (int j = 0; j <= D; ++j)
      for (std::int64_t v = 0; v < m; ++v) {
        const std::int32_t* key = vertices_.key(static_cast<std::int32_t>(v));
        for (int k = 0; k < D; ++k) {
          n1[static_cast<std::size_t>(k)] = key[k] - 1;
          n2[static_cast<std::size_t>(k)] = key[k] + 1;
        }
        if (j < D) {
          n1[static_cast<std::size_t>(j)] = key[j] + D;
          n2[static_cast<std::size_t>(j)] = key[j] - D;
        }
        const std::size_t at = (static_cast<std::size_t>(j) * static_cast<std::size_t>(m) + static_cast<std::size_t>(v)) * 2;
        neighbours_[at] = vertices_.find(n1.data());
        neighbours_[at + 1] = vertices_.find(n2.data());
      }
  }

  /// Largest |lifted coordinate| embedded (2^24; see embed).
  static constexpr float max_elevated = 16777216.0f;

  std::int64_t n_;
  bool poisoned_ = false;                       // a point had no simplex: filter() gives NaN
  std::vector<std::int32_t> vertex_;            // n × (D+1): the simplex vertices of each point
  std::vector<float> weight_;                   // n × (D+1): their barycentric weights
  KeyIndex<D> vertices_;                        // lattice vertices (first D coordinates)
  KeyIndex<D + 1> simplices_;                   // simplices seen (see embed)
  std::vector<std::int32_t> simplex_vertices_;  // simplices × (D+1) vertex indices
  std::vector<std::int32_t> neighbours_;        // (D+1) × vertices × 2
};

}  // namespace fcam::cpu

/// \file
/// \brief Which logit ranks first (top_class of ops/top_k.hpp), written once for the CPU and the
/// GPU (C++17, no other fcam header: nvcc compiles it too, cuda/reduce.cu).
#pragma once

#if defined(__CUDACC__)
#define FCAM_TOP_CLASS_RULE __host__ __device__
#else
#define FCAM_TOP_CLASS_RULE
#endif

namespace fcam {

/// Whether value `a` ranks strictly above `b` in top_k's order: NaN above every number, equal
/// values (and two NaNs) not above each other, so a scan that keeps the first best keeps the
/// lower index.
template <class T>
FCAM_TOP_CLASS_RULE inline bool ranks_above(T a, T b) {
  const bool a_nan = a != a, b_nan = b != b;
  return a_nan ? !b_nan : a > b;
}

/// The index of the first of the `count` > 0 values of `row` that no other ranks above: the
/// top-1 of top_k.
template <class T>
FCAM_TOP_CLASS_RULE inline int top_index(const T* row, int count) {
  int best = 0;
  for (int i = 1; i < count; ++i)
    if (ranks_above(row[i], row[best])) best = i;
  return best;
}

}  // namespace fcam

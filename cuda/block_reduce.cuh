/// \file
/// \brief Private to cuda/: how one block combines its threads' partial results (sums, maxima,
/// minima) in a fixed shared-memory tree, so that every reduction gives the same bits on every
/// run (no atomics, no order that depends on scheduling).
#pragma once

#include "launch.hpp"

namespace fcam::cuda {

/// a + b (sums, accumulated in the type of the values: double for the statistics).
struct Sum {
  template <class T>
  __device__ T operator()(T a, T b) const {
    return a + b;
  }
};

/// The larger of two floats; a NaN loses (fmaxf), as in std::max(worst, NaN) on the CPU.
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

/// The smaller of a and b.
struct Min {
  template <class T>
  __device__ T operator()(T a, T b) const {
    return b < a ? b : a;
  }
};

/// The larger of a and b, keeping a NaN `a`: a running maximum started from the first value and
/// skipping later NaNs, as std::max_element is.
struct Larger {
  template <class T>
  __device__ T operator()(T a, T b) const {
    return b > a ? b : a;
  }
};

/// Combines the `value` of every thread of the block, which must have block_threads threads (a
/// power of two), by halving a shared array in a fixed order; every thread gets the result.
/// Every thread of the block must call it: it synchronises the block.
template <class T, class Combine>
__device__ T block_reduce(T value, Combine combine) {
  __shared__ T shared[block_threads];
  const unsigned tid = threadIdx.x;
  shared[tid] = value;
  __syncthreads();
  for (unsigned half = block_threads / 2; half > 0; half /= 2) {
    if (tid < half) shared[tid] = combine(shared[tid], shared[tid + half]);
    __syncthreads();
  }
  const T result = shared[0];
  __syncthreads();  // a following call overwrites shared[] only after everyone has read shared[0]
  return result;
}

}  // namespace fcam::cuda

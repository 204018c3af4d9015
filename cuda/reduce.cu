// Reductions whose results the host reads: per-run sums and dot products (one block per run)
// and whole-tensor maxima and minima (partials per block, then one block over the partials).
// Every combination goes through block_reduce's fixed tree, so results are the same bits on
// every run; max and min are exact in any order, so they also equal the CPU's. And the top class
// of each row of logits, which stays on the device.
#include "block_reduce.cuh"
#include "fcam/ops/top_class_rule.hpp"
#include "launch.hpp"
#include "reduce_kernels.hpp"

namespace fcam::cuda::launch {

namespace {

// Each thread sums its strided values in double, block_reduce adds the threads' sums.
__global__ void run_sums_kernel(const float* __restrict__ a, const float* __restrict__ b, std::int64_t runs,
                                std::int64_t length, double* __restrict__ out) {
  for (std::int64_t r = blockIdx.x; r < runs; r += gridDim.x) {
    const float* x = a + r * length;
    double sum = 0;
    if (b) {
      const float* y = b + r * length;
      for (std::int64_t i = threadIdx.x; i < length; i += blockDim.x) sum += static_cast<double>(x[i]) * y[i];
    } else {
      for (std::int64_t i = threadIdx.x; i < length; i += blockDim.x) sum += x[i];
    }
    sum = block_reduce(sum, Sum{});
    if (threadIdx.x == 0) out[r] = sum;
  }
}

// One thread per row: a row is at most a few thousand logits, and the serial scan keeps
// top_index's order (the first best).
__global__ void top_class_kernel(const float* __restrict__ logits, std::int64_t rows, std::int64_t classes,
                                 std::int32_t* __restrict__ out) {
  for (std::int64_t r = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; r < rows;
       r += std::int64_t(gridDim.x) * blockDim.x)
    out[r] = top_index(logits + r * classes, static_cast<int>(classes));
}

// An element-wise term of a whole-tensor reduction: Value, how two values combine, the value
// that changes nothing (`identity`) and element i's term (operator()).

// |a[i] − b[i]|, combined by the maximum.
struct AbsDifference {
  using Value = float;
  using Combine = Max;
  Value identity;
  const float* a;
  const float* b;
  __device__ Value operator()(std::int64_t i) const { return fabsf(a[i] - b[i]); }
};

// i where x[i] is NaN or ±∞, else `identity` (n), combined by the minimum.
struct NonFiniteIndex {
  using Value = std::int64_t;
  using Combine = Min;
  Value identity;
  const float* x;
  // All exponent bits set means ±∞ or NaN: a bit test, which no fast-math setting can fold away.
  __device__ Value operator()(std::int64_t i) const {
    return (__float_as_uint(x[i]) & 0x7f800000u) == 0x7f800000u ? i : identity;
  }
};

// The partial results of the first launch, read back by the second.
template <class Term>
struct Partials {
  using Value = typename Term::Value;
  using Combine = typename Term::Combine;
  Value identity;
  const Value* values;
  __device__ Value operator()(std::int64_t i) const { return values[i]; }
};

// out[blockIdx.x] = the combination of term(i) over i < n (grid-stride, then block_reduce).
template <class Term>
__global__ void reduce_kernel(Term term, std::int64_t n, typename Term::Value* __restrict__ out) {
  const typename Term::Combine combine{};
  typename Term::Value value = term.identity;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    value = combine(value, term(i));
  value = block_reduce(value, combine);
  if (threadIdx.x == 0) out[blockIdx.x] = value;
}

// scratch[0, blocks) = the partials, scratch[partial_blocks] = their combination.
template <class Term>
void reduce(Term term, std::int64_t n, typename Term::Value* scratch, cudaStream_t stream) {
  const unsigned wanted = grid_for(n), blocks = wanted < partial_blocks ? wanted : partial_blocks;
  reduce_kernel<<<blocks, block_threads, 0, stream>>>(term, n, scratch);
  reduce_kernel<<<1, block_threads, 0, stream>>>(Partials<Term>{term.identity, scratch}, blocks,
                                                 scratch + partial_blocks);
}

}  // namespace

void run_sums(const float* a, const float* b, std::int64_t runs, std::int64_t length, double* out,
              cudaStream_t stream) {
  if (runs == 0) return;
  const unsigned blocks = static_cast<unsigned>(runs < 65535 ? runs : 65535);
  run_sums_kernel<<<blocks, block_threads, 0, stream>>>(a, b, runs, length, out);
}

void top_class(const float* logits, std::int64_t rows, std::int64_t classes, std::int32_t* out, cudaStream_t stream) {
  if (rows == 0) return;
  top_class_kernel<<<grid_for(rows), block_threads, 0, stream>>>(logits, rows, classes, out);
}

void max_abs_difference(const float* a, const float* b, std::int64_t n, float* scratch, cudaStream_t stream) {
  reduce(AbsDifference{0.0f, a, b}, n, scratch, stream);
}

void first_non_finite(const float* x, std::int64_t n, std::int64_t* scratch, cudaStream_t stream) {
  reduce(NonFiniteIndex{n, x}, n, scratch, stream);
}

}  // namespace fcam::cuda::launch

/// \file
/// \brief CPU kernels of the element-wise ops and their gradients (contracts in fcam/ops/elementwise.hpp).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <type_traits>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"

namespace fcam::cpu {

namespace detail {

/// Below this many elements a loop stays on one thread (thread start-up would cost more).
inline constexpr std::int64_t parallel_grain = 1 << 15;

/// f(i) for i in [0, n), spread over threads for large n and run as vector lanes. `f` is taken by
/// value and should capture by value: with pointers captured by reference the compiler reloaded
/// them every element and kept the loop scalar (and branchy, for ReLU's mask).
template <class F>
void parallel_for_each(std::int64_t n, F f) {
#pragma omp parallel for simd num_threads(num_threads()) schedule(static) if (n > parallel_grain)
  for (std::int64_t i = 0; i < n; ++i) f(i);
}

/// `value` where `keep`, else +0. The select is an AND with an all-ones or all-zeros mask: GCC 12
/// keeps loops around it vector loops (reductions included), where `keep ? value : 0` made them
/// scalar and branchy.
template <Scalar T>
inline T keep_if(bool keep, T value) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  static_assert(sizeof(Bits) == sizeof(T));
  return std::bit_cast<T>(std::bit_cast<Bits>(value) & (keep ? ~Bits(0) : Bits(0)));
}

/// ReLU's gradient for one value: dy where the ReLU's output is positive, else +0.
template <Scalar T>
inline T relu_gate(T dy, T relu_output) {
  return keep_if(relu_output > T(0), dy);
}

}  // namespace detail

// Every op below writes each element of its result, which therefore starts uninitialized.

/// max(x, 0).
template <Scalar T>
Tensor<T> relu(const Tensor<T>& x) {
  auto y = Tensor<T>::uninitialized(x.shape());
  const T* in = x.data();
  T* out = y.data();
  detail::parallel_for_each(x.numel(), [=](std::int64_t i) { out[i] = std::max(in[i], T(0)); });
  return y;
}

/// dy where y > 0, else 0.
template <Scalar T>
Tensor<T> relu_backward(const Tensor<T>& y, const Tensor<T>& grad_y) {
  auto grad_x = Tensor<T>::uninitialized(y.shape());
  const T *out = y.data(), *dy = grad_y.data();
  T* dx = grad_x.data();
  detail::parallel_for_each(y.numel(), [=](std::int64_t i) { dx[i] = detail::relu_gate(dy[i], out[i]); });
  return grad_x;
}

/// min(max(x, 0), 6).
template <Scalar T>
Tensor<T> relu6(const Tensor<T>& x) {
  auto y = Tensor<T>::uninitialized(x.shape());
  const T* in = x.data();
  T* out = y.data();
  detail::parallel_for_each(x.numel(), [=](std::int64_t i) { out[i] = std::clamp(in[i], T(0), T(6)); });
  return y;
}

/// dy where 0 < x < 6, else 0.
template <Scalar T>
Tensor<T> relu6_backward(const Tensor<T>& x, const Tensor<T>& grad_y) {
  auto grad_x = Tensor<T>::uninitialized(x.shape());
  const T *in = x.data(), *dy = grad_y.data();
  T* dx = grad_x.data();
  detail::parallel_for_each(x.numel(),
                            [=](std::int64_t i) { dx[i] = detail::keep_if((in[i] > T(0)) & (in[i] < T(6)), dy[i]); });
  return grad_x;
}

/// a + b.
template <Scalar T>
Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) {
  auto y = Tensor<T>::uninitialized(a.shape());
  const T *pa = a.data(), *pb = b.data();
  T* out = y.data();
  detail::parallel_for_each(a.numel(), [=](std::int64_t i) { out[i] = pa[i] + pb[i]; });
  return y;
}

/// x * m.
template <Scalar T>
Tensor<T> multiply(const Tensor<T>& x, const Tensor<T>& m) {
  auto y = Tensor<T>::uninitialized(x.shape());
  const T *px = x.data(), *pm = m.data();
  T* out = y.data();
  detail::parallel_for_each(x.numel(), [=](std::int64_t i) { out[i] = px[i] * pm[i]; });
  return y;
}

}  // namespace fcam::cpu

/// \file
/// \brief How an op picks its backend: every operand defined and on one device, then the op's
/// `cpu::` kernel (include/fcam/ops/cpu/) or its `cuda::` one (include/fcam/cuda/ops.hpp).
///
/// Every op in include/fcam/ops/ has the same shape: check the contract (shapes, dtypes), ask
/// operand_device() where the operands live, and call the backend's kernel. Only ops/ touches
/// tensor memory; nn/, models/, losses/, optim/, cam/ and train/ call ops.
#pragma once

#include <initializer_list>
#include <type_traits>
#include <vector>

#include "fcam/core/device.hpp"
#include "fcam/core/error.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/cuda/ops.hpp"

namespace fcam {

namespace detail {
/// Throws fcam::Error naming `op` unless `t` is defined and lives on `device`.
template <Scalar T>
void check_operand_on(const char* op, Device device, const Tensor<T>& t) {
  FCAM_CHECK(t.defined(), op, ": an operand is undefined");
  FCAM_CHECK(t.device() == device, op, ": operands on different devices (", to_string(device), " and ",
             to_string(t.device()), "); move them with .to(...) first");
}
}  // namespace detail

/// The device that every operand of `op` lives on. Throws fcam::Error naming `op` when an operand
/// is undefined or when two operands live on different devices (a CUDA tensor must never be read
/// as host memory, and transfers are always explicit).
template <Scalar T>
Device operand_device(const char* op, std::initializer_list<const Tensor<T>*> operands) {
  FCAM_CHECK(operands.size() > 0, op, ": no operand");
  const Device first = (*operands.begin())->device();
  for (const Tensor<T>* t : operands) detail::check_operand_on(op, first, *t);
  return first;
}

/// operand_device for a single operand.
template <Scalar T>
Device operand_device(const char* op, const Tensor<T>& x) {
  return operand_device<T>(op, {&x});
}

/// operand_device with optional operands as well (a bias, a residual, a gradient to add into):
/// a null entry of `optional` is absent and skipped; the others must be defined and live on the
/// device of the `required` ones.
template <Scalar T>
Device operand_device(const char* op, std::initializer_list<const Tensor<T>*> required,
                      std::initializer_list<const Tensor<T>*> optional) {
  const Device device = operand_device<T>(op, required);
  for (const Tensor<T>* t : optional)
    if (t != nullptr) detail::check_operand_on(op, device, *t);
  return device;
}

/// `&t`, or null when `t` is undefined: an optional tensor operand (an absent bias) for the
/// `optional` list of operand_device.
template <Scalar T>
const Tensor<T>* if_defined(const Tensor<T>& t) {
  return t.defined() ? &t : nullptr;
}

/// operand_device for a list of operands known at run time (the parts of a concatenation).
template <Scalar T>
Device operand_device(const char* op, const std::vector<Tensor<T>>& operands) {
  FCAM_CHECK(!operands.empty(), op, ": no operand");
  const Device first = operands.front().device();
  for (const Tensor<T>& t : operands) detail::check_operand_on(op, first, t);
  return first;
}

}  // namespace fcam

namespace fcam::cuda {

/// True when tensors of T have CUDA kernels: float, in a build with CUDA. An op's CUDA branch
/// calls its kernel under `if constexpr (has_kernels<T>)` and unavailable() otherwise.
template <Scalar T>
inline constexpr bool has_kernels = FCAM_WITH_CUDA != 0 && std::is_same_v<T, float>;

/// Throws fcam::Error: `op` has no CUDA kernel yet (or fcam was built without CUDA). The CUDA
/// branch of every op without a kernel in fcam/cuda/ops.hpp.
[[noreturn]] inline void unavailable(const char* op) {
  if (!cuda_compiled())
    fail(op, ": got a CUDA tensor, but fcam was built without CUDA (configure with -DFCAM_WITH_CUDA=ON)");
  fail(op, ": not available on CUDA yet; move the tensors to the CPU with .to(Device::cpu)");
}

/// Throws fcam::Error: `op` has CUDA kernels for float tensors only (T is double), or fcam was
/// built without CUDA. The CUDA branch of an op whose kernel exists, for other types.
template <Scalar T>
[[noreturn]] void unavailable_for(const char* op) {
  if (!cuda_compiled()) unavailable(op);
  fail(op, ": CUDA kernels exist for float tensors only, got ", sizeof(T) == 8 ? "double" : "another type",
       "; convert with .cast<float>() on the CPU first");
}

}  // namespace fcam::cuda

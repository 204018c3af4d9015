/// \file
/// \brief How an op picks its backend: every operand defined and on one device, then the op's
/// `cpu::` kernel (include/fcam/ops/cpu/) or its `cuda::` one (include/fcam/cuda/ops.hpp).
///
/// Every op in include/fcam/ops/ has the same shape: check the contract (shapes, dtypes), ask
/// operand_device() where the operands live, and call the backend's kernel. Only ops/ touches
/// tensor memory; nn/, models/, losses/, optim/, cam/ and train/ call ops.
#pragma once

#include <initializer_list>

#include "fcam/core/device.hpp"
#include "fcam/core/error.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/cuda/ops.hpp"

namespace fcam {

/// The device that every operand of `op` lives on. Throws fcam::Error naming `op` when an operand
/// is undefined or when two operands live on different devices (a CUDA tensor must never be read
/// as host memory, and transfers are always explicit).
template <Scalar T>
Device operand_device(const char* op, std::initializer_list<const Tensor<T>*> operands) {
  FCAM_CHECK(operands.size() > 0, op, ": no operand");
  const Device first = (*operands.begin())->device();
  for (const Tensor<T>* t : operands) {
    FCAM_CHECK(t->defined(), op, ": an operand is undefined");
    FCAM_CHECK(t->device() == first, op, ": operands on different devices (", to_string(first), " and ",
               to_string(t->device()), "); move them with .to(...) first");
  }
  return first;
}

/// operand_device for a single operand.
template <Scalar T>
Device operand_device(const char* op, const Tensor<T>& x) {
  return operand_device<T>(op, {&x});
}

}  // namespace fcam

namespace fcam::cuda {

/// Throws fcam::Error: `op` has no CUDA kernel yet (or fcam was built without CUDA). The CUDA
/// branch of every op without a kernel in fcam/cuda/ops.hpp.
[[noreturn]] inline void unavailable(const char* op) {
  if (!cuda_compiled())
    fail(op, ": got a CUDA tensor, but fcam was built without CUDA (configure with -DFCAM_WITH_CUDA=ON)");
  fail(op, ": not available on CUDA yet; move the tensors to the CPU with .to(Device::cpu)");
}

}  // namespace fcam::cuda

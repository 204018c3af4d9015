// Device memory and host<->device transfers for fcam::Storage (declared in fcam/cuda/api.hpp).
#include <cuda_runtime.h>

#include <string>

#include "fcam/core/error.hpp"
#include "fcam/cuda/api.hpp"

namespace fcam::cuda {

namespace {
void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) fail("CUDA ", what, " failed: ", cudaGetErrorString(status));
}
}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

void* device_alloc(std::size_t bytes) {
  void* ptr = nullptr;
  check(cudaMalloc(&ptr, bytes), "cudaMalloc");
  check(cudaMemset(ptr, 0, bytes), "cudaMemset");
  return ptr;
}

void device_free(void* ptr) noexcept {
  if (ptr) cudaFree(ptr);
}

void copy_host_to_device(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "host-to-device copy");
}

void copy_device_to_host(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "device-to-host copy");
}

void copy_device_to_device(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "device-to-device copy");
}

}  // namespace fcam::cuda

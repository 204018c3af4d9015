// The NCCL world on one GPU (NCCL refuses two ranks on one GPU, so the machine with one card runs
// a world of one): all-reduce and broadcast of GPU buffers of 1, 1,023 and 25 MB + 1 floats
// leave them as they are, host memory is refused, a barrier returns. Run as
// `mpirun -np 1 test_dist_nccl` (ctest label nccl); exits 77 (skipped) without a GPU.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cuda_runtime.h>

#include <cstdint>
#include <iostream>
#include <vector>

#include <fcam/dist/nccl.hpp>

using namespace fcam;

namespace {
dist::Communicator* world_ptr = nullptr;
}

TEST_CASE("NCCL all-reduce and broadcast of GPU memory in a world of one", "[nccl]") {
  dist::Communicator& world = *world_ptr;
  REQUIRE(world.size() == 1);
  CHECK(world.backend().rfind("NCCL", 0) == 0);
  for (const std::int64_t n : {std::int64_t{1}, std::int64_t{1023}, std::int64_t{25} * (1 << 20) / 4 + 1}) {
    std::vector<float> host(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) host[static_cast<std::size_t>(i)] = static_cast<float>(i % 1000) * 0.5f;
    float* device = nullptr;
    REQUIRE(cudaMalloc(&device, sizeof(float) * host.size()) == cudaSuccess);
    REQUIRE(cudaMemcpy(device, host.data(), sizeof(float) * host.size(), cudaMemcpyHostToDevice) == cudaSuccess);
    world.all_reduce_sum(std::span<float>(device, host.size()));
    world.broadcast(std::span<float>(device, host.size()), 0);
    std::vector<float> back(host.size());
    REQUIRE(cudaMemcpy(back.data(), device, sizeof(float) * back.size(), cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(back == host);
    cudaFree(device);
  }
  std::vector<float> host(4, 1.0f);
  CHECK_THROWS_WITH(world.all_reduce_sum(std::span<float>(host)), Catch::Contains("NCCL collectives move GPU memory"));
  world.barrier();
}

int main(int argc, char** argv) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::cout << "skipped: no GPU\n";
    return 77;
  }
  auto w = dist::nccl_world({.timeout_seconds = 120});
  world_ptr = w.get();
  return Catch::Session().run(argc, argv);
}

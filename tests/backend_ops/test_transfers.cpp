// test_backend_ops: device memory, explicit transfers, the caching allocator's zero fill, reuse
// and release.
#include "backend_ops/compare.hpp"

using namespace fcam;
using namespace fcam::test;

TEST_CASE("tensors round-trip through device memory", "[cuda]") {
  REQUIRE(cuda::device_count() > 0);
  Tensor<float> host = Tensor<float>::from({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor<float> device = host.to(Device::cuda);
  CHECK(device.device() == Device::cuda);
  CHECK(device.shape() == host.shape());
  Tensor<float> device_copy = device.clone();  // device-to-device
  Tensor<float> back = device_copy.to(Device::cpu);
  for (std::int64_t i = 0; i < host.numel(); ++i) CHECK(back.data()[i] == host.data()[i]);
  CHECK_THROWS_WITH(device.fill(1.0f), Catch::Contains("expects a CPU tensor, got a cuda tensor"));
  // A view keeps its offset on the device too.
  CHECK(host_values(Tensor<float>::from({3, 2}, {1, 2, 3, 4, 5, 6}).to(Device::cuda).batch(1)) == std::vector<float>{3, 4});
}

TEST_CASE("new CUDA tensors are zero even when the cached block held other values", "[cuda]") {
  for (int round = 0; round < 3; ++round) {
    { Tensor<float> dirty = Tensor<float>::full({1000, 37}, 7.0f).to(Device::cuda); }  // freed into the cache
    const std::vector<float> fresh = host_values(Tensor<float>({1000, 37}, Device::cuda));
    CHECK(std::count(fresh.begin(), fresh.end(), 0.0f) == 37000);
  }
  Tensor<float> t = Tensor<float>::full({4, 5}, 3.0f).to(Device::cuda);
  Tensor<float> second = t.batch(2, 2);
  second.zero();  // only the view
  const std::vector<float> values = host_values(t);
  CHECK(std::count(values.begin(), values.begin() + 10, 3.0f) == 10);
  CHECK(std::count(values.begin() + 10, values.end(), 0.0f) == 10);
  CHECK(Tensor<double>({4}, Device::cuda).to(Device::cpu).data()[3] == 0.0);  // doubles can live there
}

TEST_CASE("the caching allocator reuses, splits and releases blocks", "[cuda]") {
  cuda::synchronize();
  cuda::empty_cache();
  const cuda::MemoryStats start = cuda::memory_stats();
  {
    std::vector<Tensor<float>> small;
    // 4 KB each: one 2 MiB segment at most (none when a segment that kept tensors, such as the
    // resize tables kept per geometry, has room).
    for (int i = 0; i < 100; ++i) small.emplace_back(Shape{1000}, Device::cuda);
    CHECK(cuda::memory_stats().device_mallocs <= start.device_mallocs + 1);
    CHECK(cuda::memory_stats().reserved_bytes <= start.reserved_bytes + (std::size_t{2} << 20));
    CHECK(cuda::memory_stats().allocated_bytes >= start.allocated_bytes + 400'000);
  }
  CHECK(cuda::memory_stats().allocated_bytes == start.allocated_bytes);
  { Tensor<float> big({64, 1024, 1024}, Device::cuda); }  // 256 MiB
  const std::int64_t mallocs = cuda::memory_stats().device_mallocs;
  { Tensor<float> again({64, 1024, 1000}, Device::cuda); }  // fits the cached block: no cudaMalloc
  CHECK(cuda::memory_stats().device_mallocs == mallocs);
  CHECK(cuda::memory_stats().peak_allocated_bytes >= std::size_t{256} << 20);
  cuda::empty_cache();
  CHECK(cuda::memory_stats().reserved_bytes == start.reserved_bytes);
}


// test_backend_ops: device memory, explicit transfers (pinned, staged, and ahead on the copy
// stream), the caching allocator's zero fill, reuse and release.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "backend_ops/compare.hpp"

using namespace fcam;
using namespace fcam::test;

namespace {
/// Convolutions queued on the stream ahead of a copy, so that the copy is still waiting while the
/// host part of a test runs: each of 59 GFLOP, 32 take tens of milliseconds on any GPU with TF32
/// off, while the host part takes a few milliseconds.
class QueuedWork {
public:
  explicit QueuedWork(std::uint64_t seed)
      : x_(random_tensor({64, 64, 112, 112}, seed).to(Device::cuda)),
        kernel_(random_tensor({64, 64, 3, 3}, seed + 1, -0.01, 0.01).to(Device::cuda)) {
    cuda::synchronize();
  }
  /// Enqueues `convolutions` more.
  void queue(int convolutions) {
    for (int i = 0; i < convolutions; ++i) x_ = conv2d(x_, kernel_, Tensor<float>(), Conv2dGeometry::square(3, 1, 1));
  }

private:
  Tensor<float> x_, kernel_;
};
}  // namespace

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


TEST_CASE("pinned batches copy to the GPU without waiting, and their memory is reused only after the copy",
          "[cuda]") {
  const Shape shape{16, 3, 224, 224};  // 9.6 MB, a batch of stage 2
  Tensor<float> first = Tensor<float>::uninitialized_pinned(shape);
  REQUIRE(first.is_pinned());
  first.fill(1.0f);
  // Work queued ahead of the copy, so that it is still waiting when its source dies below.
  QueuedWork busy(1);
  busy.queue(32);
  const Tensor<float> on_gpu = first.to(Device::cuda);
  const float* first_block = first.data();
  first = Tensor<float>();  // its block goes back to the cache while the copy may still be queued
  Tensor<float> second = Tensor<float>::uninitialized_pinned(shape);
  CHECK(second.data() != first_block);  // its copy is still queued behind the convolutions
  second.fill(2.0f);  // had the block been handed out, this would corrupt the copy
  const std::vector<float> copied = host_values(on_gpu);
  CHECK(std::all_of(copied.begin(), copied.end(), [](float v) { return v == 1.0f; }));
  // Once the copies are done, the cache hands the same block out again.
  cuda::synchronize();
  const float* second_block = second.data();
  second = Tensor<float>();
  const Tensor<float> third = Tensor<float>::uninitialized_pinned(shape);
  CHECK((third.data() == first_block || third.data() == second_block));
  // Views copy too, and a pinned tensor holds the values written into it.
  Tensor<float> small = Tensor<float>::uninitialized_pinned({4, 5});
  for (std::int64_t i = 0; i < 20; ++i) small.data()[i] = static_cast<float>(i);
  CHECK(host_values(small.batch(2).to(Device::cuda)) == std::vector<float>{10, 11, 12, 13, 14});
}

TEST_CASE("small host tables are staged: ops that upload them queue the copy, and the source may change at once",
          "[cuda]") {
  // fill_planes uploads its per-plane values through a staging block. Queued behind convolutions
  // (as above), the copy is still pending when the values are overwritten and freed below.
  QueuedWork busy(3);
  busy.queue(32);
  auto values = std::make_unique<std::vector<float>>(std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -0.5f});
  const Tensor<float> planes = fill_planes(Shape{3, 2, 4, 5}, *values, Device::cuda);
  std::fill(values->begin(), values->end(), 99.0f);
  values.reset();
  const std::vector<float> got = host_values(planes);
  const std::vector<float> expected{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -0.5f};
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == expected[i / 20]);
}

TEST_CASE("batches copied ahead on the copy stream arrive whole, and the stream waits for them", "[cuda]") {
  const Shape shape{16, 3, 224, 224};
  QueuedWork busy(5);
  // The destination's block may have been freed by queued work: the copy must wait for it.
  busy.queue(32);
  data::Batch batch;
  batch.inputs = Tensor<float>::uninitialized_pinned(shape);
  batch.inputs.fill(3.0f);
  // Pinned too: a copy from ordinary memory would make the host wait for the queued work.
  const Tensor<float> raw_values = random_tensor({2, 3, 4, 5}, 7);
  batch.raw = Tensor<float>::uninitialized_pinned(raw_values.shape());
  batch.raw.copy_from(raw_values);
  const std::vector<float> raw = host_values(raw_values);
  data::BatchAhead ahead(std::move(batch), Device::cuda);
  // The copies start when the convolutions end, and so would the addition below without the
  // stream's wait for them (no work is queued in between): it would read a destination still
  // being written.
  const data::Batch on_gpu = ahead.take();
  REQUIRE(on_gpu.inputs.device() == Device::cuda);
  const Tensor<float> doubled = add(on_gpu.inputs, on_gpu.inputs);  // queued after the stream's wait
  const std::vector<float> got = host_values(doubled);
  CHECK(std::all_of(got.begin(), got.end(), [](float v) { return v == 6.0f; }));
  CHECK(host_values(on_gpu.raw) == raw);
  // A tensor already on the device is kept as it is.
  UploadAhead<float> kept(on_gpu.inputs, Device::cuda);
  CHECK(kept.take().data() == on_gpu.inputs.data());
}

TEST_CASE("an upload dropped before its take() cannot write memory handed out afterwards", "[cuda]") {
  const Shape shape{16, 3, 224, 224};
  QueuedWork busy(8);
  busy.queue(32);
  Tensor<float> pinned = Tensor<float>::uninitialized_pinned(shape);
  pinned.fill(1.0f);
  {
    UploadAhead<float> dropped(pinned, Device::cuda);  // still queued behind the convolutions
  }
  // Its destination's block goes back to the cache; the next tensor of that size is likely it.
  const Tensor<float> zeros(shape, Device::cuda);
  const std::vector<float> got = host_values(zeros);
  CHECK(std::all_of(got.begin(), got.end(), [](float v) { return v == 0.0f; }));
}

// Tensor, RNG and thread-count behaviour.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <thread>
#include <vector>

#include <fcam/fcam.hpp>

using namespace fcam;

TEST_CASE("tensor shape, strides, alignment and zero initialisation", "[tensor]") {
  Tensor<float> t({2, 3, 4, 5});
  CHECK(t.numel() == 120);
  CHECK(t.ndim() == 4);
  CHECK(t.strides() == Shape{60, 20, 5, 1});
  CHECK(t.size(-1) == 5);
  CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
  for (std::int64_t i = 0; i < t.numel(); ++i) REQUIRE(t.data()[i] == 0.0f);
  t(1, 2, 3, 4) = 7.0f;
  CHECK(t.data()[119] == 7.0f);
  CHECK(t.at({1, 2, 3, 4}) == 7.0f);
  CHECK_FALSE(Tensor<double>().defined());
}

TEST_CASE("shapes whose byte size overflows 64 bits are refused before any allocation", "[tensor][errors]") {
  using Catch::Contains;
  CHECK_THROWS_WITH(Tensor<float>({std::int64_t{1} << 32, std::int64_t{1} << 32}), Contains("too many elements"));
  CHECK_THROWS_WITH(Tensor<double>({std::int64_t{1} << 61, 2}), Contains("8-byte elements"));  // elements fit, bytes do not
  CHECK_THROWS_WITH(Tensor<float>::uninitialized({std::int64_t{1} << 62, 4}), Contains("too many elements"));
  CHECK_THROWS_WITH(Tensor<float>({2, -3}), Contains("invalid shape [2, -3]: negative size"));
  const Tensor<float> t({2, 3});
  CHECK_THROWS_WITH(t.reshape({std::int64_t{1} << 32, std::int64_t{1} << 32, 0, -1}), Contains("negative size"));
  // Empty tensors: no elements, but the strides of the other sizes must still fit in 63 bits.
  CHECK(Tensor<float>({0, std::int64_t{1} << 20, std::int64_t{1} << 20}).numel() == 0);
  CHECK_THROWS_WITH(Tensor<float>({0, std::int64_t{1} << 40, std::int64_t{1} << 40}), Contains("too many elements"));
  CHECK(numel_of({std::int64_t{1} << 62, 4, 0}) == 0);  // no signed overflow on the way to 0 (UBSan)
}

TEST_CASE("large CPU buffers are reused through the cache of freed ones, zeroed when asked", "[tensor][cache]") {
  if (!detail::cpu_cache_allowed) {
    WARN("not tested: this build (a sanitizer) never caches CPU buffers");
    return;
  }
  struct RestoreLimit {  // the other tests of this binary keep the limit they started with
    std::size_t limit = cpu_cache_limit();
    ~RestoreLimit() { set_cpu_cache_limit(limit); }
  } restore;
  set_cpu_cache_limit(std::size_t{64} << 20);
  CHECK(cpu_cache_limit() == std::size_t{64} << 20);
  const Shape large{1 << 20};  // 4 MB of float
  const float* first = nullptr;
  {
    auto t = Tensor<float>::uninitialized(large);
    first = t.data();
    std::fill(t.data(), t.data() + t.numel(), 7.0f);
    CHECK(cpu_cache_bytes() == 0);
  }
  CHECK(cpu_cache_bytes() == std::size_t{4} << 20);  // kept on free
  {
    Tensor<float> again(large);  // the same block, zeroed again
    CHECK(again.data() == first);
    CHECK(cpu_cache_bytes() == 0);
    CHECK(std::all_of(again.data(), again.data() + again.numel(), [](float v) { return v == 0.0f; }));
    CHECK(reinterpret_cast<std::uintptr_t>(again.data()) % 64 == 0);
  }
  {
    Tensor<float> small({1000});  // below the cache's minimum: straight back to malloc
  }
  CHECK(cpu_cache_bytes() == std::size_t{4} << 20);
  {  // past the limit the oldest blocks go first: 20 blocks of 4 MB under a 64 MB limit
    std::vector<Tensor<float>> many;
    for (int i = 0; i < 20; ++i) many.push_back(Tensor<float>::uninitialized({(1 << 20) + 1024 * i}));
  }
  CHECK(cpu_cache_bytes() <= std::size_t{64} << 20);
  CHECK(cpu_cache_bytes() > std::size_t{56} << 20);
  release_cpu_cache();
  CHECK(cpu_cache_bytes() == 0);
  set_cpu_cache_limit(0);  // off: nothing is kept
  { auto t = Tensor<float>::uninitialized(large); }
  CHECK(cpu_cache_bytes() == 0);
}

TEST_CASE("copies share storage, clone and views behave", "[tensor]") {
  Tensor<double> a = Tensor<double>::from({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor<double> alias = a;
  alias(0, 0) = 10;
  CHECK(a(0, 0) == 10);
  Tensor<double> deep = a.clone();
  deep(0, 1) = -1;
  CHECK(a(0, 1) == 2);
  Tensor<double> rows = a.batch(1, 2);
  CHECK(rows.shape() == Shape{2, 2});
  CHECK(rows(0, 0) == 3);
  rows(1, 1) = 60;  // views write through
  CHECK(a(2, 1) == 60);
  CHECK(a.reshape({2, 3})(1, 0) == 4);
  Tensor<float> f = a.cast<float>();
  CHECK(f(2, 1) == 60.0f);
  CHECK(a.to(Device::cpu)(2, 1) == 60);
}

TEST_CASE("the RNG is reproducible and its samplers have the right moments", "[rng]") {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) REQUIRE(a.next_u64() == b.next_u64());
  // Reference outputs of xoshiro256** seeded through splitmix64, from an independent Python
  // transcription of the published algorithms (whose splitmix64(0) gives the published
  // 0xe220a8397b1dcdaf): the same stream on every compiler and platform.
  Rng zero(0);
  CHECK(zero.next_u64() == 0x99ec5f36cb75f2b4ULL);
  CHECK(zero.next_u64() == 0xbf6e1f784956452aULL);
  CHECK(zero.next_u64() == 0x1a5f849d4933e6e0ULL);
  Rng answer(42);
  CHECK(answer.next_u64() == 0x15780b2e0c2ec716ULL);
  CHECK(answer.next_u64() == 0x6104d9866d113a7eULL);
  Rng rng(7);
  const int n = 200000;
  double sum = 0, sq = 0, usum = 0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    sum += z;
    sq += z * z;
    usum += rng.uniform();
  }
  CHECK(std::abs(sum / n) < 0.01);
  CHECK(std::abs(sq / n - 1.0) < 0.01);
  CHECK(std::abs(usum / n - 0.5) < 0.005);
  for (int i = 0; i < 1000; ++i) REQUIRE(rng.below(7) < 7);
}

namespace {

// The initial weights of a Linear layer built from the calling thread's default generator.
std::vector<float> fresh_linear_weights() {
  nn::Linear<float> layer(16, 8);
  const Tensor<float>& w = layer.weight().value;
  return std::vector<float>(w.data(), w.data() + w.numel());
}

}  // namespace

TEST_CASE("the default generator behind module constructors is per thread, never shared", "[rng]") {
  // This thread's generator: seeded, then advanced.
  manual_seed(5);
  Rng five(5);
  CHECK(default_rng().next_u64() == five.next_u64());
  // Another thread starts from seed 0 and reseeds only its own generator.
  std::uint64_t other_first = 0;
  std::thread([&] {
    other_first = default_rng().next_u64();
    manual_seed(99);
    default_rng().next_u64();
  }).join();
  CHECK(other_first == Rng(0).next_u64());
  CHECK(default_rng().next_u64() == five.next_u64());  // untouched by the other thread

  // Models built concurrently: each thread's layers are those of its own seed, as if built alone
  // (with one shared generator the draws interleave, and the unsynchronised state races).
  std::vector<std::vector<float>> expected;
  for (int t = 0; t < 4; ++t) {
    manual_seed(static_cast<std::uint64_t>(100 + t));
    expected.push_back(fresh_linear_weights());
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &expected, &mismatches] {
      for (int round = 0; round < 200; ++round) {
        manual_seed(static_cast<std::uint64_t>(100 + t));
        mismatches[static_cast<std::size_t>(t)] += fresh_linear_weights() != expected[static_cast<std::size_t>(t)];
      }
    });
  for (auto& thread : threads) thread.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}

TEST_CASE("thread count from the API and FCAM_NUM_THREADS", "[threads]") {
  // ctest sets FCAM_NUM_THREADS=2 for this executable.
  if (const char* env = std::getenv("FCAM_NUM_THREADS")) CHECK(num_threads() == std::atoi(env));
  set_num_threads(1);
  CHECK(num_threads() == 1);
  set_num_threads(2);
  CHECK(num_threads() == 2);
  CHECK_THROWS_WITH(set_num_threads(0), Catch::Contains("must be >= 1"));
}

TEST_CASE("set_num_threads is thread-safe: concurrent calls leave one consistent count", "[threads]") {
  const int before = num_threads();
  std::vector<std::thread> threads;
  std::vector<int> bad_reads(6, 0);
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([t, &bad_reads] {
      for (int i = 0; i < 2000; ++i) {
        set_num_threads(1 + (t + i) % 6);
        const int n = num_threads();
        bad_reads[static_cast<std::size_t>(t)] += n < 1 || n > 6;
      }
    });
  for (auto& thread : threads) thread.join();
  CHECK(bad_reads == std::vector<int>(6, 0));
  // fcam's count and Eigen's were set together: both hold the last call's value.
  CHECK(num_threads() >= 1);
  CHECK(num_threads() <= 6);
  CHECK(Eigen::nbThreads() == num_threads());
  set_num_threads(before);
  CHECK(num_threads() == before);
  CHECK(Eigen::nbThreads() == before);
}

TEST_CASE("NoGradGuard stops caching, so backward reports the missing forward", "[grad]") {
  nn::ReLU<float> relu;
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    relu.forward(Tensor<float>::full({1, 1, 2, 2}, 1.0f));
  }
  CHECK(grad_enabled());
  CHECK_THROWS_WITH(relu.backward(Tensor<float>({1, 1, 2, 2})), Catch::Contains("no cached forward"));
}

TEST_CASE("parameter names follow PyTorch's dotted convention", "[module]") {
  models::Bottleneck<float> block(16, 4, 2);
  std::vector<std::string> names;
  for (auto& [name, p] : block.named_parameters()) names.push_back(name);
  const std::vector<std::string> expected = {"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight",
                                             "bn2.weight",   "bn2.bias",   "conv3.weight", "bn3.weight",
                                             "bn3.bias",     "downsample.0.weight", "downsample.1.weight",
                                             "downsample.1.bias"};
  CHECK(names == expected);
  std::vector<std::string> buffers;
  for (auto& [name, b] : block.named_buffers()) buffers.push_back(name);
  CHECK(buffers.size() == 12);
  CHECK(buffers.front() == "bn1.running_mean");
  CHECK(buffers.back() == "downsample.1.num_batches_tracked");
  // torchvision's Bottleneck(16, 4, stride 2, downsample): 64 + 144 + 64 + 64 conv weights, 4 BNs.
  CHECK(block.parameter_count() == 16 * 4 + 4 * 4 * 9 + 4 * 16 + 16 * 16 + 2 * (4 + 4 + 16 + 16));
}

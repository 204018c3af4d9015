// The packed GEMM against a naive triple loop: edge sizes, strided (transposed) operands, accumulation.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <fcam/fcam.hpp>

using namespace fcam;
namespace gemm = fcam::cpu::gemm;

template <class T>
void check_gemm(std::int64_t m, std::int64_t n, std::int64_t k, bool transpose_a, bool transpose_b, bool accumulate) {
  Rng rng(static_cast<std::uint64_t>(m * 10007 + n * 101 + k));
  std::vector<T> a(static_cast<std::size_t>(m * k)), b(static_cast<std::size_t>(k * n));
  std::vector<T> c(static_cast<std::size_t>(m * (n + 3))), expected;
  for (auto& v : a) v = static_cast<T>(rng.uniform(-1, 1));
  for (auto& v : b) v = static_cast<T>(rng.uniform(-1, 1));
  for (auto& v : c) v = static_cast<T>(rng.uniform(-1, 1));
  expected = c;
  const std::int64_t ldc = n + 3;  // C rows padded: the kernel must not touch the padding
  const std::int64_t rsa = transpose_a ? 1 : k, csa = transpose_a ? m : 1;
  const std::int64_t rsb = transpose_b ? 1 : n, csb = transpose_b ? k : 1;
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double sum = accumulate ? static_cast<double>(expected[static_cast<std::size_t>(i * ldc + j)]) : 0.0;
      for (std::int64_t p = 0; p < k; ++p)
        sum += static_cast<double>(a[static_cast<std::size_t>(i * rsa + p * csa)]) *
               static_cast<double>(b[static_cast<std::size_t>(p * rsb + j * csb)]);
      expected[static_cast<std::size_t>(i * ldc + j)] = static_cast<T>(sum);
    }
  gemm::gemm<T>(m, n, k, a.data(), rsa, csa, b.data(), rsb, csb, c.data(), ldc, accumulate);
  const double tol = std::is_same_v<T, float> ? 1e-5 * std::sqrt(static_cast<double>(k) + 1) : 1e-12;
  for (std::size_t i = 0; i < c.size(); ++i) REQUIRE(std::abs(c[i] - expected[i]) <= tol);
}

TEST_CASE("packed GEMM equals the naive product", "[gemm]") {
  const std::int64_t sizes[][3] = {{1, 1, 1}, {8, 32, 5}, {7, 31, 300}, {13, 65, 257}, {64, 100, 600}, {6, 16, 1},
                                   {3, 200, 0}};
  for (const auto& s : sizes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (bool acc : {false, true}) {
          INFO("m=" << s[0] << " n=" << s[1] << " k=" << s[2] << " ta=" << ta << " tb=" << tb << " acc=" << acc);
          check_gemm<float>(s[0], s[1], s[2], ta, tb, acc);
          check_gemm<double>(s[0], s[1], s[2], ta, tb, acc);
        }
}

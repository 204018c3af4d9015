// The packed GEMM against a naive triple loop: edge sizes, strided (transposed) operands, accumulation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>
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

// A product with an epilogue, through the blocked loops: deep enough for several k blocks (the
// epilogue must follow the last one), no depth at all, and rows from m_begin > 0 (a thread's share).
template <class T>
void check_gemm_epilogue(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t m_begin, bool accumulate) {
  Rng rng(static_cast<std::uint64_t>(m * 31 + n * 7 + k + m_begin));
  auto uniform = [&](std::size_t size, double lo, double hi) {
    std::vector<T> v(size);
    for (auto& x : v) x = static_cast<T>(rng.uniform(lo, hi));
    return v;
  };
  const std::int64_t ldc = n + 2, ldr = n + 5;
  const std::vector<T> a = uniform(static_cast<std::size_t>(m * k), -1, 1);
  const std::vector<T> b = uniform(static_cast<std::size_t>(k * n), -1, 1);
  const std::vector<T> scale = uniform(static_cast<std::size_t>(m), 0.5, 2), shift = uniform(scale.size(), -2, 2);
  const std::vector<T> residual = uniform(static_cast<std::size_t>(m * ldr), -2, 2);
  std::vector<T> c = uniform(static_cast<std::size_t>(m * ldc), -1, 1);
  const std::vector<T> c0 = c;
  std::vector<T> a_packed(static_cast<std::size_t>(std::max<std::int64_t>(gemm::packed_a_size<T>(m, k), 1)));
  std::vector<T> b_packed(static_cast<std::size_t>(std::max<std::int64_t>(gemm::packed_b_size<T>(k, n), 1)));
  gemm::pack_a(a.data(), k, std::int64_t{1}, m, k, a_packed.data());
  gemm::pack_b(b.data(), n, std::int64_t{1}, k, n, b_packed.data());
  gemm::Epilogue<T> e;
  e.scale = scale.data();
  e.shift = shift.data();
  e.residual = residual.data();
  e.ldr = ldr;
  e.relu = true;
  e.relu_max = T(6);
  gemm::gemm_packed_rows(m, n, k, a_packed.data(), b_packed.data(), c.data(), ldc, accumulate, m_begin, m, e);
  int clamped_low = 0, clamped_high = 0;
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < ldc; ++j) {
      const std::size_t at = static_cast<std::size_t>(i * ldc + j);
      if (i < m_begin || j >= n) {
        REQUIRE(c[at] == c0[at]);  // rows of other threads and the row padding: untouched
        continue;
      }
      double v = accumulate ? static_cast<double>(c0[at]) : 0.0;
      for (std::int64_t p = 0; p < k; ++p)
        v += static_cast<double>(a[static_cast<std::size_t>(i * k + p)]) * b[static_cast<std::size_t>(p * n + j)];
      const std::size_t row = static_cast<std::size_t>(i);
      v = v * scale[row] + shift[row] + residual[static_cast<std::size_t>(i * ldr + j)];
      v = std::min(std::max(v, 0.0), 6.0);
      clamped_low += c[at] == T(0);
      clamped_high += c[at] == T(6);
      const double tol = std::is_same_v<T, float> ? 2e-5 * std::sqrt(static_cast<double>(k) + 1) : 1e-12;
      REQUIRE(std::abs(static_cast<double>(c[at]) - v) <= tol);
    }
  if ((m - m_begin) * n >= 64) CHECK((clamped_low > 0 && (k == 0 || clamped_high > 0)));
}

TEST_CASE("packed GEMM applies the epilogue after the last k block", "[gemm]") {
  // {m, n, k, m_begin}: several k blocks (kc_block is 256), no depth, a share from row 24.
  const std::int64_t sizes[][4] = {{13, 37, 600, 0}, {30, 40, 300, 24}, {7, 20, 0, 0}, {48, 33, 257, 24}};
  for (const auto& s : sizes)
    for (bool acc : {false, true}) {
      INFO("m=" << s[0] << " n=" << s[1] << " k=" << s[2] << " m_begin=" << s[3] << " acc=" << acc);
      check_gemm_epilogue<float>(s[0], s[1], s[2], s[3], acc);
      check_gemm_epilogue<double>(s[0], s[1], s[2], s[3], acc);
    }
}

TEST_CASE("FCAM_ISA picks the kernels, otherwise the best the CPU has", "[gemm][isa]") {
  const cpu::Isa active = cpu::active_isa();
  if (const char* forced = std::getenv("FCAM_ISA"); forced != nullptr && *forced != '\0') {
    CHECK(cpu::isa_name(active) == forced);
  } else {
    for (cpu::Isa better : {cpu::Isa::avx512, cpu::Isa::avx2, cpu::Isa::portable}) {
      if (better == active) break;
      CHECK_FALSE(cpu::cpu_supports(better));  // nothing faster was passed over
    }
  }
  CHECK(cpu::cpu_supports(active));
  CHECK(gemm::active_float_kernels().isa == active);
  CHECK(gemm::block<float>().mr == gemm::active_float_kernels().mr);
  for (cpu::Isa isa : {cpu::Isa::portable, cpu::Isa::avx2, cpu::Isa::avx512})
    CHECK(cpu::parse_isa(cpu::isa_name(isa)) == isa);
  CHECK_FALSE(cpu::parse_isa("sse9").has_value());
}

TEST_CASE("every micro-kernel the CPU supports equals the naive block product", "[gemm][isa]") {
  for (cpu::Isa isa : {cpu::Isa::portable, cpu::Isa::avx2, cpu::Isa::avx512}) {
    if (!cpu::cpu_supports(isa)) {
      WARN("not tested on this CPU: " << cpu::isa_name(isa));
      continue;
    }
    const gemm::FloatKernels& kernels = gemm::float_kernels(isa);
    REQUIRE(kernels.isa == isa);
    const std::int64_t mr = kernels.mr, nr = kernels.nr, kc = 37, ldc = nr + 5;
    Rng rng(7);
    std::vector<float> a(static_cast<std::size_t>(kc * mr)), b(static_cast<std::size_t>(kc * nr));
    for (auto& v : a) v = static_cast<float>(rng.uniform(-1, 1));
    for (auto& v : b) v = static_cast<float>(rng.uniform(-1, 1));
    for (const auto& [rows, cols] : {std::pair{mr, nr}, std::pair{mr - 1, nr - 3}, std::pair{std::int64_t{1}, std::int64_t{1}}})
      for (bool accumulate : {false, true}) {
        INFO(cpu::isa_name(isa) << " rows=" << rows << " cols=" << cols << " acc=" << accumulate);
        std::vector<float> c(static_cast<std::size_t>(mr * ldc), 0.5f);
        kernels.packed(kc, a.data(), b.data(), c.data(), ldc, accumulate, rows, cols, nullptr);
        for (std::int64_t i = 0; i < mr; ++i)
          for (std::int64_t j = 0; j < ldc; ++j) {
            double expected = 0.5;  // untouched outside the valid block
            if (i < rows && j < cols) {
              expected = accumulate ? 0.5 : 0.0;
              for (std::int64_t k = 0; k < kc; ++k)
                expected += static_cast<double>(a[static_cast<std::size_t>(k * mr + i)]) *
                            b[static_cast<std::size_t>(k * nr + j)];
            }
            REQUIRE(std::abs(c[static_cast<std::size_t>(i * ldc + j)] - expected) <= 1e-5);
          }
      }
  }
}

// The epilogue in the micro-kernel's store against the same formula applied to the plain
// product afterwards: per row scale and shift, the residual, ReLU and ReLU6, on whole and
// partial blocks, with and without accumulation (the last k block of a deep product).
TEST_CASE("every micro-kernel applies the epilogue as it stores its block", "[gemm][isa]") {
  for (cpu::Isa isa : {cpu::Isa::portable, cpu::Isa::avx2, cpu::Isa::avx512}) {
    if (!cpu::cpu_supports(isa)) {
      WARN("not tested on this CPU: " << cpu::isa_name(isa));
      continue;
    }
    const gemm::FloatKernels& kernels = gemm::float_kernels(isa);
    const std::int64_t mr = kernels.mr, nr = kernels.nr, kc = 29, ldc = nr + 5, ldr = nr + 2;
    Rng rng(11);
    std::vector<float> a(static_cast<std::size_t>(kc * mr)), b(static_cast<std::size_t>(kc * nr));
    std::vector<float> scale(static_cast<std::size_t>(mr)), shift(scale.size());
    std::vector<float> residual(static_cast<std::size_t>(mr * ldr));
    for (auto* v : {&a, &b, &shift, &residual})
      for (float& x : *v) x = static_cast<float>(rng.uniform(-3, 3));
    for (float& x : scale) x = static_cast<float>(rng.uniform(0.5, 2));
    const std::int64_t one = 1;
    for (const auto& [rows, cols] : {std::pair{mr, nr}, std::pair{mr - 1, nr - 3}, std::pair{one, one}})
      for (bool accumulate : {false, true})
        for (int variant = 0; variant < 4; ++variant) {
          INFO(cpu::isa_name(isa) << " rows=" << rows << " cols=" << cols << " acc=" << accumulate << " variant="
                                  << variant);
          // 0: shift only; 1: scale, shift, ReLU; 2: residual, ReLU6; 3: scale only, residual.
          gemm::Epilogue<float> e;
          e.shift = variant != 3 ? shift.data() : nullptr;
          e.scale = variant == 1 || variant == 3 ? scale.data() : nullptr;
          e.residual = variant >= 2 ? residual.data() : nullptr;
          e.ldr = ldr;
          e.relu = variant == 1 || variant == 2;
          if (variant == 2) e.relu_max = 6.0f;
          std::vector<float> plain(static_cast<std::size_t>(mr * ldc), 0.5f), fused = plain;
          kernels.packed(kc, a.data(), b.data(), plain.data(), ldc, accumulate, rows, cols, nullptr);
          kernels.packed(kc, a.data(), b.data(), fused.data(), ldc, accumulate, rows, cols, &e);
          int clamped = 0;
          for (std::int64_t i = 0; i < mr; ++i)
            for (std::int64_t j = 0; j < ldc; ++j) {
              const float got = fused[static_cast<std::size_t>(i * ldc + j)];
              if (i >= rows || j >= cols) {
                REQUIRE(got == 0.5f);  // untouched outside the valid block
                continue;
              }
              // Either rounding of v·scale + shift (one fused multiply-add, or two steps).
              const double v = plain[static_cast<std::size_t>(i * ldc + j)];
              double expected = (e.scale ? v * e.scale[i] : v) + (e.shift ? e.shift[i] : 0.0);
              if (e.residual) expected += static_cast<double>(e.residual[i * ldr + j]);
              if (e.relu) expected = std::min<double>(std::max(expected, 0.0), e.relu_max);
              clamped += e.relu && (got == 0.0f || got == e.relu_max);
              REQUIRE(std::abs(got - expected) <= 1e-5 * std::max(1.0, std::abs(expected)));
            }
          if (e.relu && rows * cols > 8) CHECK(clamped > 0);  // the clamp was exercised
        }
  }
}

TEST_CASE("every gather kernel the CPU supports packs a B panel from row pointers", "[gemm][isa]") {
  for (cpu::Isa isa : {cpu::Isa::portable, cpu::Isa::avx2, cpu::Isa::avx512}) {
    if (!cpu::cpu_supports(isa)) {
      WARN("not tested on this CPU: " << cpu::isa_name(isa));
      continue;
    }
    const gemm::FloatKernels& kernels = gemm::float_kernels(isa);
    const std::int64_t nr = kernels.nr, kc = 37, pitch = 2 * nr + 5, offset = 3;
    // Rows of `pitch` values in one buffer, read from `offset`, in an order other than storage.
    std::vector<float> source(static_cast<std::size_t>(kc * pitch));
    for (std::size_t i = 0; i < source.size(); ++i) source[i] = static_cast<float>(i) + 0.5f;
    std::vector<const float*> rows(static_cast<std::size_t>(kc));
    for (std::int64_t k = 0; k < kc; ++k) rows[static_cast<std::size_t>(k)] = source.data() + (kc - 1 - k) * pitch;
    for (std::int64_t cols : {nr, nr - 3, std::int64_t{1}}) {
      INFO(cpu::isa_name(isa) << " cols=" << cols);
      std::vector<float> panel(static_cast<std::size_t>(kc * nr + 4), -1.0f);  // 4 guard values
      kernels.gather(rows.data(), offset, kc, cols, panel.data());
      for (std::int64_t k = 0; k < kc; ++k)
        for (std::int64_t j = 0; j < nr; ++j)
          REQUIRE(panel[static_cast<std::size_t>(k * nr + j)] ==
                  (j < cols ? rows[static_cast<std::size_t>(k)][offset + j] : 0.0f));
      for (std::int64_t g = 0; g < 4; ++g) REQUIRE(panel[static_cast<std::size_t>(kc * nr + g)] == -1.0f);
    }
  }
}

TEST_CASE("every transpose kernel the CPU supports copies each element to its mirrored place", "[gemm][isa]") {
  for (cpu::Isa isa : {cpu::Isa::portable, cpu::Isa::avx2, cpu::Isa::avx512}) {
    if (!cpu::cpu_supports(isa)) {
      WARN("not tested on this CPU: " << cpu::isa_name(isa));
      continue;
    }
    const gemm::TransposeKernel transpose = gemm::float_kernels(isa).transpose;
    // Whole 8 × 8 blocks, edges in both directions, a single element and an empty copy.
    for (const auto& [rows, cols] :
         {std::pair{16, 256}, std::pair{13, 37}, std::pair{8, 5}, std::pair{1, 1}, std::pair{0, 9}}) {
      INFO(cpu::isa_name(isa) << " rows=" << rows << " cols=" << cols);
      const std::int64_t lds = cols + 3, ldd = rows + 2;  // padded: the padding stays untouched
      std::vector<float> src(static_cast<std::size_t>(std::max(rows, 1) * lds));
      for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) + 0.25f;
      std::vector<float> dst(static_cast<std::size_t>(std::max(cols, 1) * ldd), -1.0f);
      transpose(src.data(), lds, rows, cols, dst.data(), ldd);
      for (std::int64_t c = 0; c < cols; ++c)
        for (std::int64_t r = 0; r < ldd; ++r)
          REQUIRE(dst[static_cast<std::size_t>(c * ldd + r)] ==
                  (r < rows ? src[static_cast<std::size_t>(r * lds + c)] : -1.0f));
    }
  }
}

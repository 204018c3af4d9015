// The library helpers that fcam-demo and fcam-infer call, each against values worked out by
// hand or by a brute force written here, not by the helper's own code.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <fcam/ops/top_k.hpp>

using namespace fcam;
using Catch::Contains;

namespace {

std::string error_of(const auto& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("top_k: the k largest per row, ties to the lower index, as a stable sort", "[helpers][top_k]") {
  // Rows with repeated values (the ties a stable sort keeps in column order), negatives, ±inf.
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<std::vector<float>> rows{{3, 1, 3, 2, 3, 0, 1},
                                             {-1, -1, -1, -1, -1, -1, -1},
                                             {0.5f, -inf, 7, inf, 7, -2, 0.5f},
                                             {1, 2, 3, 4, 5, 6, 7}};
  const std::int64_t n = 4, cols = 7;
  Tensor<float> x({n, cols});
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t c = 0; c < cols; ++c) x.data()[r * cols + c] = rows[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
  for (std::int64_t k = 0; k <= cols; ++k) {
    const TopK<float> top = top_k(x, k);
    REQUIRE(top.values.shape() == Shape{n, k});
    REQUIRE(top.indices.size() == static_cast<std::size_t>(n * k));
    for (std::int64_t r = 0; r < n; ++r) {
      const std::vector<float>& row = rows[static_cast<std::size_t>(r)];
      std::vector<std::int64_t> order(row.size());
      std::iota(order.begin(), order.end(), std::int64_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
        return row[static_cast<std::size_t>(a)] > row[static_cast<std::size_t>(b)];
      });
      for (std::int64_t j = 0; j < k; ++j) {
        CHECK(top.indices[static_cast<std::size_t>(r * k + j)] == order[static_cast<std::size_t>(j)]);
        CHECK(top.values.data()[r * k + j] == row[static_cast<std::size_t>(order[static_cast<std::size_t>(j)])]);
      }
    }
  }
  // The first row by hand: the three 3s in column order, then 2, then the 1s.
  CHECK(top_k(x, 5).indices == std::vector<std::int64_t>{0, 2, 4, 3, 1, 0, 1, 2, 3, 4, 3, 2, 4, 0, 6, 6, 5, 4, 3, 2});
}

TEST_CASE("top_k: NaN ranks first, doubles, and the contract", "[helpers][top_k]") {
  Tensor<double> x({1, 4});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  x.data()[0] = 1, x.data()[1] = nan, x.data()[2] = 5, x.data()[3] = nan;
  const TopK<double> top = top_k(x, 3);
  CHECK(top.indices == std::vector<std::int64_t>{1, 3, 2});
  CHECK(std::isnan(top.values.data()[0]));
  CHECK(top.values.data()[2] == 5.0);
  CHECK_THAT(error_of([&] { top_k(x, 5); }), Contains("top_k: k = 5 is outside [0, 4]"));
  CHECK_THAT(error_of([&] { top_k(x, -1); }), Contains("outside [0, 4]"));
  CHECK_THAT(error_of([] { top_k(Tensor<float>({2, 3, 4}), 1); }), Contains("top_k input: expects a 2-D tensor"));
  CHECK_THAT(error_of([] { top_k(Tensor<float>(), 1); }), Contains("undefined"));
}

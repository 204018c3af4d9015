// The parity tests' error measure: the largest absolute difference over the largest reference
// magnitude (tests/test_models.cpp, tests/test_mobilenet_v2.cpp).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include <fcam/core/tensor.hpp>

namespace fcam::test {

/// max |got − want| / max |want|; the shapes must agree.
inline double relative_error(const Tensor<float>& got, const Tensor<float>& want) {
  REQUIRE(got.shape() == want.shape());
  double diff = 0, scale = 0;
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(got.data()[i]) - want.data()[i]));
    scale = std::max(scale, std::abs(static_cast<double>(want.data()[i])));
  }
  return diff / scale;
}

}  // namespace fcam::test

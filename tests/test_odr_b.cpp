// Translation unit B of the ODR test, plus the test itself: linking A and B must succeed and both work.
#include <catch2/catch.hpp>

#include <fcam/fcam.hpp>

float odr_unit_a();

TEST_CASE("two translation units including <fcam/fcam.hpp> link into one binary", "[odr]") {
  fcam::nn::Linear<float> fc(3, 2);
  CHECK(fc(fcam::Tensor<float>({1, 3})).numel() == 2);
  CHECK(odr_unit_a() == 32.0f);
  CHECK(fcam::num_threads() >= 1);
}

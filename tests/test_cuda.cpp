// CUDA backend scaffolding: device memory and explicit transfers (built with FCAM_WITH_CUDA=ON,
// labelled "cuda": run it on a machine with a GPU).
#include <catch2/catch.hpp>

#include <fcam/fcam.hpp>

using namespace fcam;

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
  CHECK(Tensor<double>({4}, Device::cuda).to(Device::cpu).data()[3] == 0.0);  // zero-initialised
}

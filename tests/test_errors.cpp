// Bad input gives fcam::Error with a message that names the problem.
#include <catch2/catch.hpp>

#include <fcam/fcam.hpp>

using namespace fcam;
using Catch::Contains;

TEST_CASE("shape and channel mismatches", "[errors]") {
  nn::Conv2d<float> conv(3, 8, Conv2dGeometry::square(3, 1, 1));
  CHECK_THROWS_WITH(conv.forward(Tensor<float>({1, 4, 8, 8})),
                    Contains("weight shape [8, 3, 3, 3] does not match input channels 4"));
  CHECK_THROWS_WITH(conv.forward(Tensor<float>({4, 8, 8})), Contains("expects a 4-D tensor, got shape [4, 8, 8]"));
  CHECK_THROWS_WITH(conv2d(Tensor<float>({1, 3, 2, 2}), conv.weight().value, Tensor<float>(), Conv2dGeometry::square(3)),
                    Contains("smaller than the dilated kernel"));
  CHECK_THROWS_WITH(nn::Conv2d<float>(3, 8, Conv2dGeometry::square(3, 1, 1, 1, 2)), Contains("invalid for groups 2"));
  nn::Linear<float> fc(10, 2);
  CHECK_THROWS_WITH(fc.forward(Tensor<float>({2, 9})), Contains("input has 9 features but the weight expects 10"));
  nn::BatchNorm2d<float> bn(4);
  CHECK_THROWS_WITH(bn.forward(Tensor<float>({2, 3, 2, 2})), Contains("input has 3 channels but the layer has 4"));
  CHECK_THROWS_WITH(bn.forward(Tensor<float>({1, 4, 1, 1})), Contains("more than one value per channel"));
  CHECK_THROWS_WITH(add(Tensor<float>({1, 2}), Tensor<float>({2, 1})), Contains("shape mismatch [1, 2] vs [2, 1]"));
  CHECK_THROWS_WITH(concat_channels(std::vector<Tensor<float>>{Tensor<float>({1, 2, 3, 3}), Tensor<float>({1, 2, 4, 3})}),
                    Contains("does not match [1, 2, 3, 3] outside dimension 1"));
  CHECK_THROWS_WITH(cross_entropy(Tensor<float>({2, 3}), {0, 3}), Contains("target 3 at position 1 is outside [0, 3)"));
  CHECK_THROWS_WITH(cross_entropy(Tensor<float>({2, 3}), {0}), Contains("1 targets for logits of shape [2, 3]"));
  CHECK_THROWS_WITH(nn::MaxPool2d<float>(Pool2dGeometry{2, 2, 2}).forward(Tensor<float>({1, 1, 4, 4})),
                    Contains("padding 2 must be at most half the kernel 2"));
  CHECK_THROWS_WITH(Tensor<float>({2, -1}), Contains("negative size"));
  CHECK_THROWS_WITH(Tensor<float>({2, 3}).reshape({4, 2}), Contains("cannot view [2, 3] as [4, 2]"));
  CHECK_THROWS_WITH(Tensor<float>({2, 3}).batch(1, 2), Contains("range [1, 3) out of bounds for shape [2, 3]"));
  CHECK_THROWS_WITH(nn::Dropout<float>(1.5), Contains("probability must be in [0, 1], got 1.5"));
}

TEST_CASE("an empty batch passes through convolution", "[errors]") {
  nn::Conv2d<float> conv(3, 4, Conv2dGeometry::square(3, 1, 1));
  const Tensor<float> y = conv.forward(Tensor<float>({0, 3, 8, 8}));
  CHECK(y.shape() == Shape{0, 4, 8, 8});
  CHECK(conv.backward(y).shape() == Shape{0, 3, 8, 8});
}

TEST_CASE("backward before forward", "[errors]") {
  nn::Conv2d<float> conv(1, 1, Conv2dGeometry::square(1));
  CHECK_THROWS_WITH(conv.backward(Tensor<float>({1, 1, 1, 1})), Contains("Conv2d.backward: no cached forward"));
}

TEST_CASE("a CUDA tensor in a CPU-only build is a typed error", "[errors][device]") {
  if (cuda_compiled()) {
    SUCCEED("CUDA build: covered by the cuda-labelled tests");
    return;
  }
  CHECK_THROWS_WITH(Tensor<float>({2}, Device::cuda), Contains("fcam was built without CUDA"));
}

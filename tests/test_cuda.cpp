// CUDA backend scaffolding: device memory and explicit transfers, and the ops' CUDA branch
// (built with FCAM_WITH_CUDA=ON, labelled "cuda": run it on a machine with a GPU).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

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

namespace {
// What an op's CUDA branch says until its kernel lands ([cuda-ops]): its name, then this.
std::string unavailable(const std::string& op) { return op + ": not available on CUDA"; }
}  // namespace

TEST_CASE("every op refuses CUDA tensors with a clear error until its kernel lands", "[cuda]") {
  using Catch::Contains;
  REQUIRE(cuda::device_count() > 0);
  const auto on_gpu = [](const Shape& shape) { return Tensor<float>(shape, Device::cuda); };
  const Tensor<float> x = on_gpu({2, 3, 4, 4}), c3 = on_gpu({3});
  Tensor<float> dgamma = on_gpu({3}), dbeta = on_gpu({3});
  CHECK_THROWS_WITH(add(x, Tensor<float>({2, 3, 4, 4})), Contains("add: operands on different devices"));

  CHECK_THROWS_WITH(relu(x), Contains(unavailable("relu")));
  CHECK_THROWS_WITH(relu_backward(x, x), Contains(unavailable("relu_backward")));
  CHECK_THROWS_WITH(relu6(x), Contains(unavailable("relu6")));
  CHECK_THROWS_WITH(relu6_backward(x, x), Contains(unavailable("relu6_backward")));
  CHECK_THROWS_WITH(add(x, x), Contains(unavailable("add")));
  CHECK_THROWS_WITH(multiply(x, x), Contains(unavailable("multiply")));
  CHECK_THROWS_WITH(softmax_channels(x), Contains(unavailable("softmax_channels")));
  CHECK_THROWS_WITH(softmax_channels_backward(x, x), Contains(unavailable("softmax_channels_backward")));

  BatchNormSaved<float> saved{c3, c3};
  Tensor<float> unbiased;
  CHECK_THROWS_WITH(batch_norm_train(x, c3, c3, 1e-5f, saved, unbiased), Contains(unavailable("batch_norm_train")));
  CHECK_THROWS_WITH(batch_norm_train_backward(x, c3, saved, x, dgamma, dbeta),
                    Contains(unavailable("batch_norm_train_backward")));
  CHECK_THROWS_WITH(batch_norm_eval(x, c3, c3, c3, c3, 1e-5f), Contains(unavailable("batch_norm_eval")));
  CHECK_THROWS_WITH(batch_norm_eval_backward(x, c3, c3, c3, 1e-5f, x, dgamma, dbeta),
                    Contains(unavailable("batch_norm_eval_backward")));
  Tensor<float> running_mean = on_gpu({3}), running_var = on_gpu({3}), count = on_gpu({});
  CHECK_THROWS_WITH(batch_norm_update_running_stats(running_mean, running_var, count, c3, c3, 0.1f),
                    Contains(unavailable("batch_norm_update_running_stats")));
  CHECK_THROWS_WITH(batch_norm_eval_affine(c3, c3, c3, c3, 1e-5f), Contains(unavailable("batch_norm_eval_affine")));

  CHECK_THROWS_WITH(concat_channels(std::vector<Tensor<float>>{x, x}), Contains(unavailable("concat_channels")));
  CHECK_THROWS_WITH(split_channels(x, {1, 2}), Contains(unavailable("split_channels")));

  const Conv2dGeometry g = Conv2dGeometry::square(3, 1, 1);
  const Tensor<float> w = on_gpu({4, 3, 3, 3}), bias = on_gpu({4}), dy = on_gpu({2, 4, 4, 4});
  Tensor<float> dw = on_gpu({4, 3, 3, 3}), db = on_gpu({4});
  CHECK_THROWS_WITH(conv2d(x, w, bias, g), Contains(unavailable("conv2d")));
  CHECK_THROWS_WITH(conv2d_backward(x, w, dy, g, true, &dw, &db), Contains(unavailable("conv2d_backward")));
  CHECK_THROWS_WITH(PreparedConvWeights<float>(w, 1), Contains(unavailable("PreparedConvWeights")));
  // Weights can only be prepared on the CPU for now, so a CUDA input meets CPU weights.
  const PreparedConvWeights<float> cpu_weights(Tensor<float>({4, 3, 3, 3}), 1);
  CHECK_THROWS_WITH(conv2d_prepared(x, cpu_weights, g, ConvEpilogue<float>{}),
                    Contains("conv2d_prepared: operands on different devices"));

  CHECK_THROWS_WITH(cross_entropy(on_gpu({2, 3}), {0, 1}), Contains(unavailable("cross_entropy")));

  const Tensor<float> x2 = on_gpu({2, 5}), w2 = on_gpu({3, 5}), b2 = on_gpu({3}), dy2 = on_gpu({2, 3});
  Tensor<float> dw2 = on_gpu({3, 5}), db2 = on_gpu({3});
  CHECK_THROWS_WITH(linear(x2, w2, b2), Contains(unavailable("linear")));
  CHECK_THROWS_WITH(linear_backward(x2, w2, dy2, &dw2, &db2), Contains(unavailable("linear_backward")));

  const Pool2dGeometry pool{};
  const Tensor<float> pooled = on_gpu({2, 3, 2, 2});
  CHECK_THROWS_WITH(max_pool2d(x, pool), Contains(unavailable("max_pool2d")));
  CHECK_THROWS_WITH(max_pool2d_backward(x.shape(), std::vector<std::int64_t>(24, 0), pooled),
                    Contains(unavailable("max_pool2d_backward")));
  CHECK_THROWS_WITH(avg_pool2d(x, pool), Contains(unavailable("avg_pool2d")));
  CHECK_THROWS_WITH(avg_pool2d_backward(x.shape(), pool, pooled), Contains(unavailable("avg_pool2d_backward")));
  CHECK_THROWS_WITH(global_avg_pool(x), Contains(unavailable("global_avg_pool")));
  CHECK_THROWS_WITH(global_avg_pool_backward(x.shape(), on_gpu({2, 3})), Contains(unavailable("global_avg_pool_backward")));

  CHECK_THROWS_WITH(upsample_nearest(x, 2), Contains(unavailable("upsample_nearest")));
  CHECK_THROWS_WITH(upsample_nearest_backward(x, 2), Contains(unavailable("upsample_nearest_backward")));
  CHECK_THROWS_WITH(resize_bilinear(x, 5, 6, false), Contains(unavailable("resize_bilinear")));
  CHECK_THROWS_WITH(resize_bilinear_backward(x.shape(), on_gpu({2, 3, 5, 6}), false),
                    Contains(unavailable("resize_bilinear_backward")));

  Rng rng(1);
  Tensor<float> filled = on_gpu({4});
  CHECK_THROWS_WITH(fill_uniform(filled, 0.0, 1.0, rng), Contains(unavailable("fill_uniform")));
  CHECK_THROWS_WITH(add_normal_noise(filled, 0.1, rng), Contains(unavailable("add_normal_noise")));

  Tensor<float> value = on_gpu({4}), buffer = on_gpu({4});
  const SgdUpdate momentum{.lr = 0.1, .momentum = 0.9, .weight_decay = 0, .nesterov = false, .fresh_buffer = false};
  CHECK_THROWS_WITH(sgd_update(value, on_gpu({4}), buffer, momentum), Contains(unavailable("sgd_update")));
}

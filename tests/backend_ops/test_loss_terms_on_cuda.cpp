// test_backend_ops: the loss terms that add their value to running sums on the GPU (LossSums,
// the form training steps use so that they never wait for their losses) give the CPU's values
// and gradients: the cross-entropy, the partial cross-entropy with the count known on the host
// or left on the GPU by the sampler, the CRF's dots and the size loss's log-barrier.
// (test_train_on_cuda.cpp runs whole steps, whose losses now come from these sums.)
#include <cmath>
#include <vector>

#include "backend_ops/compare.hpp"

using namespace fcam;
using namespace fcam::test;

namespace {
constexpr Device gpu = Device::cuda;

void check_relative(double cpu, double cuda, double bound, const std::string& what) {
  INFO(what << ": CPU " << cpu << ", CUDA " << cuda);
  CHECK(std::abs(cuda - cpu) <= bound * std::abs(cpu));
}
}  // namespace

TEST_CASE("cross_entropy_into on CUDA adds the CPU's mean loss, with ignored targets", "[cuda]") {
  const Tensor<float> logits = random_tensor({6, 5, 4, 3}, 1, -3.0, 3.0);
  std::vector<std::int64_t> targets(72);
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i] = i % 5 == 2 ? -100 : static_cast<std::int64_t>(i % 5);
  const LossSums on_cpu(1, Device::cpu), on_gpu(1, gpu);
  const Tensor<float> grad = cross_entropy_into(logits, targets, on_cpu.slot(0));
  expect_close(grad, cross_entropy_into(logits.to(gpu), targets, on_gpu.slot(0)), "cross-entropy gradient");
  cross_entropy_into(logits.to(gpu), targets, on_gpu.slot(0));  // a second step adds
  check_relative(2 * on_cpu.read()[0], on_gpu.read()[0], 1e-6, "two cross-entropies");
  std::vector<std::int64_t> ignored(72, -100);
  const LossSums none(1, gpu);
  cross_entropy_into(logits.to(gpu), ignored, none.slot(0));
  CHECK(none.read()[0] == 0.0);
  CHECK_THROWS_WITH(cross_entropy_into(logits.to(gpu), targets, on_cpu.slot(0)),
                    Catch::Contains("the loss slot is on cpu, the operands on cuda"));
}

TEST_CASE("labelled_cross_entropy_into on CUDA: counts on the host and counts the sampler left on the GPU",
          "[cuda]") {
  const std::int64_t n = 5, s = 40;
  const Tensor<float> logits = random_tensor({n, 2, s, s}, 2, -4.0, 4.0);
  const Tensor<float> cams = normalize_items(random_tensor({n, s, s}, 3, 0.0, 1.0));
  losses::SamplingOptions o;
  o.n_foreground = 20, o.n_background = 20, o.erosion = 3;
  const LabelMap cpu_labels = keyed_region_labels(cams, o, 4);
  const LabelMap gpu_labels = keyed_region_labels(cams.to(gpu), o, 4);  // counts stay on the GPU
  REQUIRE(gpu_labels.device_counts() != nullptr);
  const LossSums on_cpu(1, Device::cpu), from_sampler(1, gpu), from_host(1, gpu);
  const Tensor<float> grad = labelled_cross_entropy_into(logits, cpu_labels, 0.8, on_cpu.slot(0));
  expect_close(grad, labelled_cross_entropy_into(logits.to(gpu), gpu_labels, 0.8, from_sampler.slot(0)),
               "gradient, counts on the GPU", 0.0);
  const LabelMap host_counted = LabelMap::from_host(cpu_labels.host_values(), gpu);
  expect_close(grad, labelled_cross_entropy_into(logits.to(gpu), host_counted, 0.8, from_host.slot(0)),
               "gradient, count on the host", 0.0);
  check_relative(on_cpu.read()[0], from_sampler.read()[0], 1e-12, "loss, counts on the GPU");
  check_relative(on_cpu.read()[0], from_host.read()[0], 1e-12, "loss, count on the host");
  CHECK(gpu_labels.labelled() == cpu_labels.labelled());

  // No labelled pixel: nothing added, a zero gradient.
  losses::SamplingOptions empty;
  empty.n_foreground = 0, empty.n_background = 0;
  const LossSums zero(1, gpu);
  const Tensor<float> g = labelled_cross_entropy_into(logits.to(gpu), keyed_region_labels(cams.to(gpu), empty, 5),
                                                      0.8, zero.slot(0));
  CHECK(zero.read()[0] == 0.0);
  CHECK(max_abs_difference(g, Tensor<float>(g.shape(), gpu)) == 0.0f);
}

TEST_CASE("the CRF and size terms into running sums on CUDA give the CPU's values and gradients", "[cuda]") {
  const std::int64_t n = 4, s = 48;
  const Tensor<float> probs = softmax_channels(random_tensor({n, 2, s, s}, 6, -3.0, 3.0));
  const Tensor<float> images = random_tensor({n, 3, s, s}, 7, 0.0, 255.0);
  const LossSums on_cpu(2, Device::cpu), on_gpu(2, gpu);
  losses::CrfLossOptions crf;
  crf.sigma_xy = 20;
  expect_close(losses::crf_loss(probs, images, crf, on_cpu.slot(0)),
               losses::crf_loss(probs.to(gpu), images.to(gpu), crf, on_gpu.slot(0)), "CRF gradient");
  for (const double t : {0.5, 1.0, 5.0}) {
    expect_close(losses::size_loss(probs, t, 0.1, on_cpu.slot(1)),
                 losses::size_loss(probs.to(gpu), t, 0.1, on_gpu.slot(1)), "size gradient");
  }
  const std::vector<double> cpu = on_cpu.read(), cuda = on_gpu.read();
  check_relative(cpu[0], cuda[0], 1e-5, "CRF loss");
  check_relative(cpu[1], cuda[1], 1e-12, "size loss, three t");
  // The returning forms read the same sums back.
  check_relative(losses::size_loss(probs, 5.0, 0.1), losses::size_loss(probs.to(gpu), 5.0, 0.1), 1e-6, "size loss");
}

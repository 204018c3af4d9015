// Loss terms added to running sums (core/loss_sums.hpp) instead of returned, the form a training
// step on a GPU uses so that it never waits for its losses: on the CPU each equals the returning
// form's value (and gradient) exactly, sums accumulate over calls, and bad slots are refused.
// tests/backend_ops/test_loss_terms_on_cuda.cpp compares the GPU's sums with these.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include <fcam/fcam.hpp>
#include <fcam/losses/crf_loss.hpp>
#include <fcam/losses/partial_ce.hpp>
#include <fcam/losses/size_loss.hpp>
#include <fcam/ops/region_labels.hpp>

using namespace fcam;

namespace {

Tensor<float> uniform(const Shape& shape, std::uint64_t seed, double lo, double hi) {
  Tensor<float> t(shape);
  Rng rng(seed);
  fill_uniform(t, lo, hi, rng);
  return t;
}

bool same_values(const Tensor<float>& a, const Tensor<float>& b) {
  return a.shape() == b.shape() && host_values(a) == host_values(b);
}

}  // namespace

TEST_CASE("LossSums start at zero, add in place, read, clear, and refuse bad slots", "[loss_sums]") {
  const LossSums sums(3, Device::cpu);
  CHECK(sums.read() == std::vector<double>{0, 0, 0});
  *sums.slot(1).at += 2.5;
  *sums.slot(1).at += 0.25;
  const LossSums shared = sums;  // copies share the sums
  CHECK(shared.read() == std::vector<double>{0, 2.75, 0});
  LossSums cleared = sums;
  cleared.clear();
  CHECK(sums.read() == std::vector<double>{0, 0, 0});
  CHECK_THROWS_WITH(sums.slot(3), Catch::Contains("LossSums: slot 3 of 3"));
  CHECK_THROWS_WITH(LossSums(0, Device::cpu), Catch::Contains("at least one sum"));
  CHECK_THROWS_WITH(check_slot(LossSlot{}, Device::cpu, "op"), Catch::Contains("op: no loss slot"));
  CHECK_THROWS_WITH(check_slot(LossSlot{sums.slot(0).at, Device::cuda}, Device::cpu, "op"),
                    Catch::Contains("op: the loss slot is on cuda, the operands on cpu"));
}

TEST_CASE("cross_entropy_into adds the returned mean loss and gives its gradient", "[loss_sums]") {
  const Tensor<float> logits = uniform({4, 5, 3, 2}, 1, -3, 3);
  std::vector<std::int64_t> targets(24);
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i] = i % 7 == 3 ? -100 : static_cast<std::int64_t>(i % 5);
  const CrossEntropyResult<float> ce = cross_entropy(logits, targets);
  const LossSums sums(1, Device::cpu);
  CHECK(same_values(cross_entropy_into(logits, targets, sums.slot(0)), ce.grad));
  cross_entropy_into(logits, targets, sums.slot(0));
  CHECK(sums.read()[0] == 2 * static_cast<double>(ce.loss));
  targets[2] = 5;
  CHECK_THROWS_WITH(cross_entropy_into(logits, targets, sums.slot(0)), Catch::Contains("target 5 at position 2"));
}

TEST_CASE("the partial cross-entropy, CRF and size terms add their returned values", "[loss_sums]") {
  const std::int64_t n = 3, s = 24;
  const Tensor<float> logits = uniform({n, 2, s, s}, 2, -4, 4);
  const Tensor<float> probs = softmax_channels(logits);
  const Tensor<float> images = uniform({n, 3, s, s}, 3, 0, 255);
  const LabelMap labels = keyed_region_labels(uniform({n, s, s}, 4, 0, 1), losses::SamplingOptions{}, 7);
  REQUIRE(labels.labelled() > 0);
  const LossSums sums(3, Device::cpu);

  Tensor<float> grad;
  const double pce = losses::partial_cross_entropy(logits, labels, 0.7, &grad);
  CHECK(same_values(losses::partial_cross_entropy(logits, labels, 0.7, sums.slot(0)), grad));
  // The returning form rounds to float; the sum keeps the double it rounds from.
  CHECK(static_cast<float>(sums.read()[0]) == static_cast<float>(pce));
  CHECK(sums.read()[0] == labelled_cross_entropy(logits, labels, 0.7));

  losses::CrfLossOptions crf;
  crf.sigma_xy = 12;
  const float crf_value = losses::crf_loss(probs, images, crf, &grad);
  CHECK(same_values(losses::crf_loss(probs, images, crf, sums.slot(1)), grad));
  CHECK(static_cast<float>(sums.read()[1]) == crf_value);
  CHECK(crf_value < 0);

  const float size_value = losses::size_loss(probs, 2.0, 0.1, &grad);
  CHECK(same_values(losses::size_loss(probs, 2.0, 0.1, sums.slot(2)), grad));
  CHECK(static_cast<float>(sums.read()[2]) == size_value);
  losses::size_loss(probs, 2.0, 0.1, sums.slot(2));
  CHECK(static_cast<float>(sums.read()[2] / 2) == size_value);
  CHECK_THROWS_WITH(losses::size_loss(probs, 0.0, 0.1, sums.slot(2)), Catch::Contains("t must be positive"));
  CHECK_THROWS_WITH(losses::size_loss(uniform({1, 3, s, s}, 8, 0, 1), 2.0, 0.1, sums.slot(2)),
                    Catch::Contains("expected 2 channels"));
}

TEST_CASE("add_item_dots adds factor times the sum of item_dots", "[loss_sums]") {
  const Tensor<float> a = uniform({4, 3, 5}, 5, -1, 1), b = uniform({4, 3, 5}, 6, -1, 1);
  double total = 0;
  for (const double v : item_dots(a, b)) total += v;
  const LossSums sums(1, Device::cpu);
  add_item_dots(a, b, -0.5, sums.slot(0));
  CHECK(sums.read()[0] == -0.5 * total);
  CHECK_THROWS_WITH(add_item_dots(a, uniform({4, 15}, 7, 0, 1), 1.0, sums.slot(0)), Catch::Contains("item_dots"));
}

TEST_CASE("size_barrier_into: the log-barrier of each plane sum and its slope", "[loss_sums]") {
  // Plane sums 0.5·4 = 2 and 0 (beyond the barrier's log part at t = 3: linear branch).
  Tensor<float> probs({1, 2, 2, 2});
  for (std::int64_t i = 0; i < 4; ++i) probs.data()[i] = 0.5f;
  const LossSums sums(1, Device::cpu);
  const Tensor<float> grad = size_barrier_into(probs, 3.0, 0.25, sums.slot(0));
  const double t = 3.0, expected = 0.25 * (-std::log(2.0) / t + (t * 0 - std::log(1 / (t * t)) / t + 1 / t));
  CHECK(sums.read()[0] == Approx(expected).epsilon(1e-15));
  CHECK(grad.data()[0] == static_cast<float>(-0.25 * (-1 / (t * -2.0))));
  CHECK(grad.data()[4] == static_cast<float>(-0.25 * t));
  CHECK(grad.data()[7] == grad.data()[4]);
}

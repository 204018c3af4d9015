// train::run_training's seed fixes a new model's initial weights: two runs of one configuration in
// one process start from the same weights whatever the thread drew before, another seed starts
// elsewhere, and the caller's default generator goes on as if the run had drawn nothing.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

#include <fcam/fcam.hpp>
#include <fcam/train/trainer.hpp>

#include "wsol_test_split.hpp"

using namespace fcam;
namespace fs = std::filesystem;

namespace {

/// How many parameter values of the two models differ (both of one architecture).
std::int64_t differing_values(models::FcamModel<float>& a, models::FcamModel<float>& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  REQUIRE(pa.size() == pb.size());
  std::int64_t n = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    REQUIRE(pa[i].first == pb[i].first);
    const Tensor<float>& x = pa[i].second->value;
    const Tensor<float>& y = pb[i].second->value;
    REQUIRE(x.numel() == y.numel());
    for (std::int64_t k = 0; k < x.numel(); ++k) n += x.data()[k] != y.data()[k];
  }
  return n;
}

}  // namespace

TEST_CASE("run_training: the seed fixes a new model's weights; the caller's generator is untouched", "[train]") {
  const fs::path root = fs::temp_directory_path() / "fcam_test_run_seed";
  const data::WsolDataset split = test::make_wsol_split(root, 4);
  train::TrainConfig c = test::tiny_new_model_run(split);  // no epochs: the new model is saved after its validation
  auto run = [&](std::uint64_t seed, const std::string& name) {
    c.seed = seed;
    c.out = root / name;
    train::run_training(c);
  };

  const ScopedDefaultSeed caller_side(11);  // the caller's own draws; the thread's state is restored after the test
  (void)default_rng().next_u64();
  Rng caller = default_rng();  // where the caller's draws stand before the run
  run(7, "first");
  CHECK(default_rng().next_u64() == caller.next_u64());  // the run drew nothing from it
  (void)default_rng().next_u64();                        // the thread draws in between
  run(7, "again");
  run(8, "other");
  auto start_of = [&](const std::string& name) {
    return models::load_fcam_checkpoint<float>(root / name / "last.safetensors");
  };
  auto first = start_of("first"), again = start_of("again"), other = start_of("other");

  CHECK(differing_values(*first, *again) == 0);
  const std::int64_t moved = differing_values(*first, *other);
  INFO("values that differ between seeds 7 and 8: " << moved << " of " << first->parameter_count());
  CHECK(moved > first->parameter_count() / 2);  // the new layers are drawn anew, not a few of them
  fs::remove_all(root);
}

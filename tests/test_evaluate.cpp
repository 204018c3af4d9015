// train::evaluate_maps: the six baselines from one pass over a split give exactly what six
// separate evaluate() calls give (Smooth-GradCAM++'s noise included), on a split with boxes and
// masks written here; and TrainConfig::select_on_pxap picks the score training selects on.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <fcam/fcam.hpp>
#include <fcam/train/evaluate.hpp>
#include <fcam/train/trainer.hpp>

#include "wsol_test_split.hpp"

using namespace fcam;
namespace fs = std::filesystem;

namespace {

void check_same(const train::EvaluationResult& a, const train::EvaluationResult& b) {
  CHECK(a.accuracy == b.accuracy);
  CHECK(a.pxap == b.pxap);
  CHECK(a.max_box_acc == b.max_box_acc);
  CHECK(a.max_box_acc_v2 == b.max_box_acc_v2);
  CHECK(a.top1_localization == b.top1_localization);
  CHECK(a.localization == b.localization);
  CHECK(a.images == b.images);
}

}  // namespace

TEST_CASE("evaluate_maps: six baselines in one pass equal six evaluations", "[train][evaluate]") {
  const fs::path root = fs::temp_directory_path() / "fcam_test_evaluate";
  const data::WsolDataset split = test::make_wsol_split(root, 7);
  models::FcamModel<float> model(models::Arch::resnet18, 3, 4);
  train::EvaluationOptions o;
  o.with_v2 = true;
  o.mask_root = root / "masks";
  o.batch_size = 3;  // a partial last batch
  o.workers = 1;
  o.seed = 9;
  o.transform.resize_size = 32;
  o.transform.crop_size = 32;
  std::vector<cam::Method> methods;
  for (const auto& entry : cam::method_table) methods.push_back(entry.value);
  const std::vector<train::EvaluationResult> together = train::evaluate_maps(model, split, o, methods);
  REQUIRE(together.size() == methods.size());
  for (std::size_t i = 0; i < methods.size(); ++i) {
    INFO(cam::method_name(methods[i]));
    o.cam_method = methods[i];
    const train::EvaluationResult alone = train::evaluate(model, split, o);
    check_same(together[i], alone);
    CHECK(std::isfinite(alone.pxap));
    CHECK(alone.images == 7);
  }
  // The maps differ between methods (else the equality above would prove little).
  CHECK(together[0].pxap != together[2].pxap);
  o.source = train::MapSource::fcam;
  REQUIRE(train::evaluate_maps(model, split, o, {}).size() == 1);
  o.source = train::MapSource::cam;
  CHECK_THROWS_WITH(train::evaluate_maps(model, split, o, {}), Catch::Contains("no CAM method"));
  fs::remove_all(root);
}

TEST_CASE("training selects on PxAP or MaxBoxAcc of a validation split with both", "[train][evaluate]") {
  const fs::path root = fs::temp_directory_path() / "fcam_test_select_on";
  const data::WsolDataset split = test::make_wsol_split(root, 5);
  train::TrainConfig c = test::tiny_new_model_run(split);  // validation of the new model only
  for (const bool on_pxap : {false, true}) {
    INFO("select_on_pxap " << on_pxap);
    c.select_on_pxap = on_pxap;
    c.out = root / (on_pxap ? "pxap" : "box");
    const train::TrainResult r = train::run_training(c);
    REQUIRE(r.val_history.size() == 1);
    auto model = models::load_fcam_checkpoint<float>(c.out / "best.safetensors");
    train::EvaluationOptions o;
    o.mask_root = c.mask_root;
    o.workers = 1;
    o.transform = c.transform;
    const train::EvaluationResult e = train::evaluate(*model, split, o);
    CHECK(r.val_history[0] == (on_pxap ? e.pxap : e.max_box_acc[1]));
    CHECK(e.pxap != e.max_box_acc[1]);
  }
  c.val.metadata.masks.clear();
  c.out = root / "no-masks";
  CHECK_THROWS_WITH(train::run_training(c), Catch::Contains("selection on PxAP needs a validation split with masks"));
  fs::remove_all(root);
}

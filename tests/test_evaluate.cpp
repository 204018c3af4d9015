// train::evaluate_maps: the six baselines from one pass over a split give exactly what six
// separate evaluate() calls give (Smooth-GradCAM++'s noise included), on a split with boxes and
// masks written here; and TrainConfig::select_on_pxap picks the score training selects on.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fcam/data/image_write.hpp>
#include <fcam/fcam.hpp>
#include <fcam/train/evaluate.hpp>
#include <fcam/train/trainer.hpp>

using namespace fcam;
namespace fs = std::filesystem;

namespace {

// `n` random photos of 40×36 with a box and a mask (a rectangle) each, in the CUB layout for the
// boxes and the OpenImages one for the masks.
data::WsolDataset make_split(const fs::path& root, int n) {
  fs::remove_all(root);
  fs::create_directories(root / "images");
  fs::create_directories(root / "masks/OpenImages");
  fs::create_directories(root / "meta");
  std::ofstream ids(root / "meta/image_ids.txt"), labels(root / "meta/class_labels.txt"),
      sizes(root / "meta/image_sizes.txt"), boxes(root / "meta/localization.txt");
  data::WsolMetadata masks;
  Rng rng(5);
  for (int i = 0; i < n; ++i) {
    const std::string id = "img" + std::to_string(i) + ".png";
    const int w = 40, h = 36, x0 = 2 + i, y0 = 3, x1 = 25 + i, y1 = 30;
    data::Rgb8 image{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w * h * 3))};
    for (auto& v : image.pixels) v = static_cast<std::uint8_t>(rng.uniform(0, 255));
    data::write_png(root / "images" / id, image);
    data::Gray8 mask{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w * h))};
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) mask.pixels[static_cast<std::size_t>(y * w + x)] = 255;
    data::write_png(root / "masks/OpenImages" / id, mask);
    ids << id << "\n";
    labels << id << "," << i % 3 << "\n";
    sizes << id << "," << w << "," << h << "\n";
    boxes << id << "," << x0 << "," << y0 << "," << x1 << "," << y1 << "\n";
    masks.masks.push_back({{id}, ""});
  }
  ids.close(), labels.close(), sizes.close(), boxes.close();
  data::WsolDataset split{root / "images", data::read_wsol_metadata(root / "meta", 3)};
  split.metadata.masks = masks.masks;
  return split;
}

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
  const data::WsolDataset split = make_split(root, 7);
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
  const data::WsolDataset split = make_split(root, 5);
  train::TrainConfig c;
  c.model.arch = models::Arch::resnet18;
  c.model.num_classes = 3;
  c.model.base_width = 4;
  c.train = c.val = split;
  c.mask_root = root / "masks";
  c.epochs = 0;  // validation of the new model only
  c.workers = 1;
  c.transform.resize_size = 32;
  c.transform.crop_size = 32;
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

// The library helpers that fcam-demo and fcam-infer call, each against values worked out by
// hand or by a brute force written here, not by the helper's own code.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <fcam/app/device_flag.hpp>
#include <fcam/app/error_line.hpp>
#include <fcam/app/precision_flag.hpp>
#include <fcam/core/grad_mode.hpp>
#include <fcam/data/image_write.hpp>
#include <fcam/data/preprocess.hpp>
#include <fcam/data/wsol_split.hpp>
#include <fcam/io/npy.hpp>
#include <fcam/io/number_text.hpp>
#include <fcam/metrics/box_accuracy.hpp>
#include <fcam/metrics/downscale_simulation.hpp>
#include <fcam/models/checkpoints.hpp>
#include <fcam/ops/random.hpp>
#include <fcam/ops/top_k.hpp>
#include <fcam/plot/wsol_figures.hpp>

using namespace fcam;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// A fresh, empty scratch folder for one test.
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("fcam_test_app_helpers_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string error_of(const auto& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

plot::Colour pixel(const data::Rgb8& image, int x, int y) {
  const std::size_t at = (static_cast<std::size_t>(y) * static_cast<std::size_t>(image.width) + static_cast<std::size_t>(x)) * 3;
  return {image.pixels[at], image.pixels[at + 1], image.pixels[at + 2]};
}

}  // namespace

TEST_CASE("top_k: the k largest per row, ties to the lower index, as a stable sort", "[helpers][top_k]") {
  // Rows with repeated values (the ties a stable sort keeps in column order), negatives, ±inf.
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<std::vector<float>> rows{{3, 1, 3, 2, 3, 0, 1},
                                             {-1, -1, -1, -1, -1, -1, -1},
                                             {0.5f, -inf, 7, inf, 7, -2, 0.5f},
                                             {1, 2, 3, 4, 5, 6, 7}};
  const std::int64_t n = 4, cols = 7;
  Tensor<float> x({n, cols});
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t c = 0; c < cols; ++c) x.data()[r * cols + c] = rows[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
  for (std::int64_t k = 0; k <= cols; ++k) {
    const TopK<float> top = top_k(x, k);
    REQUIRE(top.values.shape() == Shape{n, k});
    REQUIRE(top.indices.size() == static_cast<std::size_t>(n * k));
    for (std::int64_t r = 0; r < n; ++r) {
      const std::vector<float>& row = rows[static_cast<std::size_t>(r)];
      std::vector<std::int64_t> order(row.size());
      std::iota(order.begin(), order.end(), std::int64_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
        return row[static_cast<std::size_t>(a)] > row[static_cast<std::size_t>(b)];
      });
      for (std::int64_t j = 0; j < k; ++j) {
        CHECK(top.indices[static_cast<std::size_t>(r * k + j)] == order[static_cast<std::size_t>(j)]);
        CHECK(top.values.data()[r * k + j] == row[static_cast<std::size_t>(order[static_cast<std::size_t>(j)])]);
      }
    }
  }
  // The first row by hand: the three 3s in column order, then 2, then the 1s.
  CHECK(top_k(x, 5).indices == std::vector<std::int64_t>{0, 2, 4, 3, 1, 0, 1, 2, 3, 4, 3, 2, 4, 0, 6, 6, 5, 4, 3, 2});
}

TEST_CASE("top_k: NaN ranks first, doubles, and the contract", "[helpers][top_k]") {
  Tensor<double> x({1, 4});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  x.data()[0] = 1, x.data()[1] = nan, x.data()[2] = 5, x.data()[3] = nan;
  const TopK<double> top = top_k(x, 3);
  CHECK(top.indices == std::vector<std::int64_t>{1, 3, 2});
  CHECK(std::isnan(top.values.data()[0]));
  CHECK(top.values.data()[2] == 5.0);
  CHECK_THAT(error_of([&] { top_k(x, 5); }), Contains("top_k: k = 5 is outside [0, 4]"));
  CHECK_THAT(error_of([&] { top_k(x, -1); }), Contains("outside [0, 4]"));
  CHECK_THAT(error_of([] { top_k(Tensor<float>({2, 3, 4}), 1); }), Contains("top_k input: expects a 2-D tensor"));
  CHECK_THAT(error_of([] { top_k(Tensor<float>(), 1); }), Contains("undefined"));
}

TEST_CASE("top_class: top_k's first index of each row, as class indices on the logits' device", "[helpers][top_k]") {
  // Ties, ±inf, NaN (ranks first; the first of two NaNs), one column, and random rows.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<std::vector<float>> rows{{3, 1, 3, 2, 3}, {-1, -1, -1, -1, -1}, {0.5f, -inf, 7, inf, inf},
                                             {1, nan, 9, nan, 2}, {-inf, -inf, -inf, -inf, -3}};
  Tensor<float> x({static_cast<std::int64_t>(rows.size()), 5});
  for (std::size_t r = 0; r < rows.size(); ++r) std::copy(rows[r].begin(), rows[r].end(), x.data() + r * 5);
  const ClassIndices top = top_class(x);
  CHECK(top.device() == Device::cpu);
  CHECK(top.host() == std::vector<int>{0, 0, 3, 1, 4});
  Tensor<float> random({40, 200});
  Rng rng(5);
  fill_uniform(random, -3.0, 3.0, rng);
  for (std::int64_t i = 0; i < 40; ++i) random.data()[i * 200 + 150] = random.data()[i * 200 + 20];  // ties
  const std::vector<std::int64_t> want = top_k(random, 1).indices;
  CHECK(top_class(random).host() == std::vector<int>(want.begin(), want.end()));
  CHECK(top_class(Tensor<double>::full({2, 1}, 4.0)).host() == std::vector<int>{0, 0});
  CHECK(top_class(Tensor<float>({0, 3})).size() == 0);
  CHECK_THAT(error_of([] { top_class(Tensor<float>({2, 0})); }), Contains("need 1 to 2^31 - 1 classes"));
  CHECK_THAT(error_of([] { top_class(Tensor<float>({2, 3, 4})); }), Contains("top_class input: expects a 2-D tensor"));
}

TEST_CASE("MaxPoolArgmax: host indices as given; device indices are 32-bit, larger planes refused", "[helpers]") {
  const MaxPoolArgmax host(std::vector<std::int64_t>{5, 0, (std::int64_t{1} << 40)});
  CHECK(host.device() == Device::cpu);
  CHECK(host.host_values() == std::vector<std::int64_t>{5, 0, std::int64_t{1} << 40});
  CHECK(host.device_data() == nullptr);
  // Refused before any device memory is asked for, so this runs without a GPU too.
  CHECK_THAT(error_of([] { MaxPoolArgmax::on_device(4, std::int64_t{1} << 31, {2, 2, 0, false}); }),
             Contains("max_pool2d: input planes of 2147483648 pixels exceed the GPU's 32-bit argmax"));
}

TEST_CASE("read_split_with_boxes_and_masks joins the box and mask metadata of a split", "[helpers][metadata]") {
  const fs::path dir = scratch("split");
  const std::string ids = "test/0.png\ntest/1.png\n", labels = "test/0.png,2\ntest/1.png,0\n";
  const fs::path boxes = dir / "metadata/CUB/test", masks = dir / "metadata/OpenImages/test";
  write_text(boxes / "image_ids.txt", ids);
  write_text(boxes / "class_labels.txt", labels);
  write_text(boxes / "image_sizes.txt", "test/0.png,8,8\ntest/1.png,8,8\n");
  write_text(boxes / "localization.txt", "test/0.png,1,2,5,6\ntest/1.png,0,0,7,7\ntest/1.png,2,2,3,3\n");
  write_text(masks / "image_ids.txt", ids);
  write_text(masks / "class_labels.txt", labels);
  write_text(masks / "image_sizes.txt", "");
  write_text(masks / "localization.txt", "test/0.png,test/0.png,ignore.png\ntest/1.png,test/1.png,\n");

  const data::WsolDataset split = data::read_split_with_boxes_and_masks(dir, "test", 3);
  REQUIRE(split.size() == 2);
  CHECK(split.data_root == dir / "images");
  CHECK(split.image_path(1) == dir / "images" / "test/1.png");
  CHECK(split.metadata.labels == std::vector<int>{2, 0});
  CHECK(split.metadata.widths == std::vector<int>{8, 8});
  REQUIRE(split.metadata.has_boxes());
  REQUIRE(split.metadata.has_masks());
  CHECK(split.metadata.boxes[0].size() == 1);
  CHECK(split.metadata.boxes[0][0].y1 == 6);
  CHECK(split.metadata.boxes[1].size() == 2);
  CHECK(split.metadata.masks[0].instances == std::vector<std::string>{"test/0.png"});
  CHECK(split.metadata.masks[0].ignore == "ignore.png");
  CHECK(split.metadata.masks[1].ignore.empty());

  // The classes are checked in both folders; the two must list the same images in one order.
  CHECK_THAT(error_of([&] { data::read_split_with_boxes_and_masks(dir, "test", 2); }),
             Contains("metadata/CUB/test/class_labels.txt:1: label 2 is outside [0, 2)"));
  write_text(masks / "image_ids.txt", "test/1.png\ntest/0.png\n");
  CHECK_THAT(error_of([&] { data::read_split_with_boxes_and_masks(dir, "test", 3); }),
             Contains(dir.string() + ": the box and mask metadata of the test split list different images"));
  CHECK_THAT(error_of([&] { data::read_split_with_boxes_and_masks(dir, "val", 3); }),
             Contains("metadata/CUB/val/image_ids.txt"));
  fs::remove_all(dir);
}

TEST_CASE("best_threshold: the smallest τ where the box accuracy peaks", "[helpers][best_threshold]") {
  // A 20×20 map of nested squares: 0.15 everywhere, 0.55 on [5, 14]², 1 on [8, 11]². With
  // thresholds every 0.1 the box is the whole map for τ ≤ 0.1, the middle square for
  // τ ∈ [0.2, 0.5] and the inner square for τ ≥ 0.6 (the mask is 255·map > int(255·τ)).
  Tensor<float> map({20, 20});
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 20; ++x) {
      const bool middle = x >= 5 && x <= 14 && y >= 5 && y <= 14, inner = x >= 8 && x <= 11 && y >= 8 && y <= 11;
      map.data()[y * 20 + x] = inner ? 1.0f : middle ? 0.55f : 0.15f;
    }
  const metrics::IntBox middle{5, 5, 14, 14}, inner{8, 8, 11, 11};
  // At IoU 50 an image counts only where its true box is the predicted one (the others overlap
  // it by 25 % or 16 %): two middle images and one inner one peak on [0.2, 0.5] ...
  metrics::BoxAccumulator mostly_middle({.cam_curve_interval = 0.1, .iou_thresholds = {10, 50}});
  for (const metrics::IntBox& truth : {middle, inner, middle}) mostly_middle.add(map, std::span(&truth, 1));
  const std::vector<double> expected{0, 0, 200.0 / 3, 200.0 / 3, 200.0 / 3, 200.0 / 3, 100.0 / 3, 100.0 / 3,
                                     100.0 / 3, 100.0 / 3};
  const std::vector<double> curve = mostly_middle.accuracy_curve(1);
  REQUIRE(curve.size() == expected.size());
  for (std::size_t t = 0; t < curve.size(); ++t) CHECK_THAT(curve[t], Catch::Matchers::WithinAbs(expected[t], 1e-9));
  CHECK_THAT(mostly_middle.best_threshold(1), Catch::Matchers::WithinAbs(0.2, 1e-12));
  // ... two inner ones and one middle one on [0.6, 0.9].
  metrics::BoxAccumulator mostly_inner({.cam_curve_interval = 0.1, .iou_thresholds = {10, 50}});
  for (const metrics::IntBox& truth : {inner, middle, inner}) mostly_inner.add(map, std::span(&truth, 1));
  CHECK_THAT(mostly_inner.best_threshold(1), Catch::Matchers::WithinAbs(0.6, 1e-12));
  // At IoU 10 the whole-map box still misses the inner square (IoU 4 %), every smaller box hits:
  // the peak starts at 0.2.
  CHECK_THAT(mostly_inner.best_threshold(0), Catch::Matchers::WithinAbs(0.2, 1e-12));
  CHECK_THROWS_WITH(mostly_inner.best_threshold(2), Contains("IoU threshold index 2 out of range"));
}

TEST_CASE("downscale_simulation_pxap: one pass over the masks, every dividing factor", "[helpers][downscale]") {
  const fs::path dir = scratch("downscale");
  // Two 8×8 masks: a 4×4 square aligned with 4×4 blocks, and a 3×3 square that is not.
  std::vector<data::MaskSet> masks;
  for (const auto& [name, x0, side] : {std::tuple{"a.png", 0, 4}, std::tuple{"b.png", 3, 3}}) {
    data::Gray8 mask{8, 8, std::vector<std::uint8_t>(64, 0)};
    for (int y = x0; y < x0 + side; ++y)
      for (int x = x0; x < x0 + side; ++x) mask.pixels[static_cast<std::size_t>(y * 8 + x)] = 255;
    data::write_png(dir / name, mask);
    masks.push_back({{name}, ""});
  }
  const auto result = metrics::downscale_simulation_pxap(dir, masks, 8, {1, 3, 2, 8}, 0.01);
  REQUIRE(result.size() == 3);  // 3 does not divide 8
  CHECK(result[0].first == 1);
  CHECK(result[1].first == 2);
  CHECK(result[2].first == 8);
  // z = 1: the map is the mask itself, a perfect score. z = 8: one block, a constant map per
  // image (1/4 and 9/64 of the pixels are foreground), so the pixels of the split pool into two
  // score levels and PxAP is the area under that two-point curve, worked out by hand:
  // at τ ≤ 9/64 everything is positive (precision 25/128), at 9/64 < τ ≤ 1/4 image a only
  // (precision 16/64) with recall 16/25.
  CHECK_THAT(result[0].second, Catch::Matchers::WithinAbs(100.0, 1e-9));
  CHECK_THAT(result[2].second, Catch::Matchers::WithinAbs(100.0 * (16.0 / 64 * 16.0 / 25 + 25.0 / 128 * 9.0 / 25), 1e-9));
  // Every factor equals a pass of its own over the split, image by image (as the demo did it).
  for (const auto& [z, pxap] : result) {
    metrics::PxapAccumulator pixels(0.01);
    for (const data::MaskSet& set : masks) {
      const metrics::PixelMasks m = metrics::load_pixel_masks(dir, set, 8);
      pixels.add(metrics::downscaled_mask_scores(m.foreground, z), m.foreground, m.ignore);
    }
    CHECK(pxap == pixels.pxap());
  }
  CHECK_THROWS_WITH(metrics::downscale_simulation_pxap(dir, masks, 8, {0}, 0.01), Contains("factor 0 must be >= 1"));
  CHECK_THROWS_WITH(metrics::downscale_simulation_pxap(dir, {}, 8, {1}, 0.01), Contains("the split has no masks"));
}

TEST_CASE("localization_tiles: the image with its true box, then each map with both boxes", "[helpers][plot]") {
  const data::Rgb8 image{16, 16, std::vector<std::uint8_t>(16 * 16 * 3, 100)};
  Tensor<float> map({16, 16});
  for (int y = 4; y <= 9; ++y)
    for (int x = 4; x <= 9; ++x) map.data()[y * 16 + x] = 1.0f;
  // The map's box is (4, 4, 10, 10): wsolevaluation's x1 = x0 + contour width. IoU 36 / 62.
  const metrics::IntBox truth{3, 3, 9, 9};
  const std::vector<plot::Tile> tiles =
      plot::localization_tiles(image, truth, "shirt", {{"CAM", map, 0.5}, {"F-CAM", map, 0.5}}, 3);
  REQUIRE(tiles.size() == 3);
  CHECK(tiles[0].caption == "shirt");
  CHECK(tiles[1].caption == "CAM  IoU 0.58");
  CHECK(tiles[2].caption == "F-CAM  IoU 0.58");
  const plot::Colour green{0, 255, 0}, white{255, 255, 255}, gray{100, 100, 100};
  for (const plot::Tile& t : tiles) {
    REQUIRE(t.picture.width == 48);
    REQUIRE(t.picture.height == 48);
    CHECK(pixel(t.picture, 3 * 3 + 1, 3 * 3 + 2) == green);  // the true box's corner, enlarged 3 times
    CHECK(pixel(t.picture, 6 * 3, 3 * 3) == green);          // its top side
  }
  // The predicted box (its left side here) is drawn on the overlays only, over the true box.
  CHECK(pixel(tiles[0].picture, 4 * 3, 6 * 3) == gray);
  CHECK(pixel(tiles[1].picture, 4 * 3, 6 * 3) == white);
  CHECK(pixel(tiles[2].picture, 10 * 3 + 2, 5 * 3) == white);  // its right side, outside the true box
  CHECK(pixel(tiles[2].picture, 4 * 3, 3 * 3) == green);       // the true box's top, above it
  // Inside both boxes, the heat map blended over the image.
  const data::Rgb8 overlay = plot::overlay_heatmap(image, map);
  CHECK(pixel(tiles[1].picture, 6 * 3 + 1, 6 * 3 + 1) == pixel(overlay, 6, 6));
  CHECK(pixel(tiles[1].picture, 0, 0) == pixel(overlay, 0, 0));
}

TEST_CASE("input_to_image undoes image_to_input exactly", "[helpers][picture]") {
  // Every 8-bit value in every channel, at the image's own size (the resize is then the identity).
  data::Rgb8 image{16, 16, std::vector<std::uint8_t>(16 * 16 * 3)};
  for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<std::uint8_t>((i / 3 + 85 * (i % 3)) % 256);
  for (const data::Normalization& norm : {data::Normalization{}, data::Normalization{{0.5f, 0.25f, 0.0f}, {0.5f, 2.0f, 1.0f}}}) {
    const data::Rgb8 back = data::input_to_image(data::image_to_input(image, 16, 16, norm), norm);
    REQUIRE(back.width == 16);
    REQUIRE(back.height == 16);
    CHECK(back.pixels == image.pixels);  // rounding to the nearest level undoes the float error
  }
  // By hand: planar channels to interleaved pixels, rounding (127.5 up, 100.7 to 101) and clamping.
  const data::Normalization norm{{0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}};  // v = (x/2 + 1/2)·255
  Tensor<float> x({1, 3, 1, 2});
  const float values[6] = {-1.0f, 1.0f, 0.0f, -3.0f, 5.0f, 2.0f * 100.7f / 255.0f - 1.0f};
  std::copy(values, values + 6, x.data());
  const data::Rgb8 picture = data::input_to_image(x, norm);
  CHECK(picture.pixels == std::vector<std::uint8_t>{0, 128, 255, 255, 0, 101});
  CHECK_THROWS_WITH(data::input_to_image(Tensor<float>({2, 3, 4, 4})), Contains("expected a 1×3×H×W input"));
}

TEST_CASE("load_any_checkpoint: fcam checkpoints and state dicts, mismatches name the file", "[helpers][checkpoints]") {
  const fs::path dir = scratch("checkpoints");
  models::FcamModel<float> model(models::Arch::resnet18, 3, 8);
  models::ModelConfig config;
  config.arch = models::Arch::resnet18;
  config.num_classes = 3;
  config.base_width = 8;
  config.normalization = {{0.25f, 0.5f, 0.75f}, {0.1f, 0.2f, 0.3f}};
  const fs::path checkpoint = dir / "tiny.safetensors", state_dict = dir / "plain.safetensors";
  models::save_fcam_checkpoint(model, config, checkpoint);
  nn::save_safetensors(model, state_dict);  // no "fcam.*" metadata, like a converted reference checkpoint

  Tensor<float> x({1, 3, 32, 32});
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)));
  NoGradGuard no_grad;
  model.eval();
  const Tensor<float> want = model.classify(x).logits;
  auto same_logits = [&](models::FcamModel<float>& loaded) {
    loaded.eval();
    const Tensor<float> got = loaded.classify(x).logits;
    REQUIRE(got.shape() == want.shape());
    for (std::int64_t i = 0; i < want.numel(); ++i) CHECK(got.data()[i] == want.data()[i]);
  };

  // The fcam checkpoint rebuilds itself; stated values that agree are accepted.
  for (const models::CheckpointOverrides& agreeing :
       {models::CheckpointOverrides{}, models::CheckpointOverrides{models::Arch::resnet18, 3, 64}}) {
    const models::LoadedCheckpoint<float> loaded = models::load_any_checkpoint<float>(checkpoint, agreeing);
    CHECK(loaded.config.arch == models::Arch::resnet18);
    CHECK(loaded.config.num_classes == 3);
    CHECK(loaded.config.base_width == 8);  // the file's, not the overrides' 64
    CHECK(loaded.config.normalization.mean == config.normalization.mean);
    CHECK(loaded.config.normalization.std == config.normalization.std);
    same_logits(*loaded.model);
  }
  CHECK_THAT(error_of([&] { models::load_any_checkpoint<float>(checkpoint, {.arch = models::Arch::vgg16}); }),
             Contains(checkpoint.string() + ": a vgg16 was asked for, but the checkpoint is a resnet18"));
  CHECK_THAT(error_of([&] { models::load_any_checkpoint<float>(checkpoint, {.num_classes = 5}); }),
             Contains(checkpoint.string() + ": 5 classes were asked for, but the checkpoint has 3"));

  // A state dict: the architecture and width from the overrides, the classes from its head.
  const models::LoadedCheckpoint<float> plain =
      models::load_any_checkpoint<float>(state_dict, {.arch = models::Arch::resnet18, .base_width = 8});
  CHECK(plain.config.num_classes == 3);
  CHECK(plain.config.normalization.mean == data::Normalization{}.mean);  // ImageNet's: the file has none
  same_logits(*plain.model);
  // Without the architecture it is read as a ResNet50 (the default) and the shapes disagree;
  // stating other classes than its head's fails the same way.
  CHECK_THAT(error_of([&] { models::load_any_checkpoint<float>(state_dict, {.base_width = 8}); }),
             Contains(state_dict.string()));
  CHECK_THAT(error_of([&] {
               models::load_any_checkpoint<float>(state_dict, {.arch = models::Arch::resnet18, .num_classes = 5, .base_width = 8});
             }),
             Contains(state_dict.string()) && Contains("classification_head"));
  CHECK_THAT(error_of([&] { models::load_any_checkpoint<float>(dir / "missing.safetensors"); }),
             Contains("missing.safetensors"));
  fs::remove_all(dir);
}

TEST_CASE("resolve_device: cpu, auto and cuda, and why cuda cannot be had", "[helpers][device]") {
  CHECK(app::resolve_device("cpu", "fcam-infer") == Device::cpu);
  CHECK_THROWS_WITH(app::resolve_device("gpu", "fcam-infer"),
                    Contains("fcam-infer: --device must be auto, cpu or cuda, got 'gpu'"));
  // Which answer "auto" and "cuda" give depends on this build and this machine; each case is exact.
  const Device automatic = app::resolve_device("auto", "fcam-infer");
  if (!cuda_compiled()) {
    CHECK(automatic == Device::cpu);
    CHECK_THROWS_WITH(app::resolve_device("cuda", "fcam-infer"),
                      Contains("--device cuda: this fcam was built without CUDA"));
  } else if (!cuda_available()) {
    CHECK(automatic == Device::cpu);
    CHECK_THROWS_WITH(app::resolve_device("cuda", "fcam-infer"), Contains("--device cuda: no CUDA device is visible"));
  } else {
    CHECK(automatic == Device::cuda);
    CHECK(app::resolve_device("cuda", "fcam-infer") == Device::cuda);
  }
}

TEST_CASE("apply_precision: fp32, tf32 or bf16; the CPU only in fp32", "[helpers][device]") {
  CHECK_NOTHROW(app::apply_precision("fp32", Device::cpu, "fcam-train"));
  CHECK_THROWS_WITH(app::apply_precision("fp16", Device::cpu, "fcam-train"),
                    Contains("fcam-train: --precision must be fp32, tf32 or bf16, got 'fp16'"));
  CHECK_THROWS_WITH(app::apply_precision("bf16", Device::cpu, "fcam-demo"),
                    Contains("fcam-demo: --precision bf16 needs --device cuda (the CPU computes in float"));
  CHECK_THROWS_WITH(app::apply_precision("tf32", Device::cpu, "fcam-demo"), Contains("--precision tf32 needs"));
#if FCAM_WITH_CUDA
  // The modes are process settings: each choice sets both, and fp32 turns them off again.
  app::apply_precision("bf16", Device::cuda, "fcam-infer");
  CHECK(cuda::bf16_enabled());
  CHECK_FALSE(cuda::tf32_enabled());
  app::apply_precision("tf32", Device::cuda, "fcam-infer");
  CHECK(cuda::tf32_enabled());
  CHECK_FALSE(cuda::bf16_enabled());
  app::apply_precision("fp32", Device::cuda, "fcam-infer");
  CHECK_FALSE(cuda::tf32_enabled());
  CHECK_FALSE(cuda::bf16_enabled());
#endif
}

TEST_CASE("error_line names the program once", "[helpers][errors]") {
  CHECK(app::error_line("fcam-eval", "fcam-eval: --threads must be in [1, 4096], got '0'") ==
        "fcam-eval: error: --threads must be in [1, 4096], got '0'");
  CHECK(app::error_line("fcam-eval", "maps/a.npy: cannot open file") ==
        "fcam-eval: error: maps/a.npy: cannot open file");
  CHECK(app::error_line("fcam-eval", "fcam-evaluation: x") == "fcam-eval: error: fcam-evaluation: x");
}

TEST_CASE("checkpoint metadata with bad numbers is an error naming the file and the field", "[helpers][checkpoints]") {
  std::map<std::string, std::string> meta{{"fcam.arch", "resnet18"}, {"fcam.num_classes", "3"},
                                          {"fcam.base_width", "8"},   {"fcam.mean", "[0.1, 0.2, 0.3]"},
                                          {"fcam.std", "[0.1, 0.2, 0.3]"}, {"fcam.training", "{}"}};
  CHECK(models::model_config_from_metadata(meta, "ok.safetensors").num_classes == 3);
  meta["fcam.num_classes"] = "three";
  CHECK_THROWS_WITH(models::model_config_from_metadata(meta, "a.safetensors"),
                    Contains("a.safetensors: 'fcam.num_classes' must be a positive integer, got 'three'"));
  meta["fcam.num_classes"] = "99999999999999999999";
  CHECK_THROWS_WITH(models::model_config_from_metadata(meta, "b.safetensors"),
                    Contains("b.safetensors: 'fcam.num_classes'"));
  meta["fcam.num_classes"] = "3";
  meta["fcam.mean"] = "[0.1, 0.2";
  CHECK_THROWS_WITH(models::model_config_from_metadata(meta, "c.safetensors"), Contains("c.safetensors: "));
}

TEST_CASE("a directory given where a file is expected is an error naming it", "[helpers][errors]") {
  const fs::path dir = fs::temp_directory_path() / "fcam_test_dir_as_file";
  fs::create_directories(dir);
  CHECK_THROWS_WITH(io::read_file(dir), Contains("fcam_test_dir_as_file is a directory, not a file"));
  CHECK_THROWS_WITH(io::read_npy<float>(dir), Contains("is a directory"));
}

TEST_CASE("parse_int64 accepts exactly a decimal integer that fits", "[helpers][errors]") {
  CHECK(io::parse_int64("42") == 42);
  CHECK(io::parse_int64("-7") == -7);
  CHECK(io::parse_int64("9223372036854775807") == INT64_MAX);
  for (const char* bad : {"", "12abc", " 3", "+3", "9223372036854775808", "1e3", "0x10"}) {
    INFO(bad);
    CHECK_FALSE(io::parse_int64(bad).has_value());
  }
}

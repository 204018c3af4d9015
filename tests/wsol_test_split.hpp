/// \file
/// \brief A small WSOL split written for a test: random photos with a box and a mask each
/// (test_evaluate.cpp, test_run_seed.cpp, tests/backend_ops/test_training_runs_on_cuda.cpp), and
/// a training run of a tiny model on it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fcam/data/image_write.hpp>
#include <fcam/fcam.hpp>
#include <fcam/train/trainer.hpp>

namespace fcam::test {

/// `n` random photos of 40×36 under `root` with a box and a mask (a rectangle moving with the
/// image index) each, in the CUB layout for the boxes (root/meta) and the OpenImages one for the
/// masks (mask root: root/masks); labels cycle through 3 classes.
inline data::WsolDataset make_wsol_split(const std::filesystem::path& root, int n) {
  namespace fs = std::filesystem;
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

/// Stage 1 of a new ResNet18 of base width 4 (3 classes) on `split` (training and validation),
/// its masks under `split`'s mask root, at 32×32, one worker, no epochs (the new model's
/// validation only; set `epochs` and `out` for more).
inline train::TrainConfig tiny_new_model_run(const data::WsolDataset& split) {
  train::TrainConfig c;
  c.model.arch = models::Arch::resnet18;
  c.model.num_classes = 3;
  c.model.base_width = 4;
  c.train = c.val = split;
  c.mask_root = split.data_root.parent_path() / "masks";
  c.epochs = 0;
  c.workers = 1;
  c.transform.resize_size = 32;
  c.transform.crop_size = 32;
  return c;
}

}  // namespace fcam::test

/// \file
/// \brief Writes the cluttered Fashion-MNIST dataset (cluttered_fmnist.hpp) to disk in
/// wsolevaluation's layout, with both box and mask metadata:
///
///     images/<split>/<NNNNN>.png
///     metadata/CUB/<split>/{image_ids,class_labels,image_sizes,localization}.txt   boxes
///     metadata/OpenImages/<split>/...                                               masks
///     masks/OpenImages/<split>/<NNNNN>.png (0 / 255), masks/OpenImages/ignore_empty.png
///
/// The box split is laid out as "CUB" and the mask split as "OpenImages" so that fcam-eval and
/// fcam-train evaluate them (MaxBoxAcc / MaxBoxAccV2, PxAP) without new dataset names. Train and
/// val items come from disjoint parts of Fashion-MNIST's training set, test items from its test set.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "fcam/core/progress.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/data/cluttered_fmnist.hpp"
#include "fcam/data/image_write.hpp"
#include "fcam/io/atomic_file.hpp"

namespace fcam::data {

/// Where the sources are and what to write.
struct ClutteredDatasetOptions {
  std::filesystem::path fmnist_dir = "/usr/share/datasets/fashion-mnist";  ///< Debian's dataset-fashion-mnist
  std::filesystem::path backgrounds_dir = "/usr/lib/python3/dist-packages/skimage/data";  ///< python3-skimage's data
  std::int64_t train = 5000, val = 500, test = 1000;  ///< images per split
  int size = 128;          ///< image side (items scale with it: 36–80 px at 128)
  std::uint64_t seed = 0;  ///< the dataset is a function of it
  ProgressFn progress;     ///< reports of each split's images (empty: none)
};

/// Writes the dataset under `out` (see the file comment). Missing sources are errors that name
/// the Debian package to install.
inline void write_cluttered_dataset(const std::filesystem::path& out, const ClutteredDatasetOptions& options) {
  namespace fs = std::filesystem;
  const fs::path& fm = options.fmnist_dir;
  const fs::path& bgdir = options.backgrounds_dir;
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                        "t10k-labels-idx1-ubyte.gz"})
    FCAM_CHECK(fs::exists(fm / f), (fm / f).string(), " is missing: apt-get install dataset-fashion-mnist");
  std::vector<Rgb8> backgrounds;
  for (const std::string& name : cluttered_backgrounds()) {
    FCAM_CHECK(fs::exists(bgdir / name), (bgdir / name).string(), " is missing: apt-get install python3-skimage");
    backgrounds.push_back(read_rgb8(bgdir / name));
  }
  ClutteredOptions o;
  o.size = options.size;
  o.seed = options.seed;
  o.item_min = std::max(8, o.size * 36 / 128);
  o.item_max = std::max(o.item_min, o.size * 80 / 128);
  const ClutteredGenerator train_items(backgrounds, read_idx_gz(fm / "train-images-idx3-ubyte.gz"),
                                       read_idx_gz(fm / "train-labels-idx1-ubyte.gz"), o);
  const ClutteredGenerator test_items(backgrounds, read_idx_gz(fm / "t10k-images-idx3-ubyte.gz"),
                                      read_idx_gz(fm / "t10k-labels-idx1-ubyte.gz"), o);
  const std::int64_t val_start = train_items.items() - train_items.items() / 6;  // last sixth: val items
  struct Split { const char* name; int id; std::int64_t count; const ClutteredGenerator* gen; std::int64_t lo, hi; };
  const Split splits[] = {{"train", 0, options.train, &train_items, 0, val_start},
                          {"val", 1, options.val, &train_items, val_start, train_items.items()},
                          {"test", 2, options.test, &test_items, 0, test_items.items()}};
  const int s = o.size;
  fs::create_directories(out / "masks" / "OpenImages");
  write_png(out / "masks" / "OpenImages" / "ignore_empty.png",
                  Gray8{s, s, std::vector<std::uint8_t>(static_cast<std::size_t>(s) * s, 0)});
  for (const Split& sp : splits) {
    FCAM_CHECK(sp.count >= 0 && sp.count <= sp.hi - sp.lo, "the ", sp.name, " split size must be in [0, ", sp.hi - sp.lo, "]");
    for (const char* d : {"images", "masks/OpenImages"}) fs::create_directories(out / d / sp.name);
    // The split's items: a seeded permutation of its pool, first `count`.
    std::vector<std::int64_t> pool(static_cast<std::size_t>(sp.hi - sp.lo));
    std::iota(pool.begin(), pool.end(), sp.lo);
    Rng rng(o.seed * 31 + static_cast<std::uint64_t>(sp.id) + 7);
    rng.shuffle(pool);
    std::vector<std::string> ids(static_cast<std::size_t>(sp.count)), labels(ids.size()), boxes(ids.size());
    const std::string task = std::string("fcam-make-dataset ") + sp.name;
    std::atomic<std::int64_t> done{0};
    parallel_items(sp.count, [&](std::int64_t i) {
      char name[32];
      std::snprintf(name, sizeof name, "%05lld.png", static_cast<long long>(i));
      const ClutteredSample x = sp.gen->make(sp.id, i, pool[static_cast<std::size_t>(i)]);
      FCAM_CHECK(x.x1 >= 0, sp.name, " image ", i, ": the item left no pixel above alpha 0.1");
      write_png(out / "images" / sp.name / name, x.image);
      Gray8 mask{s, s, std::vector<std::uint8_t>(x.mask.size())};
      for (std::size_t k = 0; k < x.mask.size(); ++k) mask.pixels[k] = x.mask[k] ? 255 : 0;
      write_png(out / "masks" / "OpenImages" / sp.name / name, mask);
      const auto k = static_cast<std::size_t>(i);
      ids[k] = std::string(sp.name) + "/" + name;
      labels[k] = ids[k] + "," + std::to_string(x.label);
      boxes[k] = ids[k] + "," + std::to_string(x.x0) + "," + std::to_string(x.y0) + "," + std::to_string(x.x1) + "," +
                 std::to_string(x.y1);
      report(options.progress, {.task = task, .unit = "images", .done = ++done, .total = sp.count, .note = ""});
    });
    for (const char* dataset : {"CUB", "OpenImages"}) {
      const fs::path meta = out / "metadata" / dataset / sp.name;
      fs::create_directories(meta);
      std::ostringstream id_text, label_text, size_text, loc_text;
      for (std::size_t k = 0; k < ids.size(); ++k) {
        id_text << ids[k] << "\n";
        label_text << labels[k] << "\n";
        size_text << ids[k] << "," << s << "," << s << "\n";
        if (std::string(dataset) == "CUB") loc_text << boxes[k] << "\n";
        else loc_text << ids[k] << "," << ids[k] << ",ignore_empty.png\n";
      }
      io::write_file_atomic(meta / "image_ids.txt", id_text.str());
      io::write_file_atomic(meta / "class_labels.txt", label_text.str());
      io::write_file_atomic(meta / "image_sizes.txt", size_text.str());
      io::write_file_atomic(meta / "localization.txt", loc_text.str());
    }
  }
}

}  // namespace fcam::data

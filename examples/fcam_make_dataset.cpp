// fcam-make-dataset: "cluttered Fashion-MNIST", a WSOL dataset built from real images that any
// Debian machine can install (dataset-fashion-mnist, python3-skimage's data folder); see
// include/fcam/data/cluttered_fmnist.hpp.
//
//   fcam-make-dataset --out data/cfmnist [--train 5000 --val 500 --test 1000 --size 128 --seed 0]
//
// Layout under --out (wsolevaluation's):
//   images/<split>/<NNNNN>.png
//   metadata/CUB/<split>/{image_ids,class_labels,image_sizes,localization}.txt   boxes
//   metadata/OpenImages/<split>/…                                                 masks
//   masks/OpenImages/<split>/<NNNNN>.png (0 / 255), masks/OpenImages/ignore_empty.png
// The box split is laid out as "CUB" and the mask split as "OpenImages" so that fcam-eval and
// fcam-train evaluate them (MaxBoxAcc / MaxBoxAccV2, PxAP) without new dataset names. Train and
// val items come from disjoint parts of Fashion-MNIST's training set, test items from its test set.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <sstream>

#include <fcam/data/cluttered_fmnist.hpp>
#include <fcam/fcam.hpp>

using namespace fcam;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  app::Flags flags("fcam-make-dataset", "Builds the cluttered Fashion-MNIST WSOL dataset.");
  flags.add_string("out", "data/cfmnist", "output folder");
  flags.add_string("fmnist_dir", "/usr/share/datasets/fashion-mnist", "Debian's dataset-fashion-mnist files");
  flags.add_string("backgrounds_dir", "/usr/lib/python3/dist-packages/skimage/data", "python3-skimage's data folder");
  flags.add_int("train", 5000, "training images");
  flags.add_int("val", 500, "validation images");
  flags.add_int("test", 1000, "test images");
  flags.add_int("size", 128, "image side");
  flags.add_int("seed", 0, "seed (the dataset is a function of it)");
  flags.add_bool("quiet", false, "no progress line");
  try {
    if (!flags.parse(argc, argv)) {
      std::cout << flags.usage();
      return 0;
    }
    const fs::path out = flags.text("out"), fm = flags.text("fmnist_dir"), bgdir = flags.text("backgrounds_dir");
    for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                          "t10k-labels-idx1-ubyte.gz"})
      FCAM_CHECK(fs::exists(fm / f), (fm / f).string(), " is missing: apt-get install dataset-fashion-mnist");
    std::vector<data::Rgb8> backgrounds;
    for (const std::string& name : data::cluttered_backgrounds()) {
      FCAM_CHECK(fs::exists(bgdir / name), (bgdir / name).string(), " is missing: apt-get install python3-skimage");
      backgrounds.push_back(data::read_rgb8(bgdir / name));
    }
    data::ClutteredOptions o;
    o.size = flags.integer("size");
    o.seed = static_cast<std::uint64_t>(flags.integer("seed"));
    o.item_min = std::max(8, o.size * 36 / 128);
    o.item_max = std::max(o.item_min, o.size * 80 / 128);
    const data::ClutteredGenerator train_items(backgrounds, data::read_idx_gz(fm / "train-images-idx3-ubyte.gz"),
                                               data::read_idx_gz(fm / "train-labels-idx1-ubyte.gz"), o);
    const data::ClutteredGenerator test_items(backgrounds, data::read_idx_gz(fm / "t10k-images-idx3-ubyte.gz"),
                                              data::read_idx_gz(fm / "t10k-labels-idx1-ubyte.gz"), o);
    const std::int64_t val_start = train_items.items() - train_items.items() / 6;  // last sixth: val items
    struct Split { const char* name; int id; std::int64_t count; const data::ClutteredGenerator* gen; std::int64_t lo, hi; };
    const Split splits[] = {{"train", 0, flags.integer("train"), &train_items, 0, val_start},
                            {"val", 1, flags.integer("val"), &train_items, val_start, train_items.items()},
                            {"test", 2, flags.integer("test"), &test_items, 0, test_items.items()}};
    const int s = o.size;
    fs::create_directories(out / "masks" / "OpenImages");
    data::write_png(out / "masks" / "OpenImages" / "ignore_empty.png",
                    data::Gray8{s, s, std::vector<std::uint8_t>(static_cast<std::size_t>(s) * s, 0)});
    for (const Split& sp : splits) {
      FCAM_CHECK(sp.count >= 0 && sp.count <= sp.hi - sp.lo, "--", sp.name, " must be in [0, ", sp.hi - sp.lo, "]");
      for (const char* d : {"images", "masks/OpenImages"}) fs::create_directories(out / d / sp.name);
      // The split's items: a seeded permutation of its pool, first `count`.
      std::vector<std::int64_t> pool(static_cast<std::size_t>(sp.hi - sp.lo));
      std::iota(pool.begin(), pool.end(), sp.lo);
      Rng rng(o.seed * 31 + static_cast<std::uint64_t>(sp.id) + 7);
      for (std::size_t i = pool.size(); i > 1; --i)
        std::swap(pool[i - 1], pool[static_cast<std::size_t>(rng.uniform() * static_cast<double>(i))]);
      std::vector<std::string> ids(static_cast<std::size_t>(sp.count)), labels(ids.size()), boxes(ids.size());
      app::Progress progress(std::string("fcam-make-dataset ") + sp.name, "images", std::max<std::int64_t>(sp.count, 1),
                             !flags.boolean("quiet"));
      std::atomic<std::int64_t> done{0};
      parallel_items(sp.count, [&](std::int64_t i) {
        char name[32];
        std::snprintf(name, sizeof name, "%05lld.png", static_cast<long long>(i));
        const data::ClutteredSample x = sp.gen->make(sp.id, i, pool[static_cast<std::size_t>(i)]);
        FCAM_CHECK(x.x1 >= 0, sp.name, " image ", i, ": the item left no pixel above alpha 0.1");
        data::write_png(out / "images" / sp.name / name, x.image);
        data::Gray8 mask{s, s, std::vector<std::uint8_t>(x.mask.size())};
        for (std::size_t k = 0; k < x.mask.size(); ++k) mask.pixels[k] = x.mask[k] ? 255 : 0;
        data::write_png(out / "masks" / "OpenImages" / sp.name / name, mask);
        const auto k = static_cast<std::size_t>(i);
        ids[k] = std::string(sp.name) + "/" + name;
        labels[k] = ids[k] + "," + std::to_string(x.label);
        boxes[k] = ids[k] + "," + std::to_string(x.x0) + "," + std::to_string(x.y0) + "," + std::to_string(x.x1) + "," +
                   std::to_string(x.y1);
        progress.update(++done);
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
    std::cout << "cluttered Fashion-MNIST (" << s << " px, seed " << o.seed << ") written to " << out.string() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fcam-make-dataset: error: " << e.what() << "\n";
    return 1;
  }
}

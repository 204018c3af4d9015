// fcam-make-dataset: "cluttered Fashion-MNIST", a WSOL dataset built from real images that any
// Debian machine can install (dataset-fashion-mnist, python3-skimage's data folder); see
// include/fcam/data/cluttered_fmnist.hpp. With --from_folders, the split metadata of your own
// photos instead (one folder per class, no boxes; include/fcam/data/folder_dataset.hpp).
//
//   fcam-make-dataset --out data/cfmnist [--train 5000 --val 500 --test 1000 --size 128 --seed 0]
//   fcam-make-dataset --from_folders photos --out photos-metadata [--val_every 5]
//
// The layout under --out is described in include/fcam/data/cluttered_writer.hpp.
#include <filesystem>
#include <iostream>

#include <fcam/app/error_line.hpp>
#include <fcam/data/cluttered_writer.hpp>
#include <fcam/data/folder_dataset.hpp>
#include <fcam/fcam.hpp>

#include "image_limit_flag.hpp"

using namespace fcam;

namespace {

/// --from_folders: the metadata of the user's photos, and the commands that train on them.
int from_folders(const app::Flags& flags) {
  // --out's default is the cluttered dataset's folder, which this must not write into.
  FCAM_CHECK(flags.given("out"), "fcam-make-dataset --from_folders: give --out, the folder for the metadata");
  const std::string root = flags.text("from_folders"), out = flags.text("out");
  const data::FolderDatasetSummary s = data::write_folder_metadata(
      root, out, flags.integer("val_every"), app::progress_printer(!flags.boolean("quiet")));
  std::cout << s.classes.size() << " classes, " << s.train << " training and " << s.val
            << " validation photos: metadata in " << out << "/CUB, class names in " << out
            << "/class_names.txt\nnext (docs/real-photos.md): fcam-train classifier --data_root " << root
            << " --metadata_root " << out << " --dataset_name CUB --test_split '' --num_classes " << s.classes.size()
            << " ...\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  app::Flags flags("fcam-make-dataset", "Builds the cluttered Fashion-MNIST WSOL dataset.");
  const data::ClutteredDatasetOptions defaults;
  flags.add_string("out", "data/cfmnist", "output folder");
  flags.add_string("fmnist_dir", defaults.fmnist_dir.string(), "Debian's dataset-fashion-mnist files");
  flags.add_string("backgrounds_dir", defaults.backgrounds_dir.string(), "python3-skimage's data folder");
  flags.add_int("train", static_cast<int>(defaults.train), "training images", app::Range{0, 10000000});
  flags.add_int("val", static_cast<int>(defaults.val), "validation images", app::Range{0, 10000000});
  flags.add_int("test", static_cast<int>(defaults.test), "test images", app::Range{0, 10000000});
  flags.add_int("size", defaults.size, "image side", app::Range{1, 8192});
  flags.add_seed("seed", 0, "seed (the dataset is a function of it; 64-bit)");
  flags.add_bool("quiet", false, "no progress line");
  flags.add_string("from_folders", "",
                   "instead: write the train/val metadata of the photos in DIR/<class>/<image> to --out\n"
                   "      (no boxes: each image's box is the whole image; see docs/real-photos.md)");
  flags.add_int("val_every", 5, "--from_folders: every this many-th photo of a class goes to val", app::Range{2, 1000000});
  examples::add_image_limit_flag(flags);
  try {
    if (!flags.parse(argc, argv)) {
      std::cout << flags.usage();
      return 0;
    }
    examples::apply_image_limit_flag(flags);
    if (!flags.text("from_folders").empty()) return from_folders(flags);
    data::ClutteredDatasetOptions o;
    o.fmnist_dir = flags.text("fmnist_dir");
    o.backgrounds_dir = flags.text("backgrounds_dir");
    o.train = flags.integer("train"), o.val = flags.integer("val"), o.test = flags.integer("test");
    o.size = flags.integer("size");
    o.seed = flags.seed("seed");
    o.progress = app::progress_printer(!flags.boolean("quiet"));
    data::write_cluttered_dataset(flags.text("out"), o);
    std::cout << "cluttered Fashion-MNIST (" << o.size << " px, seed " << o.seed << ") written to " << flags.text("out") << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << app::error_line("fcam-make-dataset", e.what()) << "\n";
    return 1;
  }
}

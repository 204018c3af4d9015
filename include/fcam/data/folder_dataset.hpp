/// \file
/// \brief Split metadata for the user's own labelled photos, one folder per class
/// (`<root>/<class>/<image>`), with no boxes or masks: what fcam-train needs to train a classifier
/// and the F-CAM decoder on them (fcam-make-dataset --from_folders).
///
/// Written under `<out>`: `CUB/train/` and `CUB/val/` (image_ids, class_labels, image_sizes,
/// localization: wsolevaluation's layout, image ids `<class>/<image>` relative to `<root>`) and
/// `class_names.txt` (the class folders in label order, for fcam-infer --labels). Without boxes
/// each image's box is the whole image, so validation MaxBoxAcc says nothing about localization:
/// train for a fixed number of epochs and use last.safetensors (docs/real-photos.md).
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/core/progress.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/io/atomic_file.hpp"

namespace fcam::data {

/// What write_folder_metadata found.
struct FolderDatasetSummary {
  std::vector<std::string> classes;  ///< class folder names, label 0 first
  std::int64_t train = 0, val = 0;   ///< images per split
};

namespace detail {

/// True for the image files fcam reads (by extension, any case).
inline bool is_image_file(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

/// The entries of `dir` that `keep` accepts, sorted by name (directory order is arbitrary).
template <class Keep>
std::vector<std::filesystem::path> sorted_entries(const std::filesystem::path& dir, Keep keep) {
  std::vector<std::filesystem::path> entries;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (keep(entry)) entries.push_back(entry.path());
  std::sort(entries.begin(), entries.end());
  return entries;
}

}  // namespace detail

/// Writes the metadata of the photos under `root` (one subfolder per class, sorted by name:
/// label 0 is the first) to `out`: every `val_every`-th image of each class (the 5th, 10th, …,
/// sorted by file name) goes to val, the rest to train. Each image is decoded once for its size,
/// so an unreadable one is an error naming it. Throws fcam::Error when `root` has no class
/// folder, a class folder has no image, or a name holds a comma or a line break (the metadata
/// is comma-separated).
inline FolderDatasetSummary write_folder_metadata(const std::filesystem::path& root, const std::filesystem::path& out,
                                                  int val_every = 5, const ProgressFn& progress = {}) {
  namespace fs = std::filesystem;
  FCAM_CHECK(val_every >= 2, "write_folder_metadata: val_every must be >= 2, got ", val_every);
  FCAM_CHECK(fs::is_directory(root), root.string(), " is not a folder of class folders");
  const auto class_dirs = detail::sorted_entries(root, [](const fs::directory_entry& e) { return e.is_directory(); });
  FCAM_CHECK(!class_dirs.empty(), root.string(), " holds no class folder (expected <root>/<class>/<image>)");
  FolderDatasetSummary summary;
  std::vector<std::vector<fs::path>> images_of;  // per class
  std::int64_t total = 0;
  for (const fs::path& dir : class_dirs) {
    images_of.push_back(detail::sorted_entries(
        dir, [](const fs::directory_entry& e) { return e.is_regular_file() && detail::is_image_file(e.path()); }));
    FCAM_CHECK(!images_of.back().empty(), dir.string(), " holds no image (.jpg, .jpeg, .png or .bmp)");
    total += static_cast<std::int64_t>(images_of.back().size());
  }
  std::ostringstream ids[2], labels[2], sizes[2], boxes[2];  // [0] train, [1] val
  std::int64_t done = 0;
  for (std::size_t label = 0; label < class_dirs.size(); ++label) {
    const std::vector<fs::path>& images = images_of[label];
    summary.classes.push_back(class_dirs[label].filename().string());
    for (std::size_t k = 0; k < images.size(); ++k) {
      const std::string id = summary.classes.back() + "/" + images[k].filename().string();
      FCAM_CHECK(id.find_first_of(",\n\r") == std::string::npos, images[k].string(),
                 ": a comma or line break in the name would break the comma-separated metadata; rename it");
      const Rgb8 image = read_rgb8(images[k]);
      const int split = (k + 1) % static_cast<std::size_t>(val_every) == 0 ? 1 : 0;
      ids[split] << id << "\n";
      labels[split] << id << "," << label << "\n";
      sizes[split] << id << "," << image.width << "," << image.height << "\n";
      boxes[split] << id << ",0,0," << image.width - 1 << "," << image.height - 1 << "\n";
      ++(split == 1 ? summary.val : summary.train);
      report(progress, {.task = "fcam-make-dataset", .unit = "images", .done = ++done, .total = total, .note = ""});
    }
  }
  FCAM_CHECK(summary.train > 0 && summary.val > 0, root.string(), ": ", summary.train, " training and ", summary.val,
             " validation images; each split needs one (val takes every ", val_every, "th image of a class)");
  const char* split_names[2] = {"train", "val"};
  for (int split = 0; split < 2; ++split) {
    const fs::path dir = out / "CUB" / split_names[split];
    fs::create_directories(dir);
    io::write_file_atomic(dir / "image_ids.txt", ids[split].str());
    io::write_file_atomic(dir / "class_labels.txt", labels[split].str());
    io::write_file_atomic(dir / "image_sizes.txt", sizes[split].str());
    io::write_file_atomic(dir / "localization.txt", boxes[split].str());
  }
  std::string names;
  for (const std::string& name : summary.classes) names += name + "\n";
  io::write_file_atomic(out / "class_names.txt", names);
  return summary;
}

}  // namespace fcam::data

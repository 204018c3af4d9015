/// \file
/// \brief WSOL split metadata in wsolevaluation's format: image ids, class labels, image sizes,
/// and boxes or instance masks, parsed and cross-checked with `file:line: what` errors.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/io/atomic_file.hpp"

namespace fcam::data {

/// An axis-aligned box in inclusive pixel coordinates of the original image.
struct Box {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;  ///< corners, x0 <= x1 and y0 <= y1
};

/// The masks of one image: instance masks (foreground is their union) and an optional ignore
/// mask; paths are relative to `<mask_root>/OpenImages`.
struct MaskSet {
  std::vector<std::string> instances;  ///< one path per instance
  std::string ignore;                  ///< empty: no ignore region
};

/// One split of a WSOL dataset (`<metadata_root>/<dataset>/<split>/`).
struct WsolMetadata {
  std::vector<std::string> image_ids;  ///< in the order of image_ids.txt (the split's order)
  std::vector<int> labels;             ///< class of each image, aligned with image_ids
  std::vector<int> widths, heights;    ///< original sizes, aligned; empty when the split has none
  std::vector<std::vector<Box>> boxes; ///< aligned; empty when the split has no boxes
  std::vector<MaskSet> masks;          ///< aligned; empty when the split has no masks

  /// True when the split has masks. localization.txt holds either masks (OpenImages) or boxes
  /// (CUB, ILSVRC); a split may be given both (read_split_with_boxes_and_masks in wsol_split.hpp).
  bool has_masks() const { return !masks.empty(); }
  /// True when the split has boxes.
  bool has_boxes() const { return !boxes.empty(); }
};

namespace detail {

/// The lines of a text file, without CR/LF; a final line break is optional. An empty line
/// elsewhere is an error naming the file and line.
inline std::vector<std::string> read_lines(const std::filesystem::path& path) {
  const std::string text = io::read_file(path);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    FCAM_CHECK(!line.empty(), path.string(), ":", lines.size() + 1, ": empty line");
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

/// Comma-separated fields (empty fields kept).
inline std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return fields;
    start = comma + 1;
  }
}

/// Whether all of `text` is a number (strtod's syntax).
inline bool is_number(const std::string& text) {
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

/// A number field, or an error at `where`.
inline double number_field(const std::string& text, const std::string& where, const char* what) {
  FCAM_CHECK(is_number(text), where, ": ", what, " '", text, "' is not a number");
  return std::strtod(text.c_str(), nullptr);
}

/// An integer field, or an error at `where`.
inline int int_field(const std::string& text, const std::string& where, const char* what) {
  const double v = number_field(text, where, what);
  // The range check comes first: casting a double outside int's range is undefined behaviour.
  FCAM_CHECK(v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max() &&
                 v == static_cast<double>(static_cast<int>(v)),
             where, ": ", what, " '", text, "' is not an integer in int's range");
  return static_cast<int>(v);
}

}  // namespace detail

/// Reads and validates the metadata of one split from `split_dir` (image_ids.txt,
/// class_labels.txt, image_sizes.txt, localization.txt; the last two may be empty).
/// `num_classes` > 0 also checks every label is in [0, num_classes).
/// Checks: ids unique and the same set in every file, each id labelled once, sizes positive,
/// boxes ordered and inside their image, mask lines with 2 or 3 fields. Errors read
/// `file:line: what`.
inline WsolMetadata read_wsol_metadata(const std::filesystem::path& split_dir, int num_classes = 0) {
  using namespace detail;
  WsolMetadata meta;
  std::map<std::string, std::size_t> index;
  const auto ids_path = split_dir / "image_ids.txt";
  const auto ids = read_lines(ids_path);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string where = ids_path.string() + ":" + std::to_string(i + 1);
    FCAM_CHECK(ids[i].find(',') == std::string::npos, where, ": an image id cannot contain ','");
    FCAM_CHECK(index.emplace(ids[i], i).second, where, ": duplicate image id '", ids[i], "'");
  }
  meta.image_ids = ids;
  auto lookup = [&](const std::string& id, const std::string& where) {
    auto it = index.find(id);
    FCAM_CHECK(it != index.end(), where, ": image id '", id, "' is not in image_ids.txt");
    return it->second;
  };

  const auto labels_path = split_dir / "class_labels.txt";
  meta.labels.assign(ids.size(), -1);
  const auto label_lines = read_lines(labels_path);
  for (std::size_t i = 0; i < label_lines.size(); ++i) {
    const std::string where = labels_path.string() + ":" + std::to_string(i + 1);
    const auto f = split_fields(label_lines[i]);
    FCAM_CHECK(f.size() == 2, where, ": expected 'id,label', got ", f.size(), " fields");
    const std::size_t k = lookup(f[0], where);
    FCAM_CHECK(meta.labels[k] < 0, where, ": image '", f[0], "' is labelled twice");
    const int label = int_field(f[1], where, "label");
    FCAM_CHECK(label >= 0, where, ": label ", label, " is negative");
    FCAM_CHECK(num_classes <= 0 || label < num_classes, where, ": label ", label, " is outside [0, ", num_classes, ")");
    meta.labels[k] = label;
  }
  for (std::size_t k = 0; k < ids.size(); ++k)
    FCAM_CHECK(meta.labels[k] >= 0, labels_path.string(), ": image '", ids[k], "' has no label");

  const auto sizes_path = split_dir / "image_sizes.txt";
  const auto size_lines = read_lines(sizes_path);
  if (!size_lines.empty()) {
    meta.widths.assign(ids.size(), 0);
    meta.heights.assign(ids.size(), 0);
    for (std::size_t i = 0; i < size_lines.size(); ++i) {
      const std::string where = sizes_path.string() + ":" + std::to_string(i + 1);
      const auto f = split_fields(size_lines[i]);
      FCAM_CHECK(f.size() == 3, where, ": expected 'id,width,height', got ", f.size(), " fields");
      const std::size_t k = lookup(f[0], where);
      FCAM_CHECK(meta.widths[k] == 0, where, ": image '", f[0], "' has two sizes");
      meta.widths[k] = int_field(f[1], where, "width");
      meta.heights[k] = int_field(f[2], where, "height");
      FCAM_CHECK(meta.widths[k] > 0 && meta.heights[k] > 0, where, ": image size must be positive");
    }
    for (std::size_t k = 0; k < ids.size(); ++k)
      FCAM_CHECK(meta.widths[k] > 0, sizes_path.string(), ": image '", ids[k], "' has no size");
  }

  const auto loc_path = split_dir / "localization.txt";
  const auto loc_lines = read_lines(loc_path);
  if (loc_lines.empty()) return meta;
  // Box lines hold numbers after the id (id,x0,y0,x1,y1), mask lines a file name (id,mask[,ignore]):
  // the first line's second field tells them apart, so a short box line is reported as a bad box
  // line at its own line number, not as a mask file whose next line is wrong.
  const auto first = split_fields(loc_lines[0]);
  const bool masks = first.size() >= 2 && !is_number(first[1]);
  if (masks) meta.masks.assign(ids.size(), MaskSet{});
  else meta.boxes.assign(ids.size(), {});
  for (std::size_t i = 0; i < loc_lines.size(); ++i) {
    const std::string where = loc_path.string() + ":" + std::to_string(i + 1);
    const auto f = split_fields(loc_lines[i]);
    const std::size_t k = lookup(f[0], where);
    if (masks) {
      FCAM_CHECK(f.size() == 2 || f.size() == 3, where, ": expected 'id,mask,ignore', got ", f.size(), " fields");
      FCAM_CHECK(!f[1].empty(), where, ": empty mask path");
      MaskSet& set = meta.masks[k];
      // The ignore path is given on an image's first line only; later lines leave it empty.
      if (set.instances.empty() && f.size() == 3) set.ignore = f[2];
      set.instances.push_back(f[1]);
      continue;
    }
    FCAM_CHECK(f.size() == 5, where, ": expected 'id,x0,y0,x1,y1', got ", f.size(), " fields");
    Box b{number_field(f[1], where, "x0"), number_field(f[2], where, "y0"), number_field(f[3], where, "x1"),
          number_field(f[4], where, "y1")};
    FCAM_CHECK(b.x0 <= b.x1 && b.y0 <= b.y1, where, ": box (", f[1], ", ", f[2], ", ", f[3], ", ", f[4],
               ") has x1 < x0 or y1 < y0");
    FCAM_CHECK(b.x0 >= 0 && b.y0 >= 0, where, ": box has a negative coordinate");
    if (!meta.widths.empty())
      FCAM_CHECK(b.x1 <= meta.widths[k] - 1 && b.y1 <= meta.heights[k] - 1, where, ": box (", f[1], ", ", f[2], ", ",
                 f[3], ", ", f[4], ") is outside the ", meta.widths[k], "x", meta.heights[k], " image");
    meta.boxes[k].push_back(b);
  }
  return meta;
}

}  // namespace fcam::data

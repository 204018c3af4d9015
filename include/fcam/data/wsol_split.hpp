/// \file
/// \brief One split of a dataset that has both boxes and masks (cluttered_writer.hpp's layout),
/// read as a single WsolDataset, so that one pass measures MaxBoxAcc and PxAP together.
#pragma once

#include <filesystem>
#include <string>

#include "fcam/core/error.hpp"
#include "fcam/data/loader.hpp"
#include "fcam/data/wsol_metadata.hpp"

namespace fcam::data {

/// \brief One split of `dataset_dir` with both its boxes and its masks.
///
/// Images under `<dataset_dir>/images`, the boxes of `metadata/CUB/<split>` and the masks of
/// `metadata/OpenImages/<split>` (both read with read_wsol_metadata, labels checked against
/// `num_classes` when > 0). The two must list the same images in the same order, else an
/// fcam::Error naming the folder; labels and sizes are the box metadata's.
inline WsolDataset read_split_with_boxes_and_masks(const std::filesystem::path& dataset_dir, const std::string& split,
                                                   int num_classes = 0) {
  WsolDataset dataset{dataset_dir / "images", read_wsol_metadata(dataset_dir / "metadata/CUB" / split, num_classes)};
  const WsolMetadata masks = read_wsol_metadata(dataset_dir / "metadata/OpenImages" / split, num_classes);
  FCAM_CHECK(masks.image_ids == dataset.metadata.image_ids, dataset_dir.string(), ": the box and mask metadata of the ",
             split, " split list different images");
  dataset.metadata.masks = masks.masks;
  return dataset;
}

}  // namespace fcam::data

/// \file
/// \brief A whole split evaluated like wsolevaluation's `evaluate_wsol`: score maps read from
/// `<scoremap_root>/<image_id>.npy`, metadata from `<metadata_root>/<dataset>/<split>/`, masks
/// from `<mask_root>/OpenImages/`; box accuracy for CUB / ILSVRC, PxAP for OpenImages; images
/// spread over threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/data/wsol_metadata.hpp"
#include "fcam/metrics/box_accuracy.hpp"
#include "fcam/metrics/box_iou.hpp"
#include "fcam/metrics/mask_cache.hpp"
#include "fcam/metrics/masks.hpp"
#include "fcam/metrics/pxap.hpp"
#include "fcam/metrics/score_map.hpp"

namespace fcam::metrics {

/// What to evaluate and how; the defaults are the reference's.
struct WsolEvaluationConfig {
  std::filesystem::path scoremap_root;           ///< holds `<image_id>.npy`
  std::filesystem::path metadata_root;           ///< holds `<dataset_name>/<split>/`
  std::filesystem::path mask_root;               ///< holds `OpenImages/<mask paths>`
  std::string dataset_name;                      ///< CUB, ILSVRC or OpenImages
  std::string split;                             ///< e.g. val, test
  double cam_curve_interval = 0.001;             ///< thresholds every interval
  bool multi_contour_eval = false;               ///< all contours' boxes (MaxBoxAccV2)
  bool multi_iou_eval = false;                   ///< report the mean over the IoU thresholds
  std::vector<int> iou_threshold_list{30, 50, 70};  ///< σ in percent
  int eval_size = 224;                           ///< maps are eval_size², boxes and masks resized to it
  int threads = 1;                               ///< worker threads
  std::filesystem::path mask_cache;              ///< OpenImages: cache file of the resized masks (empty: none)
  std::function<void(std::int64_t, std::int64_t)> progress;  ///< (images done, total), from any thread
};

/// The accumulated results of a split.
struct WsolEvaluation {
  std::int64_t num_images = 0;            ///< images evaluated
  std::optional<BoxAccumulator> boxes;    ///< CUB / ILSVRC
  std::optional<PxapAccumulator> pixels;  ///< OpenImages
  double performance = 0;                 ///< the number the reference prints
};

/// True for the datasets evaluated with boxes.
inline bool is_box_dataset(const std::string& name) { return name == "CUB" || name == "ILSVRC"; }

/// Evaluates a split. Errors — bad metadata, a missing or invalid score map, a missing mask —
/// stop the evaluation and name the image id.
inline WsolEvaluation evaluate_wsol(const WsolEvaluationConfig& config) {
  const bool boxes = is_box_dataset(config.dataset_name);
  FCAM_CHECK(boxes || config.dataset_name == "OpenImages", "dataset_name must be CUB, ILSVRC or OpenImages, got '",
             config.dataset_name, "'");
  FCAM_CHECK(config.threads >= 1, "threads must be >= 1, got ", config.threads);
  FCAM_CHECK(config.eval_size >= 1, "eval_size must be >= 1, got ", config.eval_size);
  const bool needs_sigma_50 = boxes && !config.multi_iou_eval;
  const auto& sigmas = config.iou_threshold_list;
  FCAM_CHECK(!needs_sigma_50 || std::find(sigmas.begin(), sigmas.end(), 50) != sigmas.end(),
             "iou_threshold_list must contain 50 unless multi_iou_eval is set");

  const data::WsolMetadata meta = data::read_wsol_metadata(config.metadata_root / config.dataset_name / config.split);
  FCAM_CHECK(!meta.image_ids.empty(), "no image in ", (config.metadata_root / config.dataset_name / config.split).string());
  FCAM_CHECK(boxes ? meta.has_boxes() : meta.has_masks(), config.dataset_name, " ", config.split,
             ": localization.txt must hold ", boxes ? "boxes" : "masks");
  if (boxes)
    FCAM_CHECK(meta.widths.size() == meta.image_ids.size(), config.dataset_name, " ", config.split,
               ": image_sizes.txt is needed to resize the boxes");

  BoxEvaluationOptions options{config.cam_curve_interval, sigmas, config.multi_contour_eval};
  const auto n = static_cast<std::int64_t>(meta.image_ids.size());
  const int workers = static_cast<int>(std::min<std::int64_t>(config.threads, n));
  std::vector<std::optional<BoxAccumulator>> box_parts(static_cast<std::size_t>(workers));
  std::vector<std::optional<PxapAccumulator>> pixel_parts(static_cast<std::size_t>(workers));
  // Masks: from the cache when it is current, else decoded (and cached when asked).
  const std::filesystem::path openimages_dir = config.mask_root / "OpenImages";
  std::uint64_t fingerprint = 0;
  std::optional<std::vector<std::string>> cached;
  std::vector<std::string> to_cache;
  if (!boxes && !config.mask_cache.empty()) {
    fingerprint = mask_fingerprint(openimages_dir, meta.masks, config.eval_size);
    cached = read_mask_cache(config.mask_cache, fingerprint, meta.masks.size(),
                             static_cast<std::int64_t>(config.eval_size) * config.eval_size);
    if (!cached) to_cache.resize(meta.masks.size());
  }
  // Every accumulator is made here, before any thread starts: a bad option (an IoU threshold
  // of 101) throws on this thread alone. It used to throw inside a worker, with the other
  // workers still joinable, and std::terminate aborted the program.
  for (int w = 0; w < workers; ++w) {
    if (boxes) box_parts[static_cast<std::size_t>(w)].emplace(options);
    else pixel_parts[static_cast<std::size_t>(w)].emplace(config.cam_curve_interval);
  }
  std::atomic<std::int64_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::int64_t error_index = n;
  std::string error_message;

  // A worker never lets an exception escape (it records the first failing image's, by index,
  // and the others stop early), so no thread can end the process.
  auto work = [&](int w) {
    auto& box_acc = box_parts[static_cast<std::size_t>(w)];
    auto& pixel_acc = pixel_parts[static_cast<std::size_t>(w)];
    std::int64_t i = 0;
    try {
      while ((i = next++) < n && !failed) {
        const std::string& id = meta.image_ids[static_cast<std::size_t>(i)];
        const Tensor<float> map = read_score_map(config.scoremap_root / (id + ".npy"));
        FCAM_CHECK(map.size(0) == config.eval_size && map.size(1) == config.eval_size, "score map is ",
                   map.size(0), "x", map.size(1), ", expected ", config.eval_size, "x", config.eval_size);
        if (boxes) {
          std::vector<IntBox> gt;
          for (const data::Box& b : meta.boxes[static_cast<std::size_t>(i)])
            gt.push_back(resize_box(b, meta.widths[static_cast<std::size_t>(i)], meta.heights[static_cast<std::size_t>(i)],
                                    config.eval_size, config.eval_size));
          box_acc->add(map, gt);
        } else {
          const auto k = static_cast<std::size_t>(i);
          const PixelMasks masks = cached ? decode_pixel_masks((*cached)[k], config.eval_size)
                                          : load_pixel_masks(openimages_dir, meta.masks[k], config.eval_size);
          if (!to_cache.empty()) to_cache[k] = encode_pixel_masks(masks);
          pixel_acc->add(map, masks.foreground, masks.ignore);
        }
        const std::int64_t finished = ++done;
        if (config.progress) config.progress(finished, n);
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(error_mutex);
      failed = true;
      if (i < error_index) {
        error_index = i;
        error_message = e.what();
      }
    }
  };
  {
    std::vector<std::jthread> pool;  // joined when the block ends, also if starting a thread throws
    for (int w = 1; w < workers; ++w) pool.emplace_back(work, w);
    work(0);
  }
  FCAM_CHECK(error_index == n, "image ", meta.image_ids[static_cast<std::size_t>(std::min(error_index, n - 1))], ": ",
             error_message);

  WsolEvaluation result;
  result.num_images = n;
  if (boxes) {
    result.boxes.emplace(options);
    for (auto& part : box_parts) result.boxes->merge(*part);
    const std::vector<double> acc = result.boxes->max_box_acc();
    result.performance = config.multi_iou_eval
                             ? std::accumulate(acc.begin(), acc.end(), 0.0) / static_cast<double>(acc.size())
                             : acc[static_cast<std::size_t>(std::find(sigmas.begin(), sigmas.end(), 50) - sigmas.begin())];
  } else {
    if (!to_cache.empty()) write_mask_cache(config.mask_cache, fingerprint, to_cache);
    result.pixels.emplace(config.cam_curve_interval);
    for (auto& part : pixel_parts) result.pixels->merge(*part);
    result.performance = result.pixels->pxap();
  }
  return result;
}

}  // namespace fcam::metrics

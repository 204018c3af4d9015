/// \file
/// \brief Evaluation of a model on a split during and after training: classification accuracy,
/// and the localization of its maps (the CAM of the ground-truth class in stage 1, the F-CAM
/// foreground in stage 2) with the exact WSOL metrics: MaxBoxAcc (v1, IoU 30/50/70), MaxBoxAccV2
/// and top-1 localization for box datasets, PxAP for mask datasets.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fcam/cam/cam_methods.hpp"
#include "fcam/data/loader.hpp"
#include "fcam/metrics/box_accuracy.hpp"
#include "fcam/metrics/box_iou.hpp"
#include "fcam/metrics/masks.hpp"
#include "fcam/metrics/pxap.hpp"
#include "fcam/models/fcam_model.hpp"

namespace fcam::train {

/// Which map is evaluated.
enum class MapSource { cam, fcam };

/// Evaluation settings.
struct EvaluationOptions {
  MapSource source = MapSource::cam;           ///< CAM of the ground-truth class, or F-CAM
  cam::Method cam_method = cam::Method::cam;   ///< for MapSource::cam
  double interval = 0.004;                     ///< threshold step (validation 0.004; test 0.001)
  bool with_v2 = false;                        ///< also MaxBoxAccV2 (all contours, mean over IoUs)
  std::filesystem::path mask_root;             ///< mask datasets: holds OpenImages/(mask paths)
  std::int64_t batch_size = 16;                ///< images per forward
  int workers = 2;                             ///< loading threads
  data::TransformOptions transform;            ///< its crop_size is the evaluation size
};

/// What an evaluation measured (percentages; NaN where not applicable).
struct EvaluationResult {
  double localization = 0;   ///< the model-selection score: MaxBoxAcc at IoU 50, or PxAP
  double max_box_acc_v2 = std::nan("");  ///< mean over IoU 30/50/70 of the all-contour variant
  double top1_localization = std::nan("");  ///< box datasets, IoU 50
  double accuracy = 0;       ///< top-1 classification accuracy
  std::vector<double> max_box_acc;  ///< at IoU 30, 50, 70 (box datasets)
  std::int64_t images = 0;   ///< images evaluated
};

/// Evaluates `model` on `dataset` (eval transform). `progress(done, total)` after each batch.
inline EvaluationResult evaluate(models::FcamModel<float>& model, const data::WsolDataset& dataset,
                                 EvaluationOptions o, const std::function<void(std::int64_t, std::int64_t)>& progress = {}) {
  const auto& meta = dataset.metadata;
  const bool boxes = meta.has_boxes();
  FCAM_CHECK(boxes || meta.has_masks(), "evaluate: the split has neither boxes nor masks");
  FCAM_CHECK(!boxes || !meta.widths.empty(), "evaluate: a box split needs image_sizes.txt");
  o.transform.train = false;
  const auto size = static_cast<int>(o.transform.crop_size);
  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.workers = o.workers;
  lo.shuffle = false;
  lo.transform = o.transform;
  data::DataLoader loader(dataset, lo);
  loader.start_epoch(0);

  metrics::BoxEvaluationOptions v1;
  v1.cam_curve_interval = o.interval;
  metrics::BoxEvaluationOptions v2 = v1;
  v2.multi_contour = true;
  std::optional<metrics::BoxAccumulator> acc1, acc2;
  std::optional<metrics::PxapAccumulator> pixels;
  if (boxes) {
    acc1.emplace(v1);
    if (o.with_v2) acc2.emplace(v2);
  } else {
    pixels.emplace(o.interval);
  }
  model.eval();
  NoGradGuard no_grad;
  std::int64_t done = 0, correct = 0;
  while (auto batch = loader.next()) {
    const std::int64_t n = batch->inputs.size(0);
    const Tensor<float> logits = model(batch->inputs);
    Tensor<float> maps;
    if (o.source == MapSource::fcam) {
      // Min–max normalised like every score map of the reference's inference: the foreground
      // probabilities crowd near 0 and 1, beyond the resolution of a 0.004 threshold grid.
      maps = cam::normalize_maps(model.foreground());
    } else {
      maps = cam::full_resolution(cam::class_activation_maps(model.encoder().stages().back(),
                                                             model.head().fc().weight().value, batch->labels,
                                                             o.cam_method),
                                  size, size);
    }
    const std::int64_t k = logits.size(1);
    for (std::int64_t b = 0; b < n; ++b) {
      const float* z = logits.data() + b * k;
      const int label = batch->labels[static_cast<std::size_t>(b)];
      std::int64_t above = 0;  // classes scoring higher than the true one
      for (std::int64_t c = 0; c < k; ++c) above += z[c] > z[label];
      correct += above == 0;
      const Tensor<float> map = maps.batch(b).reshape({size, size});
      const auto i = static_cast<std::size_t>(batch->indices[static_cast<std::size_t>(b)]);
      if (boxes) {
        std::vector<metrics::IntBox> gt;
        for (const data::Box& box : meta.boxes[i])
          gt.push_back(metrics::resize_box(box, meta.widths[i], meta.heights[i], size, size));
        acc1->add(map, gt, above == 0, above < 5);
        if (acc2) acc2->add(map, gt, above == 0, above < 5);
      } else {
        const metrics::PixelMasks masks = metrics::load_pixel_masks(o.mask_root / "OpenImages", meta.masks[i], size);
        pixels->add(map, masks.foreground, masks.ignore);
      }
    }
    done += n;
    if (progress) progress(done, dataset.size());
  }
  EvaluationResult r;
  r.images = done;
  r.accuracy = done > 0 ? 100.0 * static_cast<double>(correct) / static_cast<double>(done) : 0.0;
  if (boxes) {
    r.max_box_acc = acc1->max_box_acc();
    r.localization = r.max_box_acc[1];
    r.top1_localization = acc1->top1_localization()[1];
    if (acc2) {
      const std::vector<double> all = acc2->max_box_acc();
      r.max_box_acc_v2 = (all[0] + all[1] + all[2]) / 3;
    }
  } else {
    r.localization = pixels->pxap();
  }
  return r;
}

}  // namespace fcam::train

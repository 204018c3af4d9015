/// \file
/// \brief Evaluation of a model on a split during and after training: classification accuracy,
/// and the localization of its maps (a baseline CAM of the ground-truth class, or the F-CAM
/// foreground) with the exact WSOL metrics: MaxBoxAcc (v1, IoU 30/50/70), MaxBoxAccV2 and top-1
/// localization where the split has boxes, PxAP where it has masks (both when it has both).
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fcam/cam/baselines.hpp"
#include "fcam/data/loader.hpp"
#include "fcam/dist/communicator.hpp"
#include "fcam/metrics/box_accuracy.hpp"
#include "fcam/metrics/box_iou.hpp"
#include "fcam/metrics/masks.hpp"
#include "fcam/metrics/pxap.hpp"
#include "fcam/models/fcam_model.hpp"
#include "fcam/ops/reduce.hpp"

namespace fcam::train {

/// Which map is evaluated.
enum class MapSource { cam, fcam };

/// Evaluation settings.
struct EvaluationOptions {
  MapSource source = MapSource::cam;           ///< CAM of the ground-truth class, or F-CAM
  cam::Method cam_method = cam::Method::cam;   ///< for MapSource::cam
  cam::SmoothOptions smooth;                   ///< Smooth-GradCAM++ passes and noise
  std::uint64_t seed = 0;                      ///< Smooth-GradCAM++ noise
  double interval = 0.004;                     ///< threshold step (validation 0.004; test 0.001)
  bool with_v2 = false;                        ///< also MaxBoxAccV2 (all contours, mean over IoUs)
  std::filesystem::path mask_root;             ///< splits with masks: holds OpenImages/(mask paths)
  std::int64_t batch_size = 16;                ///< images per forward
  int workers = 2;                             ///< loading threads
  data::TransformOptions transform;            ///< its crop_size is the evaluation size
  /// Data-parallel: each rank evaluates its shard of the split and the counts are summed over
  /// the ranks, so every rank gets the single-process result exactly. Null: the whole split here.
  dist::Communicator* comm = nullptr;
};

/// What an evaluation measured (percentages; NaN where not applicable).
struct EvaluationResult {
  double localization = 0;   ///< the model-selection score: MaxBoxAcc at IoU 50 (boxes), else PxAP
  double pxap = std::nan("");  ///< splits with masks
  double max_box_acc_v2 = std::nan("");  ///< mean over IoU 30/50/70 of the all-contour variant
  double top1_localization = std::nan("");  ///< box datasets, IoU 50
  double accuracy = 0;       ///< top-1 classification accuracy
  std::vector<double> max_box_acc;  ///< at IoU 30, 50, 70 (box datasets)
  std::int64_t images = 0;   ///< images evaluated
  /// The accumulated counts, for curves and histograms (BoxAcc(τ), precision–recall, the
  /// activation distribution); empty where the split has no boxes / no masks.
  std::optional<metrics::BoxAccumulator> boxes;
  std::optional<metrics::PxapAccumulator> pixels;
};

namespace detail {

/// The counts of one map source while a split is evaluated.
struct MapAccumulators {
  std::optional<metrics::BoxAccumulator> boxes, all_contours;
  std::optional<metrics::PxapAccumulator> pixels;
};

/// The percentages of `counts` over `images` images, `correct` of them classified right.
inline EvaluationResult percentages(MapAccumulators& counts, std::int64_t images, std::int64_t correct) {
  EvaluationResult r;
  r.images = images;
  r.accuracy = images > 0 ? 100.0 * static_cast<double>(correct) / static_cast<double>(images) : 0.0;
  if (counts.pixels) r.localization = r.pxap = counts.pixels->pxap();
  if (counts.boxes) {
    r.max_box_acc = counts.boxes->max_box_acc();
    r.localization = r.max_box_acc[1];
    r.top1_localization = counts.boxes->top1_localization()[1];
    if (counts.all_contours) {
      const std::vector<double> all = counts.all_contours->max_box_acc();
      r.max_box_acc_v2 = (all[0] + all[1] + all[2]) / 3;
    }
  }
  r.boxes = std::move(counts.boxes);
  r.pixels = std::move(counts.pixels);
  return r;
}

/// Sums the counts of every rank (images, correct classifications, box counts, pixel
/// histograms): whole numbers, so the sums are exact and equal a single process's.
inline void sum_over_ranks(dist::Communicator& comm, std::vector<MapAccumulators>& counts, std::int64_t& images,
                           std::int64_t& correct) {
  std::vector<std::int64_t> ints{images, correct};
  std::vector<double> pixels;
  auto append = [](auto& to, const auto& from) {
    to.insert(to.end(), from.begin(), from.end());
    return from.size();
  };
  std::vector<std::size_t> sizes;  // of each accumulator's counts, in the order appended
  for (MapAccumulators& c : counts) {
    for (auto* a : {&c.boxes, &c.all_contours})
      if (*a) sizes.push_back(append(ints, (*a)->counts()));
    if (c.pixels) sizes.push_back(append(pixels, c.pixels->counts()));
  }
  comm.all_reduce_sum(std::span<std::int64_t>(ints));
  comm.all_reduce_sum(std::span<double>(pixels));
  images = ints[0], correct = ints[1];
  std::size_t k = 0, at = 2, pixel_at = 0;
  for (MapAccumulators& c : counts) {
    for (auto* a : {&c.boxes, &c.all_contours})
      if (*a) {
        (*a)->set_counts(std::span<const std::int64_t>(ints).subspan(at, sizes[k]));
        at += sizes[k++];
      }
    if (c.pixels) {
      c.pixels->set_counts(std::span<const double>(pixels).subspan(pixel_at, sizes[k]));
      pixel_at += sizes[k++];
    }
  }
}

}  // namespace detail

/// Evaluates several maps of `model` on `dataset` (eval transform) in one pass over it: the
/// baseline CAM of each of `methods` (MapSource::cam; options.cam_method is ignored) or, with
/// MapSource::fcam, the F-CAM foreground alone (`methods` ignored). Each image is loaded and
/// classified once for all of them, so six baselines cost one encoder forward per image (plus
/// Smooth-GradCAM++'s noisy passes) instead of six. Each method draws its Smooth-GradCAM++
/// noise from its own Rng(options.seed): the results equal separate evaluate() calls.
/// `progress(done, total)` before the first batch (done 0) and after each batch (with
/// options.comm: this rank's count × the world size, an estimate).
inline std::vector<EvaluationResult> evaluate_maps(models::FcamModel<float>& model, const data::WsolDataset& dataset,
                                                   EvaluationOptions o, const std::vector<cam::Method>& methods,
                                                   const std::function<void(std::int64_t, std::int64_t)>& progress = {}) {
  const auto& meta = dataset.metadata;
  const bool boxes = meta.has_boxes(), masks = meta.has_masks();
  FCAM_CHECK(boxes || masks, "evaluate: the split has neither boxes nor masks");
  FCAM_CHECK(!boxes || !meta.widths.empty(), "evaluate: a box split needs image_sizes.txt");
  const std::size_t sources = o.source == MapSource::fcam ? 1 : methods.size();
  FCAM_CHECK(sources > 0, "evaluate: no CAM method to evaluate");
  o.transform.train = false;
  const auto size = static_cast<int>(o.transform.crop_size);
  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.workers = o.workers;
  lo.shuffle = false;
  lo.transform = o.transform;
  lo.pinned = model.device() == Device::cuda;
  const int ranks = o.comm ? o.comm->size() : 1;
  if (ranks > 1) lo.shard_rank = o.comm->rank(), lo.shard_count = ranks, lo.pad_shards = false;
  data::DataLoader loader(dataset, lo);
  loader.start_epoch(0);

  metrics::BoxEvaluationOptions v1;
  v1.cam_curve_interval = o.interval;
  metrics::BoxEvaluationOptions v2 = v1;
  v2.multi_contour = true;
  std::vector<detail::MapAccumulators> counts(sources);
  std::vector<Rng> rngs(sources, Rng(o.seed));
  for (detail::MapAccumulators& c : counts) {
    if (boxes) c.boxes.emplace(v1);
    if (boxes && o.with_v2) c.all_contours.emplace(v2);
    if (masks) c.pixels.emplace(o.interval);
  }
  model.eval();
  NoGradGuard no_grad;
  const Device device = model.device();  // the batches go there; the maps come back
  std::int64_t done = 0, correct = 0;
  if (progress && dataset.size() > 0) progress(0, dataset.size());  // a progress line's clock starts here
  while (auto batch = loader.next()) {
    const std::int64_t n = batch->inputs.size(0);
    const Tensor<float> inputs = batch->inputs.device() == device ? batch->inputs : batch->inputs.to(device);
    const models::ClassifierOutput<float> out = model.classify(inputs);
    std::vector<Tensor<float>> maps(sources);
    for (std::size_t s = 0; s < sources; ++s)
      // F-CAM is min–max normalised like every score map of the reference's inference: the
      // foreground probabilities crowd near 0 and 1, beyond the resolution of a 0.004 grid.
      maps[s] = o.source == MapSource::fcam
                    ? cam::normalize_maps(model.foreground(out.stages))
                    : cam::full_resolution(cam::baseline_maps(model, out, inputs, batch->labels, methods[s],
                                                              rngs[s], o.smooth),
                                           size, size);
    for (Tensor<float>& map : maps) map = map.to(Device::cpu);  // the metrics read host memory
    const std::int64_t k = out.logits.size(1);
    const std::vector<float> scores = host_values(out.logits);
    for (std::int64_t b = 0; b < n; ++b) {
      const float* z = &scores[static_cast<std::size_t>(b * k)];
      const int label = batch->labels[static_cast<std::size_t>(b)];
      std::int64_t above = 0;  // classes scoring higher than the true one
      for (std::int64_t c = 0; c < k; ++c) above += z[c] > z[label];
      correct += above == 0;
      const auto i = static_cast<std::size_t>(batch->indices[static_cast<std::size_t>(b)]);
      std::vector<metrics::IntBox> gt;
      if (boxes)
        for (const data::Box& box : meta.boxes[i])
          gt.push_back(metrics::resize_box(box, meta.widths[i], meta.heights[i], size, size));
      std::optional<metrics::PixelMasks> pm;
      if (masks) pm = metrics::load_pixel_masks(o.mask_root / "OpenImages", meta.masks[i], size);
      for (std::size_t s = 0; s < sources; ++s) {
        const Tensor<float> map = maps[s].batch(b).reshape({size, size});
        detail::MapAccumulators& c = counts[s];
        if (c.boxes) c.boxes->add(map, gt, above == 0, above < 5);
        if (c.all_contours) c.all_contours->add(map, gt, above == 0, above < 5);
        if (c.pixels) c.pixels->add(map, pm->foreground, pm->ignore);
      }
    }
    done += n;
    if (progress) progress(std::min(done * ranks, dataset.size()), dataset.size());
  }
  if (ranks > 1) detail::sum_over_ranks(*o.comm, counts, done, correct);
  std::vector<EvaluationResult> results;
  for (detail::MapAccumulators& c : counts) results.push_back(detail::percentages(c, done, correct));
  return results;
}

/// Evaluates one map of `model` on `dataset` (eval transform): options.source, with
/// options.cam_method for MapSource::cam. `progress(done, total)` after each batch.
inline EvaluationResult evaluate(models::FcamModel<float>& model, const data::WsolDataset& dataset,
                                 const EvaluationOptions& o,
                                 const std::function<void(std::int64_t, std::int64_t)>& progress = {}) {
  return std::move(evaluate_maps(model, dataset, o, {o.cam_method}, progress).front());
}

}  // namespace fcam::train

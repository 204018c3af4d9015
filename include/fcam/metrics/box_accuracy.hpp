/// \file
/// \brief MaxBoxAcc, MaxBoxAccV2 and top-1 / top-5 localization, as wsolevaluation's
/// BoxEvaluator accumulates and computes them.
///
/// Per image and threshold τ the best IoU over predicted × ground-truth boxes counts as correct
/// when it is ≥ σ/100; MaxBoxAcc(σ) is the largest percentage of correct images over τ. V2 uses
/// every contour's box and averages σ ∈ {30, 50, 70}; V1 takes the largest contour at σ = 50.
/// Top-k localization also requires the ground-truth class among the top-k predictions.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/metrics/box_iou.hpp"
#include "fcam/metrics/pxap.hpp"
#include "fcam/metrics/score_map.hpp"
#include "fcam/metrics/threshold_boxes.hpp"

namespace fcam::metrics {

/// Settings of a box evaluation.
struct BoxEvaluationOptions {
  double cam_curve_interval = 0.001;          ///< thresholds τ_i = i · interval
  std::vector<int> iou_thresholds{30, 50, 70};  ///< σ in percent
  bool multi_contour = false;                 ///< boxes of all contours (V2) instead of the largest
};

/// Accumulates box accuracy over images; merge() joins accumulators filled by other threads.
class BoxAccumulator {
public:
  /// Counts for the thresholds of `options`.
  explicit BoxAccumulator(BoxEvaluationOptions options)
      : options_(std::move(options)), thresholds_(threshold_list(options_.cam_curve_interval)) {
    FCAM_CHECK(!options_.iou_thresholds.empty(), "BoxAccumulator: empty IoU threshold list");
    for (int s : options_.iou_thresholds)
      FCAM_CHECK(s >= 0 && s <= 100, "BoxAccumulator: IoU threshold ", s, " is outside [0, 100]");
    const std::size_t n = options_.iou_thresholds.size() * thresholds_.size();
    correct_.assign(n, 0);
    top1_.assign(n, 0);
    top5_.assign(n, 0);
  }

  /// Adds one image: its score map (H×W in [0, 1]), its ground-truth boxes at the map's
  /// resolution, and whether the classifier's top-1 / top-5 predictions hold its class.
  void add(const Tensor<float>& map, std::span<const IntBox> ground_truth, bool top1_correct = true,
           bool top5_correct = true) {
    FCAM_CHECK(!ground_truth.empty(), "BoxAccumulator::add: the image has no ground-truth box");
    boxes_.reset(map, options_.multi_contour);
    // Best IoU per distinct mask (at most 256 per map, however many thresholds).
    std::array<double, 256> best_iou;
    best_iou.fill(-1.0);
    const std::size_t sigma_count = options_.iou_thresholds.size();
    for (std::size_t t = 0; t < thresholds_.size(); ++t) {
      double& iou = best_iou[static_cast<std::size_t>(boxes_.mask_key(thresholds_[t]))];
      if (iou < 0) {
        iou = 0;
        for (const IntBox& box : boxes_.boxes(thresholds_[t]))
          for (const IntBox& gt : ground_truth) iou = std::max(iou, box_iou(box, gt));
      }
      for (std::size_t s = 0; s < sigma_count; ++s) {
        if (iou < options_.iou_thresholds[s] / 100.0) continue;
        const std::size_t k = s * thresholds_.size() + t;
        ++correct_[k];
        top1_[k] += top1_correct;
        top5_[k] += top5_correct;
      }
    }
    ++count_;
  }

  /// Adds the counts of `other` (same options).
  void merge(const BoxAccumulator& other) {
    FCAM_CHECK(other.thresholds_.size() == thresholds_.size() &&
                   other.options_.iou_thresholds == options_.iou_thresholds,
               "BoxAccumulator::merge: different options");
    for (std::size_t k = 0; k < correct_.size(); ++k) {
      correct_[k] += other.correct_[k];
      top1_[k] += other.top1_[k];
      top5_[k] += other.top5_[k];
    }
    count_ += other.count_;
  }

  /// Every count in one vector (images, then the correct, top-1 and top-5 counts): what a
  /// distributed evaluation sums over ranks.
  std::vector<std::int64_t> counts() const {
    std::vector<std::int64_t> c{count_};
    for (const auto* v : {&correct_, &top1_, &top5_}) c.insert(c.end(), v->begin(), v->end());
    return c;
  }
  /// Replaces the counts by `c`, a counts() vector of accumulators with these options (e.g. the
  /// sum over ranks).
  void set_counts(std::span<const std::int64_t> c) {
    FCAM_CHECK(c.size() == 1 + 3 * correct_.size(), "BoxAccumulator::set_counts: ", c.size(), " counts, expected ",
               1 + 3 * correct_.size());
    count_ = c[0];
    auto at = c.begin() + 1;
    for (auto* v : {&correct_, &top1_, &top5_}) {
      std::copy(at, at + static_cast<std::ptrdiff_t>(v->size()), v->begin());
      at += static_cast<std::ptrdiff_t>(v->size());
    }
  }

  /// Images added.
  std::int64_t count() const { return count_; }
  /// The options.
  const BoxEvaluationOptions& options() const { return options_; }
  /// The thresholds τ.
  const std::vector<double>& thresholds() const { return thresholds_; }

  /// Box accuracy in percent at each τ for the s-th IoU threshold.
  std::vector<double> accuracy_curve(std::size_t s) const { return curve(correct_, s); }
  /// Top-1 localization in percent at each τ for the s-th IoU threshold.
  std::vector<double> top1_curve(std::size_t s) const { return curve(top1_, s); }
  /// Top-5 localization in percent at each τ for the s-th IoU threshold.
  std::vector<double> top5_curve(std::size_t s) const { return curve(top5_, s); }

  /// MaxBoxAcc per IoU threshold (percent), in the order of the options.
  std::vector<double> max_box_acc() const { return maxima(correct_); }
  /// Top-1 localization per IoU threshold, maximised over τ like MaxBoxAcc.
  std::vector<double> top1_localization() const { return maxima(top1_); }
  /// Top-5 localization per IoU threshold, maximised over τ like MaxBoxAcc.
  std::vector<double> top5_localization() const { return maxima(top5_); }

  /// \brief The threshold τ at which the s-th IoU threshold's MaxBoxAcc is reached.
  ///
  /// The smallest such τ when several tie; e.g. the τ to draw a source's boxes at.
  double best_threshold(std::size_t s) const {
    const std::vector<double> c = accuracy_curve(s);
    return thresholds_[static_cast<std::size_t>(std::max_element(c.begin(), c.end()) - c.begin())];
  }

private:
  std::vector<double> curve(const std::vector<std::int64_t>& counts, std::size_t s) const {
    FCAM_CHECK(s < options_.iou_thresholds.size(), "BoxAccumulator: IoU threshold index ", s, " out of range");
    FCAM_CHECK(count_ > 0, "BoxAccumulator: no image was added");
    std::vector<double> acc(thresholds_.size());
    for (std::size_t t = 0; t < thresholds_.size(); ++t)
      acc[t] = static_cast<double>(counts[s * thresholds_.size() + t]) * 100.0 / static_cast<double>(count_);
    return acc;
  }
  std::vector<double> maxima(const std::vector<std::int64_t>& counts) const {
    std::vector<double> result;
    for (std::size_t s = 0; s < options_.iou_thresholds.size(); ++s) {
      const std::vector<double> c = curve(counts, s);
      result.push_back(*std::max_element(c.begin(), c.end()));
    }
    return result;
  }

  BoxEvaluationOptions options_;
  std::vector<double> thresholds_;
  std::vector<std::int64_t> correct_, top1_, top5_;  // [σ][τ]
  std::int64_t count_ = 0;
  ThresholdBoxes boxes_;
};

}  // namespace fcam::metrics

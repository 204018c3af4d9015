/// \file
/// \brief PxAP (pixel average precision) with wsolevaluation's histogram bins and summation order.
#pragma once

#include <cmath>
#include <algorithm>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "fcam/core/tensor.hpp"

namespace fcam::metrics {

/// The finest threshold interval: a million thresholds (the reference protocol uses 0.001). A
/// finer one would allocate without bound, and below about 1e-19 ⌈1/interval⌉ overflows 64 bits.
inline constexpr double min_cam_curve_interval = 1e-6;

/// The thresholds τ_i = i · interval, i = 0 … ⌊1/interval⌋ − 1, computed like numpy's
/// arange(0, 1, interval) (start + i·step in double).
inline std::vector<double> threshold_list(double interval) {
  FCAM_CHECK(interval >= min_cam_curve_interval && interval < 1, "cam_curve_interval must be in [",
             min_cam_curve_interval, ", 1), got ", interval);
  const auto count = static_cast<std::int64_t>(std::ceil(1.0 / interval));  // numpy's length rule
  std::vector<double> t;
  for (std::int64_t i = 0; i < count; ++i) t.push_back(static_cast<double>(i) * interval);
  return t;
}

/// Accumulates the foreground and background score histograms of a split and computes PxAP.
/// Bin edges are the thresholds followed by 1, 2, 3 (a score of exactly 1 falls in [1, 2)),
/// as numpy.histogram does with those edges.
class PxapAccumulator {
public:
  /// Thresholds every `interval` (0.001 in the reference protocol).
  explicit PxapAccumulator(double interval) : interval_(interval), edges_(threshold_list(interval)) {
    edges_.insert(edges_.end(), {1.0, 2.0, 3.0});
    foreground_.assign(edges_.size() - 1, 0.0);
    background_.assign(edges_.size() - 1, 0.0);
  }

  /// Adds one image: `scores` (H×W in [0, 1]), `foreground` (H×W, nonzero = object) and
  /// `ignore` (H×W, nonzero = excluded; may be undefined for none). Shapes must agree.
  void add(const Tensor<float>& scores, const Tensor<float>& foreground, const Tensor<float>& ignore = {}) {
    scores.require_cpu("PxapAccumulator::add (score map)");
    foreground.require_cpu("PxapAccumulator::add (mask)");
    if (ignore.defined()) ignore.require_cpu("PxapAccumulator::add (ignore mask)");
    check_same_shape(scores, foreground, "PxapAccumulator::add (score map vs mask)");
    if (ignore.defined()) check_same_shape(scores, ignore, "PxapAccumulator::add (score map vs ignore mask)");
    for (std::int64_t i = 0; i < scores.numel(); ++i) {
      if (ignore.defined() && ignore.data()[i] != 0.0f) continue;
      const std::int64_t bin = bin_of(static_cast<double>(scores.data()[i]));
      if (bin < 0) continue;  // outside the edges: numpy.histogram drops it
      (foreground.data()[i] != 0.0f ? foreground_ : background_)[static_cast<std::size_t>(bin)] += 1.0;
    }
  }

  /// Both histograms in one vector (foreground, then background; whole numbers): what a
  /// distributed evaluation sums over ranks, exactly below 2^53 pixels.
  std::vector<double> counts() const {
    std::vector<double> c = foreground_;
    c.insert(c.end(), background_.begin(), background_.end());
    return c;
  }
  /// Replaces the histograms by `c`, a counts() vector of accumulators with this interval.
  void set_counts(std::span<const double> c) {
    FCAM_CHECK(c.size() == 2 * foreground_.size(), "PxapAccumulator::set_counts: ", c.size(), " counts, expected ",
               2 * foreground_.size());
    std::copy(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(foreground_.size()), foreground_.begin());
    std::copy(c.begin() + static_cast<std::ptrdiff_t>(foreground_.size()), c.end(), background_.begin());
  }

  /// Adds the histograms of `other` (same interval).
  void merge(const PxapAccumulator& other) {
    FCAM_CHECK(other.edges_ == edges_, "PxapAccumulator::merge: different thresholds");
    for (std::size_t i = 0; i < foreground_.size(); ++i) {
      foreground_[i] += other.foreground_[i];
      background_[i] += other.background_[i];
    }
  }

  /// Precision and recall of the rule "score ≥ τ_i" for each threshold τ_i (the points of the
  /// precision–recall curve whose area is PxAP); precision is NaN where no pixel scores ≥ τ_i.
  std::pair<std::vector<double>, std::vector<double>> precision_recall() const {
    const std::size_t n = foreground_.size(), count = edges_.size() - 3;  // the τ_i, without 1, 2, 3
    double total_fg = 0;
    for (double v : foreground_) total_fg += v;
    FCAM_CHECK(total_fg > 0, "PxAP: the split has no foreground pixel");
    std::vector<double> precision(count), recall(count);
    double tp = 0, fp = 0;
    for (std::size_t i = n; i-- > 0;) {
      tp += foreground_[i];
      fp += background_[i];
      if (i < count) {
        precision[i] = tp + fp > 0 ? tp / (tp + fp) : std::nan("");
        recall[i] = tp / total_fg;
      }
    }
    return {precision, recall};
  }

  /// PxAP in percent: 100 · Σ_{i≥1, tp_i+fp_i≠0} P_i (R_i − R_{i−1}) over reversed cumulative
  /// histograms (the reference's order). Throws when no foreground pixel was added.
  double pxap() const {
    const std::size_t n = foreground_.size();
    double total_fg = 0;
    for (double v : foreground_) total_fg += v;
    FCAM_CHECK(total_fg > 0, "PxAP: the split has no foreground pixel");
    double tp = 0, fp = 0, previous_recall = 0, auc = 0;
    for (std::size_t i = 0; i < n; ++i) {
      tp += foreground_[n - 1 - i];
      fp += background_[n - 1 - i];
      const double recall = tp / total_fg;
      if (i > 0 && tp + fp != 0) auc += tp / (tp + fp) * (recall - previous_recall);
      previous_recall = recall;
    }
    return auc * 100;
  }

  /// Foreground counts per bin (ascending scores).
  const std::vector<double>& foreground_histogram() const { return foreground_; }
  /// Background counts per bin (ascending scores).
  const std::vector<double>& background_histogram() const { return background_; }

private:
  /// numpy.histogram's bin for value v: the last edge <= v, the closed last bin, -1 outside.
  /// The edges are i·interval, so v / interval lands on the bin or next to it.
  std::int64_t bin_of(double v) const {
    if (!(v >= edges_.front()) || v > edges_.back()) return -1;
    const auto last = static_cast<std::int64_t>(edges_.size()) - 2;
    if (v == edges_.back()) return last;
    auto i = static_cast<std::int64_t>(std::min(v / interval_, static_cast<double>(last)));
    while (i > 0 && edges_[static_cast<std::size_t>(i)] > v) --i;
    while (i < last && edges_[static_cast<std::size_t>(i) + 1] <= v) ++i;
    return i;
  }

  double interval_;
  std::vector<double> edges_;
  std::vector<double> foreground_, background_;
};

}  // namespace fcam::metrics

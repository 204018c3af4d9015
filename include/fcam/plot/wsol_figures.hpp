/// \file
/// \brief The paper's analysis figures from the evaluation counts of one or more map sources
/// (say CAM* and CAM* + F-CAM): BoxAcc as a function of the threshold τ (Fig. 5a), the pixel
/// precision–recall curve whose area is PxAP (Fig. 5b), and the distribution of the map
/// activations over a split (Fig. 6); plus a picture grid of CAM / F-CAM overlays with boxes.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "fcam/plot/overlay.hpp"
#include "fcam/metrics/box_accuracy.hpp"
#include "fcam/metrics/box_iou.hpp"
#include "fcam/metrics/pxap.hpp"
#include "fcam/metrics/threshold_boxes.hpp"
#include "fcam/plot/charts.hpp"

namespace fcam::plot {

/// The evaluation counts of one map source (either pointer may be null where not measured).
struct MapCounts {
  std::string name;                                 ///< legend entry
  Colour colour;                                    ///< its colour
  const metrics::BoxAccumulator* boxes = nullptr;   ///< box accuracy per τ
  const metrics::PxapAccumulator* pixels = nullptr;  ///< foreground / background histograms
};

/// Fig. 5a: BoxAcc (percent) against τ at the IoU threshold with index `iou_index` (1: IoU 50).
inline data::Rgb8 box_accuracy_figure(const std::vector<MapCounts>& sources, std::size_t iou_index = 1,
                                      const std::string& title = "BoxAcc (IoU 50) vs threshold") {
  std::vector<Series> series;
  for (const MapCounts& s : sources)
    if (s.boxes) series.push_back({s.name, s.boxes->thresholds(), s.boxes->accuracy_curve(iou_index), s.colour});
  Axes axes;
  axes.title = title, axes.x_label = "threshold", axes.y_label = "BoxAcc %";
  axes.y_max = 100;
  return line_chart(axes, series);
}

/// Fig. 5b: pixel precision against recall (PxAP is the area under it); the points where no
/// pixel reaches τ (precision undefined) are left out.
inline data::Rgb8 precision_recall_figure(const std::vector<MapCounts>& sources,
                                          const std::string& title = "pixel precision-recall (area = PxAP)") {
  std::vector<Series> series;
  for (const MapCounts& s : sources) {
    if (!s.pixels) continue;
    const auto [precision, recall] = s.pixels->precision_recall();
    Series line{s.name, {}, {}, s.colour};
    for (std::size_t i = 0; i < precision.size(); ++i)
      if (!std::isnan(precision[i])) line.x.push_back(recall[i]), line.y.push_back(precision[i]);
    series.push_back(std::move(line));
  }
  Axes axes;
  axes.title = title, axes.x_label = "recall", axes.y_label = "precision";
  return line_chart(axes, series);
}

/// The share of pixels (percent, foreground and background together) per activation bin:
/// `bins` equal bins over [0, 1] made of the accumulator's finer ones (a score of exactly 1
/// counts in the last bin).
inline std::vector<double> activation_shares(const metrics::PxapAccumulator& pixels, int bins) {
  FCAM_CHECK(bins >= 2, "activation_shares: at least 2 bins");
  const std::vector<double>& fg = pixels.foreground_histogram();
  const std::vector<double>& bg = pixels.background_histogram();
  const std::size_t fine = fg.size() - 1;  // the τ bins and [1, 2), where scores of exactly 1 fall
  std::vector<double> shares(static_cast<std::size_t>(bins));
  double total = 0;
  for (std::size_t i = 0; i < fine; ++i) {
    shares[std::min(i * shares.size() / (fine - 1), shares.size() - 1)] += fg[i] + bg[i];
    total += fg[i] + bg[i];
  }
  for (double& share : shares) share = total > 0 ? 100.0 * share / total : 0.0;
  return shares;
}

/// Fig. 6: the distribution of the activations (activation_shares) of each source, overlaid.
inline data::Rgb8 activation_histogram_figure(const std::vector<MapCounts>& sources, int bins = 50,
                                              const std::string& title = "distribution of activations") {
  std::vector<Series> series;
  double highest = 0;
  for (const MapCounts& s : sources) {
    if (!s.pixels) continue;
    Series h{s.name, {}, activation_shares(*s.pixels, bins), s.colour};
    for (int b = 0; b < bins; ++b) h.x.push_back(static_cast<double>(b) / bins);
    highest = std::max(highest, *std::max_element(h.y.begin(), h.y.end()));
    series.push_back(std::move(h));
  }
  Axes axes;
  axes.title = title, axes.x_label = "activation", axes.y_label = "% of pixels";
  // Round tick labels: steps of 1 up to 10 %, of 10 beyond.
  const double step = highest > 10 ? 10 : 1;
  axes.y_max = std::max(step, std::ceil(highest / step) * step);
  axes.y_ticks = static_cast<int>(axes.y_max / step);
  return histogram_chart(axes, series);
}

/// One tile of an overlay grid: a picture and its caption.
struct Tile {
  data::Rgb8 picture;   ///< any size; tiles of a grid are placed on a regular lattice
  std::string caption;  ///< drawn under the picture
};

/// Tiles in rows of `columns`, each cell as large as the largest tile, with captions.
inline data::Rgb8 tile_grid(const std::vector<Tile>& tiles, int columns, int gap = 6) {
  FCAM_CHECK(!tiles.empty() && columns >= 1, "tile_grid: no tile");
  int cell_w = 0, cell_h = 0;
  for (const Tile& t : tiles) cell_w = std::max(cell_w, t.picture.width), cell_h = std::max(cell_h, t.picture.height);
  cell_h += text_height() + 6;
  const int rows = (static_cast<int>(tiles.size()) + columns - 1) / columns;
  data::Rgb8 grid = blank(columns * (cell_w + gap) + gap, rows * (cell_h + gap) + gap);
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const int x = gap + static_cast<int>(i) % columns * (cell_w + gap), y = gap + static_cast<int>(i) / columns * (cell_h + gap);
    paste(grid, tiles[i].picture, x, y);
    draw_text(grid, x, y + tiles[i].picture.height + 3, tiles[i].caption);
  }
  return grid;
}

/// A score map to draw over an image, with the threshold τ its predicted box is taken at.
struct MapAtThreshold {
  std::string name;   ///< caption prefix, e.g. "F-CAM"
  Tensor<float> map;  ///< H×W in [0, 1], the image's size
  double tau = 0.5;   ///< threshold of the predicted box (e.g. BoxAccumulator::best_threshold)
};

/// \brief The overlay tiles of one image: the image, then each map with its box and the true box.
///
/// Enlarged `zoom` times (pixel replication): first the image with its true box (green), captioned
/// `caption`; then per map the heat map over the image with the true box and the box of the map's
/// largest contour at τ (white, boxes_at_thresholds), captioned with the map's name and the IoU of
/// the two boxes (e.g. `F-CAM  IoU 0.58`). Boxes are one pixel wide before enlargement, so they
/// stay thin next to small objects.
inline std::vector<Tile> localization_tiles(const data::Rgb8& image, const metrics::IntBox& truth,
                                            const std::string& caption, const std::vector<MapAtThreshold>& maps,
                                            int zoom = 2) {
  const Colour true_colour{0, 255, 0}, predicted_colour{255, 255, 255};
  std::vector<Tile> tiles;
  data::Rgb8 plain = image;
  draw_box(plain, truth, true_colour, 1);
  tiles.push_back({enlarge(plain, zoom), caption});
  for (const MapAtThreshold& m : maps) {
    data::Rgb8 picture = overlay_heatmap(image, m.map);
    const metrics::IntBox box = metrics::boxes_at_thresholds(m.map, {m.tau}, false).front().front();
    draw_box(picture, truth, true_colour, 1);
    draw_box(picture, box, predicted_colour, 1);
    char iou[32];
    std::snprintf(iou, sizeof iou, "%.2f", metrics::box_iou(box, truth));
    tiles.push_back({enlarge(picture, zoom), m.name + "  IoU " + iou});
  }
  return tiles;
}

}  // namespace fcam::plot

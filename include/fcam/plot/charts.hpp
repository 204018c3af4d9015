/// \file
/// \brief Two chart types drawn by fcam itself as RGB images: line charts (metric curves such as
/// BoxAcc(τ) or precision–recall) and overlaid histograms (activation distributions), with
/// axes, tick labels, a title and a legend.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "fcam/plot/canvas.hpp"

namespace fcam::plot {

/// One curve or histogram: points (x, y); for histograms x are the bins' left edges.
struct Series {
  std::string name;       ///< legend entry
  std::vector<double> x;  ///< abscissae
  std::vector<double> y;  ///< ordinates, aligned with x
  Colour colour = black;  ///< line or bar colour
};

/// The frame of a chart: size, texts and the ranges shown (values outside are clamped).
struct Axes {
  std::string title;           ///< above the plot, left
  std::string x_label;         ///< below the x axis
  std::string y_label;         ///< above the y axis
  double x_min = 0, x_max = 1;  ///< x range
  double y_min = 0, y_max = 1;  ///< y range
  int width = 520, height = 360;  ///< image size
  int x_ticks = 5, y_ticks = 5;  ///< intervals between tick labels on each axis
};

namespace detail {

/// The plot rectangle inside the margins and the value → pixel mappings.
struct Frame {
  int left = 58, top = 40, right, bottom;
  Axes axes;
  explicit Frame(const Axes& a) : right(a.width - 16), bottom(a.height - 36), axes(a) {
    FCAM_CHECK(a.x_max > a.x_min && a.y_max > a.y_min, "chart '", a.title, "': empty axis range");
    FCAM_CHECK(a.x_ticks >= 1 && a.y_ticks >= 1, "chart '", a.title, "': at least one tick interval per axis");
    FCAM_CHECK(right - left > 20 && bottom - top > 20, "chart '", a.title, "': ", a.width, "x", a.height, " is too small");
  }
  int px(double x) const {
    const double f = std::clamp((x - axes.x_min) / (axes.x_max - axes.x_min), 0.0, 1.0);
    return left + static_cast<int>(std::lround(f * (right - left)));
  }
  int py(double y) const {
    const double f = std::clamp((y - axes.y_min) / (axes.y_max - axes.y_min), 0.0, 1.0);
    return bottom - static_cast<int>(std::lround(f * (bottom - top)));
  }
};

inline std::string tick_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", std::abs(v) < 1e-12 ? 0.0 : v);
  return text;
}

/// Background, grid, axes, tick labels, texts and legend; returns the frame for the data.
inline Frame draw_frame(data::Rgb8& image, const Axes& axes, const std::vector<Series>& series) {
  const Frame f(axes);
  for (int k = 0; k <= axes.x_ticks; ++k) {
    const double v = axes.x_min + (axes.x_max - axes.x_min) * k / axes.x_ticks;
    const int x = f.px(v);
    draw_line(image, x, f.top, x, f.bottom, light_gray);
    const std::string text = tick_text(v);
    draw_text(image, x - text_width(text) / 2, f.bottom + 6, text);
  }
  for (int k = 0; k <= axes.y_ticks; ++k) {
    const double v = axes.y_min + (axes.y_max - axes.y_min) * k / axes.y_ticks;
    const int y = f.py(v);
    draw_line(image, f.left, y, f.right, y, light_gray);
    const std::string text = tick_text(v);
    draw_text(image, f.left - 6 - text_width(text), y - 3, text);
  }
  draw_line(image, f.left, f.bottom, f.right, f.bottom, black);
  draw_line(image, f.left, f.top, f.left, f.bottom, black);
  draw_text(image, f.left, 8, axes.title, black, 1);
  draw_text(image, 8, f.top - 14, axes.y_label);
  draw_text(image, (f.left + f.right - text_width(axes.x_label)) / 2, f.bottom + 20, axes.x_label);
  int x = f.right;  // legend: right-aligned on the title line
  for (auto s = series.rbegin(); s != series.rend(); ++s) {
    x -= text_width(s->name) + 18;
    fill_rect(image, x, 8, x + 10, 15, s->colour);
    draw_text(image, x + 14, 8, s->name);
  }
  return f;
}

}  // namespace detail

/// Curves as connected lines (2 px wide) on one set of axes.
inline data::Rgb8 line_chart(const Axes& axes, const std::vector<Series>& series) {
  data::Rgb8 image = blank(axes.width, axes.height);
  const detail::Frame f = detail::draw_frame(image, axes, series);
  for (const Series& s : series) {
    FCAM_CHECK(s.x.size() == s.y.size(), "line_chart: series '", s.name, "' has ", s.x.size(), " x and ", s.y.size(), " y");
    for (std::size_t i = 1; i < s.x.size(); ++i)
      draw_line(image, f.px(s.x[i - 1]), f.py(s.y[i - 1]), f.px(s.x[i]), f.py(s.y[i]), s.colour, 2);
  }
  return image;
}

/// Histograms as translucent bars over each other (bin i spans x[i] to x[i+1]; the last bin
/// is as wide as the one before it).
inline data::Rgb8 histogram_chart(const Axes& axes, const std::vector<Series>& series) {
  data::Rgb8 image = blank(axes.width, axes.height);
  const detail::Frame f = detail::draw_frame(image, axes, series);
  for (const Series& s : series) {
    FCAM_CHECK(s.x.size() == s.y.size() && s.x.size() >= 2, "histogram_chart: series '", s.name,
               "' needs aligned x and y with at least two bins");
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      const double end = i + 1 < s.x.size() ? s.x[i + 1] : 2 * s.x[i] - s.x[i - 1];
      const int x0 = f.px(s.x[i]), x1 = std::max(f.px(end), x0 + 1);
      fill_rect(image, x0, f.py(s.y[i]), x1, f.bottom, s.colour, 0.55f);
    }
  }
  return image;
}

}  // namespace fcam::plot

/// \file
/// \brief "Cluttered Fashion-MNIST": a WSOL dataset from real, apt-installable images. Each image
/// is a random crop of a natural photo (skimage's data folder) with one Fashion-MNIST item
/// (Debian's dataset-fashion-mnist) composited on it: scaled to 36–80 px, at a random position,
/// in a random colour, alpha-blended with its own intensity. The exact mask (alpha > 0.1) and
/// box (the mask's bounding box, inclusive corners as wsolevaluation's IoU counts them) come
/// with it. Deterministic: image i of a split depends only on (seed, split, i).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fcam/core/rng.hpp"
#include "fcam/data/idx_gz.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/data/transforms.hpp"

namespace fcam::data {

/// The natural photos of skimage's data folder used as backgrounds (test patterns, text and
/// binary silhouettes left out).
inline const std::vector<std::string>& cluttered_backgrounds() {
  static const std::vector<std::string> names{
      "astronaut.png", "chelsea.png",  "coffee.png", "rocket.jpg", "motorcycle_left.png", "motorcycle_right.png",
      "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "grass.png", "gravel.png", "brick.png",
      "camera.png", "moon.png", "coins.png", "cell.png"};
  return names;
}

/// Fashion-MNIST's class names, by label.
inline const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names{"T-shirt/top", "trouser", "pullover", "dress", "coat",
                                              "sandal",      "shirt",   "sneaker",  "bag",   "ankle boot"};
  return names;
}

/// Generator settings.
struct ClutteredOptions {
  int size = 128;            ///< image side
  int item_min = 36;         ///< smallest item side
  int item_max = 80;         ///< largest item side
  std::uint64_t seed = 0;    ///< everything random derives from it
};

/// One generated image with its ground truth.
struct ClutteredSample {
  Rgb8 image;                      ///< size × size RGB
  std::vector<std::uint8_t> mask;  ///< size × size, 1 where alpha > 0.1
  int label = 0;                   ///< Fashion-MNIST class, 0–9
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  ///< the mask's bounding box (inclusive)
};

/// Composites items on backgrounds. `items` is a Fashion-MNIST image array (N×28×28) and
/// `labels` its labels; `pool` the item indices this split may use.
class ClutteredGenerator {
public:
  ClutteredGenerator(std::vector<Rgb8> backgrounds, IdxArray items, IdxArray labels, ClutteredOptions options)
      : backgrounds_(std::move(backgrounds)), items_(std::move(items)), labels_(std::move(labels)), o_(options) {
    FCAM_CHECK(!backgrounds_.empty(), "cluttered dataset: no background image");
    FCAM_CHECK(items_.dims.size() == 3 && items_.dims[1] == 28 && items_.dims[2] == 28 && labels_.dims.size() == 1 &&
                   labels_.dims[0] == items_.dims[0],
               "cluttered dataset: expected N×28×28 items with N labels");
    FCAM_CHECK(o_.item_min >= 8 && o_.item_min <= o_.item_max && o_.item_max <= o_.size,
               "cluttered dataset: item sizes must satisfy 8 <= min <= max <= image size");
    for (const Rgb8& b : backgrounds_)
      FCAM_CHECK(std::min(b.width, b.height) >= o_.size / 2, "cluttered dataset: a background is smaller than ",
                 o_.size / 2, " px");
  }

  /// Number of items available.
  std::int64_t items() const { return items_.dims[0]; }

  /// Image `index` of split `split_id` (0 train, 1 val, 2 test), drawing its item from `item`.
  ClutteredSample make(int split_id, std::int64_t index, std::int64_t item) const {
    Rng rng(o_.seed * 0x9e3779b97f4a7c15ull + static_cast<std::uint64_t>(split_id) * 0x100000001b3ull +
            static_cast<std::uint64_t>(index) * 0xbf58476d1ce4e5b9ull + 1);
    const int s = o_.size;
    // Background: a random square window (at least half the image size) resized to s×s.
    const Rgb8& photo = backgrounds_[static_cast<std::size_t>(rng.uniform() * static_cast<double>(backgrounds_.size()))];
    const int side_max = std::min(photo.width, photo.height), side_min = std::min(side_max, s / 2);
    const int side = side_min + static_cast<int>(rng.uniform() * (side_max - side_min + 1));
    const int bx = static_cast<int>(rng.uniform() * (photo.width - side + 1));
    const int by = static_cast<int>(rng.uniform() * (photo.height - side + 1));
    Rgb8 window{side, side, std::vector<std::uint8_t>(static_cast<std::size_t>(side) * side * 3)};
    for (int y = 0; y < side; ++y)
      std::copy_n(photo.pixels.data() + ((static_cast<std::size_t>(by + y) * photo.width + bx) * 3),
                  static_cast<std::size_t>(side) * 3, window.pixels.data() + static_cast<std::size_t>(y) * side * 3);
    const Tensor<float> bg = resize_rgb8(window, s, s);  // 3×s×s, 0–255

    // The item: scaled, placed, tinted.
    const int k = o_.item_min + static_cast<int>(rng.uniform() * (o_.item_max - o_.item_min + 1));
    const int ix = static_cast<int>(rng.uniform() * (s - k + 1)), iy = static_cast<int>(rng.uniform() * (s - k + 1));
    std::array<float, 3> tint{};
    for (float& c : tint) c = static_cast<float>(rng.uniform(0.15, 1.0));
    const float brightest = std::max({tint[0], tint[1], tint[2]});
    for (float& c : tint) c /= brightest;  // one channel at full intensity
    Rgb8 glyph{28, 28, std::vector<std::uint8_t>(28 * 28 * 3)};
    const std::uint8_t* src = items_.values.data() + item * 28 * 28;
    for (int i = 0; i < 28 * 28; ++i) glyph.pixels[static_cast<std::size_t>(i) * 3] = src[i];
    const Tensor<float> scaled = resize_rgb8(glyph, k, k);  // channel 0 holds the intensity

    ClutteredSample out;
    out.label = labels_.values[static_cast<std::size_t>(item)];
    out.image = Rgb8{s, s, std::vector<std::uint8_t>(static_cast<std::size_t>(s) * s * 3)};
    out.mask.assign(static_cast<std::size_t>(s) * s, 0);
    out.x0 = s, out.y0 = s, out.x1 = -1, out.y1 = -1;
    for (int y = 0; y < s; ++y)
      for (int x = 0; x < s; ++x) {
        float alpha = 0;
        if (x >= ix && x < ix + k && y >= iy && y < iy + k) alpha = scaled.data()[(y - iy) * k + (x - ix)] / 255.0f;
        const auto p = static_cast<std::size_t>(y) * s + static_cast<std::size_t>(x);
        for (int c = 0; c < 3; ++c) {
          const float v = bg.data()[(static_cast<std::size_t>(c) * s + static_cast<std::size_t>(y)) * s + static_cast<std::size_t>(x)] *
                              (1 - alpha) + alpha * 255.0f * tint[static_cast<std::size_t>(c)];
          out.image.pixels[p * 3 + static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(std::clamp(v + 0.5f, 0.0f, 255.0f));
        }
        if (alpha > 0.1f) {
          out.mask[p] = 1;
          out.x0 = std::min(out.x0, x), out.y0 = std::min(out.y0, y), out.x1 = std::max(out.x1, x), out.y1 = std::max(out.y1, y);
        }
      }
    return out;
  }

private:
  std::vector<Rgb8> backgrounds_;
  IdxArray items_, labels_;
  ClutteredOptions o_;
};

}  // namespace fcam::data

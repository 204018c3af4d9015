// The demo's drawing: the font, lines and text on a canvas, the chart frames' value-to-pixel
// mapping, the activation histogram's re-binning, picture grids; and the downscale simulation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>

#include <fcam/metrics/downscale_simulation.hpp>
#include <fcam/metrics/pxap.hpp>
#include <fcam/plot/wsol_figures.hpp>

using namespace fcam;
using Catch::Matchers::WithinAbs;

namespace {

plot::Colour pixel(const data::Rgb8& image, int x, int y) {
  const std::uint8_t* p = image.pixels.data() + (static_cast<std::size_t>(y) * image.width + static_cast<std::size_t>(x)) * 3;
  return {p[0], p[1], p[2]};
}

int count_colour(const data::Rgb8& image, plot::Colour colour) {
  int n = 0;
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) n += pixel(image, x, y) == colour;
  return n;
}

const std::string printable = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.,-+%()/:=_*<>[]#'|";

}  // namespace

TEST_CASE("every glyph is 7 rows of 5 cells and no two characters share one") {
  std::set<std::string_view> seen;
  for (const char c : printable) {
    const std::string_view rows = plot::glyph_rows(c);
    REQUIRE(rows.size() == 41);
    for (std::size_t i = 0; i < rows.size(); ++i) CHECK((i % 6 == 5 ? rows[i] == ' ' : (rows[i] == '#' || rows[i] == '.')));
    CHECK(seen.insert(rows).second);
  }
  CHECK(plot::glyph_rows('a') == plot::glyph_rows('A'));
  CHECK(plot::glyph_rows('~') == plot::glyph_rows('\x7f'));  // both without a glyph: the same box
  CHECK(plot::glyph_rows('~') != plot::glyph_rows(' '));
}

TEST_CASE("text is drawn cell by cell at its scale") {
  data::Rgb8 image = plot::blank(40, 20);
  plot::draw_text(image, 2, 3, "L1", plot::black, 2);
  // 'L' has 11 ink cells, '1' has 10: each a 2×2 block.
  CHECK(count_colour(image, plot::black) == (11 + 10) * 4);
  CHECK(pixel(image, 2, 3) == plot::black);       // L's top-left cell
  CHECK(pixel(image, 2 + 8, 3) == plot::white);   // L's top row has one cell
  CHECK(plot::text_width("L1", 2) == 22);
  CHECK(plot::text_width("", 2) == 0);
}

TEST_CASE("lines reach both ends and have their thickness") {
  data::Rgb8 image = plot::blank(30, 30);
  plot::draw_line(image, 3, 4, 20, 4, plot::orange, 1);
  CHECK(count_colour(image, plot::orange) == 18);
  plot::draw_line(image, 5, 10, 5, 25, plot::green, 2);
  CHECK(count_colour(image, plot::green) == 2 * 17);  // the 2×2 brush reaches one pixel past the far end
  data::Rgb8 diagonal = plot::blank(30, 30);
  plot::draw_line(diagonal, 29, 29, 0, 0, plot::black);
  for (int i = 0; i < 30; ++i) CHECK(pixel(diagonal, i, i) == plot::black);
  CHECK(count_colour(diagonal, plot::black) == 30);
  // A line beyond the canvas is clipped to it: the visible part is drawn, nothing else changes.
  plot::draw_line(diagonal, -5, 2, 40, 2, plot::black);
  for (int x = 0; x < 30; ++x) CHECK(pixel(diagonal, x, 2) == plot::black);
  CHECK(count_colour(diagonal, plot::black) == 30 + 29);  // the row, plus the diagonal outside it
  data::Rgb8 outside = plot::blank(30, 30);
  plot::draw_line(outside, -10, -3, 50, -3, plot::black);
  plot::draw_line(outside, 31, -5, 31, 40, plot::black, 3);
  CHECK(count_colour(outside, plot::white) == 30 * 30);
}

TEST_CASE("a line chart puts its points where the axes say") {
  plot::Axes axes;
  axes.x_min = 0, axes.x_max = 2, axes.y_min = 10, axes.y_max = 20;
  const plot::Colour colour{200, 0, 200};
  const data::Rgb8 chart = plot::line_chart(axes, {{"y", {0, 2}, {10, 20}, colour}});
  CHECK(chart.width == axes.width);
  CHECK(chart.height == axes.height);
  // The frame: left 58, top 40, right width − 16, bottom height − 36; (1, 15) is its centre.
  const int cx = (58 + axes.width - 16) / 2, cy = (40 + axes.height - 36) / 2;
  CHECK(pixel(chart, cx, cy) == colour);
  CHECK(pixel(chart, cx, cy - 20) != colour);
  axes.x_max = axes.x_min;
  CHECK_THROWS(plot::line_chart(axes, {}));
}

TEST_CASE("activation shares merge the fine bins and sum to 100") {
  metrics::PxapAccumulator pixels(0.001);
  Tensor<float> scores({2, 5}), foreground({2, 5});
  const float values[] = {0.0f, 0.0199f, 0.021f, 0.5f, 1.0f, 0.999f, 0.25f, 0.265f, 0.71f, 0.71f};
  for (int i = 0; i < 10; ++i) scores.data()[i] = values[i], foreground.data()[i] = i % 2;
  pixels.add(scores, foreground);
  const std::vector<double> shares = plot::activation_shares(pixels, 50);
  REQUIRE(shares.size() == 50);
  CHECK_THAT(shares[0], WithinAbs(20, 1e-12));   // 0 and 0.0199
  CHECK_THAT(shares[1], WithinAbs(10, 1e-12));   // 0.021
  CHECK_THAT(shares[12], WithinAbs(10, 1e-12));  // 0.25 (0.265 is in bin 13)
  CHECK_THAT(shares[13], WithinAbs(10, 1e-12));
  CHECK_THAT(shares[25], WithinAbs(10, 1e-12));  // 0.5
  CHECK_THAT(shares[35], WithinAbs(20, 1e-12));  // 0.71 twice
  CHECK_THAT(shares[49], WithinAbs(20, 1e-12));  // 0.999 and exactly 1
  double sum = 0;
  for (double s : shares) sum += s;
  CHECK_THAT(sum, WithinAbs(100, 1e-9));
}

TEST_CASE("a tile grid places tiles on a lattice with their captions") {
  const data::Rgb8 red = plot::blank(10, 8, {255, 0, 0}), blue = plot::blank(6, 12, {0, 0, 255});
  const data::Rgb8 grid = plot::tile_grid({{red, "A"}, {blue, "B"}, {red, "C"}}, 2, 4);
  // Cells are 10 wide and 12 + 7 + 6 tall; two columns, two rows.
  CHECK(grid.width == 2 * (10 + 4) + 4);
  CHECK(grid.height == 2 * (25 + 4) + 4);
  CHECK(count_colour(grid, {255, 0, 0}) == 2 * 80);
  CHECK(count_colour(grid, {0, 0, 255}) == 72);
  CHECK(pixel(grid, 4, 4) == plot::Colour{255, 0, 0});
  CHECK(pixel(grid, 4 + 14, 4) == plot::Colour{0, 0, 255});
  CHECK(pixel(grid, 4, 4 + 29) == plot::Colour{255, 0, 0});
  CHECK_THROWS(plot::tile_grid({}, 2));
}

TEST_CASE("the downscale simulation: block means, bilinear upsampling, exact at z = 1") {
  const int s = 32;
  Tensor<float> mask({s, s});
  for (int y = 0; y < s; ++y)
    for (int x = 0; x < 13; ++x) mask.data()[y * s + x] = 1.0f;  // columns 0–12
  const Tensor<float> same = metrics::downscaled_mask_scores(mask, 1);
  for (std::int64_t i = 0; i < mask.numel(); ++i) CHECK(same.data()[i] == mask.data()[i]);
  // z = 4: block columns 0–2 are 1, block 3 (x 12–15) is 1/4, blocks 4–7 are 0. Output column
  // x samples at u = (x + 0.5)/4 − 0.5 between blocks ⌊u⌋ and ⌊u⌋ + 1.
  const Tensor<float> low = metrics::downscaled_mask_scores(mask, 4);
  auto expected = [](int x) {
    const float blocks[] = {1, 1, 1, 0.25f, 0, 0, 0, 0};
    const float u = std::max((x + 0.5f) / 4 - 0.5f, 0.0f);
    const int i = std::min(static_cast<int>(u), 7), j = std::min(i + 1, 7);
    return blocks[i] + (u - static_cast<float>(i)) * (blocks[j] - blocks[i]);
  };
  for (int y : {0, 17, 31})
    for (int x = 0; x < s; ++x) CHECK_THAT(low.data()[y * s + x], WithinAbs(expected(x), 1e-6));
  CHECK_THROWS(metrics::downscaled_mask_scores(mask, 3));
  // PxAP of the mask itself is 100; of its z = 32 version (one constant block) the positive rate.
  metrics::PxapAccumulator exact(0.001), flat(0.001);
  exact.add(same, mask);
  flat.add(metrics::downscaled_mask_scores(mask, 32), mask);
  CHECK_THAT(exact.pxap(), WithinAbs(100, 1e-9));
  CHECK_THAT(flat.pxap(), WithinAbs(100.0 * 13 / 32, 1e-9));  // one score everywhere: precision = share of mask
}

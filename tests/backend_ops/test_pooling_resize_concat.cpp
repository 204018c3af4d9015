// test_backend_ops: max, average and global-average pooling, nearest and bilinear resizing, the
// channel concatenation and split, and zero padding, on the CPU and on CUDA from the same inputs. Inputs go to
// the device as Guarded views (an offset into a larger buffer), so the kernels must honour the
// view's offset and leave the values around it alone.
//
// Bound 0 (identical results) where the CUDA kernel does the CPU's operations in the CPU's
// order: maxima and copies, and the pooling and nearest gradients, whose gathers add the same
// terms in the same order from 0. Bilinear resizing may round differently where a compiler fuses
// a multiply and an add, and the global mean sums in another order: nmse_bound there.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "backend_ops/compare.hpp"

using namespace fcam;
using namespace fcam::test;

namespace {

/// Odd sizes, 1×1 and 1-row planes, channel counts that are not multiples of 32, batch 1 and 3,
/// and the ResNet stem's 56×56 (after its convolution's stride: 112 → 56 happens in the pool).
const std::vector<Shape>& pool_shapes() {
  static const std::vector<Shape> shapes = {{1, 1, 1, 1},  {1, 3, 2, 2},   {3, 5, 7, 9},   {1, 33, 12, 12},
                                            {3, 3, 13, 6}, {1, 2, 1, 8},   {3, 4, 28, 29}, {1, 65, 56, 56}};
  return shapes;
}

struct NamedGeometry {
  std::string name;
  Pool2dGeometry g;
};

std::vector<NamedGeometry> max_pool_geometries() {
  return {{"3x3 s2 p1 (ResNet stem)", {3, 2, 1, false}},
          {"3x3 s2 p1 ceil (ResNet stem, ceil_mode)", {3, 2, 1, true}},
          {"2x2 s2 (VGG)", {2, 2, 0, false}},
          {"2x2 s2 ceil", {2, 2, 0, true}},
          {"3x3 s1 p1", {3, 1, 1, false}},
          {"3x3 s3 ceil (last window past the edge)", {3, 3, 0, true}},
          {"1x1 s2 (inputs no window reads)", {1, 2, 0, false}}};
}

std::vector<NamedGeometry> avg_pool_geometries() {
  std::vector<NamedGeometry> all;
  for (const bool include_pad : {true, false})
    for (const bool ceil : {false, true}) {
      const std::string mode = std::string(include_pad ? " count_include_pad" : " exclude pad") + (ceil ? " ceil" : "");
      all.push_back({"3x3 s2 p1" + mode, {3, 2, 1, ceil, include_pad}});
      all.push_back({"2x2 s2" + mode, {2, 2, 0, ceil, include_pad}});
      all.push_back({"3x3 s1 p1" + mode, {3, 1, 1, ceil, include_pad}});
      all.push_back({"5x5 s3 p2" + mode, {5, 3, 2, ceil, include_pad}});
    }
  return all;
}

/// Whether the geometry gives a non-empty output for this input shape.
bool fits(const Shape& shape, const Pool2dGeometry& g) {
  try {
    g.out_size(shape[2]);
    g.out_size(shape[3]);
    return true;
  } catch (const Error&) {
    return false;
  }
}

/// Max pooling of x on both devices: outputs and argmax identical, with and without argmax, and
/// the gradient from the same grad_y and each device's own argmax.
void compare_max_pool(const Tensor<float>& x, const Pool2dGeometry& g, const std::string& what, std::uint64_t seed) {
  INFO(what);
  const MaxPoolResult<float> cpu = max_pool2d(x, g);
  Guarded xd(x, Device::cuda);
  const MaxPoolResult<float> gpu = max_pool2d(xd.view, g);
  expect_close(cpu.output, gpu.output, what + " output", 0.0);
  CHECK(gpu.argmax.device() == Device::cuda);
  CHECK(gpu.argmax.host_values() == cpu.argmax.host());
  const MaxPoolResult<float> no_argmax = max_pool2d(xd.view, g, false);
  CHECK(no_argmax.argmax.empty());
  expect_close(cpu.output, no_argmax.output, what + " output without argmax", 0.0);
  xd.check_guards(what + " input");

  const Tensor<float> dy = random_tensor(cpu.output.shape(), seed);
  const Tensor<float> grad = max_pool2d_backward(x.shape(), cpu.argmax, dy);
  expect_close(grad, max_pool2d_backward(x.shape(), gpu.argmax, dy.to(Device::cuda)), what + " gradient", 0.0);
  expect_close(grad, max_pool2d_backward(x.shape(), gpu.argmax.host_values(), dy.to(Device::cuda)),
               what + " gradient of host indices", 0.0);
}

void compare_avg_pool(const Tensor<float>& x, const Pool2dGeometry& g, const std::string& what, std::uint64_t seed) {
  Guarded xd(x, Device::cuda);
  const Tensor<float> y = avg_pool2d(x, g);
  expect_close(y, avg_pool2d(xd.view, g), what + " output", 0.0);
  xd.check_guards(what + " input");
  const Tensor<float> dy = random_tensor(y.shape(), seed);
  expect_close(avg_pool2d_backward(x.shape(), g, dy), avg_pool2d_backward(x.shape(), g, dy.to(Device::cuda)),
               what + " gradient", 0.0);
}

}  // namespace

TEST_CASE("max_pool2d forward, argmax and backward: every geometry, awkward shapes", "[cuda]") {
  std::uint64_t seed = 1000;
  for (const NamedGeometry& geometry : max_pool_geometries())
    for (const Shape& shape : pool_shapes()) {
      if (!fits(shape, geometry.g)) continue;
      seed += 2;
      compare_max_pool(random_tensor(shape, seed), geometry.g,
                       "max_pool2d " + geometry.name + " on " + shape_text(shape), seed + 1);
    }
}

TEST_CASE("max_pool2d: ties go to the first maximum in scan order, NaN wins, -inf is a value", "[cuda]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (const Shape& shape : {Shape{3, 5, 7, 9}, Shape{1, 33, 12, 12}, Shape{1, 1, 1, 1}}) {
    // Values in {-1, -0.5, 0, 0.5, 1}: most windows hold several equal maxima.
    Tensor<float> ties = random_tensor(shape, 7, -1.0, 1.0);
    for (std::int64_t i = 0; i < ties.numel(); ++i) ties.data()[i] = std::round(ties.data()[i] * 2.0f) / 2.0f;
    // NaN at the start, twice in one window (the later one wins), beside -inf and +inf; a plane
    // of -inf only (its maximum is -inf at the window's first element).
    Tensor<float> special = random_tensor(shape, 8);
    const std::int64_t w = shape[3], n = special.numel();
    const std::vector<std::int64_t> nan_at{0, w + 1, w + 2, 2 * w + 2, n - 1};
    for (const std::int64_t i : nan_at)
      if (i < n) special.data()[i] = nan;
    for (std::int64_t i = 3; i < n; i += 11) special.data()[i] = -inf;
    for (std::int64_t i = 5; i < n; i += 13) special.data()[i] = inf;
    const std::int64_t plane = shape[2] * shape[3];
    if (shape[1] > 1)
      for (std::int64_t i = plane; i < 2 * plane; ++i) special.data()[i] = -inf;
    for (const NamedGeometry& geometry : max_pool_geometries()) {
      if (!fits(shape, geometry.g)) continue;
      const std::string on = " " + geometry.name + " on " + shape_text(shape);
      compare_max_pool(ties, geometry.g, "ties" + on, 11);
      compare_max_pool(special, geometry.g, "NaN and infinities" + on, 12);
    }
  }
}

TEST_CASE("max_pool2d_backward adds in output order for any argmax, not only a pooling's", "[cuda]") {
  const Shape input{3, 5, 7, 9}, output{3, 5, 4, 6};
  const Tensor<float> dy = random_tensor(output, 21);
  const Tensor<float> dy_d = dy.to(Device::cuda);
  const std::int64_t n = numel_of(output), in_plane = input[2] * input[3];
  std::vector<std::int64_t> same(static_cast<std::size_t>(n), 0), scattered(static_cast<std::size_t>(n));
  for (std::int64_t o = 0; o < n; ++o) scattered[static_cast<std::size_t>(o)] = (o * 37 + o / 5) % in_plane;
  expect_close(max_pool2d_backward(input, same, dy), max_pool2d_backward(input, same, dy_d),
               "every output to position 0 (runs of a whole plane)", 0.0);
  expect_close(max_pool2d_backward(input, scattered, dy), max_pool2d_backward(input, scattered, dy_d),
               "scattered positions", 0.0);
}

TEST_CASE("max_pool2d_backward refuses a device argmax of another plane size or with a CPU gradient", "[cuda]") {
  const Pool2dGeometry g{2};
  const Tensor<float> x = random_tensor({2, 3, 8, 8}, 31);
  const MaxPoolResult<float> r = max_pool2d(x.to(Device::cuda), g);
  const Tensor<float> dy = random_tensor(r.output.shape(), 32);
  CHECK_THROWS_WITH(max_pool2d_backward(Shape{2, 3, 8, 9}, r.argmax, dy.to(Device::cuda)),
                    Catch::Contains("the argmax is of 64-pixel planes"));
  CHECK_THROWS_WITH(max_pool2d_backward(x.shape(), r.argmax, dy),
                    Catch::Contains("argmax on cuda, gradient on cpu"));
  CHECK_THROWS_WITH(max_pool2d_backward(Shape{2, 3, 8, 8}, r.argmax, random_tensor({2, 3, 4, 3}, 33).to(Device::cuda)),
                    Catch::Contains("does not match the forward output"));
}

TEST_CASE("avg_pool2d forward and backward: count_include_pad and ceil_mode, awkward shapes", "[cuda]") {
  std::uint64_t seed = 2000;
  for (const NamedGeometry& geometry : avg_pool_geometries())
    for (const Shape& shape : pool_shapes()) {
      if (!fits(shape, geometry.g)) continue;
      seed += 2;
      compare_avg_pool(random_tensor(shape, seed), geometry.g,
                       "avg_pool2d " + geometry.name + " on " + shape_text(shape), seed + 1);
    }
}

TEST_CASE("global_avg_pool forward and backward", "[cuda]") {
  std::uint64_t seed = 3000;
  for (const Shape& shape : {Shape{1, 1, 1, 1}, Shape{3, 5, 7, 7}, Shape{1, 2048, 7, 7}, Shape{3, 33, 65, 67},
                             Shape{1, 3, 1, 31}, Shape{3, 200, 28, 28}}) {
    const std::string what = "global_avg_pool on " + shape_text(shape);
    const Tensor<float> x = random_tensor(shape, seed += 2);
    Guarded xd(x, Device::cuda);
    const Tensor<float> y_d = global_avg_pool(xd.view);
    expect_close(global_avg_pool(x), y_d, what);
    expect_close(y_d, global_avg_pool(xd.view), what + ", run twice", 0.0);  // a fixed reduction order
    xd.check_guards(what + " input");
    const Tensor<float> dy = random_tensor({shape[0], shape[1]}, seed + 1);
    expect_close(global_avg_pool_backward(shape, dy), global_avg_pool_backward(shape, dy.to(Device::cuda)),
                 what + " gradient", 0.0);
  }
}

TEST_CASE("pad2d and its gradient (the crop): asymmetric, TensorFlow SAME and empty paddings", "[cuda]") {
  std::uint64_t seed = 3500;
  for (const Shape& shape : {Shape{1, 1, 1, 1}, Shape{3, 5, 7, 9}, Shape{1, 32, 112, 112}, Shape{2, 3, 6, 1}})
    for (const Padding2d& p : {Padding2d{0, 1, 0, 1}, Padding2d{1, 1, 1, 1}, Padding2d{2, 0, 3, 1}, Padding2d{}}) {
      const std::string what = "pad2d " + std::to_string(p.top) + "/" + std::to_string(p.bottom) + "/" +
                               std::to_string(p.left) + "/" + std::to_string(p.right) + " on " + shape_text(shape);
      const Tensor<float> x = random_tensor(shape, seed += 2);
      Guarded xd(x, Device::cuda);
      expect_close(pad2d(x, p), pad2d(xd.view, p), what, 0.0);
      xd.check_guards(what + " input");
      const Tensor<float> dy = random_tensor(pad2d(x, p).shape(), seed + 1);
      expect_close(pad2d_backward(dy, p), pad2d_backward(dy.to(Device::cuda), p), what + " gradient", 0.0);
    }
}

TEST_CASE("upsample_nearest x1, x2 and x3, forward and backward", "[cuda]") {
  std::uint64_t seed = 4000;
  for (const Shape& shape : {Shape{1, 1, 1, 1}, Shape{3, 5, 7, 9}, Shape{1, 33, 4, 3}, Shape{3, 2, 1, 6}})
    for (const std::int64_t factor : {1, 2, 3}) {
      const std::string what = "upsample_nearest x" + std::to_string(factor) + " on " + shape_text(shape);
      const Tensor<float> x = random_tensor(shape, seed += 2);
      Guarded xd(x, Device::cuda);
      expect_close(upsample_nearest(x, factor), upsample_nearest(xd.view, factor), what, 0.0);
      xd.check_guards(what + " input");
      const Tensor<float> dy = random_tensor({shape[0], shape[1], shape[2] * factor, shape[3] * factor}, seed + 1);
      expect_close(upsample_nearest_backward(dy, factor), upsample_nearest_backward(dy.to(Device::cuda), factor),
                   what + " gradient", 0.0);
    }
}

TEST_CASE("resize_bilinear forward and backward: align_corners, up and down, upsampled 1 and 2", "[cuda]") {
  std::uint64_t seed = 5000;
  for (const Shape& shape : {Shape{1, 1, 1, 1}, Shape{3, 5, 7, 9}, Shape{1, 33, 12, 10}, Shape{3, 2, 1, 6}})
    for (const bool align_corners : {false, true})
      for (const std::int64_t upsampled : {1, 2}) {
        // Sizes of the (virtually) upsampled input: the F-CAM decoder resizes x2 upsampled maps
        // to its skip connection's size, equal or one larger; the others go up, down and mixed.
        const std::int64_t h = shape[2] * upsampled, w = shape[3] * upsampled;
        const std::int64_t half_h = std::max<std::int64_t>(h / 2, 1), third_w = std::max<std::int64_t>(w / 3, 1);
        const std::vector<std::pair<std::int64_t, std::int64_t>> sizes = {
            {h, w}, {h + 1, w + 1}, {2 * h + 1, 3 * w}, {half_h, third_w}, {1, 1}, {2 * h - 1, 3}, {224, 224}};
        for (const auto& [out_h, out_w] : sizes) {
          const std::string what = "resize_bilinear " + shape_text(shape) + " to " + std::to_string(out_h) + "x" +
                                   std::to_string(out_w) + (align_corners ? " align_corners" : "") + " upsampled " +
                                   std::to_string(upsampled);
          const Tensor<float> x = random_tensor(shape, seed += 2);
          Guarded xd(x, Device::cuda);
          expect_close(resize_bilinear(x, out_h, out_w, align_corners, upsampled),
                       resize_bilinear(xd.view, out_h, out_w, align_corners, upsampled), what);
          xd.check_guards(what + " input");
          const Tensor<float> dy = random_tensor({shape[0], shape[1], out_h, out_w}, seed + 1);
          const Tensor<float> dy_d = dy.to(Device::cuda);
          const Tensor<float> dx_d = resize_bilinear_backward(shape, dy_d, align_corners, upsampled);
          expect_close(resize_bilinear_backward(shape, dy, align_corners, upsampled), dx_d, what + " gradient");
          expect_close(dx_d, resize_bilinear_backward(shape, dy_d, align_corners, upsampled),
                       what + " gradient, run twice", 0.0);
        }
      }
}

TEST_CASE("resize_bilinear with upsampled 2 equals resizing upsample_nearest's output, on CUDA too", "[cuda]") {
  const Tensor<float> x = random_tensor({3, 5, 7, 9}, 51).to(Device::cuda);
  for (const bool align_corners : {false, true})
    expect_close(resize_bilinear(upsample_nearest(x, 2), 15, 19, align_corners, 1).to(Device::cpu),
                 resize_bilinear(x, 15, 19, align_corners, 2), align_corners ? "align_corners" : "half-pixel", 0.0);
}

TEST_CASE("concat_channels of 1, 2 and 3 parts and split_channels back", "[cuda]") {
  std::uint64_t seed = 6000;
  const std::vector<std::vector<std::int64_t>> channel_lists = {{5}, {3, 32}, {1, 7, 33}, {0, 4}, {4, 0, 2}};
  const std::vector<Shape> inner_shapes = {{}, {5, 7}, {1, 1}, {13, 6}};
  for (const std::int64_t batch : {1, 3})
    for (const Shape& inner : inner_shapes)
      for (const auto& channels : channel_lists) {
        std::string what = "concat_channels batch " + std::to_string(batch) + " inner " + shape_text(inner) + " parts";
        std::vector<Tensor<float>> parts, parts_d;
        std::vector<Guarded> guarded;
        guarded.reserve(channels.size());
        for (const std::int64_t c : channels) {
          Shape shape{batch, c};
          shape.insert(shape.end(), inner.begin(), inner.end());
          parts.push_back(random_tensor(shape, seed += 1));
          guarded.emplace_back(parts.back(), Device::cuda);
          parts_d.push_back(guarded.back().view);
          what.append(" ").append(std::to_string(c));
        }
        const Tensor<float> y = concat_channels(parts), y_d = concat_channels(parts_d);
        expect_close(y, y_d, what, 0.0);
        for (const Guarded& g : guarded) g.check_guards(what + " part");

        const std::vector<Tensor<float>> back = split_channels(y_d, channels);
        REQUIRE(back.size() == channels.size());
        for (std::size_t i = 0; i < back.size(); ++i) {
          CHECK(back[i].device() == Device::cuda);
          expect_close(parts[i], back[i], what + ": split part " + std::to_string(i), 0.0);
        }
      }
}

TEST_CASE("pooling and resizing refuse double tensors on CUDA", "[cuda]") {
  using Catch::Contains;
  const Tensor<double> x({1, 2, 4, 4}, Device::cuda);
  const auto refused = [](const std::string& op) { return op + ": CUDA kernels exist for float tensors only"; };
  CHECK_THROWS_WITH(max_pool2d(x, Pool2dGeometry{2}), Contains(refused("max_pool2d")));
  CHECK_THROWS_WITH(avg_pool2d(x, Pool2dGeometry{2}), Contains(refused("avg_pool2d")));
  CHECK_THROWS_WITH(global_avg_pool(x), Contains(refused("global_avg_pool")));
  CHECK_THROWS_WITH(upsample_nearest(x, 2), Contains(refused("upsample_nearest")));
  CHECK_THROWS_WITH(resize_bilinear(x, 3, 3, false), Contains(refused("resize_bilinear")));
  CHECK_THROWS_WITH(concat_channels(std::vector<Tensor<double>>{x, x}), Contains(refused("concat_channels")));
  CHECK_THROWS_WITH(split_channels(x, {1, 1}), Contains(refused("split_channels")));
}

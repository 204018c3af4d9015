// Tensor-level CUDA resizing. Bilinear interpolation uses the host's detail::LinearTaps (float,
// PyTorch's rules, `upsampled` folded in), uploaded as tables, so that the GPU interpolates with
// exactly the CPU's indices and weights; the backward pass gets the inverse tables (per input
// position, the outputs that read it), built on the host too. The tables of each geometry are
// built and uploaded once per thread and kept: a repeated resize costs no host work, no copy
// and no wait for the device (the upload waits), and a captured CUDA graph reads no host memory.
#include "fcam/cuda/ops/resize.hpp"

#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "context.hpp"
#include "fcam/core/error.hpp"
#include "fcam/cuda/api.hpp"
#include "fcam/ops/linear_taps.hpp"
#include "resize_kernels.hpp"

namespace fcam::cuda {

namespace {

using Taps = fcam::detail::LinearTaps<float>;

/// Small int32 and float tables gathered on the host and copied to the device in one transfer.
class Tables {
public:
  /// Appends `values` (float, or integers stored as int32 bit patterns); returns their offset.
  template <class V>
  std::size_t add(const std::vector<V>& values) {
    const std::size_t offset = words_.size();
    for (const V v : values) {
      if constexpr (std::is_floating_point_v<V>)
        words_.push_back(std::bit_cast<std::uint32_t>(static_cast<float>(v)));
      else
        words_.push_back(static_cast<std::uint32_t>(static_cast<std::int32_t>(v)));
    }
    return offset;
  }

  /// Copies the tables to device memory; the pointers below are valid from then on.
  void upload() {
    device_ = Tensor<float>::uninitialized({static_cast<std::int64_t>(words_.size())}, Device::cuda);
    if (!words_.empty()) copy_host_to_device(device_.data(), words_.data(), words_.size() * sizeof(std::uint32_t));
    words_ = {};
  }

  /// Device address of the float (or int32) table added at `offset`.
  const float* floats(std::size_t offset) const { return device_.data() + offset; }
  const std::int32_t* ints(std::size_t offset) const {
    return reinterpret_cast<const std::int32_t*>(device_.data() + offset);
  }

private:
  std::vector<std::uint32_t> words_;  // bit patterns: no value passes through float arithmetic
  Tensor<float> device_;
};

/// What a resize's tables depend on: the pass, both axes' sizes, the alignment, the upsampling
/// factor and the device.
using TablesKey = std::array<std::int64_t, 8>;

/// This thread's tables for `key`, made by `make(tables)` (which adds them) on first use. The
/// cache forgets everything once it holds `max_cached_geometries` (maps resized to every image's
/// own size would otherwise keep a table per size); kernels already enqueued keep reading freed
/// tables safely, since the allocator hands blocks out again only in this stream's order. Not
/// while a CUDA graph lives: its replays read the tables it captured, later than any free.
template <class Offsets, class Make>
const std::pair<Tables, Offsets>& cached_tables(const TablesKey& key, Make make) {
  constexpr std::size_t max_cached_geometries = 256;
  thread_local std::map<TablesKey, std::pair<Tables, Offsets>> cache;
  const auto found = cache.find(key);
  if (found != cache.end()) return found->second;
  if (cache.size() >= max_cached_geometries && live_graphs() == 0) cache.clear();
  std::pair<Tables, Offsets> entry;
  entry.second = make(entry.first);
  entry.first.upload();
  return cache.emplace(key, std::move(entry)).first->second;
}

int current_device() {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  return device;
}

/// Throws unless an axis of `in` inputs and `out` outputs fits the int32 tables (2 taps per output).
void check_axis(std::int64_t in, std::int64_t out, const char* op) {
  constexpr std::int64_t limit = std::numeric_limits<std::int32_t>::max() / 2;
  FCAM_CHECK(in < limit && out < limit, op, " (CUDA): an axis of ", in, " → ", out, " samples is too long");
}

/// The offsets of one axis' taps in a Tables.
struct TapOffsets {
  std::size_t i0, i1, w0, w1;
};

TapOffsets add_taps(Tables& tables, const Taps& taps) {
  return {tables.add(taps.i0), tables.add(taps.i1), tables.add(taps.w0), tables.add(taps.w1)};
}

launch::AxisTaps taps_at(const Tables& tables, const TapOffsets& at) {
  return {tables.ints(at.i0), tables.ints(at.i1), tables.floats(at.w0), tables.floats(at.w1)};
}

/// The inverse of one axis' taps: per input position, the (output, weight) entries that read
/// it, in output order and tap 0 before tap 1, as a CSR table.
struct Fans {
  std::vector<std::int32_t> begin, out;
  std::vector<float> weight;

  Fans(const Taps& taps, std::int64_t in) : begin(static_cast<std::size_t>(in) + 1, 0) {
    const std::size_t outputs = taps.i0.size();
    // Every tap gets an entry, even one of weight 0 or one that repeats the other's index, as
    // the CPU adds each of them (a weight-0 tap still spreads an infinite or NaN gradient).
    for (std::size_t o = 0; o < outputs; ++o) {
      ++begin[static_cast<std::size_t>(taps.i0[o]) + 1];
      ++begin[static_cast<std::size_t>(taps.i1[o]) + 1];
    }
    std::partial_sum(begin.begin(), begin.end(), begin.begin());
    std::vector<std::int32_t> next(begin.begin(), begin.end() - 1);
    out.resize(2 * outputs);
    weight.resize(2 * outputs);
    const auto put = [&](std::int64_t input, std::size_t o, float w) {
      const auto k = static_cast<std::size_t>(next[static_cast<std::size_t>(input)]++);
      out[k] = static_cast<std::int32_t>(o);
      weight[k] = w;
    };
    for (std::size_t o = 0; o < outputs; ++o) {
      put(taps.i0[o], o, taps.w0[o]);
      put(taps.i1[o], o, taps.w1[o]);
    }
  }
};

/// The offsets of one axis' fans in a Tables.
struct FanOffsets {
  std::size_t begin, out, weight;
};

FanOffsets add_fans(Tables& tables, const Fans& fans) {
  return {tables.add(fans.begin), tables.add(fans.out), tables.add(fans.weight)};
}

launch::AxisFans fans_at(const Tables& tables, const FanOffsets& at) {
  return {tables.ints(at.begin), tables.ints(at.out), tables.floats(at.weight)};
}

}  // namespace

Tensor<float> upsample_nearest(const Tensor<float>& x, std::int64_t factor) {
  const std::int64_t h = x.size(2), w = x.size(3);
  auto y = Tensor<float>::uninitialized({x.size(0), x.size(1), h * factor, w * factor}, Device::cuda);
  launch::upsample_nearest(x.data(), y.data(), x.size(0) * x.size(1), h, w, factor, stream());
  check_launch("upsample_nearest kernel");
  return y;
}

Tensor<float> upsample_nearest_backward(const Tensor<float>& grad_y, std::int64_t factor) {
  const std::int64_t h = grad_y.size(2) / factor, w = grad_y.size(3) / factor;
  auto grad_x = Tensor<float>::uninitialized({grad_y.size(0), grad_y.size(1), h, w}, Device::cuda);
  launch::upsample_nearest_backward(grad_y.data(), grad_x.data(), grad_y.size(0) * grad_y.size(1), h, w, factor,
                                    stream());
  check_launch("upsample_nearest_backward kernel");
  return grad_x;
}

Tensor<float> resize_bilinear(const Tensor<float>& x, std::int64_t out_h, std::int64_t out_w, bool align_corners,
                              std::int64_t upsampled) {
  const std::int64_t h = x.size(2), w = x.size(3);
  check_axis(h * upsampled, out_h, "resize_bilinear");
  check_axis(w * upsampled, out_w, "resize_bilinear");
  const auto& [tables, offsets] = cached_tables<std::pair<TapOffsets, TapOffsets>>(
      TablesKey{0, h, w, out_h, out_w, align_corners, upsampled, current_device()}, [&](Tables& t) {
        return std::pair{add_taps(t, Taps(h, out_h, align_corners, upsampled)),
                         add_taps(t, Taps(w, out_w, align_corners, upsampled))};
      });
  const auto& [ty, tx] = offsets;
  auto y = Tensor<float>::uninitialized({x.size(0), x.size(1), out_h, out_w}, Device::cuda);
  launch::resize_bilinear(x.data(), y.data(), x.size(0) * x.size(1), h, w, out_h, out_w, taps_at(tables, ty),
                          taps_at(tables, tx), stream());
  check_launch("resize_bilinear kernel");
  return y;
}

Tensor<float> resize_bilinear_backward(const Shape& input_shape, const Tensor<float>& grad_y, bool align_corners,
                                       std::int64_t upsampled) {
  const std::int64_t h = input_shape[2], w = input_shape[3], out_h = grad_y.size(2), out_w = grad_y.size(3);
  check_axis(h * upsampled, out_h, "resize_bilinear_backward");
  check_axis(w * upsampled, out_w, "resize_bilinear_backward");
  const auto& [tables, offsets] = cached_tables<std::pair<FanOffsets, FanOffsets>>(
      TablesKey{1, h, w, out_h, out_w, align_corners, upsampled, current_device()}, [&](Tables& t) {
        return std::pair{add_fans(t, Fans(Taps(h, out_h, align_corners, upsampled), h)),
                         add_fans(t, Fans(Taps(w, out_w, align_corners, upsampled), w))};
      });
  const auto& [fy, fx] = offsets;
  auto grad_x = Tensor<float>::uninitialized(input_shape, Device::cuda);
  launch::resize_bilinear_backward(grad_y.data(), grad_x.data(), input_shape[0] * input_shape[1], h, w, out_h, out_w,
                                   fans_at(tables, fy), fans_at(tables, fx), stream());
  check_launch("resize_bilinear_backward kernel");
  return grad_x;
}

}  // namespace fcam::cuda

// Fuzz target: the image decode path (data::read_rgb8 / read_gray8 through stb_image and the
// pixel limit). A decoded image holds exactly width·height·channels values within the limit.
#include <cstdlib>

#include "fcam/data/image_io.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A small limit keeps each run's memory bounded; the limit itself is part of what is tested.
  constexpr std::int64_t limit = std::int64_t{1} << 16;
  fcam::data::set_max_image_pixels(limit);
  const auto path = fcam::fuzz::scratch_file("input.img", fcam::fuzz::bytes_of(data, size));
  try {
    const fcam::data::Rgb8 rgb = fcam::data::read_rgb8(path);
    const auto pixels = static_cast<std::size_t>(rgb.width) * static_cast<std::size_t>(rgb.height);
    if (rgb.width <= 0 || rgb.height <= 0 || pixels > static_cast<std::size_t>(limit) || rgb.pixels.size() != 3 * pixels) std::abort();
    const fcam::data::Gray8 gray = fcam::data::read_gray8(path);
    if (gray.width != rgb.width || gray.height != rgb.height || gray.pixels.size() != pixels) std::abort();
  } catch (const fcam::Error&) {
  }
  return 0;
}

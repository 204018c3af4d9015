// stb_image, stb_image_write and stb's inflate, compiled once for the whole library with
// internal linkage: no stb symbol leaves this file, so a program may use its own copy of stb.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_write.h>

#include <cstdlib>

#include "fcam/core/error.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/data/image_write.hpp"
#include "fcam/data/idx_gz.hpp"

namespace fcam::data::detail {

DecodedImage decode_image_file(const std::filesystem::path& path, int channels, std::int64_t max_pixels) {
  int w = 0, h = 0, file_channels = 0;
  // The header alone gives the size: refuse a huge image before decoding allocates for it.
  if (stbi_info(path.string().c_str(), &w, &h, &file_channels) != 0)
    FCAM_CHECK(static_cast<std::int64_t>(w) * h <= max_pixels, path.string(), ": a ", w, "x", h, " image (",
               static_cast<std::int64_t>(w) * h, " pixels) is above the limit of ", max_pixels,
               " pixels (raise it with --max_image_pixels)");
  unsigned char* data = stbi_load(path.string().c_str(), &w, &h, &file_channels, channels);
  FCAM_CHECK(data != nullptr, path.string(), ": cannot read image (", stbi_failure_reason(), ")");
  DecodedImage image{w, h, std::vector<std::uint8_t>(data, data + static_cast<std::size_t>(w) * h * channels)};
  stbi_image_free(data);
  return image;
}

bool encode_png(int width, int height, int channels, const std::uint8_t* pixels, std::string& bytes) {
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
  };
  return stbi_write_png_to_func(append, &bytes, width, height, channels, pixels, width * channels) != 0;
}

bool inflate_raw(const char* data, std::size_t size, std::string& out) {
  if (size > static_cast<std::size_t>(INT32_MAX)) return false;
  int length = 0;
  char* raw = stbi_zlib_decode_noheader_malloc(data, static_cast<int>(size), &length);
  if (raw == nullptr) return false;
  out.assign(raw, static_cast<std::size_t>(length));
  std::free(raw);
  return true;
}

}  // namespace fcam::data::detail

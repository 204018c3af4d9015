// stb_image, stb_image_write and stb's inflate, compiled once for the whole library with
// internal linkage: no stb symbol leaves this file, so a program may use its own copy of stb.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_write.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "fcam/core/error.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/data/image_write.hpp"
#include "fcam/data/idx_gz.hpp"
#include "fcam/io/atomic_file.hpp"
#include "stb_guards.hpp"

namespace fcam::data::detail {

DecodedImage decode_image_file(const std::filesystem::path& path, int channels, std::int64_t max_pixels) {
  const std::string file = io::read_file(path);
  FCAM_CHECK(file.size() <= static_cast<std::size_t>(INT32_MAX), path.string(), ": cannot read image (", file.size(),
             " bytes is beyond the decoder's 2 GiB)");
  const auto* bytes = reinterpret_cast<const stbi_uc*>(file.data());
  const int length = static_cast<int>(file.size());
  FCAM_CHECK(jpeg_huffman_tables_fit(bytes, file.size()), path.string(),
             ": cannot read image (a JPEG Huffman table has more than 256 codes or is used undefined)");
  FCAM_CHECK(pnm_header_numbers_fit(bytes, file.size()), path.string(),
             ": cannot read image (a PNM header number has more than 9 digits)");
  FCAM_CHECK(png_idat_chunks_fit(bytes, file.size()), path.string(),
             ": cannot read image (a PNG IDAT chunk runs past the end of the file)");
  // stb_image 2.27 converts a 16-bit PNM's channels with its 8-bit routine, then reads past that
  // buffer (found by fuzzing; PNG and PSD use the 16-bit routine). Such files are refused.
  const bool pnm = file.size() >= 2 && file[0] == 'P' && (file[1] == '5' || file[1] == '6');
  FCAM_CHECK(!pnm || stbi_is_16_bit_from_memory(bytes, length) == 0, path.string(),
             ": cannot read image (16-bit PNM files, maxval above 255, are not supported)");
  int w = 0, h = 0, file_channels = 0;
  // The header alone gives the size: refuse a huge image before decoding allocates for it. A
  // file whose header stb cannot read is not decoded at all, so the limit cannot be bypassed.
  FCAM_CHECK(stbi_info_from_memory(bytes, length, &w, &h, &file_channels) != 0, path.string(), ": cannot read image (",
             stbi_failure_reason(), ")");
  auto check_size = [&] {
    // A header may claim a width or height of 0 (found by fuzzing: a PPM "P6 4 &"), which every
    // later step (resizing, boxes) would divide by.
    FCAM_CHECK(w > 0 && h > 0, path.string(), ": cannot read image (its header gives a ", w, "x", h, " size)");
    FCAM_CHECK(static_cast<std::int64_t>(w) * h <= max_pixels, path.string(), ": a ", w, "x", h, " image (",
               static_cast<std::int64_t>(w) * h, " pixels) is above the limit of ", max_pixels,
               " pixels (raise it with --max_image_pixels)");
  };
  check_size();
  unsigned char* data = stbi_load_from_memory(bytes, length, &w, &h, &file_channels, channels);
  FCAM_CHECK(data != nullptr, path.string(), ": cannot read image (", stbi_failure_reason(), ")");
  try {
    check_size();  // the decoder's size, in case it differs from the header's
  } catch (...) {
    stbi_image_free(data);
    throw;
  }
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

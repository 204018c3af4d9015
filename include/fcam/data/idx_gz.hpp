/// \file
/// \brief Reading gzip-compressed IDX files (the MNIST / Fashion-MNIST format, as Debian's
/// `dataset-fashion-mnist` ships them) with stb_image's inflate (in fcam::runtime): no other
/// dependency.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/io/atomic_file.hpp"

namespace fcam::data {

namespace detail {
/// Decompresses raw deflate data (RFC 1951) with stb's inflate into `out`; false when the data
/// is corrupt (fcam::runtime).
bool inflate_raw(const char* data, std::size_t size, std::string& out);
}  // namespace detail

/// An IDX array of unsigned bytes: its dimensions and values (row-major).
struct IdxArray {
  std::vector<std::int64_t> dims;    ///< e.g. {60000, 28, 28} or {60000}
  std::vector<std::uint8_t> values;  ///< product(dims) bytes
};

/// The decompressed bytes of a gzip file (RFC 1952: header, raw deflate, trailer).
inline std::string gunzip_file(const std::filesystem::path& path) {
  const std::string gz = io::read_file(path);
  FCAM_CHECK(gz.size() >= 18 && static_cast<unsigned char>(gz[0]) == 0x1f && static_cast<unsigned char>(gz[1]) == 0x8b &&
                 gz[2] == 8,
             path.string(), ": not a gzip file");
  const auto flags = static_cast<unsigned char>(gz[3]);
  std::size_t at = 10;
  if (flags & 4) {  // FEXTRA
    FCAM_CHECK(at + 2 <= gz.size(), path.string(), ": truncated gzip header");
    at += 2 + (static_cast<unsigned char>(gz[at]) | static_cast<std::size_t>(static_cast<unsigned char>(gz[at + 1])) << 8);
  }
  for (unsigned bit : {8u, 16u})  // FNAME, FCOMMENT: zero-terminated
    if (flags & bit) {
      while (at < gz.size() && gz[at] != 0) ++at;
      ++at;
    }
  if (flags & 2) at += 2;  // FHCRC
  FCAM_CHECK(at + 8 <= gz.size(), path.string(), ": truncated gzip file");
  // The 8-byte trailer (CRC32, size) is passed along: the decoder stops at the last block's end
  // code, and its bit reader may look a few bytes ahead of it.
  std::string out;
  FCAM_CHECK(detail::inflate_raw(gz.data() + at, gz.size() - at, out), path.string(), ": corrupt gzip data");
  const auto tail = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(gz[gz.size() - 4 + k])); };
  const std::uint32_t size_mod_2_32 = tail(0) | tail(1) << 8 | tail(2) << 16 | tail(3) << 24;
  FCAM_CHECK(size_mod_2_32 == static_cast<std::uint32_t>(out.size()), path.string(), ": decompressed ", out.size(),
             " bytes but the gzip trailer says ", size_mod_2_32, " (truncated or corrupt file)");
  return out;
}

/// Reads a gzip-compressed IDX file of unsigned bytes (magic 0x00000801 / 0x00000803 …).
inline IdxArray read_idx_gz(const std::filesystem::path& path) {
  const std::string bytes = gunzip_file(path);
  auto u8 = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  FCAM_CHECK(bytes.size() >= 4 && u8(0) == 0 && u8(1) == 0 && u8(2) == 0x08, path.string(),
             ": not an IDX file of unsigned bytes");
  const int rank = u8(3);
  FCAM_CHECK(rank >= 1 && bytes.size() >= 4 + 4 * static_cast<std::size_t>(rank), path.string(), ": bad IDX header");
  IdxArray a;
  std::size_t count = 1;
  for (int k = 0; k < rank; ++k) {
    const std::size_t p = 4 + 4 * static_cast<std::size_t>(k);
    const std::int64_t d = static_cast<std::int64_t>(u8(p)) << 24 | u8(p + 1) << 16 | u8(p + 2) << 8 | u8(p + 3);
    a.dims.push_back(d);
    count *= static_cast<std::size_t>(d);
  }
  const std::size_t start = 4 + 4 * static_cast<std::size_t>(rank);
  FCAM_CHECK(bytes.size() == start + count, path.string(), ": IDX size ", bytes.size(), " does not match its dimensions");
  a.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(start), bytes.end());
  return a;
}

}  // namespace fcam::data

/// \file
/// \brief A file cache of a split's ground-truth pixel masks at the evaluation size, so that
/// repeated PxAP evaluations skip decoding the full-resolution mask PNGs (which dominates a
/// cold run: OpenImages masks are ~1600×1066).
///
/// Each image's masks are stored run-length encoded (label 0 background, 1 foreground,
/// 2 ignore). The file carries a fingerprint of the evaluation size and of every mask file's
/// path, size and modification time; any change makes the cache stale, and a stale, truncated
/// or foreign file is rebuilt rather than trusted.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/data/wsol_metadata.hpp"
#include "fcam/io/atomic_file.hpp"
#include "fcam/metrics/masks.hpp"

namespace fcam::metrics {

namespace detail {

inline constexpr char kMaskCacheMagic[] = "FCAMMASKS1\n";

/// FNV-1a, 64 bits.
inline void fnv1a(std::uint64_t& h, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
}

inline void fnv1a_file(std::uint64_t& h, const std::filesystem::path& path) {
  const std::string text = path.string();
  fnv1a(h, text.data(), text.size() + 1);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  const std::int64_t fields[2] = {ec ? -1 : static_cast<std::int64_t>(size),
                                  ec ? -1 : std::filesystem::last_write_time(path, ec).time_since_epoch().count()};
  fnv1a(h, fields, sizeof fields);
}

inline void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
inline std::uint64_t get_u64(const std::string& in, std::size_t& pos) {
  FCAM_CHECK(pos <= in.size() && in.size() - pos >= 8, "mask cache: truncated");
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[pos + i])) << (8 * i);
  pos += 8;
  return v;
}

/// Calls fn(label, first pixel, length) for each run of one image's code (encode_pixel_masks),
/// after checking it: a label other than 0–2, an empty run, or runs that do not cover the
/// image's `pixels` pixels exactly are an fcam::Error (checked without overflow).
template <class F>
void for_each_run(const std::string& code, std::int64_t pixels, F&& fn) {
  std::size_t pos = 0;
  std::int64_t covered = 0;
  while (pos < code.size()) {
    const char label = code[pos++];
    const auto run = static_cast<std::int64_t>(get_u64(code, pos));
    FCAM_CHECK(label >= 0 && label <= 2 && run > 0 && run <= pixels - covered, "mask cache: corrupt run");
    fn(label, covered, run);
    covered += run;
  }
  FCAM_CHECK(covered == pixels, "mask cache: an image's runs cover ", covered, " of ", pixels, " pixels");
}

}  // namespace detail

/// Fingerprint of the masks of `masks` under `openimages_dir` at evaluation size `size`.
inline std::uint64_t mask_fingerprint(const std::filesystem::path& openimages_dir,
                                      const std::vector<data::MaskSet>& masks, int size) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  detail::fnv1a(h, &size, sizeof size);
  for (const data::MaskSet& set : masks) {
    for (const std::string& path : set.instances) detail::fnv1a_file(h, openimages_dir / path);
    if (!set.ignore.empty()) detail::fnv1a_file(h, openimages_dir / set.ignore);
    detail::fnv1a(h, "|", 1);
  }
  return h;
}

/// Run-length encoding of one image's masks: (label, run length) pairs as 1 + 8 bytes.
inline std::string encode_pixel_masks(const PixelMasks& m) {
  std::string out;
  const std::int64_t n = m.foreground.numel();
  auto label = [&](std::int64_t i) {
    return static_cast<char>(m.foreground.data()[i] != 0 ? 1 : m.ignore.data()[i] != 0 ? 2 : 0);
  };
  for (std::int64_t i = 0; i < n;) {
    const char l = label(i);
    std::int64_t j = i + 1;
    while (j < n && label(j) == l) ++j;
    out += l;
    detail::put_u64(out, static_cast<std::uint64_t>(j - i));
    i = j;
  }
  return out;
}

/// Decodes encode_pixel_masks' output into size×size masks.
inline PixelMasks decode_pixel_masks(const std::string& code, int size) {
  PixelMasks m{Tensor<float>({size, size}), Tensor<float>({size, size})};
  detail::for_each_run(code, static_cast<std::int64_t>(size) * size,
                       [&](char label, std::int64_t first, std::int64_t run) {
                         float* target = label == 1 ? m.foreground.data() : label == 2 ? m.ignore.data() : nullptr;
                         if (target) std::fill(target + first, target + first + run, 1.0f);
                       });
  return m;
}

/// Reads a cache file of `count` images of `pixels` pixels each; nullopt when it is missing,
/// stale (other fingerprint or image count), unreadable or damaged anywhere (every image's runs
/// are checked to cover its pixels exactly): the caller then rebuilds it.
inline std::optional<std::vector<std::string>> read_mask_cache(const std::filesystem::path& path,
                                                               std::uint64_t fingerprint, std::size_t count,
                                                               std::int64_t pixels) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  try {
    const std::string data = io::read_file(path);
    const std::size_t magic = sizeof detail::kMaskCacheMagic - 1;
    if (data.compare(0, magic, detail::kMaskCacheMagic) != 0) return std::nullopt;
    std::size_t pos = magic;
    if (detail::get_u64(data, pos) != fingerprint || detail::get_u64(data, pos) != count) return std::nullopt;
    std::vector<std::string> codes(count);
    for (auto& code : codes) {
      const std::uint64_t n = detail::get_u64(data, pos);
      FCAM_CHECK(n <= data.size() - pos, "mask cache: truncated");
      code = data.substr(pos, n);
      pos += n;
      detail::for_each_run(code, pixels, [](char, std::int64_t, std::int64_t) {});  // validates it
    }
    return codes;
  } catch (const Error&) {
    return std::nullopt;
  }
}

/// Writes a cache file atomically.
inline void write_mask_cache(const std::filesystem::path& path, std::uint64_t fingerprint,
                             const std::vector<std::string>& codes) {
  std::string out = detail::kMaskCacheMagic;
  detail::put_u64(out, fingerprint);
  detail::put_u64(out, codes.size());
  for (const std::string& code : codes) {
    detail::put_u64(out, code.size());
    out += code;
  }
  io::write_file_atomic(path, out);
}

}  // namespace fcam::metrics

/// \file
/// \brief Checks run on a file's bytes before stb_image sees them, for defects of stb_image 2.27
/// (the version Debian 12 ships) that fuzzing fcam's image decode path found and stb fixed
/// upstream in 2.28: JPEG Huffman tables with more than 256 codes (written past its tables) or
/// used by a scan before any DHT defined them (decoded uninitialised), and
/// PNM header numbers that overflow int; and a PNG whose IDAT chunk claims more bytes than the
/// file holds, for which stb allocates the claimed size first (2 GiB from a 100-byte file).
/// Internal to fcam::runtime.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>

namespace fcam::data::detail {

/// False when `bytes` is a JPEG stream holding a DHT table with more than 256 codes (stb writes
/// past its tables), or a scan (SOS) that uses a Huffman table no DHT defined before it (stb
/// decodes with uninitialised tables). The walk follows stb's own reading: markers after any
/// number of 0xFF fill bytes, segments skipped by their length, non-marker bytes (entropy-coded
/// data) stepped over one by one, and a DHT segment read table by table while its length lasts,
/// bytes past the end reading as 0.
inline bool jpeg_huffman_tables_fit(const std::uint8_t* bytes, std::size_t size) {
  if (size == 0 || bytes[0] != 0xFF) return true;  // stb only tries JPEG on streams starting with 0xFF
  auto at = [&](std::size_t i) -> unsigned { return i < size ? bytes[i] : 0u; };
  bool defined[2][4] = {};  // [class: 0 DC, 1 AC][table id]
  std::size_t i = 0;
  while (i + 1 < size) {
    if (bytes[i] != 0xFF) {  // entropy-coded data or stray bytes
      ++i;
      continue;
    }
    const unsigned marker = bytes[i + 1];
    const bool no_length = marker == 0xFF || marker == 0x00 || marker == 0x01 || marker == 0xD8 ||
                           (marker >= 0xD0 && marker <= 0xD7);  // fill, stuffing, TEM, SOI, RSTn
    if (no_length) {
      i += marker == 0xFF ? 1 : 2;
      continue;
    }
    if (marker == 0xD9) return true;  // EOI
    const std::size_t length = (at(i + 2) << 8) | at(i + 3);
    if (marker == 0xC4) {  // DHT
      long remaining = static_cast<long>(length) - 2;
      std::size_t table = i + 4;
      while (remaining > 0) {  // each table: class/id byte, 16 counts, then the codes' values
        unsigned codes = 0;
        for (std::size_t k = 1; k <= 16; ++k) codes += at(table + k);
        if (codes > 256) return false;
        const unsigned tc = at(table) >> 4, th = at(table) & 15;
        if (tc <= 1 && th <= 3) defined[tc][th] = true;  // stb refuses other ids itself
        table += 17 + codes;
        remaining -= static_cast<long>(17 + codes);
      }
    } else if (marker == 0xDA) {  // SOS: components, each with its DC and AC table ids
      const unsigned components = at(i + 4);
      const std::size_t spectral = i + 5 + 2 * components;  // Ss, Se follow the components
      const bool uses_dc = at(spectral) == 0, uses_ac = at(spectral + 1) > 0;
      for (unsigned c = 0; c < components; ++c) {
        const unsigned tables = at(i + 6 + 2 * c), dc = tables >> 4, ac = tables & 15;
        if ((uses_dc && (dc > 3 || !defined[0][dc])) || (uses_ac && (ac > 3 || !defined[1][ac]))) return false;
      }
    }
    i += 2 + length;
  }
  return true;
}

/// False when `bytes` is a binary PNM (P5, P6) whose width, height or maxval has more than 9
/// digits: stb reads them into an int without an overflow check. The walk follows stb's header
/// reading (whitespace, '#' comments to the end of the line, then digits).
inline bool pnm_header_numbers_fit(const std::uint8_t* bytes, std::size_t size) {
  if (size < 2 || bytes[0] != 'P' || (bytes[1] != '5' && bytes[1] != '6')) return true;
  auto space = [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  std::size_t i = 2;
  for (int field = 0; field < 3; ++field) {  // width, height, maxval
    for (;;) {
      while (i < size && space(bytes[i])) ++i;
      if (i >= size || bytes[i] != '#') break;
      while (i < size && bytes[i] != '\n' && bytes[i] != '\r') ++i;
    }
    std::size_t digits = 0;
    for (; i < size && bytes[i] >= '0' && bytes[i] <= '9'; ++i) ++digits;
    if (digits > 9) return false;
  }
  return true;
}

/// False when `bytes` is a PNG with an IDAT chunk whose length runs past the end of the file.
/// stb sizes its buffer from the claimed lengths before reading them; with every IDAT inside the
/// file, that buffer stays below twice the file size.
inline bool png_idat_chunks_fit(const std::uint8_t* bytes, std::size_t size) {
  static constexpr std::uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size < 8 || !std::equal(signature, signature + 8, bytes)) return true;
  auto be32 = [&](std::size_t i) {
    return (std::uint64_t{bytes[i]} << 24) | (std::uint64_t{bytes[i + 1]} << 16) | (std::uint64_t{bytes[i + 2]} << 8) |
           bytes[i + 3];
  };
  for (std::size_t i = 8; i + 8 <= size;) {  // chunk: length, type, data, CRC
    const std::uint64_t length = be32(i);
    const bool idat = bytes[i + 4] == 'I' && bytes[i + 5] == 'D' && bytes[i + 6] == 'A' && bytes[i + 7] == 'T';
    const bool iend = bytes[i + 4] == 'I' && bytes[i + 5] == 'E' && bytes[i + 6] == 'N' && bytes[i + 7] == 'D';
    if (idat && length > size - (i + 8)) return false;
    if (iend || length > size) break;  // stb stops at IEND; a longer chunk ends the file
    i += 12 + static_cast<std::size_t>(length);
  }
  return true;
}

}  // namespace fcam::data::detail

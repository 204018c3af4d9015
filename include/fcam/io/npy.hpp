/// \file
/// \brief NumPy .npy files: read and write float32/float64 arrays (little-endian, C order), and
/// read validated WSOL score maps.
#pragma once

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "fcam/core/tensor.hpp"
#include "fcam/io/atomic_file.hpp"

namespace fcam::io {

// Raw bytes are copied between files and native integers and floats below.
static_assert(std::endian::native == std::endian::little,
              ".npy: fcam reads and writes little-endian arrays ('<f4', '<f8') by copying their bytes "
              "to and from memory as they are; big-endian hosts are not supported");

namespace detail {

/// The value text of `key` in a .npy header dict ("{'descr': '<f4', 'shape': (3, 4), ...}").
inline std::string npy_field(const std::string& header, const std::string& key, const std::string& source) {
  const std::string quoted = "'" + key + "'";
  const std::size_t at = header.find(quoted);
  FCAM_CHECK(at != std::string::npos, source, ": .npy header has no '", key, "'");
  std::size_t pos = header.find(':', at + quoted.size());
  FCAM_CHECK(pos != std::string::npos, source, ": malformed .npy header");
  ++pos;
  while (pos < header.size() && header[pos] == ' ') ++pos;
  std::size_t end = pos;
  if (pos < header.size() && header[pos] == '(') {
    end = header.find(')', pos);
    FCAM_CHECK(end != std::string::npos, source, ": malformed .npy shape");
    return header.substr(pos, end - pos + 1);
  }
  if (pos < header.size() && header[pos] == '\'') {
    end = header.find('\'', pos + 1);
    FCAM_CHECK(end != std::string::npos, source, ": malformed .npy header");
    return header.substr(pos + 1, end - pos - 1);
  }
  while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  return header.substr(pos, end - pos);
}

/// "(224, 224)" → {224, 224}; "(5,)" → {5}; "()" → {}. Sizes are decimal and separated by
/// commas (spaces around them allowed); anything else is a malformed shape naming `source`.
inline Shape npy_shape(const std::string& text, const std::string& source) {
  FCAM_CHECK(text.size() >= 2 && text.front() == '(' && text.back() == ')', source, ": malformed .npy shape '", text,
             "' (expected a tuple)");
  const std::string_view body = std::string_view(text).substr(1, text.size() - 2);
  auto skip_spaces = [&](std::size_t pos) {
    while (pos < body.size() && body[pos] == ' ') ++pos;
    return pos;
  };
  Shape shape;
  std::size_t pos = skip_spaces(0);
  while (pos < body.size()) {
    std::size_t end = pos;
    while (end < body.size() && std::isdigit(static_cast<unsigned char>(body[end]))) ++end;
    std::int64_t size = 0;
    const auto [last, ec] = std::from_chars(body.data() + pos, body.data() + end, size);
    FCAM_CHECK(end > pos && ec == std::errc() && last == body.data() + end, source, ": malformed .npy shape ", text,
               ec == std::errc::result_out_of_range ? " (a size beyond 64 bits)" : "");
    shape.push_back(size);
    pos = skip_spaces(end);
    if (pos == body.size()) break;
    FCAM_CHECK(body[pos] == ',', source, ": malformed .npy shape ", text, " (sizes are separated by commas)");
    pos = skip_spaces(pos + 1);
  }
  return shape;
}

}  // namespace detail

/// Parses the bytes of a .npy file holding float32 ('<f4') or float64 ('<f8') data in C order
/// (format versions 1–3) and converts them to T. Big-endian, Fortran-order and other dtypes are
/// errors naming `source`, as is a truncated file.
template <Scalar T>
Tensor<T> parse_npy(const std::string& bytes, const std::string& source) {
  FCAM_CHECK(bytes.size() >= 10 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0, source,
             ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  FCAM_CHECK(major >= 1 && major <= 3, source, ": unsupported .npy format version ", major);
  std::size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    header_start = 10;
  } else {
    FCAM_CHECK(bytes.size() >= 12, source, ": truncated .npy header");
    std::uint32_t len = 0;
    std::memcpy(&len, bytes.data() + 8, 4);
    header_len = len;
    header_start = 12;
  }
  FCAM_CHECK(header_start + header_len <= bytes.size(), source, ": truncated .npy header");
  const std::string header = bytes.substr(header_start, header_len);
  const std::string descr = detail::npy_field(header, "descr", source);
  FCAM_CHECK(descr == "<f4" || descr == "<f8", source, ": dtype '", descr,
             "' is not supported (fcam reads little-endian float32 '<f4' and float64 '<f8')");
  FCAM_CHECK(detail::npy_field(header, "fortran_order", source) == "False", source,
             ": Fortran-order arrays are not supported (save with C order)");
  const Shape shape = detail::npy_shape(detail::npy_field(header, "shape", source), source);
  const std::size_t elem = descr == "<f4" ? 4 : 8;
  check_shape_valid(shape, static_cast<std::int64_t>(elem), source + ": .npy shape");
  const std::size_t count = static_cast<std::size_t>(numel_of(shape));
  const std::size_t data_start = header_start + header_len;
  FCAM_CHECK(bytes.size() - data_start == count * elem, source, ": holds ", bytes.size() - data_start,
             " data bytes but shape ", to_string(shape), " needs ", count * elem, " (truncated file?)");
  Tensor<T> t(shape);
  const char* data = bytes.data() + data_start;
  for (std::size_t i = 0; i < count; ++i) {
    if (elem == 4) {
      float v;
      std::memcpy(&v, data + 4 * i, 4);
      t.data()[i] = static_cast<T>(v);
    } else {
      double v;
      std::memcpy(&v, data + 8 * i, 8);
      t.data()[i] = static_cast<T>(v);
    }
  }
  return t;
}

/// Reads a .npy file (see parse_npy); errors name the file.
template <Scalar T>
Tensor<T> read_npy(const std::filesystem::path& path) {
  return parse_npy<T>(read_file(path), path.string());
}

/// The bytes of a version-1.0 .npy file holding `t` ('<f4' for float, '<f8' for double),
/// byte-identical to numpy.save for the same array.
template <Scalar T>
std::string serialize_npy(const Tensor<T>& t) {
  t.require_cpu("write_npy");
  std::string shape = "(";
  for (std::size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + ", ";
  if (t.shape().size() > 1) shape.resize(shape.size() - 2);
  else if (t.shape().size() == 1) shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = std::string("{'descr': '") + (sizeof(T) == 4 ? "<f4" : "<f8") +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // numpy pads with spaces and a final newline so that the data starts on a 64-byte boundary.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>((header.size() >> 8) & 0xFF);
  out += header;
  out.append(reinterpret_cast<const char*>(t.data()), static_cast<std::size_t>(t.numel()) * sizeof(T));
  return out;
}

/// Writes `t` as a .npy file, atomically.
template <Scalar T>
void write_npy(const std::filesystem::path& path, const Tensor<T>& t) {
  write_file_atomic(path, serialize_npy(t));
}

}  // namespace fcam::io

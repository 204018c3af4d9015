/// \file
/// \brief Reading and writing safetensors files (F32, F64, F16, BF16, I64) with full header validation.
///
/// Format: 8-byte little-endian header length N, N bytes of JSON
/// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
/// then the data buffer; offsets are relative to the buffer. Every error names the file and,
/// where it applies, the tensor.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/io/atomic_file.hpp"
#include "fcam/io/half.hpp"
#include "fcam/io/json.hpp"

namespace fcam::io {

// Raw bytes are copied between files and native integers and floats below.
static_assert(std::endian::native == std::endian::little,
              "safetensors: the files are little-endian and fcam copies their bytes (header length, "
              "tensor data) to and from memory as they are; big-endian hosts are not supported");

/// Element types fcam reads and writes.
enum class DType { f32, f64, f16, bf16, i64 };

/// Bytes per element.
inline std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::f16: case DType::bf16: return 2;
    case DType::i64: return 8;
  }
  return 0;
}

/// The safetensors spelling ("F32", …).
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::i64: return "I64";
  }
  return "?";
}

/// One stored tensor: its type, shape and raw little-endian bytes.
struct TensorRecord {
  DType dtype = DType::f32;   ///< element type in the file
  Shape shape;                ///< sizes
  std::string bytes;          ///< numel × dtype_size bytes

  /// The values converted to T (F16/BF16 exactly widened, I64 cast).
  template <Scalar T>
  Tensor<T> to_tensor() const {
    Tensor<T> t(shape);
    T* out = t.data();
    const char* in = bytes.data();
    const std::int64_t n = t.numel();
    for (std::int64_t i = 0; i < n; ++i) {
      const char* p = in + i * static_cast<std::int64_t>(dtype_size(dtype));
      switch (dtype) {
        case DType::f32: { float v; std::memcpy(&v, p, 4); out[i] = static_cast<T>(v); break; }
        case DType::f64: { double v; std::memcpy(&v, p, 8); out[i] = static_cast<T>(v); break; }
        case DType::f16: { std::uint16_t v; std::memcpy(&v, p, 2); out[i] = static_cast<T>(half_to_float(v)); break; }
        case DType::bf16: { std::uint16_t v; std::memcpy(&v, p, 2); out[i] = static_cast<T>(bfloat16_to_float(v)); break; }
        case DType::i64: { std::int64_t v; std::memcpy(&v, p, 8); out[i] = static_cast<T>(v); break; }
      }
    }
    return t;
  }

  /// A record holding `t` stored as `dtype` (I64 rounds to the nearest integer).
  template <Scalar T>
  static TensorRecord from_tensor(const Tensor<T>& tensor, DType dtype) {
    FCAM_CHECK(tensor.defined(), "safetensors: tensor is undefined");
    const Tensor<T> t = tensor.is_cpu() ? tensor : tensor.to(Device::cpu);  // a GPU model saves the same file
    TensorRecord r{dtype, t.shape(), std::string(static_cast<std::size_t>(t.numel()) * dtype_size(dtype), '\0')};
    char* out = r.bytes.data();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      char* p = out + i * static_cast<std::int64_t>(dtype_size(dtype));
      const T v = t.data()[i];
      switch (dtype) {
        case DType::f32: { const float f = static_cast<float>(v); std::memcpy(p, &f, 4); break; }
        case DType::f64: { const double d = static_cast<double>(v); std::memcpy(p, &d, 8); break; }
        case DType::f16: { const std::uint16_t h = float_to_half(static_cast<float>(v)); std::memcpy(p, &h, 2); break; }
        case DType::bf16: { const std::uint16_t h = float_to_bfloat16(static_cast<float>(v)); std::memcpy(p, &h, 2); break; }
        case DType::i64: { const std::int64_t k = std::llround(static_cast<double>(v)); std::memcpy(p, &k, 8); break; }
      }
    }
    return r;
  }
};

/// The content of a safetensors file: tensors by name (sorted) and the string metadata.
struct SafetensorsFile {
  std::map<std::string, TensorRecord> tensors;     ///< every tensor
  std::map<std::string, std::string> metadata;     ///< "__metadata__" (string → string)

  /// The record called `name`; throws fcam::Error naming it when absent.
  const TensorRecord& at(const std::string& name) const {
    auto it = tensors.find(name);
    FCAM_CHECK(it != tensors.end(), "safetensors: no tensor named '", name, "'");
    return it->second;
  }
};

namespace detail {

inline DType parse_dtype(const std::string& s, const std::string& where) {
  if (s == "F32") return DType::f32;
  if (s == "F64") return DType::f64;
  if (s == "F16") return DType::f16;
  if (s == "BF16") return DType::bf16;
  if (s == "I64") return DType::i64;
  fail(where, ": unsupported dtype '", s, "' (fcam reads F32, F64, F16, BF16, I64)");
}

inline std::uint64_t json_uint(const json::Value& v, const std::string& where) {
  const double d = v.as<double>(where);
  FCAM_CHECK(d >= 0 && d == std::floor(d) && d < 9.0e15, where, ": expected a non-negative integer");
  return static_cast<std::uint64_t>(d);
}

}  // namespace detail

/// One tensor's entry in a safetensors header: its type, shape and byte range in the data buffer.
struct TensorInfo {
  DType dtype = DType::f32;  ///< element type in the file
  Shape shape;               ///< sizes
  std::uint64_t begin = 0;   ///< first byte, relative to the data buffer
  std::uint64_t end = 0;     ///< one past the last byte
};

/// The header of a safetensors file: every tensor's entry (sorted by name) and the string
/// metadata, validated against the size of the data buffer; no tensor data.
struct SafetensorsHeader {
  std::map<std::string, TensorInfo> tensors;    ///< every tensor's entry
  std::map<std::string, std::string> metadata;  ///< "__metadata__" (string → string)
  std::uint64_t data_start = 0;                 ///< file offset of the data buffer (8 + header length)
};

namespace detail {

/// Parses and validates the JSON header `text` of a file whose data buffer holds `data_size`
/// bytes: known dtypes, non-negative shapes, offsets inside the buffer, byte size = numel ×
/// dtype size, no two tensors overlapping. `source` names the file in error messages.
inline SafetensorsHeader parse_header(std::string_view text, std::uint64_t data_size, const std::string& source) {
  json::Value header;
  try {
    header = json::parse(text);
  } catch (const Error& e) {
    fail(source, ": header: ", e.what());
  }
  FCAM_CHECK(header.is<json::Object>(), source, ": header is not a JSON object");

  SafetensorsHeader out;
  out.data_start = 8 + text.size();
  std::vector<std::pair<std::pair<std::uint64_t, std::uint64_t>, std::string>> ranges;
  for (const auto& [name, entry] : header.as<json::Object>(source)) {
    const std::string where = source + ": tensor '" + name + "'";
    if (name == "__metadata__") {
      FCAM_CHECK(entry.is<json::Object>(), source, ": __metadata__ is not an object");
      for (const auto& [key, value] : entry.as<json::Object>(source)) {
        FCAM_CHECK(value.is<std::string>(), source, ": __metadata__ value of '", key, "' is not a string");
        out.metadata[key] = value.as<std::string>(source);
      }
      continue;
    }
    FCAM_CHECK(entry.is<json::Object>(), where, ": entry is not an object");
    const json::Object& obj = entry.as<json::Object>(where);
    for (const char* key : {"dtype", "shape", "data_offsets"})
      FCAM_CHECK(obj.count(key), where, ": missing '", key, "'");
    TensorInfo info;
    info.dtype = parse_dtype(obj.at("dtype").as<std::string>(where + " dtype"), where);
    for (const json::Value& d : obj.at("shape").as<json::Array>(where + " shape"))
      info.shape.push_back(static_cast<std::int64_t>(json_uint(d, where + " shape")));
    const json::Array& offsets = obj.at("data_offsets").as<json::Array>(where + " data_offsets");
    FCAM_CHECK(offsets.size() == 2, where, ": data_offsets must have 2 entries");
    info.begin = json_uint(offsets[0], where + " data_offsets");
    info.end = json_uint(offsets[1], where + " data_offsets");
    FCAM_CHECK(info.begin <= info.end, where, ": data_offsets [", info.begin, ", ", info.end, "] are reversed");
    FCAM_CHECK(info.end <= data_size, where, ": data_offsets [", info.begin, ", ", info.end,
               "] exceed the data buffer of ", data_size, " bytes (truncated file?)");
    check_shape_valid(info.shape, static_cast<std::int64_t>(dtype_size(info.dtype)), where + ": shape");
    const std::uint64_t expected = static_cast<std::uint64_t>(numel_of(info.shape)) * dtype_size(info.dtype);
    FCAM_CHECK(info.end - info.begin == expected, where, ": ", info.end - info.begin, " bytes stored but dtype ",
               dtype_name(info.dtype), " and shape ", to_string(info.shape), " need ", expected);
    ranges.push_back({{info.begin, info.end}, name});
    out.tensors.emplace(name, std::move(info));
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i)
    FCAM_CHECK(ranges[i].first.first >= ranges[i - 1].first.second || ranges[i].first.first == ranges[i].first.second,
               source, ": tensors '", ranges[i - 1].second, "' and '", ranges[i].second, "' overlap");
  return out;
}

/// The header length stored in the first 8 bytes, checked against the file size `total`.
inline std::uint64_t header_length(const char* first8, std::uint64_t total, const std::string& source) {
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, first8, 8);
  FCAM_CHECK(header_len <= total - 8, source, ": header length ", header_len, " exceeds the file size ", total,
             " (truncated file?)");
  return header_len;
}

}  // namespace detail

/// Parses safetensors bytes; `source` names the file in error messages.
/// Validates: header length within the file, JSON well-formed, known dtypes, non-negative shapes,
/// offsets inside the data buffer, byte size = numel × dtype size, no two tensors overlapping.
inline SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& source) {
  FCAM_CHECK(bytes.size() >= 8, source, ": not a safetensors file (", bytes.size(), " bytes, need at least 8)");
  const std::uint64_t header_len = detail::header_length(bytes.data(), bytes.size(), source);
  const std::size_t data_start = 8 + static_cast<std::size_t>(header_len);
  SafetensorsHeader header = detail::parse_header(std::string_view(bytes).substr(8, static_cast<std::size_t>(header_len)),
                                                  bytes.size() - data_start, source);
  SafetensorsFile file;
  file.metadata = std::move(header.metadata);
  for (auto& [name, info] : header.tensors) {
    TensorRecord rec{info.dtype, std::move(info.shape), bytes.substr(data_start + info.begin, info.end - info.begin)};
    file.tensors.emplace(name, std::move(rec));
  }
  return file;
}

/// Reads and validates a safetensors file (see parse_safetensors).
inline SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  return parse_safetensors(read_file(path), path.string());
}

/// Reads and validates only the header of a safetensors file — the 8-byte length and the JSON
/// it announces, never the tensor data — for its metadata or its tensors' names, types and
/// shapes. Offsets are checked against the file's size. Errors name the file.
inline SafetensorsHeader read_safetensors_header(const std::filesystem::path& path) {
  const std::string source = path.string();
  std::ifstream in = open_for_reading(path);
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  FCAM_CHECK(size >= 0, source, ": cannot determine the file size");
  const auto total = static_cast<std::uint64_t>(size);
  FCAM_CHECK(total >= 8, source, ": not a safetensors file (", total, " bytes, need at least 8)");
  in.seekg(0);
  char first8[8];
  in.read(first8, 8);
  FCAM_CHECK(in.good(), source, ": read failed");
  const std::uint64_t header_len = detail::header_length(first8, total, source);
  std::string text(static_cast<std::size_t>(header_len), '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  FCAM_CHECK(in.good(), source, ": read failed");
  return detail::parse_header(text, total - 8 - header_len, source);
}

/// The bytes of a safetensors file holding `file` (tensors in name order, 8-byte aligned header).
inline std::string serialize_safetensors(const SafetensorsFile& file) {
  json::Object header;
  std::uint64_t offset = 0;
  for (const auto& [name, rec] : file.tensors) {
    FCAM_CHECK(name != "__metadata__", "safetensors: '__metadata__' is not a valid tensor name");
    json::Array shape;
    for (std::int64_t d : rec.shape) shape.emplace_back(d);
    const std::uint64_t end = offset + rec.bytes.size();
    header[name] = json::Object{{"dtype", json::Value(dtype_name(rec.dtype))},
                                {"shape", shape},
                                {"data_offsets", json::Array{json::Value(static_cast<std::int64_t>(offset)),
                                                             json::Value(static_cast<std::int64_t>(end))}}};
    offset = end;
  }
  if (!file.metadata.empty()) {
    json::Object meta;
    for (const auto& [key, value] : file.metadata) meta[key] = value;
    header["__metadata__"] = meta;
  }
  std::string text = json::dump(header);
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data buffer starts 8-byte aligned
  const std::uint64_t len = text.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &len, 8);
  out += text;
  for (const auto& [name, rec] : file.tensors) out += rec.bytes;
  return out;
}

/// Writes `file` to `path` atomically.
inline void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& file) {
  write_file_atomic(path, serialize_safetensors(file));
}

}  // namespace fcam::io

/// \file
/// \brief Shared pieces of the fuzz targets: the libFuzzer entry point's declaration, the split
/// of one input into NUL-separated parts, and a per-process scratch folder for targets whose
/// parser reads files.
///
/// Every target parses hostile bytes and may only fail with fcam::Error: any other exception
/// escapes LLVMFuzzerTestOneInput and aborts (a finding), as do sanitizer reports and crashes.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fcam/io/atomic_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fcam::fuzz {

/// The input as a string.
inline std::string bytes_of(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

/// The input split at NUL bytes into at most `max_parts` parts (the last keeps any further NULs).
inline std::vector<std::string> split_parts(std::string_view input, std::size_t max_parts) {
  std::vector<std::string> parts;
  while (parts.size() + 1 < max_parts) {
    const std::size_t nul = input.find('\0');
    if (nul == std::string_view::npos) break;
    parts.emplace_back(input.substr(0, nul));
    input.remove_prefix(nul + 1);
  }
  parts.emplace_back(input);
  return parts;
}

/// A folder of this process for the files a target writes (made on first use, removed when the
/// process exits normally).
inline const std::filesystem::path& scratch_dir() {
  struct Scratch {
    std::filesystem::path dir = std::filesystem::temp_directory_path() / ("fcam-fuzz-" + std::to_string(::getpid()));
    Scratch() {
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
    }
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  };
  static const Scratch scratch;
  return scratch.dir;
}

/// Writes `bytes` to `name` in the scratch folder and returns its path.
inline std::filesystem::path scratch_file(const std::string& name, std::string_view bytes) {
  const std::filesystem::path path = scratch_dir() / name;
  io::write_file_atomic(path, bytes);
  return path;
}

}  // namespace fcam::fuzz

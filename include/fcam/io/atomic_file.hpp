/// \file
/// \brief Atomic file writes: write to a temporary file beside the target, then rename over it.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "fcam/core/error.hpp"

namespace fcam::io {

/// Writes `bytes` to `path` so that readers see either the old file or the complete new one,
/// never a partial file (a killed run leaves at most a stray "<path>.tmp").
inline void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    FCAM_CHECK(out.good(), tmp.string(), ": cannot open for writing");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    FCAM_CHECK(out.good(), tmp.string(), ": write failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    fail(path.string(), ": cannot replace the file: ", ec.message());
  }
}

/// Whole content of a binary file; throws fcam::Error naming the file when it cannot be read.
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  FCAM_CHECK(in.good(), path.string(), ": cannot open file (missing or unreadable)");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  FCAM_CHECK(size >= 0, path.string(), ": cannot determine the file size");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  FCAM_CHECK(in.good() || in.eof(), path.string(), ": read failed");
  return bytes;
}

}  // namespace fcam::io

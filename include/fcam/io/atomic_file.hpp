/// \file
/// \brief Output files written without destroying what is at the path: regular files atomically
/// (temporary file, then rename), FIFOs and character devices written through, the rest refused.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>

#include "fcam/core/error.hpp"

namespace fcam::io {

namespace detail {

/// Writes `bytes` to the file `path` (created or truncated); throws fcam::Error naming it.
inline void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  FCAM_CHECK(out.good(), path.string(), ": cannot open for writing");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  FCAM_CHECK(out.good(), path.string(), ": write failed (disk full?)");
}

/// "a directory", "a FIFO", … for error messages.
inline const char* file_kind(std::filesystem::file_type type) {
  switch (type) {
    case std::filesystem::file_type::directory: return "a directory";
    case std::filesystem::file_type::fifo: return "a FIFO";
    case std::filesystem::file_type::character: return "a character device";
    case std::filesystem::file_type::block: return "a block device";
    case std::filesystem::file_type::socket: return "a socket";
    default: return "not a regular file";
  }
}

/// The path a chain of symbolic links ends at (the path itself when it is no link); the last link
/// may dangle (its target is then the file to create).
inline std::filesystem::path resolve_links(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = path;
  for (int hops = 0; fs::is_symlink(fs::symlink_status(p, ec)); ++hops) {
    FCAM_CHECK(hops < 40, path.string(), ": too many levels of symbolic links");
    const fs::path next = fs::read_symlink(p, ec);
    FCAM_CHECK(!ec, path.string(), ": cannot read the symbolic link: ", ec.message());
    p = next.is_absolute() ? next : p.parent_path() / next;
  }
  return p;
}

}  // namespace detail

/// Writes `bytes` to `path`, never destroying what the path names:
/// - a regular file, or nothing yet: atomically. The bytes go to a temporary file beside the
///   target, which is renamed over it, so readers see the old file or the complete new one. On
///   any failure the temporary is removed and the old file is left as it was; only a killed
///   process can leave a stray "<path>.tmp".
/// - a symbolic link: the same rules apply to the file it points to, and the link stays a link.
/// - a FIFO or a character device (a pipe to another program, /dev/null): written through,
///   because replacing it with a regular file would destroy it.
/// - a directory, a block device or a socket: refused with fcam::Error naming the path.
inline void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target = detail::resolve_links(path);
  const fs::file_type type = fs::status(target, ec).type();
  if (type == fs::file_type::fifo || type == fs::file_type::character) {
    detail::write_bytes(target, bytes);
    return;
  }
  FCAM_CHECK(type == fs::file_type::not_found || type == fs::file_type::regular, path.string(), " is ",
             detail::file_kind(type), "; refusing to replace it (give the path of a regular file)");
  const fs::path tmp = target.string() + ".tmp";
  const fs::file_type tmp_type = fs::symlink_status(tmp, ec).type();
  FCAM_CHECK(tmp_type == fs::file_type::not_found || tmp_type == fs::file_type::regular, tmp.string(), " is ",
             detail::file_kind(tmp_type), "; it is in the way of the temporary file of ", path.string());
  try {
    detail::write_bytes(tmp, bytes);
    fs::rename(tmp, target, ec);
    FCAM_CHECK(!ec, path.string(), ": cannot replace the file: ", ec.message());
  } catch (...) {
    fs::remove(tmp, ec);  // leave nothing half-written behind (tmp is a regular file or absent)
    throw;
  }
}

/// A binary input stream on `path`; throws fcam::Error naming the path when it is a directory
/// (which an ifstream opens, then fails to read) or cannot be opened.
inline std::ifstream open_for_reading(const std::filesystem::path& path) {
  std::error_code ec;
  FCAM_CHECK(std::filesystem::status(path, ec).type() != std::filesystem::file_type::directory, path.string(),
             " is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  FCAM_CHECK(in.good(), path.string(), ": cannot open file (missing or unreadable)");
  return in;
}

/// Whole content of a binary file; throws fcam::Error naming the file when it cannot be read.
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in = open_for_reading(path);
  std::error_code ec;
  const std::filesystem::file_type type = std::filesystem::status(path, ec).type();
  if (type != std::filesystem::file_type::regular)  // a FIFO or device: no size to seek to, read to the end
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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

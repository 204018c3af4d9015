// io::write_file_atomic never destroys what an output path names: regular files are replaced
// atomically, symbolic links stay links, FIFOs are written through, directories are refused,
// and no temporary file is left behind on failure. Everything lives in a scratch folder: no
// test touches a real device node (CI runs as root).
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <fcam/io/atomic_file.hpp>

namespace fs = std::filesystem;
namespace io = fcam::io;
using Catch::Contains;

namespace {
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("fcam_atomic_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string content(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("a regular file is replaced whole, with no temporary left", "[io][files]") {
  const fs::path dir = scratch("regular");
  io::write_file_atomic(dir / "a.json", "old");
  io::write_file_atomic(dir / "a.json", "new content");
  CHECK(content(dir / "a.json") == "new content");
  CHECK(!fs::exists(dir / "a.json.tmp"));
}

TEST_CASE("a symbolic link stays a link; the file it points to gets the bytes", "[io][files]") {
  const fs::path dir = scratch("symlink");
  io::write_file_atomic(dir / "real.txt", "old");
  fs::create_symlink(dir / "real.txt", dir / "link.txt");
  io::write_file_atomic(dir / "link.txt", "through the link");
  CHECK(fs::is_symlink(fs::symlink_status(dir / "link.txt")));
  CHECK(content(dir / "real.txt") == "through the link");
  CHECK(!fs::exists(dir / "link.txt.tmp"));
  CHECK(!fs::exists(dir / "real.txt.tmp"));
  // A dangling link: the file it names is created, the link kept.
  fs::create_symlink(dir / "later.txt", dir / "dangling.txt");
  io::write_file_atomic(dir / "dangling.txt", "created");
  CHECK(fs::is_symlink(fs::symlink_status(dir / "dangling.txt")));
  CHECK(content(dir / "later.txt") == "created");
  // A loop of links is an error naming the path, not a hang.
  fs::create_symlink(dir / "loop_b", dir / "loop_a");
  fs::create_symlink(dir / "loop_a", dir / "loop_b");
  CHECK_THROWS_WITH(io::write_file_atomic(dir / "loop_a", "x"), Contains("loop_a: too many levels of symbolic links"));
}

TEST_CASE("a FIFO is written through and stays a FIFO", "[io][files]") {
  const fs::path dir = scratch("fifo");
  const fs::path fifo = dir / "pipe";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  std::string received;
  std::thread reader([&] { received = content(fifo); });  // opening a FIFO waits for the other end
  io::write_file_atomic(fifo, "streamed bytes");
  reader.join();
  CHECK(received == "streamed bytes");
  CHECK(fs::is_fifo(fs::symlink_status(fifo)));
  CHECK(!fs::exists(dir / "pipe.tmp"));
}

TEST_CASE("a directory, or a non-file in the temporary's place, is refused and left intact", "[io][files]") {
  const fs::path dir = scratch("directory");
  fs::create_directories(dir / "out" / "inner");
  CHECK_THROWS_WITH(io::write_file_atomic(dir / "out", "x"), Contains("out is a directory; refusing to replace it"));
  CHECK(fs::is_directory(dir / "out" / "inner"));
  CHECK(!fs::exists(dir / "out.tmp"));

  fs::create_directories(dir / "b.json.tmp");
  CHECK_THROWS_WITH(io::write_file_atomic(dir / "b.json", "x"), Contains("b.json.tmp is a directory"));
  CHECK(fs::is_directory(dir / "b.json.tmp"));
  CHECK(!fs::exists(dir / "b.json"));
}

TEST_CASE("a failed write leaves neither a temporary nor a changed file", "[io][files]") {
  const fs::path dir = scratch("failure");
  CHECK_THROWS_WITH(io::write_file_atomic(dir / "missing" / "c.json", "x"), Contains("cannot open for writing"));
  CHECK(!fs::exists(dir / "missing"));
  // A link to a directory is refused like the directory itself, and nothing is created.
  fs::create_directories(dir / "full" / "keep");
  fs::create_symlink(dir / "full", dir / "to_full");
  CHECK_THROWS_WITH(io::write_file_atomic(dir / "to_full", "x"), Contains("is a directory"));
  CHECK(fs::is_directory(dir / "full" / "keep"));
  CHECK(!fs::exists(dir / "full.tmp"));
}

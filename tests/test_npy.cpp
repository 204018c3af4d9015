// .npy reading and writing against files written by numpy (tests/npy_reference.py, run by ctest
// as a fixture; FCAM_NPY_REFERENCE is its folder). A missing folder fails the test.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fcam/fcam.hpp>

using namespace fcam;
using Catch::Contains;

namespace {

std::filesystem::path ref_dir() {
  const char* dir = std::getenv("FCAM_NPY_REFERENCE");
  if (!dir) FAIL("FCAM_NPY_REFERENCE is not set: run this test through ctest (it runs tests/npy_reference.py)");
  return dir;
}

std::filesystem::path ref(const std::string& name) {
  const std::filesystem::path path = ref_dir() / name;
  REQUIRE(std::filesystem::exists(path));
  return path;
}

// A version-1.0 .npy file with the given header dict and `data_bytes` zero bytes, in the temp folder.
std::filesystem::path raw_npy(const std::string& name, const std::string& dict, std::size_t data_bytes) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header + std::string(data_bytes, '\0');
  const auto path = std::filesystem::temp_directory_path() / ("fcam_test_" + name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}
}  // namespace

TEST_CASE("numpy's float32 and float64 files read with their shapes and values", "[npy]") {
  for (const char* name : {"f4.npy", "f8.npy"}) {
    const Tensor<double> t = io::read_npy<double>(ref(name));
    REQUIRE(t.shape() == Shape{3, 4});
    for (int i = 0; i < 12; ++i)
      CHECK(t.data()[i] == (std::string(name) == "f8.npy" ? i / 7.0 : static_cast<double>(static_cast<float>(i / 7.0))));
  }
  CHECK(io::read_npy<float>(ref("f4_1d.npy")).shape() == Shape{5});
  const Tensor<float> t3 = io::read_npy<float>(ref("f4_3d.npy"));
  CHECK(t3.shape() == Shape{2, 3, 4});
  CHECK(t3(1, 2, 3) == static_cast<float>(23 / 7.0));
}

TEST_CASE("fcam writes byte-identical .npy files to numpy's", "[npy]") {
  Tensor<float> t({3, 4});
  for (int i = 0; i < 12; ++i) t.data()[i] = static_cast<float>(i / 7.0);
  CHECK(io::serialize_npy(t) == io::read_file(ref("f4.npy")));
  Tensor<double> d({3, 4});
  for (int i = 0; i < 12; ++i) d.data()[i] = i / 7.0;
  CHECK(io::serialize_npy(d) == io::read_file(ref("f8.npy")));
  Tensor<float> v({5});
  for (int i = 0; i < 5; ++i) v.data()[i] = static_cast<float>(i) / 7.0f;
  CHECK(io::serialize_npy(v) == io::read_file(ref("f4_1d.npy")));
  const auto path = std::filesystem::temp_directory_path() / "fcam_test_roundtrip.npy";
  io::write_npy(path, d);
  CHECK(io::read_npy<double>(path)(2, 3) == 11 / 7.0);
  std::filesystem::remove(path);
}

TEST_CASE("unsupported or broken .npy files are errors naming the file", "[npy][errors]") {
  CHECK_THROWS_WITH(io::read_npy<float>(ref("big_endian.npy")), Contains("big_endian.npy: dtype '>f4' is not supported"));
  CHECK_THROWS_WITH(io::read_npy<float>(ref("fortran.npy")), Contains("fortran.npy: Fortran-order arrays"));
  CHECK_THROWS_WITH(io::read_npy<float>(ref("int.npy")), Contains("int.npy: dtype '<i4' is not supported"));
  CHECK_THROWS_WITH(io::read_npy<float>(ref("truncated.npy")), Contains("truncated.npy: holds 44 data bytes"));
  CHECK_THROWS_WITH(io::read_npy<float>(ref_dir() / "missing.npy"),
                    Contains("missing.npy: cannot open file"));
}

TEST_CASE(".npy shapes whose size products overflow are errors, not wrapped sizes", "[npy][errors]") {
  const std::string f4 = "{'descr': '<f4', 'fortran_order': False, 'shape': ";
  CHECK_NOTHROW(io::read_npy<float>(raw_npy("ok.npy", f4 + "(2, 3), }", 24)));
  // 2^32 · 2^32 wraps to 0 in 64 bits, which once matched an empty data section.
  CHECK_THROWS_WITH(io::read_npy<float>(raw_npy("wrap.npy", f4 + "(4294967296, 4294967296), }", 0)),
                    Contains("wrap.npy: .npy shape [4294967296, 4294967296]: too many elements"));
  CHECK_THROWS_WITH(io::read_npy<float>(raw_npy("bytes.npy", f4 + "(4611686018427387904, 2), }", 0)),
                    Contains("bytes.npy: .npy shape") && Contains("too many elements"));
  CHECK_THROWS_WITH(io::read_npy<float>(raw_npy("digits.npy", f4 + "(123456789012345678901234567890,), }", 0)),
                    Contains("digits.npy: malformed .npy shape") && Contains("beyond 64 bits"));
  // An empty shape expects no data; its other sizes must still multiply within 63 bits (its
  // strides do). Found by fuzzing: (…, 2^62-ish sizes, 0, …) overflowed numel_of before the 0.
  CHECK(io::read_npy<float>(raw_npy("empty.npy", f4 + "(0, 1048576, 1048576), }", 0)).numel() == 0);
  CHECK_THROWS_WITH(io::read_npy<float>(raw_npy("empty_huge.npy", f4 + "(0, 4294967296, 4294967296), }", 0)),
                    Contains("empty_huge.npy: .npy shape") && Contains("too many elements"));
  // Sizes are separated by commas: "(2 0)" is not (2, 0).
  for (const char* shape : {"(2 0)", "(2,,3)", "(,)", "(2, 3", "5", "(2, -3)", "(2, 3x)"})
    CHECK_THROWS_WITH(io::read_npy<float>(raw_npy("shape.npy", f4 + shape + ", }", 0)), Contains("malformed .npy shape"));
  CHECK(io::read_npy<float>(raw_npy("trailing.npy", f4 + "( 2 , 3 , ), }", 24)).shape() == Shape{2, 3});
}

TEST_CASE("score maps must be 2-D, finite and within [0, 1]", "[npy][score_map]") {
  const Tensor<float> map = metrics::read_score_map(ref("score.npy"));
  CHECK(map.shape() == Shape{224, 224});
  CHECK(map(223, 223) == 1.0f);
  CHECK_THROWS_WITH(metrics::read_score_map(ref("score_nan.npy")), Contains("score_nan.npy: score map has NaN at (3, 5)"));
  CHECK_THROWS_WITH(metrics::read_score_map(ref("score_above_one.npy")),
                    Contains("score_above_one.npy: score map value 1.5 at (7, 1) is outside [0, 1]"));
  CHECK_THROWS_WITH(metrics::read_score_map(ref("f4_3d.npy")), Contains("f4_3d.npy: a score map must be 2-D"));
}

// .npy reading and writing against files written by numpy (tests/npy_reference.py, run by ctest
// as a fixture; FCAM_NPY_REFERENCE is its folder). A missing folder fails the test.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

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

TEST_CASE("score maps must be 2-D, finite and within [0, 1]", "[npy][score_map]") {
  const Tensor<float> map = metrics::read_score_map(ref("score.npy"));
  CHECK(map.shape() == Shape{224, 224});
  CHECK(map(223, 223) == 1.0f);
  CHECK_THROWS_WITH(metrics::read_score_map(ref("score_nan.npy")), Contains("score_nan.npy: score map has NaN at (3, 5)"));
  CHECK_THROWS_WITH(metrics::read_score_map(ref("score_above_one.npy")),
                    Contains("score_above_one.npy: score map value 1.5 at (7, 1) is outside [0, 1]"));
  CHECK_THROWS_WITH(metrics::read_score_map(ref("f4_3d.npy")), Contains("f4_3d.npy: a score map must be 2-D"));
}

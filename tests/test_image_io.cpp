// resize_nearest against OpenCV's INTER_NEAREST (tests/resize_reference.py, run by ctest as a
// fixture; FCAM_RESIZE_REFERENCE is its folder), and image-reading errors.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include <fcam/fcam.hpp>

using namespace fcam;

namespace {
data::Gray8 to_gray(const Tensor<float>& t) {
  data::Gray8 g{static_cast<int>(t.size(1)), static_cast<int>(t.size(0)), {}};
  for (std::int64_t i = 0; i < t.numel(); ++i) g.pixels.push_back(static_cast<std::uint8_t>(t.data()[i]));
  return g;
}
}  // namespace

TEST_CASE("resize_nearest equals OpenCV's INTER_NEAREST pixel for pixel", "[image][resize]") {
  const char* dir = std::getenv("FCAM_RESIZE_REFERENCE");
  if (!dir) FAIL("FCAM_RESIZE_REFERENCE is not set: run this test through ctest (it runs tests/resize_reference.py)");
  int cases = 0;
  for (int i = 0;; ++i) {
    const auto src_path = std::filesystem::path(dir) / ("case_" + std::to_string(i) + "_src.npy");
    if (!std::filesystem::exists(src_path)) break;
    const data::Gray8 src = to_gray(io::read_npy<float>(src_path));
    const data::Gray8 expected =
        to_gray(io::read_npy<float>(std::filesystem::path(dir) / ("case_" + std::to_string(i) + "_dst.npy")));
    const data::Gray8 got = data::resize_nearest(src, expected.width, expected.height);
    INFO("case " << i << ": " << src.width << "x" << src.height << " -> " << expected.width << "x" << expected.height);
    CHECK(got.pixels == expected.pixels);
    ++cases;
  }
  CHECK(cases == 8);
}

TEST_CASE("network inputs equal PyTorch's bilinear resize and ImageNet normalisation", "[image][preprocess]") {
  const char* dir = std::getenv("FCAM_RESIZE_REFERENCE");
  if (!dir) FAIL("FCAM_RESIZE_REFERENCE is not set: run this test through ctest (it runs tests/resize_reference.py)");
  for (int i = 0; i < 4; ++i) {
    INFO("input " << i);
    const auto base = std::filesystem::path(dir) / ("input_" + std::to_string(i));
    const Tensor<float> expected = io::read_npy<float>(base.string() + ".npy");
    const Tensor<float> got = data::image_to_input(data::read_rgb8(base.string() + ".png"), 224, 224);
    REQUIRE(got.shape() == expected.shape());
    double worst = 0;
    for (std::int64_t k = 0; k < got.numel(); ++k)
      worst = std::max(worst, std::abs(static_cast<double>(got.data()[k]) - expected.data()[k]));
    // 1e-4 in normalised units is 0.006 gray levels: PyTorch computes the source coordinates in
    // float, fcam in double, and on pixel noise (255 between neighbours) that moves values by ~1e-3.
    CHECK(worst <= 1e-4);
  }
}

TEST_CASE("unreadable images are errors naming the file", "[image][errors]") {
  const auto path = std::filesystem::temp_directory_path() / "fcam_test_not_an_image.png";
  io::write_file_atomic(path, "this is not a PNG");
  CHECK_THROWS_WITH(data::read_gray8(path), Catch::Contains("fcam_test_not_an_image.png: cannot read image"));
  std::filesystem::remove(path);
  CHECK_THROWS_WITH(data::read_gray8(path), Catch::Contains("fcam_test_not_an_image.png: cannot open file"));
  // A header with a height of 0 (found by fuzzing: "P6 4&" is a 4×0 PPM to stb) is an error, not
  // an empty image that later steps would divide by.
  const auto empty = std::filesystem::temp_directory_path() / "fcam_test_4x0.ppm";
  io::write_file_atomic(empty, std::string("P64&\n52 3\n5\n\x0e\x07\x00#", 16));
  CHECK_THROWS_WITH(data::read_rgb8(empty), Catch::Contains("fcam_test_4x0.ppm: cannot read image (its header gives a 4x0 size)"));
  std::filesystem::remove(empty);
  // A JPEG whose Huffman table counts 16 × 17 = 272 codes: Debian's stb_image 2.27 would write
  // past its 257-entry table (found by fuzzing), so fcam refuses the file before stb reads it.
  const auto dht = std::filesystem::temp_directory_path() / "fcam_test_dht.jpg";
  io::write_file_atomic(dht, std::string("\xFF\xD8\xFF\xC4\x00\x13\x00", 7) + std::string(16, '\x11') + "\xFF\xD9");
  CHECK_THROWS_WITH(data::read_rgb8(dht),
                    Catch::Contains("fcam_test_dht.jpg: cannot read image (a JPEG Huffman table has more than 256 codes"));
  std::filesystem::remove(dht);
  // A 16-bit PPM (maxval 2550) read as gray: stb 2.27 read past its buffer (found by fuzzing).
  const auto ppm16 = std::filesystem::temp_directory_path() / "fcam_test_16bit.ppm";
  io::write_file_atomic(ppm16, "P6\n1 1\n2550\n" + std::string(6, '\x01'));
  CHECK_THROWS_WITH(data::read_gray8(ppm16), Catch::Contains("fcam_test_16bit.ppm: cannot read image (16-bit PNM files"));
  std::filesystem::remove(ppm16);
  // A PPM width of 5555555555 overflowed stb's int while it parsed the header (found by fuzzing).
  const auto wide = std::filesystem::temp_directory_path() / "fcam_test_wide.ppm";
  io::write_file_atomic(wide, "P6\n5555555555 1\n255\n" + std::string(3, '\x01'));
  CHECK_THROWS_WITH(data::read_rgb8(wide), Catch::Contains("fcam_test_wide.ppm: cannot read image (a PNM header number"));
  std::filesystem::remove(wide);
  // A PNG whose IDAT chunk claims 2^31 bytes: stb allocated them before reading (found by fuzzing).
  const auto gray = std::filesystem::temp_directory_path() / "fcam_test_idat.png";
  data::write_png(gray, data::Rgb8{2, 1, {1, 2, 3, 4, 5, 6}});
  std::string png = io::read_file(gray);
  const std::size_t idat = png.find("IDAT") - 4;
  png.replace(idat, 4, std::string("\x80\x00\x00\x00", 4));
  io::write_file_atomic(gray, png);
  CHECK_THROWS_WITH(data::read_rgb8(gray), Catch::Contains("fcam_test_idat.png: cannot read image (a PNG IDAT chunk runs past"));
  std::filesystem::remove(gray);
}

TEST_CASE("an image whose header claims more pixels than the limit is refused before decoding", "[image][errors]") {
  const auto dir = std::filesystem::temp_directory_path();
  const auto small = dir / "fcam_test_small.png", huge = dir / "fcam_test_huge_header.png";
  // A grayscale PNG (a mask), and the same file with its IHDR size patched to 20000×20000 (stb
  // reads the size, not the CRC; stb's own guard stops only above 2^30 bytes per decoded image):
  // decoding it would allocate 400 MB per copy; the header check refuses it first.
  data::detail::write_png_channels(small, 20, 10, 1, std::vector<std::uint8_t>(20 * 10, 128));
  std::string bytes = io::read_file(small);
  REQUIRE(bytes.substr(12, 4) == "IHDR");
  for (int field : {16, 20}) {
    const std::uint32_t size = 20000;
    for (int k = 0; k < 4; ++k) bytes[static_cast<std::size_t>(field + k)] = static_cast<char>(size >> (24 - 8 * k));
  }
  io::write_file_atomic(huge, bytes);
  CHECK(data::max_image_pixels() == data::default_max_image_pixels);
  CHECK_THROWS_WITH(data::read_rgb8(huge), Catch::Contains("fcam_test_huge_header.png: a 20000x20000 image (400000000 "
                                                           "pixels) is above the limit of 67108864 pixels"));
  CHECK_THROWS_WITH(data::read_gray8(huge), Catch::Contains("above the limit"));
  // The limit is a setting: 200 pixels admits the 20×10 image, 199 refuses it.
  data::set_max_image_pixels(200);
  CHECK(data::read_rgb8(small).width == 20);
  data::set_max_image_pixels(199);
  CHECK_THROWS_WITH(data::read_rgb8(small), Catch::Contains("a 20x10 image (200 pixels) is above the limit of 199"));
  CHECK_THROWS_WITH(data::set_max_image_pixels(0), Catch::Contains("at least 1"));
  data::set_max_image_pixels(data::default_max_image_pixels);
  std::filesystem::remove(small);
  std::filesystem::remove(huge);
}

// The real CUB and OpenImages metadata shipped in ../shared/data/wsol-metadata parse with the
// expected counts. Exits with 77 (reported by ctest as skipped, never as passed) when the data
// folder is absent.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <algorithm>
#include <numeric>

#include <fcam/fcam.hpp>

namespace {

std::filesystem::path metadata_root() { return std::filesystem::path(std::getenv("FCAM_DATA_DIR")) / "wsol-metadata"; }

}  // namespace

TEST_CASE("CUB splits: counts, 200 classes, one box per image inside the image", "[metadata][data]") {
  const std::pair<const char*, std::size_t> splits[] = {{"train", 5994}, {"val", 1000}, {"test", 5794}};
  for (const auto& [split, count] : splits) {
    INFO(split);
    const auto m = fcam::data::read_wsol_metadata(metadata_root() / "CUB" / split, 200);
    CHECK(m.image_ids.size() == count);
    CHECK(m.widths.size() == count);
    REQUIRE(m.has_boxes());
    for (const auto& b : m.boxes) REQUIRE(b.size() == 1);
  }
  const auto test = fcam::data::read_wsol_metadata(metadata_root() / "CUB" / "test", 200);
  CHECK(test.image_ids[0] == "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg");
  CHECK(test.widths[0] == 500);
  CHECK(test.heights[0] == 335);
  CHECK(test.boxes[0][0].x0 == 60);
  CHECK(test.boxes[0][0].y1 == 331);
}

TEST_CASE("OpenImages splits: counts, 100 classes, instance masks with first-line ignore paths", "[metadata][data]") {
  const auto test = fcam::data::read_wsol_metadata(metadata_root() / "OpenImages" / "test", 100);
  CHECK(test.image_ids.size() == 5000);
  CHECK(test.widths.empty());
  REQUIRE(test.has_masks());
  const std::size_t instances = std::accumulate(test.masks.begin(), test.masks.end(), std::size_t{0},
                                                [](std::size_t n, const auto& m) { return n + m.instances.size(); });
  CHECK(instances == 7632);
  CHECK(test.masks[0].instances.size() == 2);
  CHECK(test.masks[0].ignore == "test/01226z/7af766bd43da900b_ignore.png");
  const auto train = fcam::data::read_wsol_metadata(metadata_root() / "OpenImages" / "train", 100);
  CHECK(train.image_ids.size() == 29819);
  CHECK_FALSE(train.has_masks());
}

TEST_CASE("OpenImages reference vector: a constant map on val/0bt_c3/1cd9ac0169ec7df0.jpg has PxAP 85.76",
          "[metrics][pxap][data]") {
  const auto val = fcam::data::read_wsol_metadata(metadata_root() / "OpenImages" / "val", 100);
  const auto it = std::find(val.image_ids.begin(), val.image_ids.end(), "val/0bt_c3/1cd9ac0169ec7df0.jpg");
  REQUIRE(it != val.image_ids.end());
  const auto& set = val.masks[static_cast<std::size_t>(it - val.image_ids.begin())];
  const auto masks = fcam::metrics::load_pixel_masks(metadata_root() / "openimages-test-masks", set);
  fcam::metrics::PxapAccumulator acc(0.001);
  acc.add(fcam::Tensor<float>::full({224, 224}, 0.5f), masks.foreground, masks.ignore);
  const double pxap = acc.pxap();
  INFO("PxAP " << pxap);
  CHECK(std::abs(pxap - 85.76) < 0.005);
}

int main(int argc, char** argv) {
  const char* dir = std::getenv("FCAM_DATA_DIR");
  if (!dir || !std::filesystem::is_directory(std::filesystem::path(dir) / "wsol-metadata")) {
    std::printf("SKIPPED: the shared data folder (FCAM_DATA_DIR=%s) has no wsol-metadata\n", dir ? dir : "(unset)");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}

// WSOL metadata parsing on hand-written files: line endings, mask/ignore semantics, and the
// `file:line: what` errors of every validation.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <fcam/fcam.hpp>

using namespace fcam;
using Catch::Contains;

namespace {

// A split folder with the four files (contents given verbatim).
std::filesystem::path make_split(const std::string& name, const std::string& ids, const std::string& labels,
                                 const std::string& sizes, const std::string& loc) {
  const auto dir = std::filesystem::temp_directory_path() / ("fcam_meta_" + name);
  std::filesystem::create_directories(dir);
  auto write = [&](const char* file, const std::string& text) { std::ofstream(dir / file, std::ios::binary) << text; };
  write("image_ids.txt", ids);
  write("class_labels.txt", labels);
  write("image_sizes.txt", sizes);
  write("localization.txt", loc);
  return dir;
}

}  // namespace

TEST_CASE("box metadata with and without a final newline, LF or CRLF", "[metadata]") {
  for (const std::string eol : {"\n", "\r\n"})
    for (bool final_newline : {false, true}) {
      auto lines = [&](std::initializer_list<const char*> ls) {
        std::string t;
        std::size_t i = 0;
        for (const char* l : ls) t += std::string(l) + (++i < ls.size() || final_newline ? eol : "");
        return t;
      };
      const auto dir = make_split("boxes", lines({"a/1.jpg", "b/2.jpg"}), lines({"a/1.jpg,3", "b/2.jpg,0"}),
                                  lines({"a/1.jpg,10,20", "b/2.jpg,5,5"}),
                                  lines({"a/1.jpg,1,2,5,6", "b/2.jpg,0,0,4,4", "a/1.jpg,0,0,9,19"}));
      const data::WsolMetadata m = data::read_wsol_metadata(dir, 4);
      REQUIRE(m.image_ids == std::vector<std::string>{"a/1.jpg", "b/2.jpg"});
      CHECK(m.labels == std::vector<int>{3, 0});
      CHECK(m.widths == std::vector<int>{10, 5});
      CHECK(m.heights == std::vector<int>{20, 5});
      REQUIRE(m.has_boxes());
      REQUIRE(m.boxes[0].size() == 2);  // a repeated id adds a box
      CHECK(m.boxes[0][1].x1 == 9);
      CHECK(m.boxes[1][0].y1 == 4);
    }
}

TEST_CASE("mask metadata: the ignore path comes from an image's first line only", "[metadata]") {
  const auto dir = make_split("masks", "x.jpg\ny.jpg\nz.jpg", "x.jpg,1\ny.jpg,0\nz.jpg,0", "",
                              "x.jpg,x_m1.png,x_ignore.png\nx.jpg,x_m2.png,\ny.jpg,y_m1.png,\nz.jpg,z_m1.png");
  const data::WsolMetadata m = data::read_wsol_metadata(dir);
  REQUIRE(m.has_masks());
  CHECK(m.widths.empty());
  CHECK(m.masks[0].instances == std::vector<std::string>{"x_m1.png", "x_m2.png"});
  CHECK(m.masks[0].ignore == "x_ignore.png");
  CHECK(m.masks[1].ignore.empty());  // empty ignore path: no ignore region
  CHECK(m.masks[2].ignore.empty());  // missing ignore field: no ignore region
}

TEST_CASE("invalid metadata is reported as file:line: what", "[metadata][errors]") {
  const std::string ids = "a.jpg\nb.jpg", labels = "a.jpg,0\nb.jpg,1", sizes = "a.jpg,10,10\nb.jpg,10,10";
  const std::string boxes = "a.jpg,0,0,9,9\nb.jpg,1,1,2,2";
  auto error_of = [&](const std::string& name, const std::string& i, const std::string& l, const std::string& s,
                      const std::string& b) {
    const auto dir = make_split(name, i, l, s, b);
    try {
      data::read_wsol_metadata(dir, 2);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of("dup", "a.jpg\na.jpg", labels, sizes, boxes), Contains("image_ids.txt:2: duplicate image id 'a.jpg'"));
  CHECK_THAT(error_of("unknown", ids, "a.jpg,0\nc.jpg,1", sizes, boxes),
             Contains("class_labels.txt:2: image id 'c.jpg' is not in image_ids.txt"));
  CHECK_THAT(error_of("range", ids, "a.jpg,0\nb.jpg,2", sizes, boxes), Contains("class_labels.txt:2: label 2 is outside [0, 2)"));
  CHECK_THAT(error_of("nolabel", ids, "a.jpg,0", sizes, boxes), Contains("class_labels.txt: image 'b.jpg' has no label"));
  CHECK_THAT(error_of("badnum", ids, "a.jpg,x\nb.jpg,1", sizes, boxes), Contains("class_labels.txt:1: label 'x' is not a number"));
  CHECK_THAT(error_of("fields", ids, labels, "a.jpg,10\nb.jpg,10,10", boxes),
             Contains("image_sizes.txt:1: expected 'id,width,height', got 2 fields"));
  CHECK_THAT(error_of("order", ids, labels, sizes, "a.jpg,5,0,4,9\nb.jpg,1,1,2,2"),
             Contains("localization.txt:1: box (5, 0, 4, 9) has x1 < x0 or y1 < y0"));
  CHECK_THAT(error_of("outside", ids, labels, sizes, "a.jpg,0,0,9,9\nb.jpg,1,1,10,2"),
             Contains("localization.txt:2: box (1, 1, 10, 2) is outside the 10x10 image"));
  CHECK_THAT(error_of("blank", "a.jpg\n\nb.jpg", labels, sizes, boxes), Contains("image_ids.txt:2: empty line"));
  // A short first box line is blamed on itself (it used to make the file read as masks, and
  // line 2 was blamed), and a huge number is not an integer (no undefined cast).
  CHECK_THAT(error_of("short_box", ids, labels, sizes, "a.jpg,0,0\nb.jpg,1,1,2,2"),
             Contains("localization.txt:1: expected 'id,x0,y0,x1,y1', got 3 fields"));
  CHECK_THAT(error_of("huge", ids, "a.jpg,1e300\nb.jpg,1", sizes, boxes),
             Contains("class_labels.txt:1: label '1e300' is not an integer in int's range"));
  const auto dir = make_split("nofile", ids, labels, sizes, boxes);
  std::filesystem::remove(dir / "class_labels.txt");
  CHECK_THROWS_WITH(data::read_wsol_metadata(dir), Contains("class_labels.txt: cannot open file"));
}

TEST_CASE("IoU and box resizing: wsolevaluation's public reference vectors", "[metrics][iou]") {
  using metrics::box_iou;
  using metrics::IntBox;
  CHECK(box_iou(IntBox{1, 2, 5, 6}, IntBox{3, 1, 4, 5}) == Approx(8.0 / 27.0).epsilon(1e-15));
  CHECK(box_iou(IntBox{0, 0, 0, 0}, IntBox{0, 0, 0, 0}) == 1.0);
  CHECK(box_iou(IntBox{0, 0, 1, 1}, IntBox{5, 5, 6, 6}) == 0.0);
  CHECK_THROWS_WITH(box_iou(IntBox{3, 0, 2, 4}, IntBox{0, 0, 1, 1}), Contains("inverted box (3, 0, 2, 4)"));
  CHECK(metrics::resize_box(data::Box{1, 2, 4, 3}, 10, 20, 35, 10) == IntBox{3, 1, 14, 1});
}

TEST_CASE("evaluate_wsol: bad options and bad maps are errors, never an abort of its threads", "[metadata][errors]") {
  // Two images on 2 threads; the metadata lives in <root>/CUB/test.
  const auto root = std::filesystem::temp_directory_path() / "fcam_eval_threads";
  std::filesystem::remove_all(root);
  const auto split = make_split("eval_threads", "a\nb\n", "a,0\nb,1\n", "a,8,8\nb,8,8\n", "a,0,0,4,4\nb,2,2,7,7\n");
  std::filesystem::create_directories(root / "CUB");
  std::filesystem::rename(split, root / "CUB" / "test");
  std::filesystem::create_directories(root / "maps");
  for (const char* id : {"a", "b"}) io::write_npy(root / "maps" / (std::string(id) + ".npy"), Tensor<float>::zeros({8, 8}));
  metrics::WsolEvaluationConfig config;
  config.scoremap_root = root / "maps";
  config.metadata_root = root;
  config.dataset_name = "CUB";
  config.split = "test";
  config.eval_size = 8;
  config.threads = 2;
  CHECK(metrics::evaluate_wsol(config).num_images == 2);
  // An IoU threshold of 101 used to throw inside a worker thread: std::terminate.
  config.iou_threshold_list = {50, 101};
  CHECK_THROWS_WITH(metrics::evaluate_wsol(config), Contains("IoU threshold 101 is outside [0, 100]"));
  // A failing image stops the others and is named; the first by index wins.
  config.iou_threshold_list = {30, 50, 70};
  io::write_npy(root / "maps" / "b.npy", Tensor<float>::zeros({4, 4}));
  CHECK_THROWS_WITH(metrics::evaluate_wsol(config), Contains("image b: score map is 4x4, expected 8x8"));
  // A progress callback that throws is reported, not fatal.
  io::write_npy(root / "maps" / "b.npy", Tensor<float>::zeros({8, 8}));
  config.progress = [](std::int64_t, std::int64_t) { throw Error("progress sink closed"); };
  CHECK_THROWS_WITH(metrics::evaluate_wsol(config), Contains("progress sink closed"));
}

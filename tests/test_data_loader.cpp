// The training data pipeline: transforms (resize convention, crop and flip geometry, raw values
// kept), the loader's determinism (same seed → same batches, whatever the worker count), its
// order and sizes, data-parallel shards, and unreadable images (an error naming the file, or
// skipped and counted).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcam/fcam.hpp>
#include <fcam/data/batch_ahead.hpp>
#include <fcam/data/loader.hpp>

using namespace fcam;

namespace {

// An image whose pixels encode their position: R = 3x mod 256, G = 5y mod 256, B = class·40.
data::Rgb8 coded_image(int w, int h, int label) {
  data::Rgb8 img{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w * h * 3))};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = img.pixels.data() + (y * w + x) * 3;
      p[0] = static_cast<std::uint8_t>(3 * x % 256), p[1] = static_cast<std::uint8_t>(5 * y % 256), p[2] = static_cast<std::uint8_t>(40 * label);
    }
  return img;
}

// A split of `n` PNG images (sizes vary) in wsolevaluation layout; returns the dataset.
data::WsolDataset make_split(const std::filesystem::path& root, int n) {
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root / "images" / "sub");
  std::filesystem::create_directories(root / "meta");
  std::ofstream ids(root / "meta" / "image_ids.txt"), labels(root / "meta" / "class_labels.txt"),
      sizes(root / "meta" / "image_sizes.txt"), loc(root / "meta" / "localization.txt");
  for (int i = 0; i < n; ++i) {
    const std::string id = "sub/img" + std::to_string(i) + ".png";
    const int w = 40 + 3 * i, h = 36 + 2 * (i % 4), label = i % 3;
    data::write_png(root / "images" / id, coded_image(w, h, label));
    ids << id << "\n";
    labels << id << "," << label << "\n";
    sizes << id << "," << w << "," << h << "\n";
    loc << id << ",1,1," << w - 2 << "," << h - 2 << "\n";
  }
  ids.close(), labels.close(), sizes.close(), loc.close();
  return {root / "images", data::read_wsol_metadata(root / "meta", 3)};
}

data::LoaderOptions small_options(int workers) {
  data::LoaderOptions o;
  o.batch_size = 4;
  o.workers = workers;
  o.prefetch = 2;
  o.seed = 42;
  o.transform.resize_size = 32;
  o.transform.crop_size = 24;
  return o;
}

std::vector<data::Batch> epoch_batches(data::DataLoader& loader, std::int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<data::Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

bool same(const Tensor<float>& a, const Tensor<float>& b) {
  return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.numel(), b.data());
}

}  // namespace

TEST_CASE("transforms: eval resize, train crop and flip of the resized image, raw values kept", "[data]") {
  const data::Rgb8 img = coded_image(50, 38, 2);
  Rng rng(1);
  data::TransformOptions eval;
  eval.train = false;
  eval.crop_size = 24;
  const data::TransformedImage e = data::transform_image(img, eval, rng);
  // The eval transform is a plain resize to the crop size through the inference preprocessing
  // (its resize convention is checked against torch in test_image_io).
  const Tensor<float> want = data::image_to_input(img, 24, 24);
  for (std::int64_t i = 0; i < want.numel(); ++i) REQUIRE(e.input.data()[i] == Approx(want.data()[i]).margin(1e-5));

  data::TransformOptions train;
  train.resize_size = 32;
  train.crop_size = 24;
  const Tensor<float> resized = data::resize_rgb8(img, 32, 32);
  std::set<std::int64_t> xs;
  int flips = 0;
  for (int k = 0; k < 200; ++k) {
    const data::TransformedImage t = data::transform_image(img, train, rng);
    REQUIRE(t.crop_x >= 0);
    REQUIRE(t.crop_x <= 8);
    REQUIRE(t.crop_y <= 8);
    xs.insert(t.crop_x);
    flips += t.flipped;
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t y = 0; y < 24; ++y)
        for (std::int64_t x = 0; x < 24; ++x) {
          const std::int64_t sx = t.crop_x + (t.flipped ? 23 - x : x);
          REQUIRE(t.raw.data()[(c * 24 + y) * 24 + x] == resized.data()[(c * 32 + t.crop_y + y) * 32 + sx]);
        }
    REQUIRE(t.input.data()[0] == Approx((t.raw.data()[0] / 255.0f - 0.485f) / 0.229f));
  }
  CHECK(xs.size() == 9);  // every offset 0..8 occurs
  CHECK(flips > 70);
  CHECK(flips < 130);
}

TEST_CASE("the loader is deterministic, complete and ordered", "[data]") {
  const auto root = std::filesystem::temp_directory_path() / "fcam_test_loader";
  const data::WsolDataset ds = make_split(root, 10);
  data::DataLoader serial(ds, small_options(0)), threaded(ds, small_options(3));
  CHECK(serial.batches_per_epoch() == 3);
  const auto a = epoch_batches(serial, 1), b = epoch_batches(threaded, 1);
  REQUIRE(a.size() == 3);
  REQUIRE(b.size() == 3);
  std::set<std::int64_t> seen;
  for (std::size_t k = 0; k < a.size(); ++k) {
    CHECK(a[k].indices == b[k].indices);
    CHECK(same(a[k].inputs, b[k].inputs));
    CHECK(same(a[k].raw, b[k].raw));
    for (std::size_t i = 0; i < a[k].indices.size(); ++i) {
      seen.insert(a[k].indices[i]);
      CHECK(a[k].labels[i] == ds.metadata.labels[static_cast<std::size_t>(a[k].indices[i])]);
      // The blue channel codes the class: 40·label everywhere.
      CHECK(a[k].raw.data()[(static_cast<std::int64_t>(i) * 3 + 2) * 24 * 24] == Approx(40.0f * a[k].labels[i]));
    }
  }
  CHECK(seen.size() == 10);
  CHECK(a.back().indices.size() == 2);
  // Batches in page-locked memory (for a GPU; ordinary memory on a machine without one) hold the
  // same values.
  data::LoaderOptions pinned_options = small_options(2);
  pinned_options.pinned = true;
  data::DataLoader pinned(ds, pinned_options);
  const auto p = epoch_batches(pinned, 1);
  REQUIRE(p.size() == 3);
  for (std::size_t k = 0; k < p.size(); ++k) {
    CHECK(same(p[k].inputs, a[k].inputs));
    CHECK(same(p[k].raw, a[k].raw));
    CHECK(p[k].inputs.is_pinned() == cuda_available());
  }
  // Another epoch: another order; the same epoch again: the same batches.
  const auto c = epoch_batches(threaded, 2), d = epoch_batches(serial, 1);
  CHECK(c[0].indices != a[0].indices);
  CHECK(same(d[1].inputs, a[1].inputs));
  // Abandoning an epoch half-way is fine.
  threaded.start_epoch(3);
  CHECK(threaded.next().has_value());
  threaded.start_epoch(4);
  CHECK(epoch_batches(threaded, 4).size() == 3);
}

TEST_CASE("data-parallel shards: batch k of every rank together is batch k of one loader with ranks x the batch",
          "[data]") {
  const auto root = std::filesystem::temp_directory_path() / "fcam_test_loader_shards";
  const data::WsolDataset ds = make_split(root, 10);
  data::LoaderOptions whole = small_options(0);
  whole.batch_size = 6;  // 2 ranks x 3, 3 ranks x 2
  data::DataLoader single(ds, whole);
  const auto expected = epoch_batches(single, 1);
  for (const int ranks : {2, 3}) {
    INFO(ranks << " ranks");
    std::vector<std::vector<data::Batch>> per_rank;
    for (int r = 0; r < ranks; ++r) {
      data::LoaderOptions o = whole;
      o.batch_size = 6 / ranks;
      o.shard_rank = r, o.shard_count = ranks;
      data::DataLoader shard(ds, o);
      CHECK(shard.shard_size() == (10 + ranks - 1) / ranks);  // padded: every rank as many images
      per_rank.push_back(epoch_batches(shard, 1));
      CHECK(per_rank.back().size() == per_rank.front().size());
    }
    // Positions r, r + ranks, …: batch 0 of the ranks holds the whole loader's batch 0, and each
    // image is transformed the same way (its crop and flip depend on the image, not the rank).
    std::multiset<std::int64_t> together, whole_batch(expected[0].indices.begin(), expected[0].indices.end());
    for (int r = 0; r < ranks; ++r)
      for (std::size_t i = 0; i < per_rank[r][0].indices.size(); ++i) {
        const std::int64_t index = per_rank[r][0].indices[i];
        together.insert(index);
        const auto at = std::find(expected[0].indices.begin(), expected[0].indices.end(), index) - expected[0].indices.begin();
        CHECK(same(per_rank[r][0].inputs.batch(static_cast<std::int64_t>(i)), expected[0].inputs.batch(at)));
      }
    CHECK(together == whole_batch);
    // Over the epoch every image is read; the padding repeats the first ones of the order.
    std::multiset<std::int64_t> all;
    for (const auto& batches : per_rank)
      for (const auto& b : batches) all.insert(b.indices.begin(), b.indices.end());
    CHECK(std::set<std::int64_t>(all.begin(), all.end()).size() == 10);
    CHECK(static_cast<int>(all.size()) == ranks * ((10 + ranks - 1) / ranks));
  }
  // Evaluation shards (no padding): each image exactly once over the ranks.
  std::multiset<std::int64_t> evaluated;
  for (int r = 0; r < 3; ++r) {
    data::LoaderOptions o = small_options(1);
    o.shuffle = false, o.shard_rank = r, o.shard_count = 3, o.pad_shards = false;
    data::DataLoader shard(ds, o);
    for (const auto& b : epoch_batches(shard, 0)) evaluated.insert(b.indices.begin(), b.indices.end());
  }
  CHECK(evaluated == std::multiset<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  data::LoaderOptions bad = small_options(0);
  bad.shard_rank = 2, bad.shard_count = 2;
  CHECK_THROWS_WITH(data::DataLoader(ds, bad), Catch::Contains("shard 2 of 2 does not exist"));
}

// The loader keeps a reference to its dataset: a temporary one (which would dangle once the
// full expression ends) must not compile, an lvalue must.
static_assert(std::is_constructible_v<data::DataLoader, const data::WsolDataset&, data::LoaderOptions>);
static_assert(std::is_constructible_v<data::DataLoader, data::WsolDataset&, data::LoaderOptions>);
static_assert(!std::is_constructible_v<data::DataLoader, data::WsolDataset, data::LoaderOptions>);
static_assert(!std::is_constructible_v<data::DataLoader, data::WsolDataset&&, data::LoaderOptions>);
static_assert(!std::is_constructible_v<data::DataLoader, const data::WsolDataset&&, data::LoaderOptions>);

TEST_CASE("unreadable images stop the loader naming them, or are skipped and counted", "[data]") {
  const auto root = std::filesystem::temp_directory_path() / "fcam_test_loader_bad";
  const data::WsolDataset ds = make_split(root, 9);
  std::ofstream(root / "images" / "sub" / "img4.png") << "not a png";
  std::filesystem::remove(root / "images" / "sub" / "img7.png");
  for (int workers : {0, 2}) {
    INFO(workers << " workers");
    data::DataLoader strict(ds, small_options(workers));
    CHECK_THROWS_WITH(epoch_batches(strict, 0), Catch::Contains("img4.png") || Catch::Contains("img7.png"));
    auto options = small_options(workers);
    options.skip_bad = true;
    data::DataLoader lenient(ds, options);
    const auto batches = epoch_batches(lenient, 0);
    std::size_t images = 0;
    for (const auto& b : batches) images += b.indices.size();
    CHECK(images == 7);
    CHECK(lenient.skipped() == 2);
    CHECK(lenient.skipped_paths().size() == 2);
  }
}

TEST_CASE("UploadAhead and BatchAhead keep tensors already on the target device", "[data]") {
  const Tensor<float> x = Tensor<float>({2, 3});
  UploadAhead<float> same(x, Device::cpu);
  CHECK(same.take().data() == x.data());  // no copy on the CPU
  UploadAhead<float> none(Tensor<float>(), Device::cpu);
  CHECK(!none.take().defined());
  data::Batch batch;
  batch.inputs = x;
  batch.raw = Tensor<float>({2, 3});
  batch.labels = {1, 2};
  const float* raw = batch.raw.data();
  data::BatchAhead ahead(std::move(batch), Device::cpu);
  const data::Batch back = ahead.take();
  CHECK(back.inputs.data() == x.data());
  CHECK(back.raw.data() == raw);
  CHECK(back.labels == std::vector<int>{1, 2});
  data::Batch other;
  other.raw = Tensor<float>({2, 3});
  const float* kept = other.raw.data();
  CHECK(data::BatchAhead(std::move(other), Device::cpu, false).take().raw.data() == kept);
}

// F-CAM's stage-2 pseudo-labels and losses against tests/losses_reference.py (skimage's Otsu,
// scipy's erosion, numpy's stable argsort, torch's cross-entropy and a torch log-barrier, run as
// a ctest fixture; FCAM_LOSSES_REFERENCE is its folder).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include <fcam/fcam.hpp>
#include <fcam/losses/partial_ce.hpp>
#include <fcam/losses/sampling_regions.hpp>
#include <fcam/losses/size_loss.hpp>
#include <fcam/optim/sgd.hpp>

using namespace fcam;

namespace {
const io::SafetensorsFile& reference() {
  static const io::SafetensorsFile file = [] {
    const char* dir = std::getenv("FCAM_LOSSES_REFERENCE");
    if (!dir) FAIL("FCAM_LOSSES_REFERENCE is not set: run this test through ctest");
    return io::read_safetensors(std::filesystem::path(dir) / "losses.safetensors");
  }();
  return file;
}
Tensor<double> reference_tensor(const std::string& name) { return reference().at(name).to_tensor<double>(); }
std::vector<std::uint8_t> mask_of(const Tensor<double>& t) {
  std::vector<std::uint8_t> m(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) m[static_cast<std::size_t>(i)] = t.data()[i] != 0;
  return m;
}
// The values of a CPU tensor as the span sample_regions reads.
template <Scalar T>
std::span<const T> values_of(const Tensor<T>& t) {
  return {t.data(), static_cast<std::size_t>(t.numel())};
}
}  // namespace

TEST_CASE("Otsu's threshold equals skimage's", "[losses][sampling]") {
  for (int k = 0; k < 5; ++k) {
    INFO("otsu" << k);
    const Tensor<double> v = reference_tensor("otsu" + std::to_string(k) + ".values");
    std::vector<std::uint8_t> u8(static_cast<std::size_t>(v.numel()));
    for (std::int64_t i = 0; i < v.numel(); ++i) u8[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v.data()[i]);
    CHECK(losses::otsu_threshold(u8) == std::stoi(reference().metadata.at("otsu" + std::to_string(k))));
  }
}

TEST_CASE("sampling regions: candidates, counts, exclusivity, dilation, determinism", "[losses][sampling]") {
  const json::Value cases = json::parse(reference().metadata.at("cases"));
  for (const json::Value& c : cases.as<json::Array>("cases")) {
    const std::string name = c.as<json::Object>("case").at("name").as<std::string>("name");
    INFO(name << " (" << c.as<json::Object>("case").at("kind").as<std::string>("kind") << ")");
    const Tensor<double> cam = reference_tensor(name + ".cam");
    const std::int64_t h = cam.size(0), w = cam.size(1), n = h * w;
    const auto fg_all = mask_of(reference_tensor(name + ".candidates_fg")), eroded = mask_of(reference_tensor(name + ".eroded_fg"));
    const auto bg = mask_of(reference_tensor(name + ".candidates_bg"));
    const bool eroded_empty = std::none_of(eroded.begin(), eroded.end(), [](std::uint8_t v) { return v; });
    const auto& fg = eroded_empty ? fg_all : eroded;  // the fallback keeps the un-eroded set
    const auto fg_count = std::count(fg.begin(), fg.end(), 1), bg_count = std::count(bg.begin(), bg.end(), 1);

    // Otsu + clamping + erosion: the candidates themselves, when every candidate is drawn.
    losses::SamplingOptions all;
    all.n_foreground = n;
    all.n_background = n;
    all.dilation = 1;
    Rng rng(1);
    auto labels = losses::sample_regions(values_of(cam), h, w, all, rng);
    std::int64_t got_fg = 0, got_bg = 0, unlabelled_candidates = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const auto l = labels[static_cast<std::size_t>(i)], f = fg[static_cast<std::size_t>(i)], b = bg[static_cast<std::size_t>(i)];
      got_fg += l == losses::foreground;
      got_bg += l == losses::background;
      if (l == losses::foreground) REQUIRE((f && !b));
      if (l == losses::background) REQUIRE((b && !f));
      unlabelled_candidates += l == losses::unlabelled && (f != b);
    }
    std::int64_t both = 0;
    for (std::int64_t i = 0; i < n; ++i) both += fg[static_cast<std::size_t>(i)] && bg[static_cast<std::size_t>(i)];
    CHECK(got_fg == fg_count - both);
    CHECK(got_bg == bg_count - both);
    CHECK(unlabelled_candidates == 0);

    // The authors' setting: one pixel each, 3×3 dilation; the labelled squares sit on candidates.
    losses::SamplingOptions one;
    for (std::uint64_t seed : {3u, 4u, 5u}) {
      Rng a(seed), b(seed);
      labels = losses::sample_regions(values_of(cam), h, w, one, a);
      CHECK(labels == losses::sample_regions(values_of(cam), h, w, one, b));  // deterministic for a seed
      for (const auto& [label, candidates] : {std::pair{losses::foreground, &fg}, std::pair{losses::background, &bg}}) {
        std::int64_t y0 = h, y1 = -1, x0 = w, x1 = -1, count = 0;
        for (std::int64_t i = 0; i < n; ++i)
          if (labels[static_cast<std::size_t>(i)] == label) {
            y0 = std::min(y0, i / w), y1 = std::max(y1, i / w), x0 = std::min(x0, i % w), x1 = std::max(x1, i % w), ++count;
          }
        REQUIRE(count > 0);
        // A 3×3 square clipped by the image (and possibly cut by conflicts, not in these cases).
        CHECK(y1 - y0 <= 2);
        CHECK(x1 - x0 <= 2);
        CHECK(count == (y1 - y0 + 1) * (x1 - x0 + 1));
        bool centre_on_candidate = false;  // the seed is one of the square's pixels on a candidate
        for (std::int64_t y = y0; y <= y1; ++y)
          for (std::int64_t x = x0; x <= x1; ++x) centre_on_candidate |= (*candidates)[static_cast<std::size_t>(y * w + x)] != 0;
        CHECK(centre_on_candidate);
      }
    }
  }
  // A constant map yields no labels at all.
  const Tensor<float> flat = Tensor<float>::full({10, 10}, 0.5f);
  Rng rng(1);
  const auto none = losses::sample_regions(values_of(flat), 10, 10, losses::SamplingOptions{}, rng);
  CHECK(std::all_of(none.begin(), none.end(), [](std::uint8_t l) { return l == losses::unlabelled; }));
}

TEST_CASE("sampling draws uniformly without replacement", "[losses][sampling]") {
  // 1-pixel samples from a 2-pixel foreground: each pixel is drawn about half the time.
  Tensor<float> cam({8, 8});
  cam.data()[9] = 1.0f;
  cam.data()[50] = 1.0f;
  losses::SamplingOptions o;
  o.erosion = 1;
  o.dilation = 1;
  o.n_background = 0;
  Rng rng(7);
  int first = 0;
  for (int k = 0; k < 2000; ++k) first += losses::sample_regions(values_of(cam), 8, 8, o, rng)[9] == losses::foreground;
  CHECK(first > 900);
  CHECK(first < 1100);
  o.n_foreground = 2;  // both, never the same twice
  const auto labels = losses::sample_regions(values_of(cam), 8, 8, o, rng);
  CHECK(labels[9] == losses::foreground);
  CHECK(labels[50] == losses::foreground);
}

TEST_CASE("sample_regions_of_batch: image by image's labels and draws, on any thread count", "[losses][sampling]") {
  // Four 56x56 maps: two random, one constant (no draws), one with a small bright square; several
  // pixels each, so that the draws of one image shift those of the next.
  const std::int64_t h = 56, w = 56, plane = h * w;
  Tensor<float> cams({4, h, w});
  Rng fill(3);
  fill_uniform(cams, 0.0, 1.0, fill);
  std::fill(cams.data() + 2 * plane, cams.data() + 3 * plane, 0.25f);
  std::fill(cams.data() + 3 * plane, cams.data() + 4 * plane, 0.1f);
  for (std::int64_t y = 20; y < 30; ++y)
    for (std::int64_t x = 30; x < 40; ++x) cams.data()[3 * plane + y * w + x] = 0.9f;
  losses::SamplingOptions o;
  o.n_foreground = 4;
  o.n_background = 3;
  const int threads = num_threads();
  for (const int t : {1, 2, 3}) {
    INFO(t << " threads");
    set_num_threads(t);
    Rng one_by_one(21), batched(21);
    std::vector<std::uint8_t> expected;
    for (std::int64_t b = 0; b < 4; ++b) {
      const auto labels = losses::sample_regions(values_of(cams).subspan(static_cast<std::size_t>(b * plane),
                                                                         static_cast<std::size_t>(plane)),
                                                 h, w, o, one_by_one);
      expected.insert(expected.end(), labels.begin(), labels.end());
    }
    const auto got = losses::sample_regions_of_batch(values_of(cams), 4, h, w, o, batched);
    CHECK(got == expected);
    CHECK(batched.next_u64() == one_by_one.next_u64());  // the same number of draws
    CHECK(std::count(got.begin(), got.end(), losses::foreground) > 0);  // not vacuous
  }
  set_num_threads(threads);
  Rng rng(1);
  CHECK_THROWS_WITH(losses::sample_regions_of_batch(values_of(cams), 3, h, w, o, rng),
                    Catch::Contains("sample_regions_of_batch: 12544 values for 3 CAMs of 56x56"));
}

TEST_CASE("partial cross-entropy and its gradient equal torch's", "[losses]") {
  const Tensor<double> logits = reference_tensor("pce.logits"), labels_t = reference_tensor("pce.labels"), want = reference_tensor("pce.grad");
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(labels_t.numel()));
  for (std::int64_t i = 0; i < labels_t.numel(); ++i) labels[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(labels_t.data()[i]);
  Tensor<double> grad;
  const double loss = losses::partial_cross_entropy(logits, labels, std::stod(reference().metadata.at("pce.alpha")), &grad);
  CHECK(loss == Approx(std::stod(reference().metadata.at("pce.value"))).epsilon(1e-12));
  for (std::int64_t i = 0; i < want.numel(); ++i) CHECK(grad.data()[i] == Approx(want.data()[i]).margin(1e-12));
  std::vector<std::uint8_t> none(labels.size(), losses::unlabelled);
  CHECK(losses::partial_cross_entropy(logits, none, 1.0, &grad) == 0.0);
  labels[0] = 7;
  CHECK_THROWS_WITH(losses::partial_cross_entropy(logits, labels, 1.0), Catch::Contains("label 7"));
}

TEST_CASE("size loss (extended log-barrier) and its gradient equal a torch implementation", "[losses]") {
  const Tensor<double> probs = reference_tensor("size.probs");
  for (int k = 0; k < 4; ++k) {
    const std::string key = "size" + std::to_string(k);
    const double t = std::stod(reference().metadata.at(key + ".t"));
    INFO("t = " << t);
    Tensor<double> grad;
    const double loss = losses::size_loss(probs, t, 0.1, &grad);
    CHECK(loss == Approx(std::stod(reference().metadata.at(key + ".value"))).epsilon(1e-12));
    const Tensor<double> want = reference_tensor(key + ".grad");
    for (std::int64_t i = 0; i < want.numel(); ++i) CHECK(grad.data()[i] == Approx(want.data()[i]).margin(1e-12));
  }
  CHECK(losses::log_barrier_t(0) == 1.0);
  CHECK(losses::log_barrier_t(37) == Approx(std::pow(1.01, 37)));
  CHECK(losses::log_barrier_t(1000) == 10.0);
}

TEST_CASE("SGD (Nesterov, weight decay, parameter groups) follows torch.optim.SGD", "[optim]") {
  nn::Parameter<double> a, b;
  a.reset(reference_tensor("sgd.a0"));
  b.reset(reference_tensor("sgd.b0"));
  optim::SgdOptions options;
  options.lr = 0.05;
  options.weight_decay = 1e-2;
  optim::Sgd<double> sgd({{{{"a", &a}}, 1.0}, {{{"b", &b}}, 10.0}}, options);
  for (int k = 0; k < 5; ++k) {
    INFO("step " << k);
    if (k == 3) sgd.set_lr(sgd.lr() * 0.1);
    a.grad.copy_from(reference_tensor("sgd.ga" + std::to_string(k)));
    b.grad.copy_from(reference_tensor("sgd.gb" + std::to_string(k)));
    const std::uint64_t version = a.version;
    sgd.step();
    CHECK(a.version > version);
    const Tensor<double> want_a = reference_tensor("sgd.a" + std::to_string(k + 1)), want_b = reference_tensor("sgd.b" + std::to_string(k + 1));
    for (std::int64_t i = 0; i < want_a.numel(); ++i) CHECK(a.value.data()[i] == Approx(want_a.data()[i]).margin(1e-13));
    for (std::int64_t i = 0; i < want_b.numel(); ++i) CHECK(b.value.data()[i] == Approx(want_b.data()[i]).margin(1e-13));
  }
  CHECK(sgd.momentum_buffers().size() == 2);
  sgd.zero_grad();
  CHECK(a.grad.data()[0] == 0.0);
  // The step schedule with its floor.
  CHECK(optim::step_lr(0.0017, 14, 15, 0.1) == Approx(0.0017));
  CHECK(optim::step_lr(0.0017, 15, 15, 0.1) == Approx(0.00017));
  CHECK(optim::step_lr(0.0017, 100, 15, 0.1) == 1e-7);
  CHECK(optim::step_lr(0.01, 49, 0, 0.1) == 0.01);
}

// The CRF loss's lattice filter against the F-CAM authors' filter on real images
// (../shared/data/crf-reference: W·S for three (σ_rgb, σ_xy) settings on a 64×64 and a 224×224
// CUB image, and Σ S·WS). fcam must reproduce the reference's values, scale included, since
// λ = 2e-9 was tuned on them: median relative error of W·S ≤ 2 %, Σ S·WS within 1 %. Exits with
// 77 (ctest: skipped, never passed) when the data folder is absent.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcam/fcam.hpp>
#include <fcam/losses/crf_loss.hpp>

using namespace fcam;

namespace {
std::filesystem::path crf_dir() { return std::filesystem::path(std::getenv("FCAM_DATA_DIR")) / "crf-reference"; }
}  // namespace

TEST_CASE("CRF lattice filter reproduces the reference filter's W·S", "[crf][data]") {
  std::ifstream summary_file(crf_dir() / "summary.json");
  std::stringstream text;
  text << summary_file.rdbuf();
  const json::Value summary = json::parse(text.str());
  for (const std::string image : {"bobolink64", "albatross224"})
    for (const auto& [sigma_rgb, sigma_xy] : {std::pair<int, int>{15, 100}, {15, 5}, {30, 10}}) {
      const std::string name = image + "_srgb" + std::to_string(sigma_rgb) + "_sxy" + std::to_string(sigma_xy);
      INFO(name);
      const Tensor<float> rgb = io::read_npy<float>(crf_dir() / (image + "_image.npy"));
      const Tensor<float> s = io::read_npy<float>(crf_dir() / (image + "_S.npy"));
      const Tensor<float> want = io::read_npy<float>(crf_dir() / (name + "_WS.npy"));
      losses::CrfLossOptions o;
      o.sigma_rgb = sigma_rgb;
      o.sigma_xy = sigma_xy;
      const std::vector<float> got = host_values(losses::crf_filter(rgb.reshape({1, 3, s.size(1), s.size(2)}),
                                                                    s.reshape({1, 2, s.size(1), s.size(2)}), o));
      REQUIRE(static_cast<std::int64_t>(got.size()) == want.numel());
      std::vector<double> rel(got.size());
      double sum = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        rel[i] = std::abs(got[i] - want.data()[i]) / std::max(1e-6, std::abs(double(want.data()[i])));
        sum += double(s.data()[i]) * got[i];
      }
      std::nth_element(rel.begin(), rel.begin() + rel.size() / 2, rel.end());
      const double median = rel[rel.size() / 2];
      const json::Object& entry = summary.as<json::Object>("summary").at(name).as<json::Object>(name);
      const double want_sum = entry.at("sum_S_WS").as<double>("sum_S_WS");
      INFO("median relative error " << median << ", sum " << sum << " vs " << want_sum);
      std::printf("%s: W.S median relative error %.2e, sum S.WS %.1f vs reference %.1f\n", name.c_str(), median, sum,
                  want_sum);
      CHECK(median <= 0.02);
      CHECK(std::abs(sum - want_sum) <= 0.01 * want_sum);
      // The loss for λ = 2e-9 and a batch of one, through the batch API.
      Tensor<float> probs = s.reshape({1, 2, s.size(1), s.size(2)}), images = rgb.reshape({1, 3, s.size(1), s.size(2)});
      o.weight = 2e-9;
      const double loss = losses::crf_loss(probs, images, o);
      const double want_loss = entry.at("crf_loss_with_lambda_2e-9_batch_of_1").as<double>("loss");
      CHECK(std::abs(loss - want_loss) <= 0.01 * std::abs(want_loss));
    }
}

int main(int argc, char** argv) {
  const char* dir = std::getenv("FCAM_DATA_DIR");
  if (!dir || !std::filesystem::is_directory(std::filesystem::path(dir) / "crf-reference")) {
    std::printf("SKIPPED: the shared data folder (FCAM_DATA_DIR=%s) has no crf-reference\n", dir ? dir : "(unset)");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}

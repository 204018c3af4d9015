// MobileNetV2 with the real pretrained weights of ../shared/data/weights (ImageNet, 1001 classes;
// iNaturalist birds, 965 classes) against a PyTorch network written from each file's arch.json
// (tests/mobilenet_v2_reference.py, a ctest fixture; FCAM_MOBILENET_REFERENCE is its folder):
// the five encoder stages and the logits of two real photos at 224x224 and of a random
// 197x163 input (odd sizes pad symmetrically), within 1e-4 of the largest reference magnitude,
// in inference (fused convolutions) and with gradients on (plain convolutions). Exits with 77
// (skipped, never passed) without the shared data folder.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <fcam/fcam.hpp>

#include "relative_error.hpp"

using namespace fcam;
using fcam::test::relative_error;

namespace {

std::filesystem::path weights_dir() { return std::filesystem::path(std::getenv("FCAM_DATA_DIR")) / "weights"; }

std::filesystem::path reference(const std::string& name) {
  const char* dir = std::getenv("FCAM_MOBILENET_REFERENCE");
  if (!dir) FAIL("FCAM_MOBILENET_REFERENCE is not set: run this test through ctest");
  return std::filesystem::path(dir) / name;
}

}  // namespace

TEST_CASE("MobileNetV2 with the real pretrained weights equals the arch.json network", "[models][parity][data]") {
  for (const auto& [model_name, classes] :
       {std::pair<std::string, std::int64_t>{"mobilenet_v2_imagenet", 1001}, {"mobilenet_v2_inat_bird", 965}}) {
    INFO(model_name);
    models::FcamModel<float> model(models::Arch::mobilenet_v2, classes);
    models::load_torchvision_classifier(model, weights_dir() / (model_name + ".safetensors"));
    model.eval();
    const io::SafetensorsFile io = io::read_safetensors(reference(model_name + "_io.safetensors"));
    auto ref = [&](const std::string& name) { return io.tensors.at(name).to_tensor<float>(); };
    for (const std::string input : {"photos", "odd"}) {
      for (const bool inference : {true, false}) {
        INFO(input << (inference ? ", inference" : ", gradients on"));
        std::optional<NoGradGuard> no_grad;
        if (inference) no_grad.emplace();
        const models::ClassifierOutput<float> out = model.classify(ref(input));
        REQUIRE(out.stages.size() == 6);
        for (std::size_t s = 1; s < out.stages.size(); ++s) {
          INFO("stage " << s);
          CHECK(relative_error(out.stages[s], ref(input + "_stage" + std::to_string(s))) <= 1e-4);
        }
        CHECK(relative_error(out.logits, ref(input + "_logits")) <= 1e-4);
      }
    }
  }
}

TEST_CASE("The float16 weights shipped in data/weights classify real photos as the float32 originals",
          "[models][data]") {
  const char* shipped = std::getenv("FCAM_SHIPPED_WEIGHTS");
  REQUIRE(shipped != nullptr);
  for (const auto& [model_name, classes] :
       {std::pair<std::string, std::int64_t>{"mobilenet_v2_imagenet", 1001}, {"mobilenet_v2_inat_bird", 965}}) {
    INFO(model_name);
    models::FcamModel<float> model(models::Arch::mobilenet_v2, classes);
    models::load_torchvision_classifier(model, std::filesystem::path(shipped) / (model_name + ".f16.safetensors"));
    model.eval();
    NoGradGuard no_grad;
    const io::SafetensorsFile io = io::read_safetensors(reference(model_name + "_io.safetensors"));
    const Tensor<float> logits = model.classify(io.tensors.at("photos").to_tensor<float>()).logits;
    const Tensor<float> want = io.tensors.at("photos_logits").to_tensor<float>();
    // Weights rounded by at most 2^-11 relative: the logits move by well under 1 % of their range.
    const double error = relative_error(logits, want);
    INFO("relative logit error " << error);
    CHECK(error <= 1e-2);
    CHECK(top_k(logits, 1).indices == top_k(want, 1).indices);  // both photos
  }
}

TEST_CASE("MobileNetV2 weights load into the encoder alone and refuse a wrong head", "[models][data]") {
  // The encoder alone (what `fcam-train classifier --pretrained` does): the classifier is dropped.
  models::FcamModel<float> model(models::Arch::mobilenet_v2, 3);
  models::load_torchvision_encoder(model.encoder(), weights_dir() / "mobilenet_v2_imagenet.safetensors");
  CHECK(models::parameter_count(model, "encoder.") == 2206816);  // the file's 106 tensors less the classifier
  // A 3-class head cannot take the 1001-class classifier: the error names the tensor.
  try {
    models::load_torchvision_classifier(model, weights_dir() / "mobilenet_v2_imagenet.safetensors");
    FAIL("a 1001-class classifier loaded into a 3-class head");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("classification_head.fc.") && Catch::Contains("[1001]"));
  }
}

TEST_CASE("load_any_checkpoint reads a torchvision classifier with its classes and normalisation", "[models][data]") {
  const auto path = weights_dir() / "mobilenet_v2_inat_bird.safetensors";
  const models::LoadedCheckpoint<float> loaded = models::load_any_checkpoint<float>(path, {.arch = models::Arch::mobilenet_v2});
  CHECK(loaded.kind == models::CheckpointKind::torchvision);
  CHECK(loaded.config.num_classes == 965);
  // (pixel/255 − 128/255) / (128/255) = (pixel − 128) / 128, the weights' input rule.
  CHECK(loaded.config.normalization.mean[1] == 128.0f / 255.0f);
  CHECK(loaded.config.normalization.std[2] == 128.0f / 255.0f);
  CHECK_THROWS_WITH((models::load_any_checkpoint<float>(path, {.arch = models::Arch::mobilenet_v2, .num_classes = 200})),
                    Catch::Contains("200 classes were asked for, but its classifier 'classifier.1' has 965"));
}

int main(int argc, char** argv) {
  const char* dir = std::getenv("FCAM_DATA_DIR");
  if (!dir || !std::filesystem::is_regular_file(std::filesystem::path(dir) / "weights" / "mobilenet_v2_imagenet.safetensors")) {
    std::printf("SKIPPED: the shared data folder (FCAM_DATA_DIR=%s) has no MobileNetV2 weights\n", dir ? dir : "(unset)");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}

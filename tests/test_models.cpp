// ResNet-WSOL F-CAM models: docs/method.md §2.6's parameter counts, and parity with the same models built
// in PyTorch (tests/models_reference.py, run by ctest as a fixture; FCAM_MODELS_REFERENCE is
// its folder): every encoder stage, the logits and the F-CAM logits, random weights and
// BatchNorm statistics, eval mode, within 1e-4 of the largest reference magnitude.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <tuple>

#include <fcam/fcam.hpp>

#include "relative_error.hpp"

using namespace fcam;
using fcam::test::relative_error;

namespace {
std::filesystem::path reference(const std::string& name) {
  const char* dir = std::getenv("FCAM_MODELS_REFERENCE");
  if (!dir) FAIL("FCAM_MODELS_REFERENCE is not set: run this test through ctest (it runs tests/models_reference.py)");
  return std::filesystem::path(dir) / name;
}

/// The reference file `name` with `edit` applied, written as `variant` for one check and removed
/// when this goes out of scope: a broken variant made on the spot instead of another full-size
/// file in the reference folder (VGG16's are 250 MB each).
class EditedReference {
public:
  EditedReference(const std::string& name, const std::string& variant,
                  const std::function<void(io::SafetensorsFile&)>& edit)
      : path_(reference(variant)) {
    io::SafetensorsFile file = io::read_safetensors(reference(name));
    edit(file);
    io::write_safetensors(path_, file);
  }
  EditedReference(const EditedReference&) = delete;
  EditedReference& operator=(const EditedReference&) = delete;
  ~EditedReference() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

/// Adds `delta` to element `index` of the F32 tensor `name`.
void perturb(io::SafetensorsFile& file, const std::string& name, std::size_t index, float delta) {
  std::string& bytes = file.tensors.at(name).bytes;
  float value;
  std::memcpy(&value, bytes.data() + 4 * index, 4);
  value += delta;
  std::memcpy(bytes.data() + 4 * index, &value, 4);
}
}  // namespace

TEST_CASE("FcamModel parameter counts equal docs/method.md §2.6's (every row, K = 200)", "[models]") {
  struct Row { const char* arch; std::int64_t encoder, head, decoder, segmentation_head, total; };
  for (const Row& r : {Row{"vgg16", 19'434'304, 205'000, 23'119'616, 1'154, 42'760'074},
                       Row{"resnet50", 23'508'032, 409'800, 9'012'928, 290, 32'931'050},
                       Row{"inceptionv3", 25'482'976, 205'000, 5'704'384, 290, 31'392'650}}) {
    INFO(r.arch);
    models::FcamModel<float> model(models::parse_arch(r.arch), 200);
    CHECK(models::parameter_count(model, "encoder.") == r.encoder);
    CHECK(models::parameter_count(model, "classification_head.") == r.head);
    CHECK(models::parameter_count(model, "decoder.") == r.decoder);
    CHECK(models::parameter_count(model, "segmentation_head.") == r.segmentation_head);
    CHECK(models::parameter_count(model) == r.total);
    // device() reads the first parameter, found without names (the model itself holds none).
    CHECK(model.first_parameter() == model.named_parameters().front().second);
  }
  // MobileNetV2 (docs/real-photos.md): the encoder holds the 2,206,816 values of the real weight
  // files less their classifier; its base width scales the decoder only.
  for (const auto& [width, decoder, segmentation_head] :
       {std::tuple<std::int64_t, std::int64_t, std::int64_t>{64, 4'404'928, 290}, {16, 880'480, 74}}) {
    INFO("mobilenet_v2, base width " << width);
    models::FcamModel<float> mobilenet(models::Arch::mobilenet_v2, 200, width);
    CHECK(models::parameter_count(mobilenet, "encoder.") == 2'206'816);
    CHECK(models::parameter_count(mobilenet, "classification_head.") == 1280 * 200 + 200);
    CHECK(models::parameter_count(mobilenet, "decoder.") == decoder);
    CHECK(models::parameter_count(mobilenet, "segmentation_head.") == segmentation_head);
    CHECK(mobilenet.encoder().stage_channels() == std::vector<std::int64_t>{3, 16, 24, 32, 96, 1280});
  }
  // A narrower model for CPU training: every width scales with the base width.
  models::FcamModel<float> small(models::Arch::resnet18, 10, 16);
  CHECK(small.encoder().stage_channels() == std::vector<std::int64_t>{3, 16, 16, 32, 64, 128});
  CHECK_THROWS_WITH(models::parse_arch("resnet101"),
                    Catch::Contains("unknown architecture 'resnet101' (resnet18, resnet34, resnet50, vgg16, inceptionv3 or mobilenet_v2)"));
  for (const auto& [arch, name, label] : models::arch_table) {
    CHECK(models::parse_arch(name) == arch);
    CHECK(models::arch_name(arch) == name);
    CHECK(models::arch_label(arch) == label);
  }
}

TEST_CASE("ResNet-WSOL F-CAM models equal PyTorch's", "[models][parity]") {
  for (const auto& [arch, num_classes] :
       {std::pair<std::string, std::int64_t>{"resnet50", 200}, {"resnet18", 10}, {"vgg16", 20}, {"inceptionv3", 30}}) {
    INFO(arch);
    models::FcamModel<float> model(models::parse_arch(arch), num_classes);
    nn::load_safetensors(model, reference(arch + "_weights.safetensors"));  // strict: every name matches
    model.eval();
    const io::SafetensorsFile io = io::read_safetensors(reference(arch + "_io.safetensors"));
    auto ref = [&](const std::string& name) { return io.tensors.at(name).to_tensor<float>(); };
    NoGradGuard no_grad;
    const models::ClassifierOutput<float> out = model.classify(ref("input"));
    const Tensor<float>& logits = out.logits;
    const auto& stages = out.stages;
    REQUIRE(stages.size() == (arch == "vgg16" ? 4u : 6u));
    for (std::size_t s = 0; s < stages.size(); ++s) {
      INFO("stage " << s);
      CHECK(relative_error(stages[s], ref("stage" + std::to_string(s))) <= 1e-4);
    }
    CHECK(relative_error(logits, ref("logits")) <= 1e-4);
    CHECK(relative_error(model.segment(stages), ref("segmentation")) <= 1e-4);

    // CAM methods: closed-form head gradients vs autograd, normalised and upsampled.
    std::vector<int> cam_classes;
    const Tensor<float> cls = ref("cam_classes");
    for (std::int64_t b = 0; b < cls.numel(); ++b) cam_classes.push_back(static_cast<int>(cls.data()[b]));
    const Tensor<float> input = ref("input");
    for (const std::string name : {"cam", "gradcam", "gradcampp", "gradcampp_reference", "xgradcam", "layercam"}) {
      INFO("CAM method " << name);
      cam::Options options;
      options.reference_gradcampp_alpha = name == "gradcampp_reference";
      const Tensor<float> maps = cam::class_activation_maps(
          stages.back(), model.head().fc().weight().value, cam_classes,
          cam::parse_method(name == "gradcampp_reference" ? "gradcampp" : name), options);
      const Tensor<float> full = cam::full_resolution(maps, input.size(2), input.size(3));
      CHECK(relative_error(full, ref("cam_" + name)) <= 1e-4);
    }
    std::vector<Tensor<float>> noisy;
    for (int k = 0; k < 4; ++k) noisy.push_back(add(input, ref("sgcampp_noise" + std::to_string(k))));
    const Tensor<float> smooth =
        cam::full_resolution(cam::smooth_gradcampp_maps(model, noisy, cam_classes), input.size(2), input.size(3));
    CHECK(relative_error(smooth, ref("cam_sgcampp")) <= 1e-4);
  }
}

TEST_CASE("CAM method inputs are checked", "[models][cam]") {
  const Tensor<float> features({2, 4, 3, 3}), weight({5, 4});
  CHECK_THROWS_WITH(cam::class_activation_maps(features, weight, {0}, cam::Method::cam), Catch::Contains("1 classes for 2 images"));
  CHECK_THROWS_WITH(cam::class_activation_maps(features, weight, {0, 5}, cam::Method::cam), Catch::Contains("class 5 outside [0, 5)"));
  CHECK_THROWS_WITH(cam::class_activation_maps(features, Tensor<float>({5, 3}), {0, 1}, cam::Method::cam),
                    Catch::Contains("features have 4 channels"));
  CHECK_THROWS_WITH(cam::parse_method("scorecam"),
                    Catch::Contains("unknown CAM method 'scorecam' (cam, gradcam, gradcampp, sgcampp, xgradcam or layercam)"));
  CHECK_THROWS_WITH(cam::class_activation_maps(features, weight, {0, 1}, cam::Method::sgcampp),
                    Catch::Contains("sgcampp needs the input image"));
  for (const auto& [method, name, label] : cam::method_table) {
    CHECK(cam::parse_method(name) == method);
    CHECK(cam::method_label(method) == label);
  }
  // A constant map normalises to zeros, not NaN.
  const Tensor<float> constant = cam::normalize_maps(Tensor<float>::full({1, 2, 2}, 3.0f));
  for (std::int64_t i = 0; i < constant.numel(); ++i) CHECK(constant.data()[i] == 0.0f);
}

TEST_CASE("baseline_maps: the six methods by name, from the classifier output given", "[models][cam]") {
  models::FcamModel<float> model(models::Arch::resnet18, 5, 8);
  model.eval();
  NoGradGuard no_grad;
  Tensor<float> x({2, 3, 64, 64});
  Rng rng(3);
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>(rng.normal());
  const models::ClassifierOutput<float> out = model.classify(x);
  const Tensor<float> clean = out.stages.back().clone();
  const Tensor<float>& fc = model.head().fc().weight().value;
  const std::vector<int> classes{1, 3};
  for (cam::Method m : {cam::Method::cam, cam::Method::gradcam, cam::Method::gradcampp, cam::Method::xgradcam,
                        cam::Method::layercam}) {
    const Tensor<float> got = cam::baseline_maps(model, out, x, classes, m, rng);
    const Tensor<float> want = cam::class_activation_maps(clean, fc, classes, m);
    REQUIRE(got.shape() == want.shape());
    for (std::int64_t i = 0; i < got.numel(); ++i) CHECK(got.data()[i] == want.data()[i]);
  }
  Rng a(7), b(7);
  const Tensor<float> smooth = cam::baseline_maps(model, out, x, classes, cam::Method::sgcampp, a, {3, 0.2});
  // The noisy passes leave the classifier output the caller holds untouched.
  for (std::int64_t i = 0; i < clean.numel(); ++i) REQUIRE(out.stages.back().data()[i] == clean.data()[i]);
  const Tensor<float> want = cam::smooth_gradcampp(model, x, classes, 3, 0.2, b);
  REQUIRE(smooth.shape() == want.shape());
  for (std::int64_t i = 0; i < want.numel(); ++i) CHECK(smooth.data()[i] == want.data()[i]);
  // A refused call draws nothing from the generator.
  Rng refused(11), untouched(11);
  CHECK_THROWS_WITH(cam::smooth_gradcampp(model, x, classes, 0, 0.2, refused), Catch::Contains("passes must be >= 1"));
  CHECK(refused.next_u64() == untouched.next_u64());

}

TEST_CASE("torchvision checkpoints load into a WSOL encoder", "[models][checkpoints]") {
  // tests/models_reference.py saved the ResNet18 case's encoder as a torchvision checkpoint
  // (checkpoint dict, "module." names, a 1000-class fc) and converted it with
  // tools/pt2safetensors.py: the encoder must reproduce that case's stages.
  models::ResNetWsol<float> encoder(models::ResNetSpec::of(models::Arch::resnet18));
  models::load_torchvision_encoder(encoder, reference("resnet18_torchvision.safetensors"));
  encoder.eval();
  const io::SafetensorsFile io = io::read_safetensors(reference("resnet18_io.safetensors"));
  NoGradGuard no_grad;
  const auto stages = encoder.forward_stages(io.tensors.at("input").to_tensor<float>());
  for (std::size_t s = 0; s < stages.size(); ++s)
    CHECK(relative_error(stages[s], io.tensors.at("stage" + std::to_string(s)).to_tensor<float>()) <= 1e-4);
  CHECK_THROWS_WITH(models::load_torchvision_encoder(encoder, reference("resnet18_torchvision_missing.safetensors")),
                    Catch::Contains("missing 'layer1.0.conv1.weight'"));
  CHECK_THROWS_WITH(models::load_torchvision_encoder(encoder, reference("resnet18_torchvision_extra.safetensors")),
                    Catch::Contains("unexpected 'layer5.0.conv1.weight'"));
  // VGG16: torchvision has no conv6 (it keeps its fresh initialisation); the pooled stages match.
  models::Vgg16Wsol<float> vgg;
  models::load_torchvision_encoder(vgg, reference("vgg16_torchvision.safetensors"));
  vgg.eval();
  const io::SafetensorsFile vgg_io = io::read_safetensors(reference("vgg16_io.safetensors"));
  const auto vgg_stages = vgg.forward_stages(vgg_io.tensors.at("input").to_tensor<float>());
  for (std::size_t s = 0; s < 3; ++s)
    CHECK(relative_error(vgg_stages[s], vgg_io.tensors.at("stage" + std::to_string(s)).to_tensor<float>()) <= 1e-4);
  models::ResNetWsol<float> wider(models::ResNetSpec::of(models::Arch::resnet50));
  CHECK_THROWS_WITH(models::load_torchvision_encoder(wider, reference("resnet18_torchvision.safetensors")),
                    Catch::Contains("resnet18_torchvision.safetensors"));
}

TEST_CASE("reference F-CAM checkpoints load with their aliases resolved", "[models][checkpoints]") {
  // tests/models_reference.py saved the VGG16 and InceptionV3 cases with the reference code's
  // module layout (features / full_features / named blocks sharing modules), so every aliased
  // tensor is stored twice; loading must give exactly the weights of the plain export.
  for (const auto& [arch, num_classes] : {std::pair<std::string, std::int64_t>{"vgg16", 20}, {"inceptionv3", 30}}) {
    INFO(arch);
    const auto path = reference(arch + "_reference.safetensors");
    CHECK(models::checkpoint_num_classes(path) == num_classes);
    models::FcamModel<float> from_reference(models::parse_arch(arch), num_classes), plain(models::parse_arch(arch), num_classes);
    const nn::LoadReport report = models::load_reference_checkpoint(from_reference, path);
    CHECK(report.missing.empty());
    CHECK(report.unexpected.empty());
    nn::load_safetensors(plain, reference(arch + "_weights.safetensors"));
    auto want = nn::state_dict(plain);
    for (auto& [name, got] : nn::state_dict(from_reference)) {
      INFO(name);
      const Tensor<float>& w = want.at(name);
      REQUIRE(got.shape() == w.shape());
      CHECK(std::equal(got.data(), got.data() + got.numel(), w.data()));
    }
    from_reference.eval();
    const io::SafetensorsFile io = io::read_safetensors(reference(arch + "_io.safetensors"));
    NoGradGuard no_grad;
    const models::ClassifierOutput<float> out = from_reference.classify(io.tensors.at("input").to_tensor<float>());
    CHECK(relative_error(out.logits, io.tensors.at("logits").to_tensor<float>()) <= 1e-4);
    CHECK(relative_error(from_reference.segment(out.stages), io.tensors.at("segmentation").to_tensor<float>()) <= 1e-4);
    // One copy of an aliased tensor changed in one element.
    const std::string alias = arch == "vgg16" ? "encoder.full_features.29.weight" : "encoder.features.15.1.weight";
    const EditedReference broken(arch + "_reference.safetensors", arch + "_reference_disagree.safetensors",
                                 [&](io::SafetensorsFile& f) { perturb(f, alias, 7, 1e-3f); });
    const std::string disagree = arch == "vgg16" ? "aliases 'encoder.conv6.weight' and 'encoder.full_features.29.weight'"
                                                 : "aliases 'encoder.SPG_A3_1b.1.weight' and 'encoder.features.15.1.weight'";
    CHECK_THROWS_WITH(models::load_reference_checkpoint(from_reference, broken.path()),
                      Catch::Contains(disagree) && Catch::Contains("disagree"));
  }
  models::FcamModel<float> vgg(models::Arch::vgg16, 20);
  {
    const EditedReference missing("vgg16_reference.safetensors", "vgg16_reference_missing.safetensors",
                                  [](io::SafetensorsFile& f) { f.tensors.erase("decoder.blocks.1.conv2.1.running_var"); });
    CHECK_THROWS_WITH(models::load_reference_checkpoint(vgg, missing.path()),
                      Catch::Contains("missing 'decoder.blocks.1.conv2.1.running_var'"));
    // Not strict: the same problems come back by name and everything else is loaded.
    const nn::LoadReport lenient = models::load_reference_checkpoint(vgg, missing.path(), false);
    CHECK(lenient.missing == std::vector<std::string>{"decoder.blocks.1.conv2.1.running_var"});
    CHECK(lenient.unexpected.empty());
  }
  {
    const EditedReference extra("vgg16_reference.safetensors", "vgg16_reference_extra.safetensors",
                                [](io::SafetensorsFile& f) {
                                  f.tensors["decoder.blocks.3.conv1.0.weight"] =
                                      io::TensorRecord::from_tensor(Tensor<float>({2, 2, 3, 3}), io::DType::f32);
                                });
    CHECK_THROWS_WITH(models::load_reference_checkpoint(vgg, extra.path()),
                      Catch::Contains("unexpected 'decoder.blocks.3.conv1.0.weight'"));
  }
  // A ResNet18 checkpoint read as VGG16: the first shape that differs is named, nothing is guessed.
  CHECK_THROWS_WITH(models::load_reference_checkpoint(vgg, reference("resnet18_weights.safetensors")),
                    Catch::Contains("resnet18_weights.safetensors: tensor '") && Catch::Contains("but the model expects"));
}

TEST_CASE("fcam checkpoints rebuild the model from the file alone", "[models][checkpoints]") {
  const auto path = std::filesystem::temp_directory_path() / "fcam_test_checkpoint.safetensors";
  models::FcamModel<float> model(models::Arch::resnet18, 7, 16);
  models::ModelConfig config;
  config.arch = models::Arch::resnet18;
  config.num_classes = 7;
  config.base_width = 16;
  config.training = R"({"epochs":3})";
  models::save_fcam_checkpoint(model, config, path);
  models::ModelConfig read;
  auto loaded = models::load_fcam_checkpoint<float>(path, &read);
  CHECK(read.arch == models::Arch::resnet18);
  CHECK(read.num_classes == 7);
  CHECK(read.base_width == 16);
  CHECK(read.normalization.mean == config.normalization.mean);
  CHECK(read.training == config.training);
  model.eval();
  loaded->eval();
  Tensor<float> x({1, 3, 48, 40});
  nn::uniform_(x, -1.0, 1.0);
  NoGradGuard no_grad;
  const models::ClassifierOutput<float> a = model.classify(x), b = loaded->classify(x);
  for (std::int64_t i = 0; i < a.logits.numel(); ++i) CHECK(a.logits.data()[i] == b.logits.data()[i]);
  const Tensor<float> sa = model.segment(a.stages), sb = loaded->segment(b.stages);
  for (std::int64_t i = 0; i < sa.numel(); ++i) REQUIRE(sa.data()[i] == sb.data()[i]);
  // A plain state dict (e.g. a converted reference checkpoint) has no configuration.
  nn::save_safetensors(model, path);
  CHECK_THROWS_WITH(models::read_model_config(path), Catch::Contains("not an fcam checkpoint"));
  std::filesystem::remove(path);
}

TEST_CASE("InferencePlan on the CPU: the eager pass's logits and normalised maps, one input shape", "[models]") {
  models::FcamModel<float> model(models::Arch::resnet18, 4, 16);
  Tensor<float> x({2, 3, 64, 64});
  Rng rng(8);
  fill_uniform(x, -2.0, 2.0, rng);
  models::InferencePlan<float> plan(model, x.shape());
  CHECK_FALSE(plan.graphed());
  const models::Inference<float> got = plan.run(x);
  NoGradGuard no_grad;
  const models::ClassifierOutput<float> out = model.classify(x);
  const Tensor<float> maps = cam::normalize_maps(model.foreground(out.stages));
  REQUIRE(got.logits.shape() == out.logits.shape());
  REQUIRE(got.maps.shape() == Shape{2, 64, 64});
  for (std::int64_t i = 0; i < out.logits.numel(); ++i) CHECK(got.logits.data()[i] == out.logits.data()[i]);
  for (std::int64_t i = 0; i < maps.numel(); ++i) REQUIRE(got.maps.data()[i] == maps.data()[i]);
  CHECK(*std::max_element(maps.data(), maps.data() + maps.numel()) == 1.0f);  // normalised, not flat
  CHECK_THROWS_WITH(plan.run(Tensor<float>({1, 3, 64, 64})), Catch::Contains("make a plan for that shape"));
  CHECK_THROWS_WITH(models::InferencePlan<float>(model, Shape{3, 64, 64}), Catch::Contains("N×C×H×W"));
}

TEST_CASE("InferencePlan with cam::plan_maps: a CAM method of fixed or top classes, at full resolution",
          "[models][cam]") {
  models::FcamModel<float> model(models::Arch::resnet18, 4, 16);
  Tensor<float> x({3, 3, 64, 48});
  Rng rng(9);
  fill_uniform(x, -2.0, 2.0, rng);
  NoGradGuard no_grad;
  model.eval();
  const models::ClassifierOutput<float> out = model.classify(x);
  const Tensor<float>& fc = model.head().fc().weight().value;
  const std::vector<std::int64_t> top = top_k(out.logits, 1).indices;
  const std::vector<int> predicted(top.begin(), top.end()), fixed{3, 0, 3};
  for (const cam::Method method : {cam::Method::cam, cam::Method::gradcam, cam::Method::gradcampp,
                                   cam::Method::xgradcam, cam::Method::layercam}) {
    for (const bool choose : {true, false}) {
      INFO(cam::method_name(method) << (choose ? ", top classes" : ", fixed classes"));
      models::InferencePlan<float> plan(model, x.shape(), cam::plan_maps<float>(method, choose ? std::vector<int>{} : fixed));
      const models::Inference<float> got = plan.run(x);
      const Tensor<float> want =
          cam::full_resolution(cam::class_activation_maps(out.stages.back(), fc, choose ? predicted : fixed, method), 64, 48);
      REQUIRE(got.maps.shape() == Shape{3, 64, 48});
      for (std::int64_t i = 0; i < want.numel(); ++i) REQUIRE(got.maps.data()[i] == want.data()[i]);
      for (std::int64_t i = 0; i < out.logits.numel(); ++i) CHECK(got.logits.data()[i] == out.logits.data()[i]);
    }
  }
  // Smooth-GradCAM++: the noisy passes with the plan's fixed key, the same at every call.
  for (const bool choose : {true, false}) {
    INFO("sgcampp" << (choose ? ", top classes" : ", fixed classes"));
    models::InferencePlan<float> plan(
        model, x.shape(), cam::plan_maps<float>(cam::Method::sgcampp, choose ? std::vector<int>{} : fixed, {}, {3, 0.2}, 42));
    const Tensor<float> want = cam::full_resolution(
        cam::smooth_gradcampp_keyed(model, x, choose ? predicted : fixed, 3, 0.2, 42), 64, 48);
    for (int call = 0; call < 2; ++call) {
      const models::Inference<float> got = plan.run(x);
      REQUIRE(got.maps.shape() == want.shape());
      for (std::int64_t i = 0; i < want.numel(); ++i) REQUIRE(got.maps.data()[i] == want.data()[i]);
    }
    // Another key perturbs differently.
    const Tensor<float> other = cam::full_resolution(
        cam::smooth_gradcampp_keyed(model, x, choose ? predicted : fixed, 3, 0.2, 43), 64, 48);
    CHECK(max_abs_difference(other, want) > 0);
  }
  CHECK_THROWS_WITH(cam::plan_maps<float>(cam::Method::sgcampp, {}, {}, {0, 0.3}),
                    Catch::Contains("passes must be >= 1 and sigma >= 0, got 0 and 0.3"));
  models::InferencePlan<float> wrong(model, x.shape(), cam::plan_maps<float>(cam::Method::cam, {0, 4, 1}));
  CHECK_THROWS_WITH(wrong.run(x), Catch::Contains("class 4 outside [0, 4)"));
}

// fcam-infer: class activation maps and F-CAM maps of images with a trained FcamModel.
//
//   fcam-infer --arch resnet50 --weights model.safetensors --num_classes 200
//              --methods cam,gradcam,fcam --out maps/ image1.jpg image2.png
//   fcam-infer ... --out maps/ batch.npy          (N×3×H×W float32, already normalised)
//
// Per input, in <out>/<name>/: logits.npy, <method>.npy (full-resolution score map in [0, 1]),
// <method>.png (heat map over the image with the box of the largest contour at --box_threshold).
// --json FILE: top-5 classes and the class used per input. --device auto|cpu|cuda: where the model
// runs (auto: CUDA when this build has it and a GPU is visible); the outputs are the same files.
//
// Score-map convention: every <method>.npy, fcam.npy included, is min–max normalised per image
// ((x − min) / (max − min), a constant map gives 0), as the reference's inference stores every
// map and as fcam-train and fcam-demo evaluate them; so fcam-eval on fcam-infer's fcam.npy maps
// of a split (--size = the evaluation size) gives the MaxBoxAcc / PxAP that fcam-train reports for
// the same stage-2 checkpoint. (For a baseline CAM, fcam-train scores the ground-truth class's
// map; fcam-infer writes the predicted class's unless --class is given.) The F-CAM foreground
// probability itself (softmax of the decoder, before normalisation) is written as
// fcam_probability.npy.
#include <algorithm>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fcam/app/device_flag.hpp>
#include <fcam/app/error_line.hpp>
#include <fcam/app/flags.hpp>
#include <fcam/app/precision_flag.hpp>
#include <fcam/cam/baselines.hpp>
#include <fcam/cam/cam_methods.hpp>
#include <fcam/plot/overlay.hpp>
#include <fcam/core/grad_mode.hpp>
#include <fcam/data/image_write.hpp>
#include <fcam/data/preprocess.hpp>
#include <fcam/data/wsol_metadata.hpp>
#include <fcam/io/json.hpp>
#include <fcam/io/npy.hpp>
#include <fcam/nn/state_dict.hpp>
#include <fcam/metrics/threshold_boxes.hpp>
#include <fcam/models/checkpoints.hpp>
#include <fcam/models/fcam_model.hpp>
#include <fcam/ops/reduce.hpp>
#include <fcam/ops/softmax.hpp>
#include <fcam/ops/top_k.hpp>

#include "image_limit_flag.hpp"

using namespace fcam;
namespace fs = std::filesystem;

namespace {

struct Input {
  std::string name;        // output folder name
  std::string source;      // the file it came from
  Tensor<float> tensor;    // 1×3×H×W, normalised
  data::Rgb8 picture;      // what the overlays are drawn on
};

std::vector<Input> load_inputs(const std::vector<std::string>& paths, int size, const data::Normalization& norm) {
  std::vector<Input> inputs;
  for (const std::string& path : paths) {
    if (fs::path(path).extension() == ".npy") {
      const Tensor<float> batch = io::read_npy<float>(path);
      FCAM_CHECK(batch.ndim() == 4 && batch.size(1) == 3, path, ": expected an N×3×H×W array, got ",
                 to_string(batch.shape()));
      const std::int64_t bad = first_non_finite(batch);
      FCAM_CHECK(bad < 0, path, ": holds a NaN or infinity (item ", bad / std::max<std::int64_t>(1, batch.numel() / batch.size(0)),
                 ", flat index ", bad, "); inputs must be finite");
      for (std::int64_t b = 0; b < batch.size(0); ++b) {
        Tensor<float> x = batch.batch(b).clone();
        inputs.push_back({fs::path(path).stem().string() + "_" + std::to_string(b), path, x, data::input_to_image(x, norm)});
      }
    } else {
      const data::Rgb8 image = data::read_rgb8(path);
      Tensor<float> x = data::image_to_input(image, size, size, norm);
      inputs.push_back({fs::path(path).stem().string(), path, x, data::input_to_image(x, norm)});
    }
  }
  // Every input writes <out>/<name>/: two inputs with one name would overwrite each other.
  std::map<std::string, std::string> first_source;
  for (const Input& input : inputs) {
    const auto [it, fresh] = first_source.emplace(input.name, input.source);
    FCAM_CHECK(fresh, "fcam-infer: inputs ", it->second, " and ", input.source, " would both write to <out>/",
               input.name, "; give the inputs distinct file names");
  }
  return inputs;
}

/// The model of --weights: an fcam checkpoint (which carries its configuration; --arch and
/// --num_classes, when given, must agree) or a reference F-CAM state dict (aliases resolved;
/// --arch needed, classes read from its head unless given).
models::LoadedCheckpoint<float> load_model(const app::Flags& flags) {
  models::CheckpointOverrides overrides;
  if (flags.given("arch")) overrides.arch = models::parse_arch(flags.text("arch"));
  if (flags.given("num_classes")) overrides.num_classes = flags.integer("num_classes");
  overrides.base_width = flags.integer("base_width");
  return models::load_any_checkpoint<float>(flags.text("weights"), overrides);
}

/// What to compute for every input: the method names (output file names) and the baseline of
/// each (nothing: F-CAM).
struct MapRequest {
  std::vector<std::string> methods;
  std::vector<std::optional<cam::Method>> baselines;
};

/// A torchvision classifier has no trained decoder: its F-CAM map would be noise. "fcam" asked for
/// explicitly is an error; from the default --methods it is dropped with a note.
void drop_fcam_without_decoder(MapRequest& request, models::CheckpointKind kind, const app::Flags& flags) {
  if (kind != models::CheckpointKind::torchvision) return;
  const auto fcam = std::find(request.methods.begin(), request.methods.end(), "fcam");
  if (fcam == request.methods.end()) return;
  FCAM_CHECK(!flags.given("methods"), "fcam-infer: ", flags.text("weights"),
             " is a torchvision classifier without an F-CAM decoder; leave 'fcam' out of --methods");
  std::cerr << "fcam-infer: note: " << flags.text("weights")
            << " is a torchvision classifier without an F-CAM decoder: no fcam maps\n";
  request.baselines.erase(request.baselines.begin() + (fcam - request.methods.begin()));
  request.methods.erase(fcam);
  FCAM_CHECK(!request.methods.empty(), "fcam-infer: no CAM method left; give --methods (e.g. cam)");
}

/// The class names of `path`, one per line (none when the path is empty); as many as the model
/// has classes, or an error naming the file and both counts.
std::vector<std::string> read_labels(const std::string& path, std::int64_t classes) {
  if (path.empty()) return {};
  const std::vector<std::string> labels = data::detail::read_lines(path);  // errors name the file and line
  FCAM_CHECK(static_cast<std::int64_t>(labels.size()) == classes, "fcam-infer: ", path, " names ", labels.size(),
             " classes, but the model has ", classes);
  return labels;
}

/// `t` must hold only finite values; otherwise an error naming `what` and `input`, before
/// anything of that input is written.
void require_finite(const Tensor<float>& t, const std::string& what, const Input& input, const std::string& cause) {
  const std::int64_t bad = first_non_finite(t);
  FCAM_CHECK(bad < 0, "fcam-infer: ", input.source, " (", input.name, "): a NaN or infinity in ", what, " (flat index ",
             bad, "); ", cause, "; nothing was written for this input");
}

/// `t` on the host: itself when it lives there already (no copy on a CPU run).
Tensor<float> on_host(const Tensor<float>& t) { return t.device() == Device::cpu ? t : t.to(Device::cpu); }

/// Logits, top-5, maps, pictures of one input into <out>/<input name>/; returns its JSON summary.
/// Everything is computed (on the model's `device`) and checked before the first file of the input
/// is written.
json::Object infer_one(models::FcamModel<float>& model, Device device, const Input& input, const app::Flags& flags,
                       const MapRequest& request, const std::vector<std::string>& labels, Rng& rng,
                       const cam::SmoothOptions& smooth) {
  const std::string weights = "the weights in " + flags.text("weights");
  const Tensor<float> x = device == Device::cpu ? input.tensor : input.tensor.to(device);
  const models::ClassifierOutput<float> out = model.classify(x);
  const Tensor<float> logits = on_host(out.logits);
  require_finite(logits, "the logits", input, "its values or " + weights + " overflow float");
  const Tensor<float> probs = softmax_channels(logits.reshape({1, logits.size(1), 1, 1}));
  const std::vector<std::int64_t> top5 = top_k(logits, std::min<std::int64_t>(5, logits.size(1))).indices;
  const int top1 = static_cast<int>(top5.front());
  const int cls = flags.integer("class") >= 0 ? flags.integer("class") : top1;
  FCAM_CHECK(cls < logits.size(1), "fcam-infer: --class ", cls, " outside [0, ", logits.size(1), ")");

  const std::int64_t h = input.tensor.size(2), w = input.tensor.size(3);
  Tensor<float> probability;          // F-CAM's foreground probability, when requested
  std::vector<Tensor<float>> maps;    // h×w per method, min–max normalised (see the convention above)
  for (std::size_t k = 0; k < request.methods.size(); ++k) {
    Tensor<float> map;
    if (!request.baselines[k]) {
      const Tensor<float> foreground = model.foreground(out.stages);
      map = cam::normalize_maps(foreground);
      probability = on_host(foreground.reshape({h, w}));
    } else {
      map = cam::full_resolution(cam::baseline_maps(model, out, x, {cls}, *request.baselines[k], rng, smooth), h, w);
    }
    maps.push_back(on_host(map.reshape({h, w})));
    require_finite(maps.back(), "the " + request.methods[k] + " map", input, "its values or " + weights + " overflow float");
  }

  const fs::path dir = fs::path(flags.text("out")) / input.name;
  fs::create_directories(dir);
  io::write_npy(dir / "logits.npy", logits);
  if (probability.defined()) io::write_npy(dir / "fcam_probability.npy", probability);
  for (std::size_t k = 0; k < request.methods.size(); ++k) {
    io::write_npy(dir / (request.methods[k] + ".npy"), maps[k]);
    data::Rgb8 picture = plot::overlay_heatmap(input.picture, maps[k]);
    const auto boxes = metrics::boxes_at_thresholds(maps[k], {flags.number("box_threshold")}, false);
    plot::draw_box(picture, boxes.front().front(), {255, 255, 255});
    data::write_png(dir / (request.methods[k] + ".png"), picture);
  }
  json::Array top5_json;
  for (const std::int64_t c : top5) {
    json::Array entry{static_cast<int>(c), static_cast<double>(probs.data()[c])};
    if (!labels.empty()) entry.push_back(labels[static_cast<std::size_t>(c)]);
    top5_json.push_back(entry);
  }
  std::cout << input.name << ": top-1 class " << top1 << " (p = " << probs.data()[top1]
            << "), maps of class " << cls << " -> " << dir.string() << "\n";
  if (!labels.empty())
    for (const std::int64_t c : top5)
      std::cout << "  " << probs.data()[c] << "  " << c << "  " << labels[static_cast<std::size_t>(c)] << "\n";
  return json::Object{{"input", input.name}, {"class", cls}, {"top5", top5_json}};
}

/// fcam-infer's options.
void define_flags(app::Flags& flags) {
  flags.add_string("arch", "resnet50", "encoder: " + names_of(models::arch_table));
  flags.add_int("base_width", 64, "encoder base width (64: torchvision's; smaller for CPU-trained models)", app::Range{1, 1024});
  flags.add_string("weights", "",
                   "FcamModel weights (safetensors). fcam checkpoints carry arch, classes, width and\n"
                   "      normalisation; a reference F-CAM state dict (converted by tools/pt2safetensors.py,\n"
                   "      aliases allowed) needs --arch; so does a pretrained torchvision classifier with a\n"
                   "      pooled linear head (e.g. the MobileNetV2 files: CAM methods only, no F-CAM)");
  flags.add_string("labels", "", "class names, one per line (e.g. the weights' .labels.txt): top-5 with names");
  flags.add_int("num_classes", 200,
                "classes of the classification head (a reference state dict: read from its head)", app::Range{1, 1000000});
  flags.add_int("class", -1, "class whose maps are computed (-1: the predicted top-1 class)", app::Range{-1, 1000000});
  flags.add_string("methods", "cam,fcam",
                   "comma list of " + names_of(cam::method_table) + " and fcam (F-CAM's foreground,\n"
                   "      normalised like the others; also fcam_probability.npy)");
  flags.add_int("sgcampp_passes", 4, "Smooth-GradCAM++: noisy passes", app::Range{1, 1000});
  flags.add_double("sgcampp_sigma", 0.3, "Smooth-GradCAM++: noise standard deviation (normalised input)", app::Range{0, 100});
  flags.add_seed("seed", 0, "seed of the Smooth-GradCAM++ noise (64-bit)");
  flags.add_int("size", 224, "images are resized to size×size", app::Range{1, 8192});
  flags.add_double("box_threshold", 0.5, "threshold of the box drawn on each overlay (largest contour)", app::Range{0, 1});
  flags.add_string("out", "fcam_maps", "output folder");
  flags.add_string("json", "", "also write a JSON summary (top-5 classes per input)");
  flags.add_string("device", "auto", app::device_flag_help());
  flags.add_string("precision", "fp32", app::precision_flag_help());
}

}  // namespace

int main(int argc, char** argv) {
  app::Flags flags("fcam-infer",
                   "CAM baselines and F-CAM maps of images (positional arguments: image files, or .npy N×3×H×W\n"
                   "float32 tensors already normalised with the ImageNet mean/std).\n"
                   "Writes <out>/<input>/logits.npy, <method>.npy and <method>.png per input. Every <method>.npy\n"
                   "(fcam.npy included) is the score map min-max normalised to [0, 1] per image, as fcam-train,\n"
                   "fcam-demo and the reference evaluate maps: fcam-eval on the fcam.npy maps of a split (--size =\n"
                   "the evaluation size) reproduces fcam-train's metrics for the same checkpoint.\n"
                   "fcam_probability.npy holds the F-CAM foreground probability before normalisation.");
  define_flags(flags);
  examples::add_image_limit_flag(flags);
  try {
    flags.allow_positional("INPUT...");
    if (!flags.parse(argc, argv)) {
      std::cout << flags.usage();
      return 0;
    }
    examples::apply_image_limit_flag(flags);
    const Device device = app::resolve_device(flags.text("device"), "fcam-infer");
    app::apply_precision(flags.text("precision"), device, "fcam-infer");
    const std::vector<std::string>& paths = flags.positional();
    FCAM_CHECK(!paths.empty(), "fcam-infer: no input (give image files or .npy tensors)");
    FCAM_CHECK(!flags.text("weights").empty(), "fcam-infer: --weights is required (an FcamModel safetensors file)");
    MapRequest request{flags.comma_list("methods"), {}};
    FCAM_CHECK(!request.methods.empty(), "fcam-infer: --methods is empty");
    for (const auto& m : request.methods)  // validates the names before any work
      request.baselines.push_back(m == "fcam" ? std::nullopt : std::optional(cam::parse_method(m)));
    Rng rng(flags.seed("seed"));
    const cam::SmoothOptions smooth{flags.integer("sgcampp_passes"), flags.number("sgcampp_sigma")};

    const models::LoadedCheckpoint<float> loaded = load_model(flags);
    models::FcamModel<float>& model = *loaded.model;
    drop_fcam_without_decoder(request, loaded.kind, flags);
    const std::vector<std::string> labels = read_labels(flags.text("labels"), loaded.config.num_classes);
    model.eval();
    if (device != Device::cpu) model.to(device);
    NoGradGuard no_grad;

    json::Array summary;
    for (const Input& input : load_inputs(paths, flags.integer("size"), loaded.config.normalization))
      summary.push_back(infer_one(model, device, input, flags, request, labels, rng, smooth));
    if (!flags.text("json").empty())
      io::write_file_atomic(flags.text("json"), json::dump(json::Value(json::Object{{"inputs", summary}})) + "\n");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << app::error_line("fcam-infer", e.what()) << "\n";
    return 1;
  }
}

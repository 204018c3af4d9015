/// \file
/// \brief Checkpoints: fcam's own (weights + the model's configuration, so a file is enough to
/// rebuild the model) and torchvision ImageNet weights for a WSOL encoder.
///
/// Convert a PyTorch `.pth` first with `tools/pt2safetensors.py` (Debian's torch). torchvision's
/// own classifier ("fc.*" for ResNets, "classifier.*" for VGG) is ignored; every other name must
/// match the encoder exactly (the WSOL changes keep torchvision's names and shapes). Layers the
/// WSOL variants add (VGG's "conv6") keep their fresh initialisation.
#pragma once

#include <array>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "fcam/data/preprocess.hpp"
#include "fcam/io/json.hpp"
#include "fcam/io/number_text.hpp"
#include "fcam/io/safetensors.hpp"
#include "fcam/nn/state_dict.hpp"
#include "fcam/models/encoder.hpp"
#include "fcam/models/fcam_model.hpp"
#include "fcam/models/reference_names.hpp"

namespace fcam::models {

/// Loads a torchvision checkpoint (safetensors, torchvision names) into `encoder`. Missing or
/// unexpected names (other than the classifier's and the added layers') and shape mismatches
/// are errors naming them.
template <Scalar T>
void load_torchvision_encoder(Encoder<T>& encoder, const std::filesystem::path& path) {
  io::SafetensorsFile file = io::read_safetensors(path);
  auto starts = [](const std::string& name, const char* prefix) { return name.rfind(prefix, 0) == 0; };
  std::erase_if(file.tensors, [&](const auto& e) { return starts(e.first, "fc.") || starts(e.first, "classifier."); });
  const nn::LoadReport report = nn::load_state_dict(encoder, file, false, path.string());
  std::string problems;
  for (const auto& name : report.missing)
    if (!starts(name, "conv6.")) problems += " missing '" + name + "'";
  for (const auto& name : report.unexpected) problems += " unexpected '" + name + "'";
  FCAM_CHECK(problems.empty(), path.string(), ": not a checkpoint of this encoder;", problems);
}

/// Loads a torchvision classifier whose head is average pooling + one linear layer (ResNets'
/// "fc.*", MobileNetV2's "classifier.1.*") whole: its features into the encoder of `model` and
/// its linear layer into the classification head, which must have as many classes (e.g. 1001
/// for the ImageNet MobileNetV2), so the model classifies as the original did and its CAMs are
/// the original's. The decoder keeps its weights. Errors name the file and each mismatch.
template <Scalar T>
void load_torchvision_classifier(FcamModel<T>& model, const std::filesystem::path& path) {
  const io::SafetensorsFile file = io::read_safetensors(path);
  io::SafetensorsFile renamed;
  auto starts = [](const std::string& name, const char* prefix) { return name.rfind(prefix, 0) == 0; };
  for (const auto& [name, record] : file.tensors) {
    std::string fcam_name = "encoder." + name;
    for (const char* head : {"fc.", "classifier.1."})
      if (starts(name, head)) fcam_name = "classification_head.fc." + name.substr(std::string(head).size());
    renamed.tensors.emplace(fcam_name, record);
  }
  const nn::LoadReport report = nn::load_state_dict(model, renamed, false, path.string());
  std::string problems;
  for (const auto& name : report.missing)
    if (!starts(name, "decoder.") && !starts(name, "segmentation_head.")) problems += " missing '" + name + "'";
  for (const auto& name : report.unexpected) problems += " unexpected '" + name + "'";
  FCAM_CHECK(problems.empty(), path.string(), ": not a classifier of this architecture with a pooled linear head;",
             problems);
}

/// The input normalisation the pretrained weights of `arch` expect: ImageNet's mean and standard
/// deviation for torchvision's, (pixel − 128) / 128 for the TensorFlow-trained MobileNetV2
/// (docs/real-photos.md).
inline data::Normalization pretrained_normalization(Arch arch) {
  if (arch != Arch::mobilenet_v2) return {};
  const float half = 128.0f / 255.0f;  // (pixel/255 − half) / half = (pixel − 128) / 128
  return {{half, half, half}, {half, half, half}};
}

/// What an fcam checkpoint records besides the weights (safetensors metadata "fcam.*").
struct ModelConfig {
  Arch arch = Arch::resnet50;         ///< encoder architecture
  std::int64_t num_classes = 200;     ///< classes of the head
  std::int64_t base_width = 64;       ///< encoder base width
  data::Normalization normalization;  ///< input normalisation the model was trained with
  std::string training = "{}";        ///< the trainer's settings, as a JSON object
};

/// Saves `model` (built from `config`) with its configuration, atomically.
template <Scalar T>
void save_fcam_checkpoint(FcamModel<T>& model, const ModelConfig& config, const std::filesystem::path& path) {
  auto triple = [](const std::array<float, 3>& v) {
    return json::dump(json::Array{static_cast<double>(v[0]), static_cast<double>(v[1]), static_cast<double>(v[2])});
  };
  nn::save_safetensors(model, path, io::DType::f32,
                       {{"fcam.arch", std::string(arch_name(config.arch))},
                        {"fcam.num_classes", std::to_string(config.num_classes)},
                        {"fcam.base_width", std::to_string(config.base_width)},
                        {"fcam.mean", triple(config.normalization.mean)},
                        {"fcam.std", triple(config.normalization.std)},
                        {"fcam.training", config.training}});
}

/// The configuration in the metadata of an fcam checkpoint; `source` names the file in errors
/// (one without it, e.g. a converted reference checkpoint, is "not an fcam checkpoint").
inline ModelConfig model_config_from_metadata(const std::map<std::string, std::string>& metadata,
                                              const std::string& source) {
  auto field = [&](const char* key) -> const std::string& {
    auto it = metadata.find(key);
    FCAM_CHECK(it != metadata.end(), source, ": not an fcam checkpoint (no '", key, "' metadata)");
    return it->second;
  };
  auto triple = [&](const char* key) {
    const json::Value v = json::parse(field(key));
    const auto& a = v.as<json::Array>(key);
    FCAM_CHECK(a.size() == 3, "'", key, "' must hold 3 numbers");
    std::array<float, 3> out{};
    for (std::size_t i = 0; i < 3; ++i) {
      // Checked before the cast: a double beyond float's range does not convert.
      const double x = a[i].as<double>(key);
      FCAM_CHECK(std::isfinite(x) && std::abs(x) <= std::numeric_limits<float>::max(), "'", key, "' holds ", x,
                 ", not a finite float");
      out[i] = static_cast<float>(x);
    }
    return out;
  };
  ModelConfig config;
  try {
    config.arch = parse_arch(field("fcam.arch"));
  } catch (const Error& e) {
    fail(source, ": ", e.what());
  }
  auto positive_integer = [&](const char* key) {
    const std::optional<std::int64_t> v = io::parse_int64(field(key));
    FCAM_CHECK(v && *v >= 1, source, ": '", key, "' must be a positive integer, got '", field(key), "'");
    return *v;
  };
  config.num_classes = positive_integer("fcam.num_classes");
  config.base_width = positive_integer("fcam.base_width");
  try {
    config.normalization = {triple("fcam.mean"), triple("fcam.std")};
  } catch (const Error& e) {
    fail(source, ": ", e.what());
  }
  for (const float s : config.normalization.std)  // inputs are divided by it
    FCAM_CHECK(s > 0, source, ": 'fcam.std' must hold positive numbers, got ", s);
  config.training = field("fcam.training");
  return config;
}

/// The configuration stored in an fcam checkpoint; an error naming the file when it has none
/// (e.g. a converted reference checkpoint: give the architecture explicitly then). Reads only
/// the file's header (io::read_safetensors_header), never the weights.
inline ModelConfig read_model_config(const std::filesystem::path& path) {
  return model_config_from_metadata(io::read_safetensors_header(path).metadata, path.string());
}

/// Loads an F-CAM state dict with the reference code's names into `model` (of its arch()): a
/// reference checkpoint converted by tools/pt2safetensors.py, or fcam's own. Aliases of one tensor
/// are resolved (and must agree, see reference_names.hpp); missing and unexpected names are
/// returned by name, and with `strict` they are an error listing them all.
template <Scalar T>
nn::LoadReport load_reference_checkpoint(FcamModel<T>& model, const std::filesystem::path& path, bool strict = true) {
  return nn::load_state_dict(model, resolve_reference_aliases(model.arch(), io::read_safetensors(path), path.string()),
                             strict, path.string());
}

/// The number of classes of an F-CAM state dict (rows of "classification_head.fc.weight"), from
/// the file's header alone.
inline std::int64_t checkpoint_num_classes(const std::filesystem::path& path) {
  const io::SafetensorsHeader header = io::read_safetensors_header(path);
  auto it = header.tensors.find("classification_head.fc.weight");
  FCAM_CHECK(it != header.tensors.end() && it->second.shape.size() == 2, path.string(),
             ": no 2-D 'classification_head.fc.weight' to take the number of classes from");
  return it->second.shape[0];
}

/// Rebuilds the model of an fcam checkpoint and loads its weights (strict); the file is read once.
template <Scalar T>
std::unique_ptr<FcamModel<T>> load_fcam_checkpoint(const std::filesystem::path& path, ModelConfig* config = nullptr) {
  const io::SafetensorsFile file = io::read_safetensors(path);
  const ModelConfig c = model_config_from_metadata(file.metadata, path.string());
  auto model = std::make_unique<FcamModel<T>>(c.arch, c.num_classes, c.base_width);
  nn::load_state_dict(*model, file, true, path.string());
  if (config) *config = c;
  return model;
}

/// The name of the linear layer of a torchvision classifier in `header` whose head is pooling +
/// one linear layer ("fc" for ResNets, "classifier.1" for MobileNetV2); empty for other files.
inline std::string torchvision_head_name(const io::SafetensorsHeader& header) {
  if (header.tensors.count("classification_head.fc.weight")) return "";
  for (const char* head : {"fc", "classifier.1"})
    if (header.tensors.count(std::string(head) + ".weight")) return head;
  return "";
}

/// What a caller states about the model of a checkpoint read by load_any_checkpoint (e.g. a
/// program's flags). Unset fields are taken from the file where it records them.
struct CheckpointOverrides {
  /// fcam checkpoint: must agree; state dict: the encoder (unset: ModelConfig's, resnet50).
  std::optional<Arch> arch = std::nullopt;
  /// fcam checkpoint: must agree; state dict: unset = the rows of its classification head.
  std::optional<std::int64_t> num_classes = std::nullopt;
  /// State dict only (an fcam checkpoint records its own).
  std::int64_t base_width = 64;
};

/// The kinds of weight files load_any_checkpoint reads.
enum class CheckpointKind {
  fcam,        ///< fcam's own checkpoint (configuration in its metadata)
  reference,   ///< an F-CAM state dict with the reference's names
  torchvision  ///< a torchvision classifier (no decoder: F-CAM maps are meaningless)
};

/// A model rebuilt from a checkpoint, with the configuration it was built from.
template <Scalar T>
struct LoadedCheckpoint {
  std::unique_ptr<FcamModel<T>> model;  ///< weights loaded, in training mode (call eval() to infer)
  ModelConfig config;                   ///< arch, classes, width, normalisation (a state dict: pretrained_normalization)
  CheckpointKind kind = CheckpointKind::fcam;  ///< what the file was
};

/// \brief Loads either kind of F-CAM checkpoint and returns the model with its configuration.
///
/// An fcam checkpoint (load_fcam_checkpoint; a stated arch or number of classes that differs from
/// the file's is an fcam::Error naming the file and both values) or, when the file has no
/// "fcam.arch" metadata, a torchvision classifier with a pooled linear head (its features and
/// classifier, load_torchvision_classifier; the classes are its rows) or an F-CAM state dict with
/// the reference's names (load_reference_checkpoint, aliases resolved, strict), built from
/// `overrides`. Only the header is read to tell them apart; the weights are read once.
template <Scalar T>
LoadedCheckpoint<T> load_any_checkpoint(const std::filesystem::path& path, const CheckpointOverrides& overrides = {}) {
  LoadedCheckpoint<T> loaded;
  const io::SafetensorsHeader header = io::read_safetensors_header(path);
  if (header.metadata.count("fcam.arch")) {
    const ModelConfig stored = model_config_from_metadata(header.metadata, path.string());
    FCAM_CHECK(!overrides.arch || *overrides.arch == stored.arch, path.string(), ": a ", arch_name(*overrides.arch),
               " was asked for, but the checkpoint is a ", arch_name(stored.arch));
    FCAM_CHECK(!overrides.num_classes || *overrides.num_classes == stored.num_classes, path.string(), ": ",
               *overrides.num_classes, " classes were asked for, but the checkpoint has ", stored.num_classes);
    loaded.model = load_fcam_checkpoint<T>(path, &loaded.config);
    return loaded;
  }
  // A state dict records no configuration: the architecture is the caller's, the classes are
  // the rows of its classification head unless stated.
  if (overrides.arch) loaded.config.arch = *overrides.arch;
  loaded.config.base_width = overrides.base_width;
  loaded.config.normalization = pretrained_normalization(loaded.config.arch);
  const std::string head = torchvision_head_name(header);
  if (!head.empty()) {
    const std::int64_t rows = header.tensors.at(head + ".weight").shape.at(0);
    FCAM_CHECK(!overrides.num_classes || *overrides.num_classes == rows, path.string(), ": ", *overrides.num_classes,
               " classes were asked for, but its classifier '", head, "' has ", rows);
    loaded.config.num_classes = rows;
    loaded.kind = CheckpointKind::torchvision;
  } else {
    loaded.config.num_classes = overrides.num_classes ? *overrides.num_classes : checkpoint_num_classes(path);
    loaded.kind = CheckpointKind::reference;
  }
  const ModelConfig& c = loaded.config;
  loaded.model = std::make_unique<FcamModel<T>>(c.arch, c.num_classes, c.base_width);
  if (loaded.kind == CheckpointKind::torchvision) load_torchvision_classifier(*loaded.model, path);
  else load_reference_checkpoint(*loaded.model, path);
  return loaded;
}

}  // namespace fcam::models

/// \file
/// \brief Loading pretrained weights: torchvision ImageNet checkpoints into a WSOL encoder.
///
/// Convert a PyTorch `.pth` first with `tools/pt2safetensors.py` (Debian's torch). torchvision's
/// own classifier ("fc.*" for ResNets, "classifier.*" for VGG) is ignored; every other name must
/// match the encoder exactly (the WSOL changes keep torchvision's names and shapes). Layers the
/// WSOL variants add (VGG's "conv6") keep their fresh initialisation.
#pragma once

#include <filesystem>

#include "fcam/io/safetensors.hpp"
#include "fcam/io/state_dict.hpp"
#include "fcam/models/encoder.hpp"

namespace fcam::models {

/// Loads a torchvision checkpoint (safetensors, torchvision names) into `encoder`. Missing or
/// unexpected names (other than the classifier's and the added layers') and shape mismatches
/// are errors naming them.
template <Scalar T>
void load_torchvision_encoder(Encoder<T>& encoder, const std::filesystem::path& path) {
  io::SafetensorsFile file = io::read_safetensors(path);
  auto starts = [](const std::string& name, const char* prefix) { return name.rfind(prefix, 0) == 0; };
  std::erase_if(file.tensors, [&](const auto& e) { return starts(e.first, "fc.") || starts(e.first, "classifier."); });
  const io::LoadReport report = io::load_state_dict(encoder, file, false, path.string());
  std::string problems;
  for (const auto& name : report.missing)
    if (!starts(name, "conv6.")) problems += " missing '" + name + "'";
  for (const auto& name : report.unexpected) problems += " unexpected '" + name + "'";
  FCAM_CHECK(problems.empty(), path.string(), ": not a checkpoint of this encoder;", problems);
}

}  // namespace fcam::models

/// \file
/// \brief Loading pretrained weights: torchvision ImageNet checkpoints into a WSOL encoder.
///
/// Convert a PyTorch `.pth` first with `tools/pt2safetensors.py` (Debian's torch). torchvision's
/// own classifier ("fc.*") is ignored; every other name must match the encoder exactly (the
/// stride changes of the WSOL variants keep torchvision's names and shapes).
#pragma once

#include <filesystem>

#include "fcam/io/safetensors.hpp"
#include "fcam/io/state_dict.hpp"
#include "fcam/models/resnet_wsol.hpp"

namespace fcam::models {

/// Loads a torchvision ResNet checkpoint (safetensors, torchvision names) into `encoder`.
/// Missing or unexpected names (other than "fc.*") and shape mismatches are errors naming them.
template <Scalar T>
void load_torchvision_encoder(ResNetWsol<T>& encoder, const std::filesystem::path& path) {
  io::SafetensorsFile file = io::read_safetensors(path);
  std::erase_if(file.tensors, [](const auto& entry) { return entry.first.rfind("fc.", 0) == 0; });
  io::load_state_dict(encoder, file, true, path.string());
}

}  // namespace fcam::models

/// \file
/// \brief The reference F-CAM checkpoints' names: the aliases under which the reference code
/// stores one tensor several times, mapped to fcam's single name, with a check that the copies
/// agree.
///
/// Facts about the reference encoders (its `dlib/encoders`), on which the mapping rests:
/// - VGG16: `features` is built from its own layer list without pool4 and pool5, so the convs of
///   block 5 sit at indices 23, 25, 27 (torchvision's, which fcam keeps: 24, 26, 28; the two index
///   sets never collide because torchvision's 23, 25, 27 hold no parameters). `full_features` is
///   a second Sequential over the same modules followed by conv6 (index 29): `full_features.N` is
///   `features.N` for N ≤ 27 and `conv6` for N = 29.
/// - InceptionV3: `features` is a Sequential over the named blocks (pools at 3 and 6):
///   `features.K.rest` is `<block K>.rest`.
/// - ResNets: torchvision's names only, no aliases.
/// PyTorch's state_dict() writes a shared module once per path, so a converted reference
/// checkpoint holds every alias; they must be bit-identical (they are one tensor in PyTorch).
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "fcam/core/error.hpp"
#include "fcam/io/safetensors.hpp"
#include "fcam/ops/reduce.hpp"

namespace fcam::models {

namespace detail {

/// Splits "prefix.N.rest" after `prefix` into N and "rest"; false when `name` has another form.
inline bool split_indexed(const std::string& name, const std::string& prefix, int& index, std::string& rest) {
  if (name.rfind(prefix, 0) != 0) return false;
  const std::size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) return false;
  const std::string digits = name.substr(prefix.size(), dot - prefix.size());
  if (digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  index = std::stoi(digits);
  rest = name.substr(dot);  // keeps the leading '.'
  return true;
}

}  // namespace detail

/// fcam's name for the tensor `name` of a reference F-CAM state dict of `arch` (names start with
/// "encoder.", "decoder.", …); names without an alias are returned unchanged.
inline std::string fcam_name_of_reference(Arch arch, const std::string& name) {
  int index = 0;
  std::string rest;
  if (arch == Arch::vgg16) {
    // Reference index → torchvision's for the three convs of block 5; others are equal.
    auto torchvision_index = [](int i) { return i == 23 || i == 25 || i == 27 ? i + 1 : i; };
    if (detail::split_indexed(name, "encoder.features.", index, rest))
      return "encoder.features." + std::to_string(torchvision_index(index)) + rest;
    if (detail::split_indexed(name, "encoder.full_features.", index, rest))
      return index == 29 ? "encoder.conv6" + rest
                         : "encoder.features." + std::to_string(torchvision_index(index)) + rest;
  } else if (arch == Arch::inceptionv3) {
    static const std::array<const char*, 17> blocks{
        "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", nullptr,    "Conv2d_3b_1x1", "Conv2d_4a_3x3",
        nullptr,         "Mixed_5b",      "Mixed_5c",      "Mixed_5d", "Mixed_6a",      "Mixed_6b",
        "Mixed_6c",      "Mixed_6d",      "Mixed_6e",      "SPG_A3_1b", "SPG_A3_2b"};
    if (detail::split_indexed(name, "encoder.features.", index, rest) && index < static_cast<int>(blocks.size()) &&
        blocks[static_cast<std::size_t>(index)] != nullptr)
      return std::string("encoder.") + blocks[static_cast<std::size_t>(index)] + rest;
  }
  return name;
}

/// `file` with fcam's names: each group of aliases becomes one tensor. Throws fcam::Error naming
/// both aliases when two copies of one tensor differ (dtype, shape or any bit).
inline io::SafetensorsFile resolve_reference_aliases(Arch arch, const io::SafetensorsFile& file,
                                                     const std::string& source) {
  io::SafetensorsFile out;
  out.metadata = file.metadata;
  std::map<std::string, std::string> first_alias;  // fcam name → the reference name it came from
  for (const auto& [name, record] : file.tensors) {
    const std::string canonical = fcam_name_of_reference(arch, name);
    auto [it, inserted] = out.tensors.emplace(canonical, record);
    if (inserted) {
      first_alias.emplace(canonical, name);
      continue;
    }
    const io::TensorRecord& kept = it->second;
    const std::string& other = first_alias.at(canonical);
    FCAM_CHECK(kept.shape == record.shape && kept.dtype == record.dtype, source, ": aliases '", other, "' and '",
               name, "' of '", canonical, "' differ in shape or dtype (", to_string(kept.shape), " ",
               io::dtype_name(kept.dtype), " vs ", to_string(record.shape), " ", io::dtype_name(record.dtype), ")");
    if (kept.bytes != record.bytes) {
      const double worst = max_abs_difference(kept.to_tensor<double>(), record.to_tensor<double>());
      fail(source + ": aliases '" + other + "' and '" + name + "' of '" + canonical +
           "' disagree (max |difference| " + std::to_string(worst) + "); the checkpoint is inconsistent");
    }
  }
  return out;
}

}  // namespace fcam::models

/// \file
/// \brief The WSOL encoder architectures of fcam, with their names and labels.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "fcam/core/names.hpp"

namespace fcam::models {

/// A WSOL encoder architecture (docs/method.md §2; MobileNetV2 for the pretrained weights of
/// docs/real-photos.md).
enum class Arch { resnet18, resnet34, resnet50, vgg16, inceptionv3, mobilenet_v2 };

/// Every architecture with its name and label, in this order.
inline constexpr std::array<NamedValue<Arch>, 6> arch_table{{
    {Arch::resnet18, "resnet18", "ResNet18"},
    {Arch::resnet34, "resnet34", "ResNet34"},
    {Arch::resnet50, "resnet50", "ResNet50"},
    {Arch::vgg16, "vgg16", "VGG16"},
    {Arch::inceptionv3, "inceptionv3", "InceptionV3"},
    {Arch::mobilenet_v2, "mobilenet_v2", "MobileNetV2"},
}};

/// "resnet50", … (flags, checkpoints).
inline std::string_view arch_name(Arch arch) { return entry_of(arch_table, arch).name; }
/// "ResNet50", … (tables).
inline std::string_view arch_label(Arch arch) { return entry_of(arch_table, arch).label; }
/// The architecture named `name`; an error listing the names otherwise.
inline Arch parse_arch(std::string_view name) { return parse_named(arch_table, name, "architecture"); }
/// True for the ResNets.
inline bool is_resnet(Arch arch) { return arch == Arch::resnet18 || arch == Arch::resnet34 || arch == Arch::resnet50; }

}  // namespace fcam::models

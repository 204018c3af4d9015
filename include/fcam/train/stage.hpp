/// \file
/// \brief The two training stages of F-CAM, with their names and labels.
#pragma once

#include <array>
#include <string_view>

#include "fcam/core/names.hpp"

namespace fcam::train {

/// A training stage (docs/method.md §6).
enum class Stage {
  classifier,  ///< stage 1: the WSOL classifier (encoder + WGAP head) from image labels
  fcam,        ///< stage 2: the decoder on the frozen classifier (pseudo-labels, CRF, size)
};

/// Both stages with their names (fcam-train's commands) and labels.
inline constexpr std::array<NamedValue<Stage>, 2> stage_table{{
    {Stage::classifier, "classifier", "stage 1 (classifier)"},
    {Stage::fcam, "fcam", "stage 2 (F-CAM decoder)"},
}};

/// "classifier" or "fcam".
inline std::string_view stage_name(Stage s) { return entry_of(stage_table, s).name; }
/// "stage 1 (classifier)" or "stage 2 (F-CAM decoder)".
inline std::string_view stage_label(Stage s) { return entry_of(stage_table, s).label; }
/// The stage named `name`; an error listing the names otherwise.
inline Stage parse_stage(std::string_view name) { return parse_named(stage_table, name, "training stage"); }

}  // namespace fcam::train

/// \file
/// \brief The programs' --device flag: auto, cpu or cuda, resolved to the device the work runs on.
#pragma once

#include <string>
#include <string_view>

#include "fcam/core/device.hpp"
#include "fcam/core/error.hpp"

namespace fcam::app {

/// The device `choice` names for `program`: "cpu"; "cuda" (an error when this build lacks CUDA or
/// no GPU is visible); "auto" (CUDA when built with it and a GPU is visible, else the CPU).
inline Device resolve_device(std::string_view choice, std::string_view program) {
  if (choice == "cpu") return Device::cpu;
  if (choice == "auto") return cuda_available() ? Device::cuda : Device::cpu;
  FCAM_CHECK(choice == "cuda", program, ": --device must be auto, cpu or cuda, got '", choice, "'");
  FCAM_CHECK(cuda_compiled(), program, ": --device cuda: this fcam was built without CUDA (configure with ",
             "-DFCAM_WITH_CUDA=ON), use --device cpu");
  FCAM_CHECK(cuda_available(), program, ": --device cuda: no CUDA device is visible (driver, CUDA_VISIBLE_DEVICES?)");
  return Device::cuda;
}

/// The help text of a --device flag.
inline std::string device_flag_help() {
  return "where the model runs: auto (CUDA when this build has it and a GPU is visible), cpu or cuda";
}

}  // namespace fcam::app

/// \file
/// \brief The interface of WSOL encoders: a module whose forward returns the last stage and keeps
/// every stage for the F-CAM decoder.
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/nn/module.hpp"

namespace fcam::models {

/// A WSOL encoder: forward(x) returns the CAM target layer (the last stage) and keeps all stages;
/// backward takes the gradient of the last stage.
template <Scalar T>
class Encoder : public nn::Module<T> {
public:
  /// The stages of the last forward, shallowest first (METHOD.md §2's stage lists).
  virtual const std::vector<Tensor<T>>& stages() const = 0;
  /// Channels of each stage, in the order of stages().
  virtual const std::vector<std::int64_t>& stage_channels() const = 0;
};

}  // namespace fcam::models

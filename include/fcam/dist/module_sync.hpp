/// \file
/// \brief Keeping a module the same on every rank: broadcast_module() copies rank 0's parameters
/// and buffers, check_same_module() verifies that every rank built the same parameter list.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fcam/dist/communicator.hpp"
#include "fcam/nn/module.hpp"

namespace fcam::dist {

/// Copies rank 0's parameters and buffers of `module` into every rank's (CPU tensors), and marks
/// the parameters changed (packed inference copies are rebuilt).
inline void broadcast_module(Communicator& world, nn::ModuleBase<float>& module) {
  if (world.size() == 1) return;
  auto send = [&](Tensor<float>& t) {
    FCAM_CHECK(t.device() == Device::cpu, "broadcast_module: tensors must be on the CPU");
    world.broadcast(std::span<float>(t.data(), static_cast<std::size_t>(t.numel())));
  };
  for (auto& [name, p] : module.named_parameters()) {
    send(p->value);
    p->mark_changed();
  }
  for (auto& [name, b] : module.named_buffers())
    if (b->defined()) send(*b);
}

/// Throws unless every rank has rank 0's list of parameter and buffer names and shapes (ranks
/// started with other flags or checkpoints), naming the ranks that differ.
inline void check_same_module(Communicator& world, nn::ModuleBase<float>& module) {
  if (world.size() == 1) return;
  std::uint64_t hash = 1469598103934665603ull;  // FNV-1a over the names and shapes
  auto mix = [&](const std::string& text) {
    for (unsigned char ch : text) hash = (hash ^ ch) * 1099511628211ull;
  };
  for (auto& [name, p] : module.named_parameters()) mix(name + to_string(p->value.shape()));
  for (auto& [name, b] : module.named_buffers()) mix(name + (b->defined() ? to_string(b->shape()) : "-"));
  std::vector<std::int64_t> root_hash{static_cast<std::int64_t>(hash)};
  world.broadcast(std::span<std::int64_t>(root_hash));
  std::vector<std::int64_t> differs(static_cast<std::size_t>(world.size()), 0);
  differs[static_cast<std::size_t>(world.rank())] = root_hash[0] != static_cast<std::int64_t>(hash);
  world.all_reduce_sum(std::span<std::int64_t>(differs));
  std::string ranks;
  for (int r = 0; r < world.size(); ++r)
    if (differs[static_cast<std::size_t>(r)]) ranks += (ranks.empty() ? "" : ", ") + world.describe(r);
  FCAM_CHECK(ranks.empty(), "data-parallel training: ", ranks,
             " built another model than rank 0 (every rank needs the same flags and checkpoints)");
}

}  // namespace fcam::dist

/// \file
/// \brief State dicts: a module's named parameters and buffers, saved to and loaded from safetensors.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fcam/io/safetensors.hpp"
#include "fcam/ops/reduce.hpp"
#include "fcam/nn/module.hpp"

namespace fcam::nn {

/// Every parameter and buffer of `module` by dotted name (tensors share storage with the module).
template <Scalar T>
std::map<std::string, Tensor<T>> state_dict(ModuleBase<T>& module) {
  std::map<std::string, Tensor<T>> out;
  for (auto& [name, p] : module.named_parameters()) out.emplace(name, p->value);
  for (auto& [name, b] : module.named_buffers()) out.emplace(name, *b);
  return out;
}

/// What load_state_dict matched: names the module has but the file lacks, and the reverse.
struct LoadReport {
  std::vector<std::string> missing;     ///< in the module, not in the file
  std::vector<std::string> unexpected;  ///< in the file, not in the module
};

/// Copies the tensors of `file` into the module's parameters and buffers of the same name
/// (converting the dtype). A shape mismatch always throws, naming the tensor and both shapes;
/// with `strict`, missing or unexpected names throw too, listing them all.
template <Scalar T>
LoadReport load_state_dict(ModuleBase<T>& module, const io::SafetensorsFile& file, bool strict = true,
                           const std::string& source = "state dict") {
  LoadReport report;
  std::set<std::string> used;
  for (auto& [name, target] : state_dict(module)) {
    auto it = file.tensors.find(name);
    if (it == file.tensors.end()) {
      report.missing.push_back(name);
      continue;
    }
    const io::TensorRecord& rec = it->second;
    FCAM_CHECK(numel_of(rec.shape) == target.numel() && (rec.shape == target.shape() || target.ndim() == 0),
               source, ": tensor '", name, "' has shape ", to_string(rec.shape), " but the model expects ",
               to_string(target.shape()));
    Tensor<T> dst = target;  // shares storage with the module
    dst.copy_from(rec.to_tensor<T>());
    // A NaN weight makes every output NaN, which used to surface far away (a NaN map in the box
    // search, or exit 0 with p = nan); say which file and tensor instead.
    const std::int64_t bad = first_non_finite(dst);
    FCAM_CHECK(bad < 0, source, ": tensor '", name, "' holds a NaN or infinity (flat index ", bad,
               "); the file is damaged or the run that wrote it diverged");
    used.insert(name);
  }
  for (auto& [name, p] : module.named_parameters())
    if (used.count(name)) p->mark_changed();
  module.drop_caches_everywhere();  // buffers (running statistics) have no version to compare
  for (const auto& [name, rec] : file.tensors)
    if (!used.count(name)) report.unexpected.push_back(name);
  if (strict && (!report.missing.empty() || !report.unexpected.empty())) {
    std::string message = source + ": state dict does not match the model;";
    for (const auto& n : report.missing) message += " missing '" + n + "'";
    for (const auto& n : report.unexpected) message += " unexpected '" + n + "'";
    fail(message);
  }
  return report;
}

/// Saves every parameter and buffer of `module` to a safetensors file (atomically) as `dtype`.
template <Scalar T>
void save_safetensors(ModuleBase<T>& module, const std::filesystem::path& path, io::DType dtype = io::DType::f32,
                      const std::map<std::string, std::string>& metadata = {}) {
  io::SafetensorsFile file;
  file.metadata = metadata;
  for (const auto& [name, t] : state_dict(module)) file.tensors.emplace(name, io::TensorRecord::from_tensor(t, dtype));
  io::write_safetensors(path, file);
}

/// Loads a safetensors file into `module` (see load_state_dict); errors name the file.
template <Scalar T>
LoadReport load_safetensors(ModuleBase<T>& module, const std::filesystem::path& path, bool strict = true) {
  return load_state_dict(module, io::read_safetensors(path), strict, path.string());
}

}  // namespace fcam::nn

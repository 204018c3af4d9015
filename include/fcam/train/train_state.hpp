/// \file
/// \brief The resumable state of a training run: weights, SGD momentum and the run's counters in
/// one atomically written safetensors file, saved after every finished epoch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fcam/io/json.hpp"
#include "fcam/io/safetensors.hpp"
#include "fcam/nn/state_dict.hpp"
#include "fcam/optim/sgd.hpp"

namespace fcam::train {

/// The counters of a run after its last finished epoch.
struct RunCounters {
  std::int64_t epoch = 0;            ///< last finished epoch (0: none)
  std::int64_t best_epoch = 0;       ///< epoch of the best validation score
  double best_val = 0;               ///< that score
  std::uint64_t seed = 0;            ///< the run's seed (initial weights, order, crops, flips, pseudo-labels)
  std::vector<double> val_history;   ///< validation score after epoch 0, 1, …
  std::vector<double> loss_history;  ///< mean training loss of epoch 1, 2, …
  /// log.csv's rows of epoch 0, 1, … (without the header), so that a resumed run rewrites its log
  /// from the state instead of appending to whatever an interrupted run left.
  std::vector<std::string> log_rows;
  bool has_log_rows = true;  ///< false for states written before the rows were kept
};

/// Writes `model`'s parameters and buffers ("model.<name>"), `sgd`'s momentum buffers
/// ("momentum.<name>") and `counters` (metadata "fcam.train_state") to `path`, atomically.
template <Scalar T>
void save_train_state(const std::filesystem::path& path, nn::ModuleBase<T>& model, optim::Sgd<T>& sgd,
                      const RunCounters& counters) {
  io::SafetensorsFile state;
  for (const auto& [name, t] : nn::state_dict(model))
    state.tensors.emplace("model." + name, io::TensorRecord::from_tensor(t, io::DType::f32));
  for (const auto& [name, m] : sgd.momentum_buffers())
    state.tensors.emplace("momentum." + name, io::TensorRecord::from_tensor(m, io::DType::f32));
  json::Array vals, losses;
  for (double x : counters.val_history) vals.push_back(x);
  for (double x : counters.loss_history) losses.push_back(x);
  json::Array rows;
  for (const std::string& row : counters.log_rows) rows.push_back(row);
  state.metadata["fcam.train_state"] = json::dump(json::Value(json::Object{
      {"epoch", static_cast<double>(counters.epoch)}, {"best_epoch", static_cast<double>(counters.best_epoch)},
      {"seed", counters.seed}, {"best_val", counters.best_val}, {"val_history", vals}, {"loss_history", losses},
      {"log_rows", rows}}));
  io::write_safetensors(path, state);
}

/// Loads a state written by save_train_state into `model` (strict) and `sgd`, and returns its
/// counters. The seed drives every epoch's order, crops, flips and pseudo-label draws, so a run
/// resumes only with the seed it started with (`expected_seed`; states older than the seed
/// field are accepted). Errors name the file.
template <Scalar T>
RunCounters load_train_state(const std::filesystem::path& path, nn::ModuleBase<T>& model, optim::Sgd<T>& sgd,
                             std::uint64_t expected_seed) {
  const io::SafetensorsFile state = io::read_safetensors(path);
  const auto it = state.metadata.find("fcam.train_state");
  FCAM_CHECK(it != state.metadata.end(), path.string(), ": not a training state (no 'fcam.train_state' metadata)");
  io::SafetensorsFile weights, momentum;
  for (const auto& [name, record] : state.tensors) {
    if (name.rfind("model.", 0) == 0) weights.tensors.emplace(name.substr(6), record);
    if (name.rfind("momentum.", 0) == 0) momentum.tensors.emplace(name.substr(9), record);
  }
  nn::load_state_dict(model, weights, true, path.string());
  const Device device = model.device();  // a state saved on one device resumes on the other
  for (const auto& [name, record] : momentum.tensors)
    sgd.momentum_buffers()[name] = record.template to_tensor<T>().to(device);
  RunCounters c;
  c.seed = expected_seed;
  try {  // every error below names the file
    const json::Value parsed = json::parse(it->second);
    const json::Object& o = parsed.as<json::Object>("train_state");
    const std::string where = "fcam.train_state";
    c.epoch = static_cast<std::int64_t>(json::member(o, "epoch", where).as<double>("epoch"));
    c.best_epoch = static_cast<std::int64_t>(json::member(o, "best_epoch", where).as<double>("best_epoch"));
    if (o.count("seed")) c.seed = json::member(o, "seed", where).as<std::uint64_t>("seed");
    c.best_val = json::member(o, "best_val", where).as<double>("best_val");
    for (const auto& v : json::member(o, "val_history", where).as<json::Array>("val_history"))
      c.val_history.push_back(v.as<double>("val"));
    for (const auto& v : json::member(o, "loss_history", where).as<json::Array>("loss_history"))
      c.loss_history.push_back(v.as<double>("loss"));
    c.has_log_rows = o.count("log_rows") > 0;
    if (c.has_log_rows)
      for (const auto& v : json::member(o, "log_rows", where).as<json::Array>("log_rows"))
        c.log_rows.push_back(v.as<std::string>("log row"));
  } catch (const Error& e) {
    fail(path.string(), ": damaged training state: ", e.what());
  }
  FCAM_CHECK(c.seed == expected_seed, path.string(), ": the run was started with seed ", c.seed,
             "; resume it with the same seed, not ", expected_seed);
  return c;
}

}  // namespace fcam::train

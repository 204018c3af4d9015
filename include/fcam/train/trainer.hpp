/// \file
/// \brief The training loop of both F-CAM stages: evaluation at epoch 0 and after every epoch
/// on the validation split, best and last checkpoints written atomically, a resumable state,
/// a CSV log per epoch, a progress line, and the final test metrics of the best and last
/// checkpoints.
///
/// Files in `out`: best.safetensors and last.safetensors (fcam checkpoints, fcam-infer reads
/// them), state.safetensors (weights + momentum + counters + log rows after the last finished
/// epoch: the commit point of each epoch, see docs/guarantees.md), log.csv.
///
/// Data-parallel (TrainConfig::comm, docs/distributed.md): every rank runs this loop on its shard
/// of each epoch with batch_size images per step; gradients are averaged over the ranks
/// (dist::GradientReducer), parameters and buffers start from rank 0's, evaluation is sharded and
/// its counts summed, and rank 0 alone writes the files while the others wait.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fcam/core/label_map.hpp"
#include "fcam/core/loss_sums.hpp"
#include "fcam/core/progress.hpp"
#include "fcam/data/batch_ahead.hpp"
#include "fcam/dist/communicator.hpp"
#include "fcam/dist/gradient_reducer.hpp"
#include "fcam/dist/module_sync.hpp"
#include "fcam/io/atomic_file.hpp"
#include "fcam/io/json.hpp"
#include "fcam/io/number_text.hpp"
#include "fcam/nn/state_dict.hpp"
#include "fcam/models/checkpoints.hpp"
#include "fcam/train/evaluate.hpp"
#include "fcam/train/steps.hpp"
#include "fcam/train/train_state.hpp"

namespace fcam::train {

/// Everything a training run needs (docs/method.md §6's defaults where it has them).
struct TrainConfig {
  Stage stage = Stage::classifier;   ///< which of the two stages
  models::ModelConfig model;         ///< arch, classes, base width, normalisation
  std::filesystem::path classifier;  ///< stage 2: the stage-1 checkpoint (frozen encoder + head); stage 1: optional start
  std::filesystem::path pretrained;  ///< stage 1: torchvision ImageNet weights for the encoder (optional)
  bool freeze_encoder = false;       ///< stage 1: train the head alone on the encoder's features
  data::WsolDataset train, val, test;  ///< splits (test may be empty: no final test)
  std::filesystem::path mask_root;   ///< mask datasets: holds OpenImages/(mask paths)
  std::filesystem::path out;         ///< run folder
  std::int64_t epochs = 2;           ///< epochs to train
  std::int64_t batch_size = 32;      ///< images per step
  optim::SgdOptions sgd;             ///< lr, momentum, Nesterov, weight decay
  double last_block_lr_factor = 10;  ///< stage 1: lr factor of the last block + head
  std::int64_t lr_step = 0;          ///< step schedule period in epochs (0: constant)
  double lr_gamma = 0.1;             ///< step schedule factor
  std::int64_t warmup_epochs = 0;    ///< linear warm-up of the lr over the first epochs
  data::TransformOptions transform;  ///< resize / crop sizes
  int workers = 2;                   ///< loading threads
  bool skip_bad = false;             ///< skip unreadable images (counted) instead of stopping
  std::uint64_t seed = 0;            ///< new layers' initial weights, order, crops, flips, sampling
  cam::Method eval_cam_method = cam::Method::cam;  ///< stage 1: the CAM evaluated
  double val_interval = 0.004;       ///< threshold step on validation
  double test_interval = 0.001;      ///< threshold step on test
  bool select_on_pxap = false;       ///< a val split with boxes and masks: select on PxAP, not MaxBoxAcc@50
  FcamLossOptions fcam;              ///< stage 2 loss
  bool resume = false;               ///< continue from out/state.safetensors when it exists
  Device device = Device::cpu;       ///< where the model trains (checkpoints and states are the same files on either)
  /// On a GPU, the running losses are read back (a wait for the device) every this many steps,
  /// for the progress line and the divergence check, and at the end of the epoch; the steps in
  /// between never wait. The CPU reads them after every step.
  std::int64_t log_every = 20;
  ProgressFn progress;               ///< reports of training and evaluation (empty: none)
  /// Data-parallel training over these ranks (null: this process alone). batch_size is per
  /// rank; `out` must be a folder every rank sees (rank 0 writes, all read on --resume).
  dist::Communicator* comm = nullptr;
  dist::ReducerOptions reducer;      ///< data-parallel: gradient bucket size and overlap
};

/// The scores of one finished run.
struct TrainResult {
  std::int64_t best_epoch = 0;        ///< epoch of the best validation score (0: before training)
  double best_val = 0;                ///< that score
  std::vector<double> val_history;    ///< validation score after epoch 0, 1, …
  std::vector<double> loss_history;   ///< mean training loss of epoch 1, 2, …
  EvaluationResult test_best, test_last;  ///< on the test split (images 0 when there is none)
  std::int64_t skipped_images = 0;    ///< unreadable training images skipped (all ranks)
  double communication_wait_seconds = 0;  ///< data-parallel: time this rank waited for gradients
};

namespace detail {

inline double lr_at(const TrainConfig& c, std::int64_t epoch_index) {  // epoch_index from 0
  double lr = optim::step_lr(c.sgd.lr, epoch_index, c.lr_step, c.lr_gamma);
  if (epoch_index < c.warmup_epochs) lr *= static_cast<double>(epoch_index + 1) / static_cast<double>(c.warmup_epochs + 1);
  return lr;
}

inline std::string config_json(const TrainConfig& c) {
  json::Object o{{"stage", std::string(stage_name(c.stage))},
                 {"epochs", static_cast<double>(c.epochs)},
                 {"batch_size", static_cast<double>(c.batch_size)},
                 {"lr", c.sgd.lr},
                 {"seed", c.seed},  // exact: a 64-bit seed must not round through a double
                 {"resize_size", static_cast<double>(c.transform.resize_size)},
                 {"crop_size", static_cast<double>(c.transform.crop_size)}};
  if (c.stage == Stage::classifier) o.emplace("freeze_encoder", c.freeze_encoder);
  if (c.stage == Stage::fcam) {
    o.emplace("cam_method", std::string(cam::method_name(c.fcam.cam_method)));
    o.emplace("alpha", c.fcam.use_pce ? c.fcam.alpha : 0.0);
    o.emplace("crf_weight", c.fcam.use_crf ? c.fcam.crf.weight : 0.0);
    o.emplace("size_weight", c.fcam.use_size ? c.fcam.size_weight : 0.0);
    o.emplace("n_minus", c.fcam.sampling.n_minus);
  }
  return json::dump(json::Value(o));
}

}  // namespace detail

/// The mean losses of one training epoch.
struct EpochLosses {
  double total = 0, pce = 0, crf = 0, size = 0;  ///< means over the steps (terms 0 in stage 1)
  std::int64_t steps = 0;                        ///< SGD steps taken
};

namespace detail {

/// `x` as log.csv writes numbers (an ostream's default format).
inline std::string number_text(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

/// One log.csv row: epoch, lr, the losses (empty for epoch 0), the validation score and seconds.
inline std::string log_row(std::int64_t epoch, const std::string& lr, const EpochLosses* l, double val,
                           double seconds) {
  std::string row = std::to_string(epoch) + "," + lr + ",";
  if (l) row += number_text(l->total) + "," + number_text(l->pce) + "," + number_text(l->crf) + "," + number_text(l->size);
  else row += ",,,";
  return row + "," + number_text(val) + "," + number_text(seconds);
}

/// The rows of an existing log.csv for epochs 0..`last_epoch`, each epoch once (its last row):
/// how a state written before the state kept its rows is resumed.
inline std::vector<std::string> log_rows_up_to(const std::filesystem::path& log, std::int64_t last_epoch) {
  std::vector<std::string> rows(static_cast<std::size_t>(last_epoch + 1));
  std::ifstream in(log);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const auto epoch = io::parse_int64(std::string_view(line).substr(0, line.find(',')));
    if (epoch && *epoch >= 0 && *epoch <= last_epoch) rows[static_cast<std::size_t>(*epoch)] = line;
  }
  std::erase(rows, std::string());
  return rows;
}

/// The model a run starts from: stage 2 from the stage-1 checkpoint (whose arch, classes and
/// normalisation then win in `c.model`), stage 1 from one too when given (to continue training
/// it, or with 0 epochs to evaluate its CAMs), else a new model (with torchvision weights when
/// `c.pretrained` is set) and the input normalisation of its architecture's pretrained weights.
inline std::unique_ptr<models::FcamModel<float>> initial_model(TrainConfig& c) {
  FCAM_CHECK(c.stage != Stage::fcam || !c.classifier.empty(), "stage 2 (fcam) needs the stage-1 classifier checkpoint");
  if (!c.classifier.empty()) {
    models::ModelConfig from;
    auto model = models::load_fcam_checkpoint<float>(c.classifier, &from);
    c.model.arch = from.arch, c.model.num_classes = from.num_classes, c.model.base_width = from.base_width;
    c.model.normalization = from.normalization;
    return model;
  }
  auto model = std::make_unique<models::FcamModel<float>>(c.model.arch, c.model.num_classes, c.model.base_width);
  if (!c.pretrained.empty()) models::load_torchvision_encoder(model->encoder(), c.pretrained);
  // What the pretrained weights of the architecture expect (ImageNet's except for MobileNetV2).
  c.model.normalization = models::pretrained_normalization(c.model.arch);
  return model;
}

/// The training loader of `c` (shuffled, training transforms, seeded; this rank's shard).
inline data::LoaderOptions training_loader_options(const TrainConfig& c) {
  data::LoaderOptions lo;
  lo.batch_size = c.batch_size;
  lo.workers = c.workers;
  lo.shuffle = true;
  if (c.comm) lo.shard_rank = c.comm->rank(), lo.shard_count = c.comm->size();
  const std::int64_t shard = (c.train.size() + lo.shard_count - 1) / lo.shard_count;
  lo.drop_last = shard > c.batch_size;
  lo.skip_bad = c.skip_bad;
  lo.seed = c.seed;
  lo.transform = c.transform;
  lo.transform.train = true;
  lo.pinned = c.device == Device::cuda;  // the batches' copies to the GPU then do not wait
  return lo;
}

}  // namespace detail

/// One epoch (1-based `epoch`) of the configured stage: the schedule's learning rate, every
/// batch of `loader`, progress reports with the running losses. Throws when the loss diverges.
/// Data-parallel: `reducer` averages the gradients of every step; the losses returned are the
/// means over every rank's steps.
inline EpochLosses train_one_epoch(models::FcamModel<float>& model, optim::Sgd<float>& sgd, data::DataLoader& loader,
                                   const TrainConfig& c, std::int64_t epoch, dist::GradientReducer* reducer = nullptr) {
  sgd.set_lr(detail::lr_at(c, epoch - 1));
  const double t = losses::log_barrier_t(epoch - 1);
  // Pseudo-label draws: one stream per rank (rank 0's is a single process's).
  const std::uint64_t rank = c.comm ? static_cast<std::uint64_t>(c.comm->rank()) : 0;
  Rng rng(c.seed * 1000003 + static_cast<std::uint64_t>(epoch) + rank * 0x9e3779b97f4a7c15ull);
  loader.start_epoch(epoch);
  const std::int64_t ranks = c.comm ? c.comm->size() : 1;
  const std::int64_t images_per_epoch = std::min(c.train.size(), loader.batches_per_epoch() * c.batch_size * ranks);
  const std::string task =
      std::string(stage_name(c.stage)) + " epoch " + std::to_string(epoch) + "/" + std::to_string(c.epochs);
  // The steps add their terms on the model's device: total (stage 1), or pce, crf, size (stage 2).
  const LossSums sums(c.stage == Stage::fcam ? 3 : 1, model.device());
  EpochLosses sum;  // as last read
  std::int64_t steps = 0, images = 0;
  char note[160] = "";
  LabelMap labels;  // the last stage-2 step's: on a GPU, its counts name a CAM that held NaN
  // Reads the sums (on a GPU, a wait for the device), checks them and refreshes the note.
  auto read_sums = [&] {
    const std::vector<double> v = sums.read();
    if (c.stage == Stage::fcam) sum = {v[0] + v[1] + v[2], v[0], v[1], v[2], steps};
    else sum = {v[0], 0, 0, 0, steps};
    if (!std::isfinite(sum.total)) labels.labelled();  // throws first when a pseudo-label CAM held NaN
    FCAM_CHECK(std::isfinite(sum.total), "training diverged at epoch ", epoch, " (loss is not finite",
               steps > 1 ? " by step " + std::to_string(steps) : std::string(), "); lower --lr");
    const double k = static_cast<double>(std::max<std::int64_t>(steps, 1));
    if (c.stage == Stage::fcam)
      std::snprintf(note, sizeof note, "loss %.4f (pce %.4f, crf %.4f, size %.4f)", sum.total / k, sum.pce / k,
                    sum.crf / k, sum.size / k);
    else
      std::snprintf(note, sizeof note, "loss %.4f", sum.total / k);
  };
  // Each batch's copy to the device is started one step ahead: on a GPU it runs on the copy stream
  // while the previous step computes. The raw images travel only for the CRF loss.
  const bool with_raw = c.stage == Stage::fcam && c.fcam.use_crf;
  auto ahead = [&](std::optional<data::Batch> b) {
    return b ? std::optional<data::BatchAhead>(std::in_place, std::move(*b), model.device(), with_raw)
             : std::nullopt;
  };
  // The task's start: its progress line's clock starts here, not after the first step.
  report(c.progress, {.task = task, .unit = "images", .done = 0, .total = images_per_epoch, .note = ""});
  std::optional<data::BatchAhead> next = ahead(loader.next());
  while (next) {
    const data::Batch batch = next->take();
    next = ahead(loader.next());
    if (batch.inputs.size(0) == 0) {  // every image of the batch was skipped
      if (reducer) {  // the other ranks step: take part with a zero gradient
        sgd.zero_grad();
        reducer->finish();
        sgd.step();
      }
      continue;
    }
    if (c.stage == Stage::fcam)
      labels = fcam_step(model, sgd, batch, c.fcam, t, rng, FcamLossSlots::of(sums), nullptr, reducer);
    else
      classifier_step(model, sgd, batch, sums.slot(0), c.freeze_encoder, reducer);
    ++steps;
    images += batch.inputs.size(0) * ranks;
    if (model.device() == Device::cpu || steps % std::max<std::int64_t>(c.log_every, 1) == 0) read_sums();
    // On a GPU the last step is only queued here: the epoch is reported done after the wait below.
    if (images < images_per_epoch)
      report(c.progress, {.task = task, .unit = "images", .done = images, .total = images_per_epoch, .note = note});
  }
  read_sums();
  // The final report, after the device's work (skipped images count as done).
  report(c.progress, {.task = task, .unit = "images", .done = images_per_epoch, .total = images_per_epoch, .note = ""});
  std::vector<double> totals{sum.total, sum.pce, sum.crf, sum.size, static_cast<double>(sum.steps)};
  if (ranks > 1) c.comm->all_reduce_sum(std::span<double>(totals));  // means over every rank's steps
  const double per = totals[4] > 0 ? 1.0 / totals[4] : 0.0;
  return {totals[0] * per, totals[1] * per, totals[2] * per, totals[3] * per, sum.steps};
}

/// Runs the configured stage. `log(line)` receives the per-epoch summaries (default: stderr).
inline TrainResult run_training(TrainConfig c, const std::function<void(const std::string&)>& log = {}) {
  // What the run draws from the thread's default generator (a new model's initial weights, the
  // throw-away ones of each checkpoint loaded) comes from the run's seed, not from whatever the
  // thread drew before: two runs of one configuration in one process start alike, --seed varies
  // the start too, and the caller's draws go on afterwards as if the run had drawn nothing.
  const ScopedDefaultSeed seeded(c.seed);
  dist::SingleProcess alone;
  dist::Communicator& world = c.comm ? *c.comm : alone;
  c.comm = &world;
  auto say = [&](const std::string& line) {
    if (!world.is_root()) return;
    if (log) log(line);
    else std::fprintf(stderr, "%s\n", line.c_str());
  };
  // Rank 0 writes the run's files; the others wait until they are written.
  auto on_root = [&](const std::function<void()>& write) {
    if (world.is_root()) write();
    world.barrier();
  };
  FCAM_CHECK(c.epochs >= 0 && c.batch_size >= 1, "epochs must be >= 0 and batch size >= 1");
  const std::string stage(stage_name(c.stage));
  std::filesystem::create_directories(c.out);
  const auto state_path = c.out / "state.safetensors";
  c.model.training = detail::config_json(c);
  std::unique_ptr<models::FcamModel<float>> model = detail::initial_model(c);
  FCAM_CHECK(c.device == Device::cpu || world.size() == 1,
             "data-parallel training runs on the CPU for now: run several ranks with --device cpu");
  model->to(c.device);
  c.transform.normalization = c.model.normalization;
  const std::vector<optim::ParamGroup<float>> groups =
      parameter_groups(*model, c.stage, c.last_block_lr_factor, c.freeze_encoder);
  optim::Sgd<float> sgd(groups, c.sgd);
  dist::check_same_module(world, *model);
  dist::broadcast_module(world, *model);  // e.g. randomly initialised layers: rank 0's draw
  std::vector<nn::Parameter<float>*> trained;
  for (const auto& group : groups)
    for (const auto& [name, p] : group.params) trained.push_back(p);
  dist::GradientReducer reducer(world, trained, c.reducer);

  RunCounters run;
  run.seed = c.seed;
  std::vector<std::int64_t> resume_flag{c.resume && std::filesystem::exists(state_path)};
  world.broadcast(std::span<std::int64_t>(resume_flag));  // rank 0's view of the shared folder decides
  const bool resumed = resume_flag[0] != 0;
  if (resumed) {
    run = load_train_state(state_path, *model, sgd, c.seed);
    if (!run.has_log_rows) run.log_rows = detail::log_rows_up_to(c.out / "log.csv", run.epoch);
    say("resuming " + stage + " from epoch " + std::to_string(run.epoch) + " (" + state_path.string() + ")");
  } else if (std::filesystem::exists(state_path)) {
    say("note: " + c.out.string() + " holds an earlier run; it is replaced (resume it with --resume)");
  }

  EvaluationOptions eval;
  eval.source = c.stage == Stage::fcam ? MapSource::fcam : MapSource::cam;
  eval.cam_method = c.eval_cam_method;
  eval.seed = c.seed;
  eval.interval = c.val_interval;
  eval.mask_root = c.mask_root;
  eval.workers = c.workers;
  eval.transform = c.transform;
  eval.comm = &world;
  // evaluate()'s (done, total) reports as ProgressEvents of `task`.
  auto reporting = [&](const std::string& task) {
    return [&c, task](std::int64_t done, std::int64_t total) {
      report(c.progress, {.task = task, .unit = "images", .done = done, .total = total, .note = ""});
    };
  };
  FCAM_CHECK(!c.select_on_pxap || c.val.metadata.has_masks(),
             "training: selection on PxAP needs a validation split with masks");
  auto validate = [&](std::int64_t epoch) {
    // BatchNorm statistics differ between ranks: evaluate and save rank 0's everywhere.
    dist::broadcast_module(world, *model);
    const EvaluationResult r = evaluate(*model, c.val, eval, reporting("validation (epoch " + std::to_string(epoch) + ")"));
    return c.select_on_pxap ? r.pxap : r.localization;
  };
  const std::string metric = c.val.metadata.has_boxes() && !c.select_on_pxap ? "MaxBoxAcc@50" : "PxAP";
  const std::string log_header =
      std::string("epoch,lr,loss,pce,crf,size,val_") + (metric == "PxAP" ? "pxap" : "maxboxacc50") + ",seconds\n";
  // Exactly once per epoch: the state is the commit point, written first; best, last and log.csv
  // are derived from it afterwards (log.csv rewritten whole from the rows the state keeps). A run
  // killed before the commit redoes the epoch; one killed after it finishes the derived files on
  // resume. So log, best, last and state always describe the same finished epochs.
  auto write_derived_files = [&] {
    if (run.best_epoch == run.epoch) models::save_fcam_checkpoint(*model, c.model, c.out / "best.safetensors");
    if (run.epoch > 0) models::save_fcam_checkpoint(*model, c.model, c.out / "last.safetensors");
    std::string log = log_header;
    for (const std::string& row : run.log_rows) log += row + "\n";
    io::write_file_atomic(c.out / "log.csv", log);
  };
  if (resumed) {
    on_root(write_derived_files);
  } else {
    const double v = validate(0);
    run.val_history = {v};
    run.best_val = v;
    run.best_epoch = 0;
    run.log_rows = {detail::log_row(0, "", {}, v, 0)};
    on_root([&] {
      save_train_state(state_path, *model, sgd, run);
      write_derived_files();
    });
    say(stage + " epoch 0: val " + metric + " " + std::to_string(v));
  }

  data::DataLoader loader(c.train, detail::training_loader_options(c));
  for (std::int64_t epoch = run.epoch + 1; epoch <= c.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    const EpochLosses l = train_one_epoch(*model, sgd, loader, c, epoch, world.size() > 1 ? &reducer : nullptr);
    const double v = validate(epoch);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    run.epoch = epoch;
    run.loss_history.push_back(l.total);
    run.val_history.push_back(v);
    if (v > run.best_val) run.best_val = v, run.best_epoch = epoch;
    run.log_rows.push_back(detail::log_row(epoch, detail::number_text(sgd.lr()), &l, v, seconds));
    on_root([&] {
      save_train_state(state_path, *model, sgd, run);
      write_derived_files();
    });
    say(stage + " epoch " + std::to_string(epoch) + ": loss " + std::to_string(l.total) + ", val " + metric + " " +
        std::to_string(v) + (run.best_epoch == epoch ? " (best)" : "") + ", " + std::to_string(seconds) + " s");
  }
  on_root([&] {
    if (!std::filesystem::exists(c.out / "last.safetensors"))
      models::save_fcam_checkpoint(*model, c.model, c.out / "last.safetensors");
  });

  TrainResult result;
  result.best_epoch = run.best_epoch;
  result.best_val = run.best_val;
  result.val_history = run.val_history;
  result.loss_history = run.loss_history;
  std::vector<std::int64_t> skipped{loader.skipped()};
  if (world.size() > 1) world.all_reduce_sum(std::span<std::int64_t>(skipped));
  result.skipped_images = skipped[0];
  result.communication_wait_seconds = reducer.wait_seconds();
  if (c.test.size() > 0) {
    EvaluationOptions test = eval;
    test.interval = c.test_interval;
    test.with_v2 = c.test.metadata.has_boxes();
    for (const char* which : {"best", "last"}) {
      auto m = models::load_fcam_checkpoint<float>(c.out / (std::string(which) + ".safetensors"));
      m->to(c.device);
      (std::string(which) == "best" ? result.test_best : result.test_last) =
          evaluate(*m, c.test, test, reporting(std::string("test (") + which + ")"));
    }
  }
  return result;
}

}  // namespace fcam::train

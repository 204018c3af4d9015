// fcam-demo: what F-CAM does, end to end, on real photos with a real pretrained network.
//
//   fcam-demo                         the real-photo demo (about 2½–4 minutes on 2 cores): runs/demo/report.md
//   fcam-demo --tiny --out runs/tiny  a fraction of the images, one epoch per stage (CI's check)
//   fcam-demo --seed 1 --out runs/demo-s1          another training seed (same dataset)
//   fcam-demo --fcam_on all --ablation --out runs/demo   F-CAM on all six baselines + Table D.1
//   fcam-demo --collect runs/demo,runs/demo-s1,runs/demo-s2 --out runs/seeds   mean ± std
//   fcam-demo --dataset cfmnist       the cluttered Fashion-MNIST demo (built from Debian packages)
//
// --dataset pets (the default): the 598 Oxford-IIIT Pet photos shipped in data/oxford-pets-3 (3
// breeds, pixel masks), MobileNetV2 with the ImageNet weights of data/weights, its features frozen
// and a 3-class WGAP head trained on image labels only. --dataset cfmnist: cluttered
// Fashion-MNIST (built when absent), a quarter-width ResNet18-WSOL trained from scratch.
//
// Phases: the dataset → stage 1, the classifier (image labels only) → the six CAM baselines on
// the test split → stage 2, the F-CAM decoder on the CAM pseudo-labels (SR + CRF + ASC) → its
// test evaluation → the downscale simulation → pictures and report.md. Training phases resume
// from their last finished epoch when the run is started again with the same --out.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include <fcam/app/device_flag.hpp>
#include <fcam/app/precision_flag.hpp>
#include <fcam/app/error_line.hpp>
#include <fcam/data/cluttered_writer.hpp>
#include <fcam/data/wsol_split.hpp>
#include <fcam/fcam.hpp>
#include <fcam/metrics/downscale_simulation.hpp>
#include <fcam/plot/wsol_figures.hpp>
#include <fcam/train/trainer.hpp>

#include "demo_report.hpp"
#include "image_limit_flag.hpp"

using namespace fcam;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

std::string minutes(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%d:%02d", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
  return text;
}

/// The phases with their predicted durations; prints a header with the elapsed time and an
/// estimate of what is left (the predictions rescaled by how fast the finished phases went).
class Plan {
public:
  void add(std::string name, double predicted_seconds) { phases_.push_back({std::move(name), predicted_seconds, -1}); }

  void begin(std::size_t i) {
    current_ = i;
    phase_start_ = Clock::now();
    double done_predicted = 0, done_actual = 0, left = 0;
    for (const Phase& p : phases_) {
      // Only phases long enough to measure the machine's speed rescale the estimate; one far
      // faster than predicted resumed finished work and says nothing about the speed.
      if (p.actual >= 0.3 * p.predicted && p.predicted >= 20) done_predicted += p.predicted, done_actual += p.actual;
      if (p.actual < 0) left += p.predicted;
    }
    const double speed = done_predicted > 0 ? done_actual / done_predicted : 1.0;
    std::cout << "\n== [" << i + 1 << "/" << phases_.size() << "] " << phases_[i].name << "   (elapsed "
              << minutes(elapsed()) << ", about " << minutes(left * speed) << " left)" << std::endl;
  }

  void end(demo::Results& results) {
    const double s = std::chrono::duration<double>(Clock::now() - phase_start_).count();
    phases_[current_].actual = s;
    results.phase_seconds.emplace_back(phases_[current_].name, s);
  }

  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

private:
  struct Phase {
    std::string name;
    double predicted, actual;
  };
  std::vector<Phase> phases_;
  std::size_t current_ = 0;
  Clock::time_point start_ = Clock::now(), phase_start_ = start_;
};

/// One stage-2 run: the pseudo-label CAM and the loss terms (SR = the sampled pixels' partial
/// cross-entropy; CRF; ASC = the absolute size constraint).
struct FcamRun {
  std::string group, name, folder;
  cam::Method cam_method = cam::Method::cam;
  bool crf = true, size = true;
};

/// Test images `count` apart, resized to size×size: the input with its true box (green), the CAM
/// and the F-CAM overlays with the true box and the box each predicts at its best threshold (white).
data::Rgb8 overlay_examples(models::FcamModel<float>& model, const data::WsolDataset& test,
                            const std::vector<std::string>& class_names, int size, int count, double cam_tau,
                            double fcam_tau, const data::Normalization& norm) {
  std::vector<plot::Tile> tiles;
  model.eval();
  NoGradGuard no_grad;
  Rng rng(0);
  for (int k = 0; k < count; ++k) {
    const std::int64_t i = test.size() * k / count;
    const data::Rgb8 image = data::read_rgb8(test.image_path(i));
    const Tensor<float> input = data::image_to_input(image, size, size, norm);
    const models::ClassifierOutput<float> out = model.classify(input);
    const int label = test.metadata.labels[static_cast<std::size_t>(i)];
    const Tensor<float>& logits = out.logits;
    const int guess = static_cast<int>(std::max_element(logits.data(), logits.data() + logits.numel()) - logits.data());
    const Tensor<float> fcam = cam::normalize_maps(model.foreground(out.stages)).reshape({size, size});
    const Tensor<float> cam_map =
        cam::full_resolution(cam::baseline_maps(model, out, input, {label}, cam::Method::cam, rng), size, size).reshape({size, size});
    const data::Box& b = test.metadata.boxes[static_cast<std::size_t>(i)].front();
    std::string caption = class_names[static_cast<std::size_t>(label)];
    if (guess != label) caption += " (pred. " + class_names[static_cast<std::size_t>(guess)] + ")";
    for (plot::Tile& tile : plot::localization_tiles(data::input_to_image(input, norm),
                                                     metrics::resize_box(b, image.width, image.height, size, size), caption,
                                                     {{"CAM", cam_map, cam_tau}, {"F-CAM", fcam, fcam_tau}}))
      tiles.push_back(std::move(tile));
  }
  return plot::tile_grid(tiles, 3);
}

/// `dataset` with every `step`-th image of it (the --tiny runs of the photo dataset).
data::WsolDataset every_nth(const data::WsolDataset& dataset, std::size_t step) {
  data::WsolDataset out{dataset.data_root, {}};
  const data::WsolMetadata& m = dataset.metadata;
  for (std::size_t i = 0; i < m.image_ids.size(); i += step) {
    out.metadata.image_ids.push_back(m.image_ids[i]);
    out.metadata.labels.push_back(m.labels[i]);
    if (!m.widths.empty()) out.metadata.widths.push_back(m.widths[i]), out.metadata.heights.push_back(m.heights[i]);
    if (m.has_boxes()) out.metadata.boxes.push_back(m.boxes[i]);
    if (m.has_masks()) out.metadata.masks.push_back(m.masks[i]);
  }
  return out;
}

/// What differs between the two demo datasets: where the data is, the model, the image size, the
/// defaults of the training flags and the predicted seconds per image of each phase.
struct DemoDataset {
  std::string name;                      ///< "pets" or "cfmnist"
  std::string title;                     ///< what report.md's title calls it
  fs::path default_dir;                  ///< --data when not given
  int classes = 0;                       ///< number of classes
  int size = 0, resize = 0;              ///< network input side; training images resized to this, then cropped
  models::Arch arch = models::Arch::resnet18;
  std::int64_t base_width = 64;          ///< encoder (ResNet) or decoder (MobileNetV2) width
  bool pretrained = false;               ///< starts from --pretrained, its encoder frozen
  bool select_on_pxap = false;           ///< stage 2 keeps the epoch of the best validation PxAP (else MaxBoxAcc)
  std::map<std::string, double> flags;   ///< defaults of the training flags that differ from the flags' own
  /// Predicted seconds per image: training in stage 1 / 2, validation, F-CAM's test metrics, the six baselines.
  double train1 = 0, train2 = 0, val = 0, test_metrics = 0, baselines = 0;
};

DemoDataset pets_dataset() {
  return {.name = "pets", .title = "real photos (Oxford-IIIT Pet, 3 breeds)", .default_dir = "data/oxford-pets-3",
          .classes = 3, .size = 224, .resize = 256,
          .arch = models::Arch::mobilenet_v2, .base_width = 16, .pretrained = true, .select_on_pxap = true,
          .flags = {{"stage1_epochs", 3}, {"stage1_lr", 0.01}, {"stage1_lr_step", 0}, {"stage1_batch", 32},
                    {"stage2_epochs", 10}, {"stage2_lr", 0.05}, {"stage2_lr_step", 7}, {"stage2_batch", 8},
                    {"n_minus", 0.3}, {"erosion", 11}, {"samples", 8}, {"crf_lambda", 8e-9}},
          .train1 = 0.012, .train2 = 0.035, .val = 0.015, .test_metrics = 0.022, .baselines = 0.084};
}

DemoDataset cfmnist_dataset() {
  return {.name = "cfmnist", .title = "cluttered Fashion-MNIST", .default_dir = "data/cfmnist", .classes = 10,
          .size = 128, .resize = 144,
          .arch = models::Arch::resnet18, .base_width = 16, .pretrained = false, .flags = {},
          .train1 = 0.0094, .train2 = 0.0098, .val = 0.004, .test_metrics = 0.007, .baselines = 0.023};
}

void define_flags(app::Flags& f) {
  f.add_string("dataset", "pets", "pets (real photos, pretrained MobileNetV2) or cfmnist (cluttered Fashion-MNIST)");
  f.add_string("out", "runs/demo", "run folder: report.md, pictures, results.json, checkpoints");
  f.add_string("data", "", "dataset folder (default: data/oxford-pets-3, shipped; data/cfmnist, built here\n"
                           "      when absent)");
  f.add_string("pretrained", "data/weights/mobilenet_v2_imagenet.f16.safetensors",
               "pets: the pretrained MobileNetV2 weights (its classifier is dropped)");
  f.add_bool("tiny", false, "a fraction of the images and one epoch per stage (a quick end-to-end check)");
  f.add_seed("seed", 0, "training seed (new layers' initial weights, order, crops, flips, pseudo-label draws; 64-bit)");
  f.add_seed("data_seed", 0, "cfmnist: dataset seed (when the dataset is built; 64-bit)");
  // Defaults below are cfmnist's; "pets:" gives the photo dataset's where it differs.
  f.add_int("stage1_epochs", 12, "classifier epochs (pets: 3)", app::Range{0, 100000});
  f.add_double("stage1_lr", 0.025, "classifier learning rate, x10 for the last block and head (pets: 0.01)",
               app::Range{0});
  f.add_int("stage1_lr_step", 8, "classifier: the lr is divided by 10 every this many epochs (pets: 0, never)",
            app::Range{0, 100000});
  f.add_int("stage1_batch", 64, "classifier batch size (pets: 32)", app::Range{1, 65536});
  f.add_int("stage2_epochs", 4, "F-CAM decoder epochs (pets: 10)", app::Range{0, 100000});
  f.add_double("stage2_lr", 0.01, "F-CAM decoder learning rate (pets: 0.05)", app::Range{0});
  f.add_int("stage2_lr_step", 0, "F-CAM decoder: the lr is divided by 10 every this many epochs (0: never;\n"
                               "      pets: 7)", app::Range{0, 100000});
  f.add_int("stage2_batch", 32, "F-CAM decoder batch size (pets: 8)", app::Range{1, 65536});
  f.add_int("samples", 1, "F-CAM: foreground and background pixels sampled per image (pets: 8)",
            app::Range{0, 1000000});
  f.add_double("crf_lambda", 2e-9, "F-CAM: CRF weight λ at 224 px, scaled to the image size (pets: 8e-9)",
               app::Range{0});
  f.add_double("n_minus", 0.3, "F-CAM: fraction of lowest-CAM pixels that are background candidates", app::Range{0, 1});
  f.add_int("erosion", 7, "F-CAM: erosion of the foreground candidates (11 at 224 px, scaled; pets: 11)",
            app::Range{1, 1001});
  f.add_string("fcam_on", "cam", "baselines to train F-CAM on: a comma list of " + names_of(cam::method_table) + ",\n"
                                 "      or 'all'");
  f.add_bool("ablation", false, "also the loss ablation of Table D.1 on CAM: SR, SR+ASC, SR+CRF (SR+CRF+ASC is the main run)");
  f.add_int("pictures", 6, "test images in overlays.png", app::Range{0, 1000});
  f.add_double("test_interval", 0.001, "threshold step of the test metrics", app::Range{1e-6, 0.5});
  f.add_int("workers", 2, "image loading threads", app::Range{0, 256});
  f.add_string("device", "auto", app::device_flag_help() + "; the pictures are drawn on the CPU");
  f.add_string("precision", "fp32", app::precision_flag_help() + "; for training and evaluation");
  f.add_string("collect", "", "summarise finished runs instead: a comma list of run folders (mean ± std in <out>/seeds.md)");
}

int collect(const std::vector<std::string>& folders, const fs::path& out) {
  FCAM_CHECK(!folders.empty(), "fcam-demo --collect: no run folder given");
  std::vector<demo::Results> runs;
  std::ostringstream md;
  md << "# fcam demo over " << folders.size() << " training seeds\n\nRuns:";
  for (const std::string& folder : folders) {
    const fs::path file = fs::path(folder) / "results.json";
    FCAM_CHECK(fs::exists(file), file.string(), " is missing: run fcam-demo --out ", folder, " first");
    try {
      runs.push_back(demo::results_from_json(json::parse(io::read_file(file))));
    } catch (const Error& e) {
      fail(file.string(), ": not a results file of fcam-demo (", e.what(), "); rerun fcam-demo --out ", folder);
    }
    md << " `" << folder << "` (seed " << runs.back().seed << ")";
  }
  md << ".\n\nTest split, mean ± sample standard deviation:\n\n" << demo::seeds_table(runs);
  fs::create_directories(out);
  io::write_file_atomic(out / "seeds.md", md.str());
  std::cout << md.str() << "\nwritten to " << (out / "seeds.md").string() << "\n";
  return 0;
}

/// One fcam-demo run: the settings read from the flags, then the phases in order (each one
/// resumable: training phases continue from their state files when the command is run again).
class DemoRun {
public:
  /// Reads and checks every setting before any work starts.
  explicit DemoRun(const app::Flags& flags) : flags_(flags), out_(flags.text("out")), tiny_(flags.boolean("tiny")) {
    const std::string dataset = flags.text("dataset");
    FCAM_CHECK(dataset == "pets" || dataset == "cfmnist", "fcam-demo: --dataset must be pets or cfmnist, got '", dataset,
               "'");
    setup_ = dataset == "pets" ? pets_dataset() : cfmnist_dataset();
    data_dir_ = flags.given("data") ? fs::path(flags.text("data")) : setup_.default_dir;
    if (tiny_ && !flags.given("data") && setup_.name == "cfmnist") data_dir_ += "-tiny";  // built smaller
    cfmnist_.seed = flags.seed("data_seed");
    if (tiny_) cfmnist_.train = 256, cfmnist_.val = 64, cfmnist_.test = 64;
    plan_runs();
    // The shared training settings.
    base_.model.arch = setup_.arch;
    base_.model.num_classes = setup_.classes;
    base_.model.base_width = setup_.base_width;
    if (setup_.pretrained) {
      base_.pretrained = flags.text("pretrained");
      FCAM_CHECK(fs::is_regular_file(base_.pretrained), "fcam-demo: the pretrained weights ", base_.pretrained.string(),
                 " are missing: run from the repository root (data/weights is part of it) or give --pretrained");
      base_.freeze_encoder = true;
    }
    // The demo's own evaluations and pictures need the normalisation the trainer gives the model.
    base_.model.normalization = models::pretrained_normalization(setup_.arch);
    base_.transform.normalization = base_.model.normalization;
    base_.transform.resize_size = setup_.resize;
    base_.transform.crop_size = setup_.size;
    base_.workers = flags.integer("workers");
    base_.device = app::resolve_device(flags.text("device"), "fcam-demo");
    app::apply_precision(flags.text("precision"), base_.device, "fcam-demo");
    base_.seed = flags.seed("seed");
    base_.mask_root = data_dir_ / "masks";
    base_.resume = true;
    base_.progress = app::progress_printer();
    e1_ = tiny_ ? 1 : integer_setting("stage1_epochs");
    e2_ = tiny_ ? 1 : integer_setting("stage2_epochs");
    pictures_ = tiny_ ? 3 : flags.integer("pictures");
    results_.seed = base_.seed;
    eval_.interval = flags.number("test_interval");
    eval_.with_v2 = true;
    eval_.mask_root = base_.mask_root;
    eval_.workers = base_.workers;
    eval_.transform = base_.transform;
    eval_.seed = base_.seed;
  }

  /// Every phase, then results.json and report.md.
  void run() {
    prepare_dataset();
    predict_phases();
    train_classifier();
    evaluate_baselines();
    for (const FcamRun& r : runs_) train_fcam(r);
    if (flags_.boolean("ablation"))  // Table D.1's last row: the full loss (the main run)
      results_.rows.push_back(demo::row_of("ablation", "CAM + SR + CRF + ASC", *fcam_result_));
    simulate_and_draw();
    write_report();
  }

private:
  static constexpr std::size_t iou50 = 1;  // index of IoU 50 in the evaluation's IoU thresholds

  // A training flag: its value when given, else the dataset's default (else the flag's own).
  double number_setting(const std::string& name) const {
    const auto it = setup_.flags.find(name);
    return flags_.given(name) || it == setup_.flags.end() ? flags_.number(name) : it->second;
  }
  int integer_setting(const std::string& name) const { return static_cast<int>(number_setting(name)); }

  // The runs of stage 2: the main one on CAM first, then the other baselines, then the ablation.
  void plan_runs() {
    std::vector<cam::Method> fcam_on;
    for (const std::string& m : flags_.comma_list("fcam_on")) {
      if (m != "all") {
        fcam_on.push_back(cam::parse_method(m));
        continue;
      }
      for (const auto& entry : cam::method_table) fcam_on.push_back(entry.value);
    }
    FCAM_CHECK(!fcam_on.empty(), "fcam-demo: --fcam_on is empty");
    if (std::find(fcam_on.begin(), fcam_on.end(), cam::Method::cam) == fcam_on.end())
      fcam_on.insert(fcam_on.begin(), cam::Method::cam);
    for (cam::Method m : fcam_on) {
      const std::string name(cam::method_name(m)), label(cam::method_label(m));
      runs_.push_back({.group = "fcam", .name = label + " + F-CAM", .folder = "fcam-" + name, .cam_method = m, .crf = true, .size = true});
    }
    if (flags_.boolean("ablation")) {
      runs_.push_back({.group = "ablation", .name = "CAM + SR", .folder = "fcam-cam-sr", .cam_method = cam::Method::cam, .crf = false, .size = false});
      runs_.push_back({.group = "ablation", .name = "CAM + SR + ASC", .folder = "fcam-cam-sr-asc", .cam_method = cam::Method::cam, .crf = false, .size = true});
      runs_.push_back({.group = "ablation", .name = "CAM + SR + CRF", .folder = "fcam-cam-sr-crf", .cam_method = cam::Method::cam, .crf = true, .size = false});
    }
  }

  // Predicted seconds per image on the 2-core development machine (measured 2026-12-01, default
  // runs of both datasets); the plan rescales them by the speed of the finished phases.
  void predict_phases() {
    const auto n_train = static_cast<double>(base_.train.size()), n_val = static_cast<double>(base_.val.size()),
               n_test = static_cast<double>(test_.size());
    const DemoDataset& d = setup_;
    plan_.add("stage 1: classifier", static_cast<double>(e1_) * (d.train1 * n_train + d.val * n_val));
    plan_.add("six CAM baselines on test", d.baselines * n_test);
    for (const FcamRun& r : runs_)
      plan_.add("stage 2: " + r.name, static_cast<double>(e2_) * (d.train2 * n_train + d.val * n_val) + d.test_metrics * n_test);
    plan_.add("downscale simulation, pictures, report", 0.01 * n_test);
  }

  void prepare_dataset() {
    const auto start = Clock::now();
    if (setup_.name == "pets") prepare_photos();
    else prepare_cfmnist();
    results_.phase_seconds.emplace_back("dataset", std::chrono::duration<double>(Clock::now() - start).count());
  }

  // The photo dataset shipped in the repository (every 5th / 3rd / 6th image with --tiny).
  void prepare_photos() {
    FCAM_CHECK(fs::exists(data_dir_ / "metadata/CUB/test/localization.txt"), "fcam-demo: ", data_dir_.string(),
               " holds no dataset: run from the repository root (data/oxford-pets-3 is part of it) or give --data");
    std::cout << "using " << data_dir_.string() << std::endl;
    base_.train = {data_dir_ / "images", data::read_wsol_metadata(data_dir_ / "metadata/CUB/train", setup_.classes)};
    base_.val = data::read_split_with_boxes_and_masks(data_dir_, "val", setup_.classes);
    test_ = data::read_split_with_boxes_and_masks(data_dir_, "test", setup_.classes);
    if (tiny_) base_.train = every_nth(base_.train, 5), base_.val = every_nth(base_.val, 3), test_ = every_nth(test_, 6);
    class_names_ = data::detail::read_lines(data_dir_ / "class_names.txt");
    FCAM_CHECK(static_cast<int>(class_names_.size()) == setup_.classes, (data_dir_ / "class_names.txt").string(),
               " names ", class_names_.size(), " classes, not ", setup_.classes);
  }

  // Cluttered Fashion-MNIST, built when absent.
  void prepare_cfmnist() {
    if (!fs::exists(data_dir_ / "metadata/CUB/test/localization.txt")) {
      std::cout << "building cluttered Fashion-MNIST in " << data_dir_.string() << std::endl;
      cfmnist_.progress = app::progress_printer();
      data::write_cluttered_dataset(data_dir_, cfmnist_);
    } else {
      std::cout << "using " << data_dir_.string() << std::endl;
    }
    base_.train = {data_dir_ / "images", data::read_wsol_metadata(data_dir_ / "metadata/CUB/train", 10)};
    base_.val = {data_dir_ / "images", data::read_wsol_metadata(data_dir_ / "metadata/CUB/val", 10)};
    test_ = data::read_split_with_boxes_and_masks(data_dir_, "test", 10);
    FCAM_CHECK(base_.train.size() == cfmnist_.train && base_.val.size() == cfmnist_.val && test_.size() == cfmnist_.test,
               data_dir_.string(), " holds ", base_.train.size(), "/", base_.val.size(), "/", test_.size(),
               " train/val/test images, not the ", cfmnist_.train, "/", cfmnist_.val, "/", cfmnist_.test,
               " this run needs: remove it or give another --data");
    class_names_ = data::fashion_mnist_classes();
  }

  void train_classifier() {
    plan_.begin(phase_++);
    train::TrainConfig c1 = base_;
    c1.stage = train::Stage::classifier;
    c1.out = out_ / "classifier";
    c1.epochs = e1_;
    c1.batch_size = tiny_ ? 32 : integer_setting("stage1_batch");
    c1.sgd.lr = number_setting("stage1_lr");
    c1.warmup_epochs = e1_ > 1 ? 1 : 0;
    c1.lr_step = integer_setting("stage1_lr_step");
    const train::TrainResult r1 = train::run_training(c1, say);
    histories_.push_back({"stage 1: classifier", validation_metric(c1), r1.val_history, r1.best_epoch});
    classifier_ = c1.out / "best.safetensors";
    plan_.end(results_);
  }

  // The six baselines on the test split, from one pass over it.
  void evaluate_baselines() {
    plan_.begin(phase_++);
    auto classifier = models::load_fcam_checkpoint<float>(classifier_);
    classifier->to(base_.device);
    eval_.source = train::MapSource::cam;
    std::vector<cam::Method> methods;
    for (const auto& entry : cam::method_table) methods.push_back(entry.value);
    app::Progress progress("test: six baselines", "images", test_.size());
    std::vector<train::EvaluationResult> results = train::evaluate_maps(
        *classifier, test_, eval_, methods, [&](std::int64_t done, std::int64_t) { progress.update(done); });
    for (std::size_t i = 0; i < methods.size(); ++i) {
      const std::string label(cam::method_label(methods[i]));
      print_metrics(label, results[i]);
      results_.rows.push_back(demo::row_of("baselines", label, results[i]));
      if (methods[i] == cam::Method::cam) cam_result_ = std::move(results[i]);
    }
    if (flags_.boolean("ablation"))  // Table D.1's first row: the CAM alone
      results_.rows.push_back(demo::row_of("ablation", "CAM (no decoder)", *cam_result_));
    plan_.end(results_);
  }

  // One stage-2 run and its test evaluation.
  void train_fcam(const FcamRun& run) {
    plan_.begin(phase_++);
    train::TrainConfig c2 = base_;
    c2.stage = train::Stage::fcam;
    c2.classifier = classifier_;
    c2.out = out_ / run.folder;
    c2.epochs = e2_;
    c2.batch_size = tiny_ ? 16 : integer_setting("stage2_batch");
    c2.sgd.lr = number_setting("stage2_lr");
    c2.lr_step = integer_setting("stage2_lr_step");
    c2.fcam.cam_method = run.cam_method;
    c2.fcam.sampling.n_foreground = c2.fcam.sampling.n_background = integer_setting("samples");
    c2.fcam.sampling.n_minus = number_setting("n_minus");
    c2.fcam.sampling.erosion = integer_setting("erosion");
    c2.fcam.crf.weight = number_setting("crf_lambda");
    c2.fcam.crf = c2.fcam.crf.scaled_to(setup_.size);
    c2.fcam.use_crf = run.crf;
    c2.fcam.use_size = run.size;
    c2.select_on_pxap = setup_.select_on_pxap;
    const train::TrainResult r2 = train::run_training(c2, say);
    histories_.push_back({"stage 2: " + run.name, validation_metric(c2), r2.val_history, r2.best_epoch});
    auto model = models::load_fcam_checkpoint<float>(c2.out / "best.safetensors");
    model->to(base_.device);
    eval_.source = train::MapSource::fcam;
    train::EvaluationResult r = evaluate(*model, run.name);
    results_.rows.push_back(demo::row_of(run.group, run.name, r));
    if (run.folder == "fcam-cam") fcam_result_ = std::move(r);
    plan_.end(results_);
  }

  // Downscale simulation and pictures.
  void simulate_and_draw() {
    plan_.begin(phase_++);
    results_.downscale = metrics::downscale_simulation_pxap(base_.mask_root / "OpenImages", test_.metadata.masks, setup_.size,
                                                            {1, 2, 4, 8, 16, 32}, eval_.interval);
    const std::vector<plot::MapCounts> sources{
        {"CAM*", plot::orange, &*cam_result_->boxes, &*cam_result_->pixels},
        {"CAM* + F-CAM", plot::green, &*fcam_result_->boxes, &*fcam_result_->pixels}};
    data::write_png(out_ / "fig5_boxacc.png", plot::box_accuracy_figure(sources));
    data::write_png(out_ / "fig5_precision_recall.png", plot::precision_recall_figure(sources));
    data::write_png(out_ / "fig6_activations.png", plot::activation_histogram_figure(sources));
    auto model = models::load_fcam_checkpoint<float>(out_ / "fcam-cam" / "best.safetensors");
    data::write_png(out_ / "overlays.png",
                    overlay_examples(*model, test_, class_names_, setup_.size, pictures_, cam_result_->boxes->best_threshold(iou50),
                                     fcam_result_->boxes->best_threshold(iou50), base_.transform.normalization));
    plan_.end(results_);
  }

  // results.json and report.md.
  void write_report() {
    io::write_file_atomic(out_ / "results.json", json::dump(demo::to_json(results_)) + "\n");
    std::ostringstream settings;
    settings << "Dataset `" << data_dir_.string() << "`: " << base_.train.size() << " / " << base_.val.size() << " / "
             << test_.size() << " train / val / test images at " << setup_.size << "×" << setup_.size << ", "
             << setup_.classes << " classes. ";
    if (setup_.pretrained)
      settings << "Classifier: MobileNetV2 with the ImageNet weights of `" << base_.pretrained.string()
               << "`, its features frozen, and a WGAP head trained with image labels only for " << e1_
               << " epochs; F-CAM decoder (widths scaled by " << setup_.base_width << "/64): ";
    else
      settings << "Classifier: ResNet18-WSOL at a quarter of the width (base 16), trained from scratch with image "
                  "labels only for "
               << e1_ << " epochs; F-CAM decoder: ";
    settings << e2_ << " epochs on the classifier's CAM pseudo-labels (" << integer_setting("samples")
             << " foreground and background pixels per image, n− " << number_setting("n_minus") << ", erosion "
             << integer_setting("erosion") << ", CRF λ " << number_setting("crf_lambda") << " at 224 px; λ and σ_xy scaled to "
             << setup_.size << " px; the epoch of the best validation "
             << (setup_.select_on_pxap ? "PxAP" : "MaxBoxAcc") << " kept). Training seed "
             << results_.seed << ", " << (base_.device == Device::cuda ? "on a GPU, " : "") << num_threads()
             << " threads, total time " << minutes(plan_.elapsed()) << ".";
    demo::ReportContext context{setup_.title, settings.str(), test_.size(), eval_.interval, flags_.boolean("ablation"),
                                cam_result_->boxes->best_threshold(iou50), fcam_result_->boxes->best_threshold(iou50),
                                histories_};
    io::write_file_atomic(out_ / "report.md", demo::report_markdown(results_, context));
    std::cout << "\n" << demo::metrics_table(results_.rows, "baselines") << demo::metrics_table(results_.rows, "fcam")
              << "\nreport: " << (out_ / "report.md").string() << " (total " << minutes(plan_.elapsed()) << ")\n";
  }

  // The test metrics of one model, printed as one line.
  train::EvaluationResult evaluate(models::FcamModel<float>& model, const std::string& what) {
    app::Progress progress("test: " + what, "images", test_.size());
    train::EvaluationResult r =
        train::evaluate(model, test_, eval_, [&](std::int64_t done, std::int64_t) { progress.update(done); });
    print_metrics(what, r);
    return r;
  }

  static void print_metrics(const std::string& what, const train::EvaluationResult& r) {
    std::printf("%-24s MaxBoxAcc %5.1f  V2 %5.1f  PxAP %5.1f  top-1 loc %5.1f  accuracy %5.1f\n", what.c_str(),
                r.max_box_acc.at(1), r.max_box_acc_v2, r.pxap, r.top1_localization, r.accuracy);
    std::fflush(stdout);
  }

  static void say(const std::string& line) { std::cout << line << std::endl; }

  // The score a training run selects its checkpoint on (as run_training picks it).
  static std::string validation_metric(const train::TrainConfig& c) {
    return c.val.metadata.has_boxes() && !c.select_on_pxap ? "MaxBoxAcc@50" : "PxAP";
  }

  const app::Flags& flags_;
  fs::path out_, data_dir_;
  bool tiny_;
  DemoDataset setup_;
  data::ClutteredDatasetOptions cfmnist_;  // when --dataset cfmnist builds it
  std::vector<std::string> class_names_;
  std::vector<FcamRun> runs_;
  train::TrainConfig base_;
  std::int64_t e1_ = 0, e2_ = 0;
  int pictures_ = 0;
  Plan plan_;
  std::size_t phase_ = 0;
  demo::Results results_;
  data::WsolDataset test_;
  train::EvaluationOptions eval_;
  fs::path classifier_;  // the stage-1 checkpoint every stage-2 run starts from
  std::optional<train::EvaluationResult> cam_result_, fcam_result_;
  std::vector<demo::History> histories_;
};

}  // namespace

int main(int argc, char** argv) {
  app::Flags flags("fcam-demo",
                   "F-CAM end to end on real photos (or cluttered Fashion-MNIST): classifier, six CAM baselines,\n"
                   "F-CAM decoder, exact WSOL metrics, pictures and runs/demo/report.md.");
  define_flags(flags);
  examples::add_image_limit_flag(flags);
  try {
    if (!flags.parse(argc, argv)) {
      std::cout << flags.usage();
      return 0;
    }
    examples::apply_image_limit_flag(flags);
    if (!flags.text("collect").empty()) return collect(flags.comma_list("collect"), flags.text("out"));
    DemoRun(flags).run();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << app::error_line("fcam-demo", e.what()) << "\n";
    return 1;
  }
}

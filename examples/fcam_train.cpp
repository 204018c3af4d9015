// fcam-train: F-CAM's two training stages on a dataset in wsolevaluation layout.
//
//   fcam-train classifier --data_root IMAGES --metadata_root META --dataset_name CUB
//       --arch resnet50 --epochs 50 --lr 0.0017 --lr_step 15 --out runs/cls
//   fcam-train fcam --classifier runs/cls/best.safetensors --data_root IMAGES
//       --metadata_root META --dataset_name CUB --epochs 50 --lr 0.01 --out runs/fcam
//
// Splits are <metadata_root>/<dataset_name>/{train,val,test}; images <data_root>/<image id>;
// OpenImages masks under <mask_root>/OpenImages. Every docs/method.md constant is a flag with its
// default. Writes <out>/{best,last}.safetensors (fcam-infer reads them), state.safetensors
// (--resume), log.csv, and with --json FILE the test metrics of the best and last checkpoints.
//
// Data-parallel over MPI (built with -DFCAM_WITH_MPI=ON; docs/distributed.md):
//   mpirun -np 2 fcam-train classifier … --batch_size 16     (2 ranks × 16 images per step)
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include <fcam/app/error_line.hpp>
#include <fcam/dist/mpi.hpp>
#include <fcam/app/device_flag.hpp>
#include <fcam/app/precision_flag.hpp>
#include <fcam/fcam.hpp>
#include <fcam/train/trainer.hpp>

#include "image_limit_flag.hpp"

using namespace fcam;
namespace fs = std::filesystem;

namespace {

json::Value metrics_json(const train::EvaluationResult& r) {
  json::Object o{{"localization", r.localization}, {"accuracy", r.accuracy}, {"images", static_cast<double>(r.images)}};
  if (!r.max_box_acc.empty()) {
    o.emplace("max_box_acc_30_50_70", json::Array{r.max_box_acc[0], r.max_box_acc[1], r.max_box_acc[2]});
    o.emplace("max_box_acc_v2", r.max_box_acc_v2);
    o.emplace("top1_localization", r.top1_localization);
  }
  return json::Value(o);
}

void define_flags(app::Flags& f) {
  f.add_string("data_root", "", "image root: images are <data_root>/<image id>");
  f.add_string("metadata_root", "metadata", "splits are <metadata_root>/<dataset_name>/{train,val,test}");
  f.add_string("mask_root", "dataset", "OpenImages masks are <mask_root>/OpenImages/<mask path>");
  f.add_string("dataset_name", "CUB", "CUB, ILSVRC or OpenImages (boxes: MaxBoxAcc; masks: PxAP)");
  f.add_string("split", "train", "training split");
  f.add_string("val_split", "val", "model-selection split");
  f.add_string("test_split", "test", "final test split ('' : none)");
  f.add_string("out", "runs/fcam-train", "run folder");
  f.add_string("arch", "resnet50", "classifier: " + names_of(models::arch_table));
  f.add_int("base_width", 64, "classifier: encoder base width (64 = torchvision's; 16 for CPU-sized models)", app::Range{1, 1024});
  f.add_int("num_classes", 200, "classifier: number of classes", app::Range{1, 1000000});
  f.add_string("pretrained", "",
               "classifier: pretrained torchvision weights of the encoder (safetensors; e.g. the\n"
               "      MobileNetV2 files with --arch mobilenet_v2); their classifier is dropped");
  f.add_bool("freeze_encoder", false,
             "classifier: train the head alone on the frozen encoder's features (a linear probe of\n"
             "      --pretrained weights: a few hundred labelled images suffice)");
  f.add_string("classifier", "",
               "fcam: the stage-1 checkpoint (encoder and head are loaded and frozen); classifier: start\n"
               "      from this checkpoint (with --epochs 0: evaluate its CAMs, e.g. PxAP on a mask split)");
  f.add_int("epochs", 50, "epochs", app::Range{0, 100000});
  f.add_int("batch_size", 32, "images per step", app::Range{1, 65536});
  f.add_double("lr", 0.01, "base learning rate (authors' CUB/ResNet50: 0.0017 stage 1, 0.01 stage 2)", app::Range{0});
  f.add_double("momentum", 0.9, "SGD momentum", app::Range{0, 1});
  f.add_bool("nesterov", true, "Nesterov momentum");
  f.add_double("weight_decay", 1e-4, "weight decay", app::Range{0});
  f.add_double("last_block_lr_factor", 10, "classifier: lr factor of the last block and the head", app::Range{0});
  f.add_int("lr_step", 0, "step schedule period in epochs (0: constant lr; authors' stage 1: 15)", app::Range{0, 100000});
  f.add_double("lr_gamma", 0.1, "step schedule factor", app::Range{0});
  f.add_int("warmup_epochs", 0, "linear lr warm-up epochs", app::Range{0, 100000});
  f.add_int("resize_size", 256, "training images are resized to this square, then cropped", app::Range{1, 8192});
  f.add_int("crop_size", 224, "network input size (also the evaluation size)", app::Range{1, 8192});
  f.add_int("workers", 2, "image loading threads", app::Range{0, 256});
  f.add_bool("skip_bad", false, "skip unreadable images (counted in the summary) instead of stopping");
  f.add_seed("seed", 0, "seed of new layers' initial weights, the order, crops, flips and pseudo-label sampling (64-bit)");
  f.add_bool("resume", false, "continue the run in --out from its last finished epoch (an error when --out has none)");
  f.add_string("device", "auto", app::device_flag_help());
  f.add_string("precision", "fp32", app::precision_flag_help());
  f.add_int("log_every", 20, "GPU: read the running losses back every N steps (the CPU reads every step)",
            app::Range{1, 1000000});
  f.add_string("json", "", "write the final metrics (test: best and last checkpoints) to this file");
  f.add_bool("quiet", false, "no progress lines");
  f.add_string("eval_cam", "cam", "classifier: the CAM method evaluated on validation / test (" + names_of(cam::method_table) + ")");
  f.add_double("val_interval", 0.004, "threshold step of the validation metric", app::Range{1e-6, 0.5});
  f.add_double("test_interval", 0.001, "threshold step of the test metrics", app::Range{1e-6, 0.5});
  // Stage 2 (docs/method.md §5).
  f.add_string("cam_method", "cam", "fcam: pseudo-label CAM: " + names_of(cam::method_table));
  f.add_int("n_fg", 1, "fcam: foreground pixels sampled per image", app::Range{0, 1000000});
  f.add_int("n_bg", 1, "fcam: background pixels sampled per image", app::Range{0, 1000000});
  f.add_double("n_minus", 0.1, "fcam: fraction of lowest-CAM pixels that are background candidates", app::Range{0, 1});
  f.add_int("erosion", 11, "fcam: erosion of the foreground candidates (odd; scale with the image size)", app::Range{1, 1001});
  f.add_int("dilation", 3, "fcam: dilation of each sampled pixel (odd)", app::Range{1, 1001});
  f.add_bool("pce", true, "fcam: use the partial cross-entropy term");
  f.add_double("alpha", 1.0, "fcam: weight of the partial cross-entropy", app::Range{0});
  f.add_bool("crf", true, "fcam: use the CRF term");
  f.add_double("crf_lambda", 2e-9, "fcam: CRF weight at 224 px (scaled by (224/crop)^2 unless --crf_no_scaling)", app::Range{0});
  f.add_double("sigma_rgb", 15, "fcam: CRF colour sigma", app::Range{1e-6});
  f.add_double("sigma_xy", 100, "fcam: CRF spatial sigma at 224 px (scaled by crop/224 unless --crf_no_scaling)", app::Range{1e-6});
  f.add_bool("crf_no_scaling", false, "fcam: use crf_lambda and sigma_xy as given at any crop size");
  f.add_bool("size", true, "fcam: use the size (log-barrier) term");
  f.add_double("size_lambda", 0.1, "fcam: weight of the size term", app::Range{0});
  // Data-parallel training (started by mpirun / srun; docs/distributed.md).
  f.add_double("dist_timeout", 600,
               "mpirun: seconds a rank waits for the others in a collective before the run stops,\n"
               "      naming the ranks that died or stall", app::Range{0.1, 1e7});
  f.add_double("bucket_mb", 25, "mpirun: gradient bucket size in MB (all-reduced as backward goes on)", app::Range{0.001, 1e6});
  f.add_bool("overlap", true, "mpirun: start each bucket's all-reduce during backward (else all after it)");
}

data::WsolDataset split_of(const app::Flags& f, const std::string& split, int classes) {
  const fs::path dir = fs::path(f.text("metadata_root")) / f.text("dataset_name") / split;
  return {f.text("data_root"), data::read_wsol_metadata(dir, classes)};
}

/// The run configured by the command line (every value checked before any work starts).
train::TrainConfig config_from(const app::Flags& flags) {
  FCAM_CHECK(flags.positional().size() == 1, "fcam-train: give exactly one command: classifier or fcam");
  train::TrainConfig c;
  c.stage = parse_named(train::stage_table, flags.positional()[0], "command");
  FCAM_CHECK(!flags.text("data_root").empty(), "fcam-train: --data_root is required");
  c.model.arch = models::parse_arch(flags.text("arch"));
  c.model.num_classes = flags.integer("num_classes");
  c.model.base_width = flags.integer("base_width");
  c.classifier = flags.text("classifier");
  c.pretrained = flags.text("pretrained");
  c.freeze_encoder = flags.boolean("freeze_encoder");
  FCAM_CHECK(!c.freeze_encoder || c.stage == train::Stage::classifier,
             "fcam-train fcam: --freeze_encoder is for the classifier stage (stage 2 always freezes it)");
  int classes = c.model.num_classes;
  FCAM_CHECK(c.stage != train::Stage::fcam || !c.classifier.empty(),
             "fcam-train fcam: --classifier (the stage-1 checkpoint) is required");
  if (!c.classifier.empty()) classes = static_cast<int>(models::read_model_config(c.classifier).num_classes);
  c.train = split_of(flags, flags.text("split"), classes);
  c.val = split_of(flags, flags.text("val_split"), classes);
  if (!flags.text("test_split").empty()) c.test = split_of(flags, flags.text("test_split"), classes);
  c.mask_root = flags.text("mask_root");
  c.out = flags.text("out");
  c.epochs = flags.integer("epochs");
  c.batch_size = flags.integer("batch_size");
  c.sgd = {.lr = flags.number("lr"),
           .momentum = flags.number("momentum"),
           .nesterov = flags.boolean("nesterov"),
           .weight_decay = flags.number("weight_decay")};
  c.last_block_lr_factor = flags.number("last_block_lr_factor");
  c.lr_step = flags.integer("lr_step");
  c.lr_gamma = flags.number("lr_gamma");
  c.warmup_epochs = flags.integer("warmup_epochs");
  c.transform.resize_size = flags.integer("resize_size");
  c.transform.crop_size = flags.integer("crop_size");
  c.workers = flags.integer("workers");
  c.skip_bad = flags.boolean("skip_bad");
  c.seed = flags.seed("seed");
  c.resume = flags.boolean("resume");
  c.device = app::resolve_device(flags.text("device"), "fcam-train");
  app::apply_precision(flags.text("precision"), c.device, "fcam-train");
  c.log_every = flags.integer("log_every");
  FCAM_CHECK(!c.resume || fs::exists(c.out / "state.safetensors"), "--resume: ", c.out.string(),
             " has no training state (state.safetensors), so there is nothing to resume; run without --resume to start");
  c.progress = app::progress_printer(!flags.boolean("quiet"));
  c.eval_cam_method = cam::parse_method(flags.text("eval_cam"));
  c.val_interval = flags.number("val_interval");
  c.test_interval = flags.number("test_interval");
  auto& l = c.fcam;
  l.cam_method = cam::parse_method(flags.text("cam_method"));
  l.sampling = {.n_foreground = flags.integer("n_fg"),
                .n_background = flags.integer("n_bg"),
                .n_minus = flags.number("n_minus"),
                .erosion = flags.integer("erosion"),
                .dilation = flags.integer("dilation")};
  for (const char* name : {"erosion", "dilation"})  // a k×k square centred on the pixel
    FCAM_CHECK(flags.integer(name) % 2 == 1, "--", name, " must be odd, got ", flags.integer(name));
  l.use_pce = flags.boolean("pce");
  l.alpha = flags.number("alpha");
  l.use_crf = flags.boolean("crf");
  l.crf = {.sigma_rgb = flags.number("sigma_rgb"), .sigma_xy = flags.number("sigma_xy"), .weight = flags.number("crf_lambda")};
  if (!flags.boolean("crf_no_scaling")) l.crf = l.crf.scaled_to(c.transform.crop_size);
  l.use_size = flags.boolean("size");
  l.size_weight = flags.number("size_lambda");
  c.reducer.bucket_bytes = std::max<std::int64_t>(1, std::llround(flags.number("bucket_mb") * (1 << 20)));
  c.reducer.overlap = flags.boolean("overlap");
  return c;
}

/// The --json summary of a finished run.
json::Object result_json(train::Stage stage, const train::TrainResult& r) {
  json::Array vals, losses;
  for (double v : r.val_history) vals.push_back(v);
  for (double v : r.loss_history) losses.push_back(v);
  json::Object o{{"stage", std::string(train::stage_name(stage))}, {"best_epoch", static_cast<double>(r.best_epoch)},
                 {"best_val", r.best_val}, {"val_history", vals}, {"loss_history", losses},
                 {"skipped_images", static_cast<double>(r.skipped_images)}};
  if (r.test_best.images > 0) {
    o.emplace("test_best", metrics_json(r.test_best));
    o.emplace("test_last", metrics_json(r.test_last));
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  app::Flags flags("fcam-train",
                   "F-CAM training. Commands: 'classifier' (stage 1, cross-entropy) and 'fcam' (stage 2: frozen\n"
                   "classifier, decoder trained with alpha*PCE + CRF + size).");
  define_flags(flags);
  examples::add_image_limit_flag(flags);
  std::unique_ptr<dist::Communicator> world;
  try {
    flags.allow_positional("COMMAND");
    if (!flags.parse(argc, argv)) {
      std::cout << flags.usage();
      return 0;
    }
    examples::apply_image_limit_flag(flags);
    train::TrainConfig c = config_from(flags);
    world = dist::make_world({.timeout_seconds = flags.number("dist_timeout")});
    if (world->size() > 1) {
      c.comm = world.get();
      // Data-parallel training runs on the CPU for now (train/trainer.hpp): there, auto is the CPU
      // even where a GPU is visible, and only an explicit --device cuda is refused.
      if (flags.text("device") == "auto" && c.device == Device::cuda) {
        FCAM_CHECK(flags.text("precision") == "fp32", "fcam-train: data-parallel training runs on the CPU for now, ",
                   "in fp32: --precision ", flags.text("precision"), " needs a single-process run with --device cuda");
        c.device = Device::cpu;
      }
      // The cores of a machine are shared by its ranks (FCAM_NUM_THREADS overrides).
      if (!std::getenv("FCAM_NUM_THREADS")) set_num_threads(std::max(1, omp_get_num_procs() / world->local_size()));
      if (!world->is_root()) c.progress = {};
      if (world->is_root())
        std::cout << "data-parallel: " << world->size() << " ranks (" << world->backend() << "), " << c.batch_size
                  << " images per rank and step, " << num_threads() << " threads per rank" << std::endl;
    }
    const train::TrainResult r = train::run_training(c, [](const std::string& line) { std::cout << line << std::endl; });
    if (!world->is_root()) return 0;
    std::cout << "best epoch " << r.best_epoch << ", val " << r.best_val << "\n";
    if (r.skipped_images > 0) std::cout << "skipped " << r.skipped_images << " unreadable training images\n";
    if (r.test_best.images > 0)
      std::cout << "test (best): localization " << r.test_best.localization << ", accuracy " << r.test_best.accuracy
                << "\ntest (last): localization " << r.test_last.localization << ", accuracy "
                << r.test_last.accuracy << "\n";
    if (!flags.text("json").empty())
      io::write_file_atomic(flags.text("json"), json::dump(json::Value(result_json(c.stage, r))) + "\n");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << app::error_line("fcam-train", world && world->size() > 1 ? world->describe(world->rank()) + ": " + e.what()
                                                                          : std::string(e.what()))
              << std::endl;
    if (world) world->abort(1);  // the other ranks would wait for this one until their timeout
    return 1;
  }
}

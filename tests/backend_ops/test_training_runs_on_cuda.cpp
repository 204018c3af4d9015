// test_backend_ops: whole training runs on the GPU ([cuda-train]: train::run_training with
// Device::cuda, as fcam-train and fcam-demo run it): the loader's pinned batches copied ahead,
// the steps, the loss sums read back every log_every steps, validation, checkpoints and the
// training state. The step kernels have their own cases (test_train_on_cuda.cpp); these cover
// the loop around them, which no other case runs on a GPU. Every run starts from one saved model:
// - with a zero learning rate (the weights stay put, so float rounding cannot grow from step to
//   step) a GPU epoch sees the CPU's batches and gives the CPU's stage-1 loss within 1e-5;
// - a run stopped after one epoch on either device resumes on the other (the state's momentum
//   moves with it), keeps the first epoch's figures bit for bit and trains the second close to
//   an uninterrupted run on the first device (1e-2: training steps amplify float rounding);
// - stage 2 (pseudo-labels, CRF lattice, size loss on the GPU) trains from the GPU's classifier
//   to finite losses, and its checkpoint gives finite F-CAM maps on the CPU;
// - each task of a GPU run reports its start first and its end once, last: after the device's
//   work, where the last step is only queued (tests/progress_events.hpp).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include <fcam/train/trainer.hpp>

#include "backend_ops/compare.hpp"
#include "progress_events.hpp"
#include "wsol_test_split.hpp"

using namespace fcam;
namespace fs = std::filesystem;

namespace {

/// A tiny ResNet18 (base width 4, 3 classes), saved under `root`: the weights every run starts
/// from, written once so that every run of the case visibly loads the same file.
fs::path start_checkpoint(const fs::path& root) {
  models::ModelConfig config;
  config.arch = models::Arch::resnet18;
  config.num_classes = 3;
  config.base_width = 4;
  models::FcamModel<float> model(config.arch, config.num_classes, config.base_width);
  const fs::path path = root / "start.safetensors";
  models::save_fcam_checkpoint(model, config, path);
  return path;
}

/// Stage 1 from `start` on 8 images of 32×32 in batches of 4, validated on the same images, into
/// `out`.
train::TrainConfig tiny_run(const data::WsolDataset& split, const fs::path& start, const fs::path& out,
                            Device device, std::int64_t epochs) {
  train::TrainConfig c;
  c.classifier = start;
  c.train = c.val = split;
  c.mask_root = split.data_root.parent_path() / "masks";
  c.out = out;
  c.epochs = epochs;
  c.batch_size = 4;
  c.workers = 1;
  c.transform.resize_size = 32;
  c.transform.crop_size = 32;
  c.seed = 3;
  c.device = device;
  return c;
}

double relative(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-12); }

bool all_finite(const Tensor<float>& t) {
  const Tensor<float> host = t.to(Device::cpu);
  return std::all_of(host.data(), host.data() + host.numel(), [](float v) { return std::isfinite(v); });
}

}  // namespace

TEST_CASE("training runs on the GPU: the CPU's losses, resumes across devices, and stage 2", "[cuda]") {
  const fs::path root = fs::temp_directory_path() / "fcam_test_training_runs_on_cuda";
  const data::WsolDataset split = test::make_wsol_split(root / "data", 8);
  const fs::path start = start_checkpoint(root);

  SECTION("with a zero learning rate, a GPU epoch gives the CPU's stage-1 loss") {
    train::TrainConfig c = tiny_run(split, start, root / "still_cpu", Device::cpu, 1);
    c.sgd.lr = 0;
    const train::TrainResult cpu = train::run_training(c);
    c.device = Device::cuda;
    c.out = root / "still_gpu";
    test::ProgressRecorder progress;
    c.progress = progress.callback();
    const train::TrainResult gpu = train::run_training(c);
    CHECK(test::check_progress_events(progress.events()) == 3);  // validation, the epoch, validation
    REQUIRE(cpu.loss_history.size() == 1);
    REQUIRE(gpu.loss_history.size() == 1);
    INFO("CPU loss " << cpu.loss_history[0] << ", GPU loss " << gpu.loss_history[0]);
    CHECK(std::isfinite(gpu.loss_history[0]));
    CHECK(relative(gpu.loss_history[0], cpu.loss_history[0]) <= 1e-5);
    CHECK(fs::exists(c.out / "best.safetensors"));
    CHECK(fs::exists(c.out / "state.safetensors"));
  }

  SECTION("a run stopped after one epoch resumes on the other device") {
    for (const Device first : {Device::cuda, Device::cpu}) {
      const Device second = first == Device::cuda ? Device::cpu : Device::cuda;
      INFO("first " << to_string(first) << ", then " << to_string(second));
      const std::string name = first == Device::cuda ? "gpu_then_cpu" : "cpu_then_gpu";
      const train::TrainResult whole = train::run_training(tiny_run(split, start, root / (name + "_whole"), first, 2));
      const train::TrainResult part = train::run_training(tiny_run(split, start, root / name, first, 1));
      train::TrainConfig more = tiny_run(split, start, root / name, second, 2);
      more.resume = true;
      const train::TrainResult resumed = train::run_training(more);
      REQUIRE(whole.loss_history.size() == 2);
      REQUIRE(resumed.loss_history.size() == 2);
      REQUIRE(resumed.val_history.size() == 3);
      // The first epoch comes from the state as it was written.
      CHECK(resumed.loss_history[0] == part.loss_history[0]);
      CHECK(resumed.val_history[1] == part.val_history[1]);
      INFO("second epoch's loss: uninterrupted " << whole.loss_history[1] << ", resumed " << resumed.loss_history[1]);
      CHECK(std::isfinite(resumed.loss_history[1]));
      CHECK(relative(resumed.loss_history[1], whole.loss_history[1]) <= 1e-2);
      // The checkpoint of a run that moved devices loads and classifies on the CPU.
      const auto model = models::load_fcam_checkpoint<float>(root / name / "last.safetensors");
      NoGradGuard no_grad;
      model->eval();
      CHECK(all_finite(model->classify(test::random_tensor({2, 3, 32, 32}, 7)).logits));
    }
  }

  SECTION("stage 2 trains on the GPU from the GPU's classifier") {
    const fs::path classifier = root / "stage1_gpu";
    train::run_training(tiny_run(split, start, classifier, Device::cuda, 1));
    train::TrainConfig c = tiny_run(split, classifier / "best.safetensors", root / "stage2_gpu", Device::cuda, 1);
    c.stage = train::Stage::fcam;
    test::ProgressRecorder progress;
    c.progress = progress.callback();
    const train::TrainResult r = train::run_training(c);
    CHECK(test::check_progress_events(progress.events()) == 3);
    REQUIRE(r.loss_history.size() == 1);
    CHECK(std::isfinite(r.loss_history[0]));
    CHECK(std::isfinite(r.val_history[1]));
    const auto model = models::load_fcam_checkpoint<float>(c.out / "last.safetensors");
    NoGradGuard no_grad;
    model->eval();
    const Tensor<float> x = test::random_tensor({2, 3, 32, 32}, 8);
    const Tensor<float> maps = model->foreground(model->classify(x).stages);
    REQUIRE(maps.numel() > 0);
    CHECK(all_finite(maps));
  }
  fs::remove_all(root);
}

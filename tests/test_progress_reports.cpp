// train::run_training's progress reports on the CPU (tests/progress_events.hpp): every task of
// both stages (epochs, validations, the final tests) reports its start before any work and its
// end once, last. A task that reported its first batch first had a progress line whose clock
// started after that batch; one that reported 100% from inside the loop did so on a GPU before
// the device had finished (both seen in fcam-demo --device cuda on the CUDA emulation).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <fcam/fcam.hpp>
#include <fcam/train/trainer.hpp>

#include "progress_events.hpp"
#include "wsol_test_split.hpp"

using namespace fcam;
namespace fs = std::filesystem;

TEST_CASE("run_training reports each task's start first and its end once, last", "[train]") {
  const fs::path root = fs::temp_directory_path() / "fcam_test_progress_reports";
  const data::WsolDataset split = test::make_wsol_split(root / "data", 8);
  train::TrainConfig c = test::tiny_new_model_run(split);
  c.test = split;
  c.epochs = 2;
  c.batch_size = 4;  // two steps per epoch
  c.out = root / "classifier";
  test::ProgressRecorder stage1;
  c.progress = stage1.callback();
  train::run_training(c);
  const std::vector<test::ProgressRecorder::Event> events = stage1.events();
  // Validation after epochs 0, 1 and 2, the two epochs, the tests of the best and last models.
  CHECK(test::check_progress_events(events) == 7);
  CHECK(std::count_if(events.begin(), events.end(), [](const auto& e) { return e.task == "classifier epoch 2/2"; }) ==
        3);  // the start, the first step, the end (after the second step)

  c.stage = train::Stage::fcam;
  c.classifier = root / "classifier" / "best.safetensors";
  c.epochs = 1;
  c.out = root / "fcam";
  test::ProgressRecorder stage2;
  c.progress = stage2.callback();
  train::run_training(c);
  CHECK(test::check_progress_events(stage2.events()) == 5);
  fs::remove_all(root);
}

// fcam-bench-train: where the time of one F-CAM stage-2 training step goes (issue [train]):
// ResNet50-WSOL, batch 8, 224×224 crops from 500×375 PNG images (CUB-sized), CAM pseudo-labels,
// α·PCE + CRF + size, SGD on the decoder. Prints the mean milliseconds of each part over
// --steps steps after one warm-up step.
//   fcam-bench-train [--arch resnet50] [--batch 8] [--steps 3] [--threads N]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <fcam/fcam.hpp>

using namespace fcam;

int main(int argc, char** argv) {
  app::Flags flags("fcam-bench-train", "Breakdown of one F-CAM stage-2 training step.");
  flags.add_string("arch", "resnet50", "encoder");
  flags.add_int("batch", 8, "images per step");
  flags.add_int("steps", 3, "timed steps (after one warm-up step)");
  flags.add_int("threads", 0, "CPU threads (0: FCAM_NUM_THREADS or all)");
  try {
    if (!flags.parse(argc, argv)) {
      std::printf("%s", flags.usage().c_str());
      return 0;
    }
    if (flags.integer("threads") > 0) set_num_threads(flags.integer("threads"));
    const int batch_size = flags.integer("batch");
    // A split of CUB-sized images on disk.
    const auto root = std::filesystem::temp_directory_path() / "fcam_bench_train";
    std::filesystem::create_directories(root / "img");
    std::ofstream ids(root / "image_ids.txt"), labels(root / "class_labels.txt"), sizes(root / "image_sizes.txt"),
        loc(root / "localization.txt");
    Rng rng(1);
    for (int i = 0; i < batch_size; ++i) {
      data::Rgb8 img{500, 375, std::vector<std::uint8_t>(500 * 375 * 3)};
      for (std::size_t k = 0; k < img.pixels.size(); ++k)
        img.pixels[k] = static_cast<std::uint8_t>(128 + 60 * std::sin(0.01 * static_cast<double>(k % 1500) + i) + rng.uniform(-20, 20));
      const std::string id = "img" + std::to_string(i) + ".png";
      data::write_png(root / "img" / id, img);
      ids << id << "\n";
      labels << id << "," << i % 200 << "\n";
      sizes << id << ",500,375\n";
    }
    ids.close(), labels.close(), sizes.close(), loc.close();
    const data::WsolDataset ds{root / "img", data::read_wsol_metadata(root, 200)};
    data::LoaderOptions lo;
    lo.batch_size = batch_size;
    lo.workers = 0;  // timed on the calling thread; training overlaps it with the step (workers)
    data::DataLoader loader(ds, lo);

    models::FcamModel<float> model(models::parse_arch(flags.text("arch")), 200);
    optim::Sgd<float> sgd(train::parameter_groups(model, train::Stage::fcam), optim::SgdOptions{});
    train::FcamLossOptions o;
    const int steps = flags.integer("steps");
    double data_ms = 0;
    train::FcamStepTimes times;
    for (int step = 0; step <= steps; ++step) {
      loader.start_epoch(step);
      const auto t0 = std::chrono::steady_clock::now();
      const data::Batch batch = *loader.next();
      const double load = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      train::FcamStepTimes one;
      train::fcam_step(model, sgd, batch, o, 1.0, rng, &one);
      if (step == 0) continue;  // warm-up
      data_ms += load;
      times += one;
    }
    const double n = steps;
    std::printf("F-CAM stage-2 step, %s, batch %d, 224x224, %d threads; mean of %d steps (ms)\n\n", flags.text("arch").c_str(),
                batch_size, num_threads(), steps);
    std::printf("| part | ms |\n|---|---:|\n");
    const std::pair<const char*, double> rows[] = {
        {"data (load 500x375 PNG, resize 256, crop 224, flip; one thread)", data_ms},
        {"encoder forward (frozen, inference)", times.encoder}, {"CAM (ground-truth class, upsampled)", times.cam},
        {"sampling regions", times.sampling}, {"decoder + head forward, softmax", times.decoder_forward},
        {"partial cross-entropy", times.pce}, {"CRF loss (lattice, forward + gradient)", times.crf},
        {"size loss", times.size}, {"decoder + head backward", times.backward}, {"SGD step", times.optimiser}};
    double total = 0;
    for (const auto& [name, ms] : rows) {
      std::printf("| %s | %.1f |\n", name, ms / n);
      total += ms / n;
    }
    std::printf("| **total** | **%.1f** (%.1f images/s) |\n", total, batch_size * 1000.0 / total);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fcam-bench-train: error: %s\n", e.what());
    return 1;
  }
}

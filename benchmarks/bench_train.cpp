// fcam-bench-train: where the time of one training step goes (issue [train]). Stage 2 (the
// default): ResNet50-WSOL, batch 8, 224×224 crops from 500×375 PNG images (CUB-sized), CAM
// pseudo-labels, α·PCE + CRF + size, SGD on the decoder. Stage 1: the classifier in training
// mode, cross-entropy, backward through head and encoder, SGD on both. Prints the mean
// milliseconds of each part over --steps steps after one warm-up step. On a GPU (--device cuda)
// each part ends with a wait for the device, so that its time is its own work's.
//   fcam-bench-train [--stage 2] [--arch resnet50] [--base_width 64] [--batch 8] [--size 224]
//                    [--steps 3] [--threads N] [--device cpu] [--tf32] [--crf 1]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <fcam/app/device_flag.hpp>
#include <fcam/fcam.hpp>

using namespace fcam;

int main(int argc, char** argv) {
  app::Flags flags("fcam-bench-train", "Breakdown of one training step (stage 1 or 2).");
  flags.add_int("stage", 2, "1: the classifier; 2: the F-CAM decoder on the frozen classifier");
  flags.add_string("arch", "resnet50", "encoder");
  flags.add_int("base_width", 64, "encoder base width (16: the cluttered Fashion-MNIST demo's ResNet18)");
  flags.add_int("batch", 8, "images per step");
  flags.add_int("size", 224, "crop size (images are resized to size·256/224 first)");
  flags.add_int("steps", 3, "timed steps (after one warm-up step)");
  flags.add_int("threads", 0, "CPU threads (0: FCAM_NUM_THREADS or all)");
  flags.add_string("device", "cpu", app::device_flag_help());
  flags.add_bool("tf32", false, "on a GPU: TF32 tensor-core math in convolutions and matrix products");
  flags.add_int("crf", 1, "stage 2: the CRF term on (1) or off (0)", {0, 1});
  try {
    if (!flags.parse(argc, argv)) {
      std::printf("%s", flags.usage().c_str());
      return 0;
    }
    if (flags.integer("threads") > 0) set_num_threads(flags.integer("threads"));
    const int batch_size = flags.integer("batch"), stage = flags.integer("stage"), size = flags.integer("size");
    if (stage != 1 && stage != 2) throw Error("--stage must be 1 or 2, got " + std::to_string(stage));
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
    lo.transform.crop_size = size;
    lo.transform.resize_size = size * 256 / 224;
    data::DataLoader loader(ds, lo);

    const Device device = app::resolve_device(flags.text("device"), "fcam-bench-train");
#if FCAM_WITH_CUDA
    cuda::set_tf32(flags.boolean("tf32"));
#endif
    models::FcamModel<float> model(models::parse_arch(flags.text("arch")), 200, flags.integer("base_width"));
    model.to(device);
    const train::Stage which = stage == 1 ? train::Stage::classifier : train::Stage::fcam;
    optim::Sgd<float> sgd(train::parameter_groups(model, which), optim::SgdOptions{});
    train::FcamLossOptions o;
    o.use_crf = flags.integer("crf") == 1;
    const int steps = flags.integer("steps");
    double data_ms = 0;
    train::FcamStepTimes times;  // stage 1 fills encoder (forward), pce (cross-entropy), backward, optimiser
    using Clock = std::chrono::steady_clock;
    auto ms_since = [device](Clock::time_point t) {
      wait_for(device);  // a GPU part's own work, not just its launches
      return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
    };
    for (int step = 0; step <= steps; ++step) {
      loader.start_epoch(step);
      const auto t0 = Clock::now();
      const data::Batch batch = *loader.next();
      const double load = ms_since(t0);
      train::FcamStepTimes one;
      if (stage == 2) {
        train::fcam_step(model, sgd, batch, o, 1.0, rng, &one);
      } else {  // classifier_step, part by part
        model.train();
        sgd.zero_grad();
        const std::vector<std::int64_t> targets(batch.labels.begin(), batch.labels.end());
        auto t = Clock::now();
        const Tensor<float> logits = model.classify(train::batch_tensor<float>(batch.inputs, device)).logits;
        one.encoder = ms_since(t), t = Clock::now();
        const CrossEntropyResult<float> ce = cross_entropy(logits, targets);
        one.pce = ms_since(t), t = Clock::now();
        model.backward_classifier(ce.grad, false);  // as classifier_step
        one.backward = ms_since(t), t = Clock::now();
        sgd.step();
        one.optimiser = ms_since(t);
      }
      if (step == 0) continue;  // warm-up
      data_ms += load;
      times += one;
    }
    const double n = steps;
    std::printf("%s step, %s (base width %lld), batch %d, %dx%d, %d threads, %s%s; mean of %d steps (ms)\n\n",
                stage == 1 ? "Classifier (stage-1)" : "F-CAM stage-2", flags.text("arch").c_str(),
                static_cast<long long>(flags.integer("base_width")), batch_size, size, size, num_threads(),
                to_string(device).c_str(), flags.boolean("tf32") ? " TF32" : "", steps);
    std::printf("| part | ms |\n|---|---:|\n");
    const std::string data_row = "data (load 500x375 PNG, resize " + std::to_string(size * 256 / 224) + ", crop " +
                                 std::to_string(size) + ", flip; one thread)";
    std::vector<std::pair<std::string, double>> rows{{data_row, data_ms}};
    if (stage == 1) {
      rows.insert(rows.end(), {{"forward (training mode)", times.encoder}, {"cross-entropy", times.pce},
                               {"backward (head and encoder)", times.backward}, {"SGD step", times.optimiser}});
    } else {
      rows.insert(rows.end(),
                  {{"encoder forward (frozen, inference)", times.encoder}, {"CAM (ground-truth class, upsampled)", times.cam},
                   {"sampling regions", times.sampling}, {"decoder + head forward, softmax", times.decoder_forward},
                   {"partial cross-entropy", times.pce}, {"CRF loss (lattice, forward + gradient)", times.crf},
                   {"size loss", times.size}, {"decoder + head backward", times.backward}, {"SGD step", times.optimiser}});
    }
    double total = 0;
    for (const auto& [name, ms] : rows) {
      std::printf("| %s | %.1f |\n", name.c_str(), ms / n);
      total += ms / n;
    }
    std::printf("| **total** | **%.1f** (%.1f images/s) |\n", total, batch_size * 1000.0 / total);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fcam-bench-train: error: %s\n", e.what());
    return 1;
  }
}

// fcam-eval: a drop-in for wsolevaluation's command-line evaluation (evaluation.py) — the same
// flags, folder layout, defaults and numbers — plus --threads, --json, --curves and progress.
//
//   fcam-eval --scoremap_root maps/ --metadata_root metadata/ --dataset_name CUB --split test
//             [--cam_curve_interval 0.001] [--multi_contour_eval] [--multi_iou_eval]
//             [--iou_threshold_list 30 50 70] [--mask_root dataset/] [--threads N]
//             [--json FILE] [--curves FILE]
#include <cstdio>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <exception>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <fcam/app/error_line.hpp>
#include <fcam/app/flags.hpp>
#include <fcam/app/progress.hpp>
#include <fcam/io/atomic_file.hpp>
#include <fcam/io/json.hpp>
#include <fcam/metrics/wsol_evaluation.hpp>

#include "image_limit_flag.hpp"

using namespace fcam;

namespace {

app::Flags declare_flags() {
  app::Flags f("fcam-eval", "Evaluates WSOL score maps (<scoremap_root>/<image_id>.npy, 2-D float in [0, 1]) like\n"
                            "wsolevaluation: MaxBoxAcc / MaxBoxAccV2 for CUB and ILSVRC, PxAP for OpenImages.");
  f.add_string("scoremap_root", "train_log/scoremaps/", "folder of the score maps: <scoremap_root>/<image_id>.npy");
  f.add_string("metadata_root", "metadata/", "metadata folder: <metadata_root>/<dataset_name>/<split>/");
  f.add_string("mask_root", "dataset/", "OpenImages masks: <mask_root>/OpenImages/<mask path>");
  f.add_string("dataset_name", "", "CUB, ILSVRC or OpenImages (required)");
  f.add_string("split", "", "split folder, e.g. val or test (required)");
  f.add_double("cam_curve_interval", 0.001, "threshold interval: τ = 0, interval, 2·interval, … < 1", app::Range{1e-6, 0.5});
  f.add_bool("multi_contour_eval", false, "boxes of all contours instead of the largest (MaxBoxAccV2)");
  f.add_bool("multi_iou_eval", false, "report the mean over the IoU thresholds instead of IoU 50");
  f.add_int_list("iou_threshold_list", {30, 50, 70}, "IoU thresholds in percent", app::Range{0, 100});
  f.add_int("resize_size", 224, "evaluation size (fcam extension): maps must be this square size", app::Range{1, 65536});
  f.add_int("threads", static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), "worker threads", app::Range{1, 4096});
  f.add_string("json", "", "also write the results as JSON to this file");
  f.add_string("curves", "", "also write a CSV of accuracy per threshold (boxes) or precision/recall (masks)");
  f.add_string("mask_cache", "",
               "OpenImages: cache file of the masks resized to the evaluation size; written on the first run,\n"
               "      reused while no mask file changes (skips decoding the full-size PNGs)");
  f.add_bool("quiet", false, "no progress line on stderr");
  return f;
}

std::string fixed(double v, int digits = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string curves_csv(const metrics::WsolEvaluation& r, double interval) {
  std::ostringstream out;
  out.precision(17);
  if (r.boxes) {
    const auto& sigmas = r.boxes->options().iou_thresholds;
    out << "threshold";
    for (int s : sigmas) out << ",box_acc_" << s;
    out << "\n";
    std::vector<std::vector<double>> curves;
    for (std::size_t s = 0; s < sigmas.size(); ++s) curves.push_back(r.boxes->accuracy_curve(s));
    for (std::size_t t = 0; t < r.boxes->thresholds().size(); ++t) {
      out << r.boxes->thresholds()[t];
      for (const auto& c : curves) out << "," << c[t];
      out << "\n";
    }
  } else {
    const auto [precision, recall] = r.pixels->precision_recall();
    const auto thresholds = metrics::threshold_list(interval);
    out << "threshold,precision,recall\n";
    for (std::size_t t = 0; t < precision.size(); ++t) out << thresholds[t] << "," << precision[t] << "," << recall[t] << "\n";
  }
  return out.str();
}

/// The evaluation configured by the command line (the interval checked before any work).
metrics::WsolEvaluationConfig config_from(const app::Flags& flags) {
  FCAM_CHECK(!flags.text("dataset_name").empty(), "fcam-eval: --dataset_name is required (CUB, ILSVRC or OpenImages)");
  FCAM_CHECK(!flags.text("split").empty(), "fcam-eval: --split is required");
  metrics::WsolEvaluationConfig config;
  config.scoremap_root = flags.text("scoremap_root");
  config.metadata_root = flags.text("metadata_root");
  config.mask_root = flags.text("mask_root");
  config.dataset_name = flags.text("dataset_name");
  config.split = flags.text("split");
  config.cam_curve_interval = flags.number("cam_curve_interval");
  config.multi_contour_eval = flags.boolean("multi_contour_eval");
  config.multi_iou_eval = flags.boolean("multi_iou_eval");
  config.iou_threshold_list = flags.integers("iou_threshold_list");
  config.eval_size = flags.integer("resize_size");
  config.threads = flags.integer("threads");
  config.mask_cache = flags.text("mask_cache");
  metrics::threshold_list(config.cam_curve_interval);  // validates the interval before any work

  return config;
}

/// Prints the reference's report of `r` and returns its JSON form.
json::Object print_report(const metrics::WsolEvaluationConfig& config, const metrics::WsolEvaluation& r) {
  json::Object report{{"dataset", config.dataset_name},
                      {"split", config.split},
                      {"num_images", r.num_images},
                      {"cam_curve_interval", config.cam_curve_interval},
                      {"multi_contour_eval", config.multi_contour_eval},
                      {"multi_iou_eval", config.multi_iou_eval},
                      {"performance", r.performance}};
  std::cout << "fcam-eval: " << config.dataset_name << " " << config.split << ", " << r.num_images << " images, "
            << metrics::threshold_list(config.cam_curve_interval).size() << " thresholds (interval "
            << config.cam_curve_interval << ")";
  if (r.boxes) {
    std::cout << ", " << (config.multi_contour_eval ? "all contours" : "largest contour") << "\n";
    json::Array sigmas;
    json::Object per_sigma;
    const auto acc = r.boxes->max_box_acc();
    std::cout << (config.multi_contour_eval ? "MaxBoxAcc (all contours)" : "MaxBoxAcc") << " per IoU threshold:";
    for (std::size_t s = 0; s < acc.size(); ++s) {
      const int sigma = config.iou_threshold_list[s];
      sigmas.push_back(sigma);
      per_sigma[std::to_string(sigma)] = acc[s];
      std::cout << "  " << sigma << ": " << fixed(acc[s]);
    }
    std::cout << "\n";
    report["iou_threshold_list"] = sigmas;
    report["max_box_acc"] = per_sigma;
    if (config.multi_contour_eval && config.multi_iou_eval) {
      report["max_box_acc_v2"] = r.performance;
      std::cout << "MaxBoxAccV2: " << fixed(r.performance) << "\n";
    } else if (!config.multi_iou_eval) {
      std::cout << "MaxBoxAcc (IoU 50): " << fixed(r.performance) << "\n";
    }
  } else {
    report["pxap"] = r.performance;
    std::cout << "\nPxAP: " << fixed(r.performance) << "\n";
  }
  std::cout << "localization: " << r.performance << "\n";  // the reference's closing line
  return report;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(__GLIBC__)
  // Mask PNGs decode into multi-megabyte buffers; above glibc's default 128 KiB threshold each
  // one is a fresh mmap whose pages fault in on every image. Keep them in the heap instead.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
  app::Flags flags = declare_flags();
  examples::add_image_limit_flag(flags);
  try {
    if (!flags.parse(argc, argv)) {
      std::cout << flags.usage();
      return 0;
    }
    examples::apply_image_limit_flag(flags);
    metrics::WsolEvaluationConfig config = config_from(flags);

    std::optional<app::Progress> progress;
    std::once_flag progress_created;
    config.progress = [&](std::int64_t done, std::int64_t total) {
      std::call_once(progress_created, [&] { progress.emplace("fcam-eval", "maps", total, !flags.boolean("quiet")); });
      progress->update(done);
    };

    const metrics::WsolEvaluation r = metrics::evaluate_wsol(config);

    const json::Object report = print_report(config, r);
    if (!flags.text("json").empty()) io::write_file_atomic(flags.text("json"), json::dump(json::Value(report)) + "\n");
    if (!flags.text("curves").empty()) io::write_file_atomic(flags.text("curves"), curves_csv(r, config.cam_curve_interval));
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "\n" << app::error_line("fcam-eval", e.what()) << "\n";
    return 1;
  }
}

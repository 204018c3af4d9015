// fcam-demo's results: one row per evaluated map source, saved as results.json (so that runs
// with other seeds can be summarised), and report.md with its tables.
#pragma once

#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <fcam/io/atomic_file.hpp>
#include <fcam/io/json.hpp>
#include <fcam/train/evaluate.hpp>

namespace demo {

using namespace fcam;

/// The test metrics of one map source (percentages).
struct Row {
  std::string group;  ///< "baselines", "fcam" or "ablation"
  std::string name;   ///< e.g. "GradCAM" or "CAM + F-CAM"
  double max_box_acc = 0, max_box_acc_v2 = 0, pxap = 0, top1_localization = 0, accuracy = 0;
};

/// The metric columns: title and member.
struct Column {
  const char* title;
  double Row::*value;
};
inline const std::vector<Column>& columns() {
  static const std::vector<Column> c{{"MaxBoxAcc (IoU 50)", &Row::max_box_acc},
                                     {"MaxBoxAccV2", &Row::max_box_acc_v2},
                                     {"PxAP", &Row::pxap},
                                     {"top-1 loc.", &Row::top1_localization},
                                     {"accuracy", &Row::accuracy}};
  return c;
}

inline Row row_of(const std::string& group, const std::string& name, const train::EvaluationResult& r) {
  return {group, name, r.max_box_acc.at(1), r.max_box_acc_v2, r.pxap, r.top1_localization, r.accuracy};
}

/// Everything a demo run measured.
struct Results {
  std::vector<Row> rows;                          ///< in report order
  std::vector<std::pair<int, double>> downscale;  ///< (z, PxAP of the simulated CAM)
  std::vector<std::pair<std::string, double>> phase_seconds;  ///< wall time per phase
  std::uint64_t seed = 0;                         ///< training seed
};

inline json::Value to_json(const Results& results) {
  json::Array rows, downscale, phases;
  for (const Row& r : results.rows) {
    json::Object o{{"group", r.group}, {"name", r.name}};
    for (const Column& c : columns()) o.emplace(c.title, r.*c.value);
    rows.push_back(o);
  }
  for (const auto& [z, pxap] : results.downscale) downscale.push_back(json::Array{static_cast<double>(z), pxap});
  for (const auto& [phase, s] : results.phase_seconds) phases.push_back(json::Array{phase, s});
  return json::Object{{"seed", results.seed}, {"rows", rows}, {"downscale", downscale},
                      {"phase_seconds", phases}};
}

/// A number of results.json; null (how json::dump writes NaN, e.g. a metric a split lacks) is NaN.
inline double number_or_nan(const json::Value& v, const std::string& what) {
  if (std::holds_alternative<std::nullptr_t>(v.v)) return std::numeric_limits<double>::quiet_NaN();
  return v.as<double>(what);
}

/// The results saved by to_json; errors name the missing or malformed field.
inline Results results_from_json(const json::Value& v) {
  Results results;
  const json::Object& o = v.as<json::Object>("results");
  results.seed = json::member(o, "seed", "results").as<std::uint64_t>("seed");
  for (const json::Value& item : json::member(o, "rows", "results").as<json::Array>("rows")) {
    const json::Object& r = item.as<json::Object>("row");
    Row row{json::member(r, "group", "row").as<std::string>("group"), json::member(r, "name", "row").as<std::string>("name")};
    for (const Column& c : columns()) row.*c.value = number_or_nan(json::member(r, c.title, "row " + row.name), c.title);
    results.rows.push_back(row);
  }
  for (const json::Value& item : json::member(o, "downscale", "results").as<json::Array>("downscale")) {
    const json::Array& p = item.as<json::Array>("downscale point");
    FCAM_CHECK(p.size() == 2, "downscale point: expected [z, pxap]");
    results.downscale.emplace_back(static_cast<int>(p[0].as<std::int64_t>("z")), number_or_nan(p[1], "pxap"));
  }
  return results;
}

inline std::string fixed(double v, int digits = 1) {
  if (std::isnan(v)) return "–";
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

/// The two header lines of a metrics table, with a "runs" column after the names or not.
inline std::string table_header(bool runs_column) {
  std::ostringstream md;
  md << "| map |" << (runs_column ? " runs |" : "");
  for (const Column& c : columns()) md << " " << c.title << " |";
  md << "\n|---|" << (runs_column ? "---:|" : "");
  for (std::size_t i = 0; i < columns().size(); ++i) md << "---:|";
  md << "\n";
  return md.str();
}

/// The rows of `group` as a Markdown table.
inline std::string metrics_table(const std::vector<Row>& rows, const std::string& group) {
  std::ostringstream md;
  md << table_header(false);
  for (const Row& r : rows) {
    if (r.group != group) continue;
    md << "| " << r.name << " |";
    for (const Column& c : columns()) md << " " << fixed(r.*c.value) << " |";
    md << "\n";
  }
  return md.str();
}

/// Mean ± sample standard deviation over runs of every row that all runs measured (matched by
/// group and name; rows of extra experiments in only some runs are left out).
inline std::string seeds_table(const std::vector<Results>& runs) {
  std::vector<std::pair<std::string, std::string>> order;  // (group, name) as first seen
  std::map<std::pair<std::string, std::string>, std::vector<Row>> by_row;
  for (const Results& run : runs)
    for (const Row& r : run.rows) {
      const auto key = std::make_pair(r.group, r.name);
      if (!by_row.count(key)) order.push_back(key);
      by_row[key].push_back(r);
    }
  std::erase_if(order, [&](const auto& key) { return by_row[key].size() != runs.size(); });
  std::ostringstream md;
  md << table_header(true);
  for (const auto& key : order) {
    const std::vector<Row>& rows = by_row[key];
    md << "| " << key.second << " | " << rows.size() << " |";
    for (const Column& c : columns()) {
      double mean = 0, squares = 0;
      for (const Row& r : rows) mean += r.*c.value;
      mean /= static_cast<double>(rows.size());
      for (const Row& r : rows) squares += (r.*c.value - mean) * (r.*c.value - mean);
      const double sd = rows.size() > 1 ? std::sqrt(squares / static_cast<double>(rows.size() - 1)) : 0.0;
      md << " " << fixed(mean) << " ± " << fixed(sd) << " |";
    }
    md << "\n";
  }
  return md.str();
}

/// One training run's validation history.
struct History {
  std::string name;                 ///< e.g. "stage 1: classifier"
  std::string metric;               ///< the validation score: "MaxBoxAcc@50" or "PxAP"
  std::vector<double> validation;   ///< after epoch 0, 1, …
  std::int64_t best_epoch = 0;      ///< the checkpoint kept
};

/// What report.md says besides the results.
struct ReportContext {
  std::string dataset;           ///< what the title names: "real photos (Oxford-IIIT Pet)", …
  std::string settings;          ///< a paragraph on the data and the training settings
  std::int64_t test_images = 0;  ///< size of the test split
  double interval = 0.001;       ///< threshold step of the test metrics
  bool ablation = false;         ///< the ablation runs were made
  double cam_threshold = 0, fcam_threshold = 0;  ///< where each BoxAcc peaks (the overlays' boxes)
  std::vector<History> histories;  ///< every training run
};

/// report.md: settings, the tables, the downscale simulation, the pictures, the validation
/// histories and the time per phase.
inline std::string report_markdown(const Results& results, const ReportContext& c) {
  std::ostringstream md;
  md << "# fcam demo: F-CAM on " << c.dataset << "\n\n" << c.settings << "\n\n"
     << "## Test split (" << c.test_images << " images; threshold step " << c.interval << ")\n\n"
     << "The six baselines (the stage-1 classifier's maps of the true class; with the WGAP head the class "
        "score's gradient is constant over each channel, so XGradCAM's weights equal GradCAM's and their maps "
        "coincide):\n\n"
     << metrics_table(results.rows, "baselines") << "\nF-CAM (stage-2 best checkpoint on validation):\n\n"
     << metrics_table(results.rows, "fcam");
  if (c.ablation)
    md << "\n## Loss ablation (Table D.1): SR = sampled pixels' partial cross-entropy, CRF, ASC = size "
          "constraint\n\n"
       << metrics_table(results.rows, "ablation");
  md << "\n## Downscale simulation (Fig. D.3)\n\nPxAP of the test masks averaged over z×z blocks and upsampled "
        "bilinearly: the ceiling of any CAM with downscale factor z.\n\n| z |";
  for (const auto& [z, p] : results.downscale) md << " " << z << " |";
  md << "\n|---|";
  for (std::size_t i = 0; i < results.downscale.size(); ++i) md << "---:|";
  md << "\n| PxAP |";
  for (const auto& [z, p] : results.downscale) md << " " << fixed(p) << " |";
  md << "\n\n## Pictures\n\n"
     << "Test images (left: true box in green), their CAM and F-CAM (right) with the box each predicts (white) "
        "at the threshold where its BoxAcc peaks (CAM "
     << c.cam_threshold << ", F-CAM " << c.fcam_threshold << "):\n\n"
     << "![overlays](overlays.png)\n\n"
     << "Localization as a function of the threshold τ (the paper's Fig. 5): BoxAcc at IoU 50, and the pixel "
        "precision–recall curve whose area is PxAP:\n\n"
     << "![BoxAcc vs threshold](fig5_boxacc.png) ![precision-recall](fig5_precision_recall.png)\n\n"
     << "Distribution of the map activations over the test pixels (Fig. 6):\n\n"
     << "![activations](fig6_activations.png)\n\n## Training (the validation score that selects the checkpoint, "
        "per epoch; epoch 0 is before training)\n\n| run | score | validation after epoch 0, 1, … | best epoch |\n"
        "|---|---|---|---:|\n";
  for (const History& h : c.histories) {
    md << "| " << h.name << " | " << h.metric << " |";
    for (const double v : h.validation) md << " " << fixed(v);
    md << " | " << h.best_epoch << " |\n";
  }
  md << "\n## Time per phase\n\nOf this invocation (a phase resumed from an earlier run's finished epochs takes "
        "seconds).\n\n| phase | seconds |\n|---|---:|\n";
  for (const auto& [name, s] : results.phase_seconds) md << "| " << name << " | " << fixed(s, 0) << " |\n";
  return md.str();
}

}  // namespace demo

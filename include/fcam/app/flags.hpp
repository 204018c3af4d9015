/// \file
/// \brief Command-line flags for fcam's programs, with Python argparse's conventions so that
/// commands written for the reference scripts work unchanged.
///
/// `--name value` and `--name=value`; dashes and underscores in names are interchangeable;
/// boolean flags take an optional value (yes/true/t/y/1, no/false/f/n/0; alone they mean true);
/// list flags take one or more values up to the next flag. Unknown flags, missing values and
/// malformed numbers are errors that name the flag.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fcam/core/error.hpp"

namespace fcam::app {

/// Inclusive bounds of a numeric flag's values, checked when the command line is parsed and
/// shown in --help.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();  ///< smallest allowed value
  double hi = std::numeric_limits<double>::infinity();   ///< largest allowed value
};

/// A set of declared flags and, after parse(), their values.
class Flags {
public:
  /// `program` and `summary` head the usage text.
  Flags(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}

  /// Declares a flag holding text (also used for paths and choices).
  void add_string(const std::string& name, std::string fallback, std::string help) {
    declare(name, Kind::text, {std::move(fallback)}, std::move(help));
  }
  /// Declares a number flag: a finite value within `range`.
  void add_double(const std::string& name, double fallback, std::string help, Range range = {}) {
    declare(name, Kind::number, {format(fallback)}, std::move(help), range);
  }
  /// Declares an integer flag whose values lie within `range`.
  void add_int(const std::string& name, int fallback, std::string help, Range range = {}) {
    declare(name, Kind::integer, {std::to_string(fallback)}, std::move(help), range);
  }
  /// Declares a seed flag: an unsigned 64-bit integer (0 to 18446744073709551615; a negative
  /// value is refused rather than wrapped).
  void add_seed(const std::string& name, std::uint64_t fallback, std::string help) {
    declare(name, Kind::seed, {std::to_string(fallback)}, std::move(help));
  }
  /// Declares a boolean flag (optional value).
  void add_bool(const std::string& name, bool fallback, std::string help) {
    declare(name, Kind::boolean, {fallback ? "true" : "false"}, std::move(help));
  }
  /// Declares an integer list flag (one or more values, each within `range`).
  void add_int_list(const std::string& name, const std::vector<int>& fallback, std::string help, Range range = {}) {
    std::vector<std::string> values;
    for (int v : fallback) values.push_back(std::to_string(v));
    declare(name, Kind::integer_list, values, std::move(help), range);
  }

  /// Accepts arguments that are not flags (inputs), described by `what` in the usage text.
  void allow_positional(std::string what) { positional_what_ = std::move(what); }
  /// The non-flag arguments, in order (only with allow_positional()).
  const std::vector<std::string>& positional() const { return positional_; }

  /// Parses argv. Returns false when --help / -h was given (the caller prints usage()).
  bool parse(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") return false;
      if (arg.rfind("--", 0) != 0 && !positional_what_.empty()) {
        positional_.push_back(arg);
        continue;
      }
      FCAM_CHECK(arg.size() > 2 && arg.rfind("--", 0) == 0, program_, ": unexpected argument '", arg,
                 "' (flags start with --; see --help)");
      std::string name = arg.substr(2), inline_value;
      const bool has_inline = name.find('=') != std::string::npos;
      if (has_inline) {
        inline_value = name.substr(name.find('=') + 1);
        name = name.substr(0, name.find('='));
      }
      Flag& flag = find(name);
      flag.given = true;
      auto next_is_value = [&] { return i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0; };
      if (flag.kind == Kind::boolean) {
        std::string text = has_inline ? inline_value : (next_is_value() ? argv[++i] : "true");
        flag.values = {bool_text(text, name) ? "true" : "false"};
      } else if (flag.kind == Kind::integer_list) {
        flag.values.clear();
        if (has_inline) flag.values.push_back(inline_value);
        while (next_is_value()) flag.values.push_back(argv[++i]);
        FCAM_CHECK(!flag.values.empty(), program_, ": --", name, " needs at least one value");
        for (const auto& v : flag.values) integer_text(v, name);
      } else {
        if (!has_inline) {
          FCAM_CHECK(i + 1 < argc, program_, ": --", name, " needs a value");
          inline_value = argv[++i];
        }
        if (flag.kind == Kind::number) number_text(inline_value, name);
        if (flag.kind == Kind::integer) integer_text(inline_value, name);
        if (flag.kind == Kind::seed) seed_text(inline_value, name);
        flag.values = {inline_value};
      }
    }
    return true;
  }

  /// Text value of a flag.
  const std::string& text(const std::string& name) const { return get(name).values.front(); }
  /// Number value of a flag.
  double number(const std::string& name) const { return number_text(text(name), name); }
  /// Integer value of a flag.
  int integer(const std::string& name) const { return integer_text(text(name), name); }
  /// Value of a seed flag (add_seed).
  std::uint64_t seed(const std::string& name) const { return seed_text(text(name), name); }
  /// Boolean value of a flag.
  bool boolean(const std::string& name) const { return text(name) == "true"; }
  /// Integer list value of a flag.
  std::vector<int> integers(const std::string& name) const {
    std::vector<int> out;
    for (const auto& v : get(name).values) out.push_back(integer_text(v, name));
    return out;
  }
  /// Whether the flag appeared on the command line.
  bool given(const std::string& name) const { return get(name).given; }
  /// The items of a comma-separated flag value ("cam,fcam"), empty items dropped.
  std::vector<std::string> comma_list(const std::string& name) const {
    std::vector<std::string> items;
    std::stringstream s(text(name));
    for (std::string item; std::getline(s, item, ',');)
      if (!item.empty()) items.push_back(item);
    return items;
  }

  /// Usage text listing every flag with its default.
  std::string usage() const {
    std::ostringstream out;
    out << "usage: " << program_ << " [flags]" << (positional_what_.empty() ? "" : " " + positional_what_) << "\n"
        << summary_ << "\n\nflags (dashes and underscores are interchangeable):\n";
    for (const std::string& name : order_) {
      const Flag& f = flags_.at(name);
      std::string shown = "--" + name;
      if (f.kind == Kind::boolean) shown += " [BOOL]";
      else if (f.kind == Kind::integer_list) shown += " N [N ...]";
      else shown += " VALUE";
      const std::string range = range_text(f.range);
      out << "  " << shown << "\n      " << f.help << (range.empty() ? "" : "; allowed: " + range);
      std::string fallback;
      for (const auto& v : f.fallback) fallback += (fallback.empty() ? "" : " ") + v;
      out << (fallback.empty() ? "" : " (default: " + fallback + ")") << "\n";
    }
    return out.str();
  }

private:
  enum class Kind { text, number, integer, seed, boolean, integer_list };
  struct Flag {
    Kind kind;
    std::vector<std::string> values, fallback;
    std::string help;
    Range range;
    bool given = false;
  };

  static std::string canonical(std::string name) {
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
  }
  static std::string format(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  }
  void declare(const std::string& name, Kind kind, std::vector<std::string> fallback, std::string help,
               Range range = {}) {
    const std::string key = canonical(name);
    FCAM_CHECK(!flags_.count(key), "Flags: --", name, " declared twice");
    flags_[key] = Flag{kind, fallback, fallback, std::move(help), range};
    order_.push_back(key);
  }
  Flag& find(const std::string& name) {
    auto it = flags_.find(canonical(name));
    FCAM_CHECK(it != flags_.end(), program_, ": unknown flag --", name, " (see --help)");
    return it->second;
  }
  const Flag& get(const std::string& name) const {
    auto it = flags_.find(canonical(name));
    FCAM_CHECK(it != flags_.end(), "Flags: --", name, " was not declared");
    return it->second;
  }
  bool bool_text(std::string text, const std::string& name) const {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    if (text == "yes" || text == "true" || text == "t" || text == "y" || text == "1") return true;
    if (text == "no" || text == "false" || text == "f" || text == "n" || text == "0") return false;
    fail(program_, ": --", name, " expects a boolean (yes/true/t/y/1 or no/false/f/n/0), got '", text, "'");
  }
  double number_text(const std::string& text, const std::string& name) const {
    const double v = parse<double>(text, name, "a number");
    FCAM_CHECK(std::isfinite(v), program_, ": --", name, " expects a finite number, got '", text, "'");
    check_range(v, text, name);
    return v;
  }
  int integer_text(const std::string& text, const std::string& name) const {
    const int v = parse<int>(text, name, "an integer");
    check_range(v, text, name);
    return v;
  }
  void check_range(double v, const std::string& text, const std::string& name) const {
    const Range& r = get(name).range;
    const std::string range = range_text(r);
    FCAM_CHECK(v >= r.lo && v <= r.hi, program_, ": --", name, " must be ", range[0] == '[' ? "in " : "", range,
               ", got '", text, "'");
  }
  /// "[lo, hi]", ">= lo", "<= hi" or "" (no bound).
  static std::string range_text(const Range& r) {
    const bool low = std::isfinite(r.lo), high = std::isfinite(r.hi);
    if (low && high) return "[" + format(r.lo) + ", " + format(r.hi) + "]";
    if (low) return ">= " + format(r.lo);
    if (high) return "<= " + format(r.hi);
    return "";
  }
  std::uint64_t seed_text(const std::string& text, const std::string& name) const {
    return parse<std::uint64_t>(text, name, "a seed (an integer from 0 to 18446744073709551615)");
  }
  template <class T>
  T parse(const std::string& text, const std::string& name, const char* what) const {
    T v{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    FCAM_CHECK(ec == std::errc() && end == text.data() + text.size(), program_, ": --", name, " expects ", what,
               ", got '", text, "'");
    return v;
  }

  std::string program_, summary_, positional_what_;
  std::vector<std::string> positional_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
};

}  // namespace fcam::app

// Fuzz target: command-line parsing (app::Flags). The input is split at NUL bytes into argv.
// Every flag kind is declared, with ranges; an accepted command line must give values inside
// their ranges.
#include <cmath>
#include <cstdlib>

#include "fcam/app/flags.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args = fcam::fuzz::split_parts(fcam::fuzz::bytes_of(data, size), 64);
  args.insert(args.begin(), "fuzz");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  fcam::app::Flags flags("fuzz", "fuzz target");
  flags.add_string("name", "x", "a string");
  flags.add_int("count", 3, "an integer", fcam::app::Range{1, 100});
  flags.add_double("step", 0.5, "a number", fcam::app::Range{1e-6, 1});
  flags.add_int_list("thresholds", {30, 50}, "a list", fcam::app::Range{0, 100});
  flags.add_seed("seed", 0, "a seed");
  flags.add_bool("quiet", false, "a switch");
  flags.allow_positional("FILE...");
  try {
    if (!flags.parse(static_cast<int>(argv.size()), argv.data())) return 0;  // --help
    const int count = flags.integer("count");
    const double step = flags.number("step");
    if (count < 1 || count > 100 || !(step >= 1e-6 && step <= 1)) std::abort();
    for (int t : flags.integers("thresholds"))
      if (t < 0 || t > 100) std::abort();
    (void)flags.seed("seed");
    (void)flags.boolean("quiet");
    (void)flags.comma_list("name");
  } catch (const fcam::Error&) {
  }
  return 0;
}

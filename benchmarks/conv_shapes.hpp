/// \file
/// \brief The convolution shape lists of the benchmarks (benchmarks/*_convs.csv), their reader and
/// the benchmarks' option parsing.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fcam/core/error.hpp>

namespace fcam::bench {

/// One line of a shape list: a square convolution on a square-or-not input.
struct ConvShape {
  std::string name;
  std::int64_t cin, cout, k, stride, pad, h, w;
};

/// Reads name,in_channels,out_channels,kernel,stride,padding,height,width lines after a header.
inline std::vector<ConvShape> read_conv_shapes(const std::string& path) {
  std::ifstream in(path);
  FCAM_CHECK(in.good(), path, ": cannot open the shape list");
  std::vector<ConvShape> shapes;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream fields(line);
    ConvShape s;
    FCAM_CHECK(static_cast<bool>(fields >> s.name >> s.cin >> s.cout >> s.k >> s.stride >> s.pad >> s.h >> s.w), path,
               ": bad line '", line, "'");
    shapes.push_back(s);
  }
  return shapes;
}

/// Takes the options named in `options` ("--shapes" → where its value goes) out of the command
/// line, each followed by its value; returns the arguments left for Google Benchmark, the
/// program's name first.
inline std::vector<char*> take_options(int argc, char** argv, const std::map<std::string, std::string*>& options) {
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const auto option = options.find(argv[i]);
    if (option != options.end() && i + 1 < argc) *option->second = argv[++i];
    else rest.push_back(argv[i]);
  }
  return rest;
}

}  // namespace fcam::bench

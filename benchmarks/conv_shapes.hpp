/// \file
/// \brief The convolution shape lists of the benchmarks (benchmarks/*_convs.csv) and their reader.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
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

}  // namespace fcam::bench

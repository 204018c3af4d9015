/// \file
/// \brief Shape of a dense row-major tensor and helpers to print and compare shapes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "fcam/core/error.hpp"

namespace fcam {

/// Sizes of each dimension, outermost first (NCHW for images).
using Shape = std::vector<std::int64_t>;

/// Number of elements of a shape (1 for the empty shape, a scalar).
inline std::int64_t numel_of(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

/// Row-major strides (in elements) of a dense tensor of this shape.
inline Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size(), 1);
  for (std::size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

/// "[2, 3, 4]".
inline std::string to_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

/// Throws unless every size is >= 0.
inline void check_shape_valid(const Shape& shape) {
  for (std::int64_t d : shape) FCAM_CHECK(d >= 0, "invalid shape ", to_string(shape), ": negative size");
}

}  // namespace fcam

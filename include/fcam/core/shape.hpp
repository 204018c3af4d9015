/// \file
/// \brief Shape of a dense row-major tensor and helpers to print and compare shapes.
#pragma once

#include <algorithm>
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

/// Number of elements of a shape (1 for the empty shape, a scalar). Unchecked: the shape must
/// have passed check_shape_valid (every tensor's has).
inline std::int64_t numel_of(const Shape& shape) {
  // Unsigned: in an empty shape such as {2^40, 2^40, 0} the partial product may wrap before the
  // 0 makes it 0, which is defined for unsigned and undefined for signed integers.
  std::uint64_t n = 1;
  for (std::int64_t d : shape) n *= static_cast<std::uint64_t>(d);
  return static_cast<std::int64_t>(n);
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

/// Throws fcam::Error (its message starting with `what`) unless every size is >= 0 and the
/// product of the sizes times `elem_size` bytes fits in 63 bits. Sizes of 0 count as 1 in that
/// product, so an empty tensor's strides cannot overflow either. Every shape read from a file or
/// given by a user passes here before anything multiplies its sizes (numel_of does not check).
inline void check_shape_valid(const Shape& shape, std::int64_t elem_size = 1,
                              const std::string& what = "invalid shape") {
  for (std::int64_t d : shape) FCAM_CHECK(d >= 0, what, " ", to_string(shape), ": negative size");
  std::int64_t bytes = elem_size;
  for (std::int64_t d : shape)
    FCAM_CHECK(!__builtin_mul_overflow(bytes, std::max<std::int64_t>(d, 1), &bytes), what, " ", to_string(shape),
               ": too many elements (", elem_size, "-byte elements would need more than 2^63 bytes)");
}

}  // namespace fcam

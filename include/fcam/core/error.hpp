/// \file
/// \brief fcam::Error, the one exception type of the library, and the FCAM_CHECK macro.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace fcam {

/// Thrown for every recoverable failure: bad shapes, bad files, unsupported devices.
/// The message says what was wrong, with the offending values and paths.
class Error : public std::runtime_error {
public:
  /// Wraps a complete, human-readable message.
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {

/// Concatenates any streamable values into one string.
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

}  // namespace detail

/// Throws fcam::Error whose message is the concatenation of the arguments.
template <class... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(detail::concat(std::forward<Args>(args)...));
}

}  // namespace fcam

/// Throws fcam::Error with the streamed message when `cond` is false.
#define FCAM_CHECK(cond, ...)                   \
  do {                                          \
    if (!(cond)) ::fcam::fail(__VA_ARGS__);     \
  } while (false)

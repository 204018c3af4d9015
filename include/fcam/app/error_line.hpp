/// \file
/// \brief The one line a program prints when it stops on an error: "<program>: error: <message>",
/// without repeating the program's name when the message already starts with it.
#pragma once

#include <string>
#include <string_view>

namespace fcam::app {

/// "fcam-eval: error: --threads must be …" for program "fcam-eval" and the message "fcam-eval:
/// --threads must be …" or "--threads must be …" alike.
inline std::string error_line(std::string_view program, std::string_view message) {
  const std::string prefix = std::string(program) + ": ";
  if (message.substr(0, prefix.size()) == prefix) message.remove_prefix(prefix.size());
  return prefix + "error: " + std::string(message);
}

}  // namespace fcam::app

/// \file
/// \brief Whole-string decimal integers from file metadata: no sign games, no trailing text, no
/// wrap-around (std::stoll accepts "12abc" and throws messages that name nothing).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace fcam::io {

/// The integer `text` spells exactly (an optional '-' and decimal digits), or nullopt when it is
/// empty, has other characters, or does not fit in 64 bits.
inline std::optional<std::int64_t> parse_int64(std::string_view text) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [last, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || last != end) return std::nullopt;
  return value;
}

}  // namespace fcam::io

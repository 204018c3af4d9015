/// \file
/// \brief Enumerations with a name (for flags, files and JSON) and a display label (for tables
/// and pictures), kept in one table per enumeration: parse, name and label all read that table.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "fcam/core/error.hpp"

namespace fcam {

/// One value of an enumeration with its name and its display label.
template <class E>
struct NamedValue {
  E value;                 ///< the enumerator
  std::string_view name;   ///< e.g. "gradcampp": command lines, files, JSON
  std::string_view label;  ///< e.g. "GradCAM++": tables and pictures
};

/// The entry of `value` in `table`.
template <class E, std::size_t N>
constexpr const NamedValue<E>& entry_of(const std::array<NamedValue<E>, N>& table, E value) {
  for (const NamedValue<E>& e : table)
    if (e.value == value) return e;
  fail("enumerator ", static_cast<int>(value), " missing from its name table");
}

/// "a, b or c": the names of `table`, for error messages and --help.
template <class E, std::size_t N>
std::string names_of(const std::array<NamedValue<E>, N>& table) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) out += i + 1 == N ? " or " : ", ";
    out += table[i].name;
  }
  return out;
}

/// The value named `name` in `table`; fcam::Error "unknown <what> '<name>' (<names>)" otherwise.
template <class E, std::size_t N>
E parse_named(const std::array<NamedValue<E>, N>& table, std::string_view name, std::string_view what) {
  for (const NamedValue<E>& e : table)
    if (e.name == name) return e.value;
  fail("unknown ", what, " '", name, "' (", names_of(table), ")");
}

}  // namespace fcam

/// \file
/// \brief A small JSON value type with a strict parser and a writer (for safetensors headers and reports).
#pragma once

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <cstdlib>
#include <variant>
#include <vector>

#include "fcam/core/error.hpp"

namespace fcam::json {

struct Value;
/// A JSON array.
using Array = std::vector<Value>;
/// A JSON object; keys are kept sorted (duplicates are a parse error).
using Object = std::map<std::string, Value>;

/// One JSON value: null, bool, number, string, array or object.
///
/// Numbers: an integer (no fraction, no exponent) is kept exactly as std::int64_t, or as
/// std::uint64_t above INT64_MAX (so 64-bit seeds and sizes survive a round trip); any other
/// number is a double. `as<double>()` reads every number (integers beyond 2^53 rounded);
/// `as<std::int64_t>()` and `as<std::uint64_t>()` read integers exactly, and integral doubles in
/// their range, and fail otherwise. `is<X>()` is true exactly when `as<X>()` succeeds.
struct Value {
  /// The alternatives.
  std::variant<std::nullptr_t, bool, double, std::int64_t, std::uint64_t, std::string, Array, Object> v = nullptr;

  Value() = default;
  /// Wraps any alternative.
  template <class X>
    requires std::is_constructible_v<decltype(v), X&&>
  Value(X&& x) : v(std::forward<X>(x)) {}  // NOLINT: implicit by design
  /// Integers, kept exactly.
  Value(int x) : v(static_cast<std::int64_t>(x)) {}
  /// Unsigned integers, kept exactly.
  Value(unsigned x) : v(static_cast<std::uint64_t>(x)) {}
  /// 64-bit integers, kept exactly.
  Value(std::int64_t x) : v(x) {}
  /// Unsigned 64-bit integers (seeds), kept exactly.
  Value(std::uint64_t x) : v(x) {}
  /// Strings from literals.
  Value(const char* s) : v(std::string(s)) {}

  /// True when as<X>() would succeed (for the number types: see the class comment).
  template <class X>
  bool is() const {
    if constexpr (std::is_same_v<X, double>) {
      return is_number();
    } else if constexpr (std::is_same_v<X, std::int64_t> || std::is_same_v<X, std::uint64_t>) {
      X out;
      return integer_value(out);
    } else {
      return std::holds_alternative<X>(v);
    }
  }
  /// True for any number.
  bool is_number() const {
    return std::holds_alternative<double>(v) || std::holds_alternative<std::int64_t>(v) ||
           std::holds_alternative<std::uint64_t>(v);
  }
  /// The X held (numbers by value, converted as the class comment says; everything else by
  /// reference); throws fcam::Error naming `what` otherwise.
  template <class X>
  decltype(auto) as(std::string_view what) const {
    if constexpr (std::is_same_v<X, double>) {
      if (const double* d = std::get_if<double>(&v)) return static_cast<double>(*d);
      if (const std::int64_t* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
      if (const std::uint64_t* u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
      fail(what, ": expected a number");
    } else if constexpr (std::is_same_v<X, std::int64_t> || std::is_same_v<X, std::uint64_t>) {
      X out;
      if (integer_value(out)) return out;
      if (is_number()) fail(what, ": expected an integer in [", std::numeric_limits<X>::min(), ", ",
                            std::numeric_limits<X>::max(), "]");
      fail(what, ": expected an integer");
    } else {
      if (const X* p = std::get_if<X>(&v)) return static_cast<const X&>(*p);
      fail(what, ": unexpected JSON type");
    }
  }

private:
  /// The number as an exact X (int64 or uint64), if it is an integer in X's range.
  template <class X>
  bool integer_value(X& out) const {
    if (const std::int64_t* i = std::get_if<std::int64_t>(&v)) {
      if (std::is_unsigned_v<X> && *i < 0) return false;
      out = static_cast<X>(*i);
      return true;
    }
    if (const std::uint64_t* u = std::get_if<std::uint64_t>(&v)) {
      if (*u > static_cast<std::uint64_t>(std::numeric_limits<X>::max())) return false;
      out = static_cast<X>(*u);
      return true;
    }
    if (const double* d = std::get_if<double>(&v)) {
      // 2^63 and 2^64 are exact doubles; the range is [min, 2^63) or [0, 2^64).
      const double upper = std::is_unsigned_v<X> ? 18446744073709551616.0 : 9223372036854775808.0;
      const double lower = std::is_unsigned_v<X> ? 0.0 : -9223372036854775808.0;
      if (!(*d == std::floor(*d) && *d >= lower && *d < upper)) return false;
      out = static_cast<X>(*d);
      return true;
    }
    return false;
  }
};

namespace detail {

class Parser {
public:
  explicit Parser(std::string_view text) : s_(text) {}

  Value parse_document() {
    Value v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) error("trailing characters");
    return v;
  }

private:
  [[noreturn]] void error(const char* what) const { fail("invalid JSON at byte ", pos_, ": ", what); }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool consume(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!consume(c)) error(c == ':' ? "expected ':'" : c == '"' ? "expected '\"'" : "unexpected character");
  }
  void literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) error("unknown literal");
    pos_ += word.size();
  }

  Value parse_value(int depth) {
    if (depth > 64) error("nesting too deep");
    skip_ws();
    if (pos_ >= s_.size()) error("unexpected end");
    const char c = s_[pos_];
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') return parse_string();
    if (c == 't') return literal("true"), Value(true);
    if (c == 'f') return literal("false"), Value(false);
    if (c == 'n') return literal("null"), Value(nullptr);
    return parse_number();
  }

  Value parse_object(int depth) {
    ++pos_;
    Object obj;
    if (consume('}')) return obj;
    do {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a string key");
      std::string key = parse_string();
      expect(':');
      if (!obj.emplace(key, parse_value(depth + 1)).second) error("duplicate key");
    } while (consume(','));
    expect('}');
    return obj;
  }

  Value parse_array(int depth) {
    ++pos_;
    Array arr;
    if (consume(']')) return arr;
    do arr.push_back(parse_value(depth + 1));
    while (consume(','));
    expect(']');
    return arr;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) error("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) error("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': append_utf8(out, parse_hex4()); break;
        default: error("bad escape");
      }
    }
  }

  unsigned parse_hex4() {
    if (pos_ + 4 > s_.size()) error("short \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      code <<= 4;
      if (h >= '0' && h <= '9') code |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') code |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') code |= static_cast<unsigned>(h - 'A' + 10);
      else error("bad hex digit");
    }
    return code;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  Value parse_number() {
    const std::size_t start = pos_;
    if (pos_ < s_.size() && (s_[pos_] == '-' || s_[pos_] == '+')) ++pos_;
    while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.' ||
                                s_[pos_] == 'e' || s_[pos_] == 'E' || s_[pos_] == '-' || s_[pos_] == '+'))
      ++pos_;
    if (pos_ == start) error("unexpected character");
    const std::string token(s_.substr(start, pos_ - start));
    const char* first = token.c_str();
    const char* last = first + token.size();
    // Integers are kept exactly: int64, or uint64 above INT64_MAX; beyond that, a double.
    if (token.find_first_of(".eE") == std::string::npos) {
      const char* digits = first + (*first == '+');
      if (*digits == '-') {
        std::int64_t i = 0;
        const auto [ptr, ec] = std::from_chars(digits, last, i);
        if (ec == std::errc() && ptr == last) return i;
      } else {
        std::uint64_t u = 0;
        const auto [ptr, ec] = std::from_chars(digits, last, u);
        if (ec == std::errc() && ptr == last) {
          if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return static_cast<std::int64_t>(u);
          return u;
        }
      }
    }
    char* end = nullptr;
    const double value = std::strtod(first, &end);
    if (end != last) error("bad number");
    return value;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

inline void write_string(std::string& out, const std::string& s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

inline void write_value(std::string& out, const Value& value) {
  if (value.is<std::nullptr_t>()) {
    out += "null";
  } else if (const bool* b = std::get_if<bool>(&value.v)) {
    out += *b ? "true" : "false";
  } else if (const std::int64_t* i = std::get_if<std::int64_t>(&value.v)) {
    out += std::to_string(*i);
  } else if (const std::uint64_t* u = std::get_if<std::uint64_t>(&value.v)) {
    out += std::to_string(*u);
  } else if (const double* d = std::get_if<double>(&value.v)) {
    if (!std::isfinite(*d)) {
      out += "null";  // JSON has no NaN or infinity
    } else if (*d == std::floor(*d) && std::fabs(*d) < 9.0e15) {
      out += std::to_string(static_cast<std::int64_t>(*d));
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", *d);
      out += buf;
    }
  } else if (const std::string* s = std::get_if<std::string>(&value.v)) {
    write_string(out, *s);
  } else if (const Array* a = std::get_if<Array>(&value.v)) {
    out += '[';
    for (std::size_t i = 0; i < a->size(); ++i) {
      if (i) out += ',';
      write_value(out, (*a)[i]);
    }
    out += ']';
  } else {
    const Object& o = std::get<Object>(value.v);
    out += '{';
    bool first = true;
    for (const auto& [key, item] : o) {
      if (!first) out += ',';
      first = false;
      write_string(out, key);
      out += ':';
      write_value(out, item);
    }
    out += '}';
  }
}

}  // namespace detail

/// Parses a complete JSON document; throws fcam::Error with the byte offset on malformed input.
inline Value parse(std::string_view text) { return detail::Parser(text).parse_document(); }

/// The member `key` of `object`; a missing member is an fcam::Error naming `where` and the key.
inline const Value& member(const Object& object, const std::string& key, const std::string& where) {
  const auto it = object.find(key);
  FCAM_CHECK(it != object.end(), where, ": missing '", key, "'");
  return it->second;
}

/// Compact JSON text of `value` (integers exactly; integral doubles below 9e15 without a decimal
/// point, other doubles with 17 significant digits; non-finite numbers as null).
inline std::string dump(const Value& value) {
  std::string out;
  detail::write_value(out, value);
  return out;
}

}  // namespace fcam::json

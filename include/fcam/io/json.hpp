/// \file
/// \brief A small JSON value type with a strict parser and a writer (for safetensors headers and reports).
#pragma once

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
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

/// One JSON value: null, bool, number (double), string, array or object.
struct Value {
  /// The alternatives.
  std::variant<std::nullptr_t, bool, double, std::string, Array, Object> v = nullptr;

  Value() = default;
  /// Wraps any alternative.
  template <class X>
    requires std::is_constructible_v<decltype(v), X&&>
  Value(X&& x) : v(std::forward<X>(x)) {}  // NOLINT: implicit by design
  /// Numbers from integers.
  Value(int x) : v(static_cast<double>(x)) {}
  /// Numbers from 64-bit integers.
  Value(std::int64_t x) : v(static_cast<double>(x)) {}
  /// Strings from literals.
  Value(const char* s) : v(std::string(s)) {}

  /// True when this holds X.
  template <class X>
  bool is() const {
    return std::holds_alternative<X>(v);
  }
  /// The X held; throws fcam::Error naming `what` otherwise.
  template <class X>
  const X& as(std::string_view what) const {
    if (const X* p = std::get_if<X>(&v)) return *p;
    fail(what, ": unexpected JSON type");
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
    char* end = nullptr;
    const double value = std::strtod(token.c_str(), &end);
    if (end != token.c_str() + token.size()) error("bad number");
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

/// Compact JSON text of `value` (integers without a decimal point, non-finite numbers as null).
inline std::string dump(const Value& value) {
  std::string out;
  detail::write_value(out, value);
  return out;
}

}  // namespace fcam::json

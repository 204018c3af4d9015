// Fuzz target: the JSON parser (json::parse). A parsed document, written by json::dump, parses
// back to a document that dumps to the same text.
#include <cstdlib>

#include "fcam/io/json.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const std::string text = fcam::json::dump(fcam::json::parse(fcam::fuzz::bytes_of(data, size)));
    if (fcam::json::dump(fcam::json::parse(text)) != text) std::abort();
  } catch (const fcam::Error&) {
  }
  return 0;
}

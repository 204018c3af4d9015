// Fuzz target: the safetensors reader (io::parse_safetensors). Every tensor of a parsed file
// converts to float, and the file written again parses to the same names and shapes.
#include <cstdlib>

#include "fcam/io/safetensors.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const fcam::io::SafetensorsFile file = fcam::io::parse_safetensors(fcam::fuzz::bytes_of(data, size), "fuzz");
    for (const auto& [name, record] : file.tensors)
      if (record.to_tensor<float>().shape() != record.shape) std::abort();
    const fcam::io::SafetensorsFile again =
        fcam::io::parse_safetensors(fcam::io::serialize_safetensors(file), "again");
    if (again.tensors.size() != file.tensors.size() || again.metadata != file.metadata) std::abort();
    for (const auto& [name, record] : file.tensors)
      if (again.tensors.at(name).shape != record.shape) std::abort();
  } catch (const fcam::Error&) {
  }
  return 0;
}

// Fuzz target: the .npy reader (io::parse_npy), as float and as double. A parsed array must hold
// exactly the elements its shape says, and a float array must survive a write and re-read.
#include <cstdlib>

#include "fcam/io/npy.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes = fcam::fuzz::bytes_of(data, size);
  try {
    const fcam::Tensor<float> t = fcam::io::parse_npy<float>(bytes, "fuzz.npy");
    if (t.numel() != fcam::numel_of(t.shape())) std::abort();
    const fcam::Tensor<float> again = fcam::io::parse_npy<float>(fcam::io::serialize_npy(t), "again.npy");
    if (again.shape() != t.shape()) std::abort();
  } catch (const fcam::Error&) {
  }
  try {
    (void)fcam::io::parse_npy<double>(bytes, "fuzz.npy");
  } catch (const fcam::Error&) {
  }
  return 0;
}

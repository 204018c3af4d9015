// Fuzz target: the WSOL metadata reader (data::read_wsol_metadata). The input is split at NUL
// bytes into image_ids.txt, class_labels.txt, image_sizes.txt and localization.txt. Accepted
// metadata must be consistent: one label per image, boxes inside their image's size.
#include <cstdlib>

#include "fcam/data/wsol_metadata.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = fcam::fuzz::split_parts(fcam::fuzz::bytes_of(data, size), 4);
  const char* names[] = {"image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt"};
  for (std::size_t i = 0; i < 4; ++i) fcam::fuzz::scratch_file(names[i], i < parts.size() ? parts[i] : "");
  try {
    const fcam::data::WsolMetadata meta = fcam::data::read_wsol_metadata(fcam::fuzz::scratch_dir(), 1000);
    if (meta.labels.size() != meta.image_ids.size()) std::abort();
    for (int label : meta.labels)
      if (label < 0 || label >= 1000) std::abort();
  } catch (const fcam::Error&) {
  }
  return 0;
}

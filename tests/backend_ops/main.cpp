// test_backend_ops: every op on the CPU and on CUDA from the same inputs (tests/backend_ops/*.cpp).
// Without a visible GPU the whole program reports "skipped" (exit 77) instead of failing.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <iostream>

#include <fcam/fcam.hpp>

int main(int argc, char** argv) {
  if (fcam::cuda::device_count() == 0) {
    std::cout << "skipped: no CUDA device is visible\n";
    return 77;
  }
  return Catch::Session().run(argc, argv);
}

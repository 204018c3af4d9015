#!/usr/bin/env bash
# Builds the tests that parse input (labels "errors": file readers, metadata, flags, the fuzz
# replays) and fcam-eval with AddressSanitizer and UndefinedBehaviorSanitizer (GCC, with
# -fsanitize=float-cast-overflow), then runs them. Any sanitizer report fails the run.
#
#   bash tools/sanitize.sh            (build folder: build-asan, or $FCAM_SANITIZE_BUILD)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FCAM_SANITIZE_BUILD:-build-asan}
# What building the tests needs, and the references of test_npy, test_image_io and fcam_eval_cli.
bash tools/install_packages.sh g++ cmake ninja-build libeigen3-dev libstb-dev catch2 python3 python3-numpy \
    python3-opencv python3-torch
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
      -DFCAM_SANITIZE=ON -DFCAM_BUILD_BENCHMARKS=OFF > "$build.configure.log"
# The targets behind `ctest -L errors` (tests/CMakeLists.txt).
cmake --build "$build" --target test_core test_io test_metadata test_helpers test_npy test_image_io fcam-eval \
      replay_npy replay_safetensors replay_json replay_wsol_metadata replay_image replay_flags
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$build" && ctest -L errors --output-on-failure)

#!/usr/bin/env bash
# CI's CUDA emulation step: builds fcam's CUDA backend for the CPU (-DFCAM_CUDA_EMULATION=ON,
# tests/cuda_emulation: g++, stand-in CUDA headers, each kernel thread a fiber) and runs
# test_backend_ops on it (label cuda-emulation; not the cases of cuDNN's convolutions), and the
# emulation's own test of its semantics and of the rules it refuses (test_cuda_emulator).
# Needs no GPU and no CUDA toolkit. Emulated runs check the kernels' results and CUDA's rules;
# they are not GPU results (docs/cuda.md, "CUDA emulation").
#   bash tools/cuda_emulation.sh      (build folder: build-cuda-emulation, or $FCAM_EMULATION_BUILD)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FCAM_EMULATION_BUILD:-build-cuda-emulation}
bash tools/install_packages.sh g++ cmake ninja-build libeigen3-dev libstb-dev catch2 python3
start=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFCAM_WERROR=ON -DFCAM_CUDA_EMULATION=ON \
      -DFCAM_BUILD_EXAMPLES=OFF -DFCAM_BUILD_BENCHMARKS=OFF > "$build.configure.log"
cmake --build "$build" --target test_backend_ops test_cuda_emulator test_cudnn_model
echo "== CUDA emulation build took $(( $(date +%s) - start )) s"
(cd "$build" && ctest -L cuda-emulation -j2 --output-on-failure)

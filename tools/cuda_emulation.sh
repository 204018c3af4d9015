#!/usr/bin/env bash
# CI's CUDA emulation step: builds fcam's CUDA backend for the CPU (-DFCAM_CUDA_EMULATION=ON,
# tests/cuda_emulation: g++, stand-in CUDA headers, each kernel thread a fiber, a model of cuDNN)
# and runs, under the label cuda-emulation: test_backend_ops (a ctest entry per source file), the
# emulation's own tests of its semantics and of the rules it refuses (test_cuda_emulator,
# test_cudnn_model), fcam-train, fcam-infer and fcam-demo --tiny with --device cuda
# (tests/train_cli_test.py, tests/infer_cli_test.py, tests/demo_cuda_test.py), and smoke runs of the
# GPU benchmarks' programs (fcam-bench-train, fcam-bench-cuda-ops, fcam-bench-cuda-models). Needs no
# GPU and no CUDA toolkit. Emulated runs check the kernels' results and CUDA's rules; they are not
# GPU results, and their times mean nothing (docs/cuda.md, "CUDA emulation").
#   bash tools/cuda_emulation.sh      (build folder: build-cuda-emulation, or $FCAM_EMULATION_BUILD)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FCAM_EMULATION_BUILD:-build-cuda-emulation}
bash tools/install_packages.sh g++ cmake ninja-build libeigen3-dev libstb-dev catch2 libbenchmark-dev python3 \
  python3-numpy python3-opencv python3-torch python3-torchvision
start=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFCAM_WERROR=ON -DFCAM_CUDA_EMULATION=ON \
      -DFCAM_BUILD_EXAMPLES=ON -DFCAM_BUILD_BENCHMARKS=ON > "$build.configure.log"
cmake --build "$build" --target test_backend_ops test_cuda_emulator test_cudnn_model fcam-train fcam-infer \
  fcam-eval fcam-demo fcam-bench-train fcam-bench-cuda-ops fcam-bench-cuda-models
echo "== CUDA emulation build took $(( $(date +%s) - start )) s"
(cd "$build" && ctest -L cuda-emulation -j2 --output-on-failure)

#!/usr/bin/env bash
# CI's CUDA step: when the CUDA toolkit (nvcc, cuDNN) is present, configure with
# -DFCAM_WITH_CUDA=ON and warnings as errors, build the CUDA library, its tests and benchmark and
# every program that instantiates the ops' CUDA branches (compile and link), then run
# ctest -L cuda, whose tests report "skipped" on a machine without a GPU. The CPU tests are the
# quick-start build's; building them again with CUDA would only double CI's time. Without nvcc
# the step says so and succeeds.
#   bash tools/cuda_build.sh        (BUILD_DIR defaults to build-cuda)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-cuda}
nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || [ ! -x /usr/local/cuda/bin/nvcc ] || nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ]; then
  echo "== no nvcc on this machine: the CUDA build is skipped"
  exit 0
fi
bash tools/install_packages.sh g++ cmake ninja-build libeigen3-dev libstb-dev catch2 libbenchmark-dev python3 \
  openmpi-bin libopenmpi-dev  # with MPI, the NCCL world (fcam::nccl) compiles too
start=$(date +%s)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFCAM_WITH_CUDA=ON -DFCAM_WERROR=ON \
  -DFCAM_BUILD_TESTS=ON -DFCAM_BUILD_EXAMPLES=ON -DFCAM_BUILD_BENCHMARKS=ON -DFCAM_WITH_MPI=ON \
  -DCMAKE_CUDA_COMPILER="$nvcc"
cmake --build "$build_dir" --target fcam_cuda test_backend_ops fcam-bench-cuda-ops fcam-train fcam-infer fcam-demo \
  fcam-eval fcam-train-toy fcam_nccl test_dist_nccl
echo "== CUDA build took $(( $(date +%s) - start )) s"
(cd "$build_dir" && ctest -L cuda --output-on-failure)

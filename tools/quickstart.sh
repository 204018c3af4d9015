#!/usr/bin/env bash
# fcam quick start: installs what is missing (Debian 12, apt-get), configures, builds and runs.
#   bash tools/quickstart.sh demo   build and run fcam-demo (F-CAM end to end; report in runs/demo/report.md)
#   bash tools/quickstart.sh test   build everything (with MPI) and run the CPU and MPI tests, doxygen and
#                                   packaging checks
# Environment: BUILD_DIR (default build), FCAM_NUM_THREADS (default: all cores).
# Extra arguments after "demo" go to fcam-demo (e.g. --tiny, --seed 1, --fcam_on all --ablation).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
build_dir=${BUILD_DIR:-build}

build_packages=(g++ cmake ninja-build libeigen3-dev libstb-dev)
demo_packages=(dataset-fashion-mnist python3-skimage)  # the demo dataset's items and background photos
test_packages=(catch2 libbenchmark-dev doxygen python3 python3-numpy python3-torch python3-torchvision python3-opencv
               openmpi-bin libopenmpi-dev)  # Open MPI: data-parallel training and its tests
case "$mode" in
  demo) packages=("${build_packages[@]}" "${demo_packages[@]}") ;;
  test) packages=("${build_packages[@]}" "${demo_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: bash tools/quickstart.sh {demo|test}" >&2; exit 2 ;;
esac

bash tools/install_packages.sh "${packages[@]}"

start=$(date +%s)
if [ "$mode" = demo ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFCAM_BUILD_TESTS=OFF -DFCAM_BUILD_BENCHMARKS=OFF
  cmake --build "$build_dir" --target fcam-demo
  shift
  "$build_dir/bin/fcam-demo" "$@"
  exit 0
fi

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFCAM_WERROR=ON -DFCAM_WITH_MPI=ON
cmake --build "$build_dir"
echo "== build took $(( $(date +%s) - start )) s"
(cd "$build_dir" && ctest -L 'cpu|mpi' --output-on-failure)
echo "== doxygen (warnings are errors)"
doxygen Doxyfile > "$build_dir/doxygen.log"
echo "== conanfile.py compiles"
python3 -m py_compile conanfile.py
echo "== all checks passed in $(( $(date +%s) - start )) s"

#!/usr/bin/env bash
# Builds the CUDA test and benchmark programs and the trainers (FCAM_GPU_PROGRAMS) here for a GPU
# machine that has no Eigen, Catch2, Google Benchmark or stb (the device machine of docs/cuda.md):
# build-gpu/bin plus the two shared libraries they need that such a machine lacks
# (build-gpu/carried-libs). The CPU code is built without -march=native, and the programs need
# glibc 2.34 and libstdc++ 3.4.30 (Ubuntu 22.04 and 24.04 have both; the script prints the
# newest symbols they use) and a CUDA 13 driver. libstdc++ stays the machine's own: linked statically it
# would need glibc 2.36 (arc4random), and carried it would also replace PyTorch's.
# benchmarks/gpu/run.sh then uses them as they are. Carry build-gpu/bin, build-gpu/carried-libs
# and, when made, build-gpu/data.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-gpu
cmake -S . -B "$BUILD" -G Ninja -DFCAM_WITH_CUDA=ON -DFCAM_NATIVE_ARCH=OFF -DFCAM_WERROR=ON \
  -DFCAM_BUILD_EXAMPLES=ON -DCMAKE_EXE_LINKER_FLAGS="" > /dev/null
# FCAM_GPU_PROGRAMS picks the programs (3–6 MB each, stripped; the tree itself is about 33 MB of
# the 64 MiB the device tool carries): the default is what the training run needs (tests, the
# ops, step, demo and epoch benchmarks) and leaves out fcam-bench-cuda-models and fcam-infer
# (run.sh's "models" benchmark and its fcam-infer test need them).
default_programs="test_backend_ops fcam-bench-cuda-ops fcam-bench-train fcam-demo fcam-train"
read -r -a programs <<< "${FCAM_GPU_PROGRAMS:-$default_programs}"
cmake --build "$BUILD" -j"${JOBS:-2}" --target "${programs[@]}"
mkdir -p "$BUILD/carried-libs"
for lib in libgomp.so.1 libbenchmark.so.1debian; do
  cp -L "$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')" "$BUILD/carried-libs/"
done
# The CRF reference images (../shared/data, when present) for the GPU lattice's test: carry
# build-gpu/data too; run.sh points FCAM_DATA_DIR there.
if [ -d ../shared/data/crf-reference ]; then
  mkdir -p "$BUILD/data" && cp -r ../shared/data/crf-reference "$BUILD/data/"
fi
# Only what run.sh needs travels; report its size against the 64 MiB the device tool carries.
for p in "${programs[@]}"; do strip "$BUILD/bin/$p"; done
find "$BUILD/bin" -type f $(printf "! -name %s " "${programs[@]}") -delete
carried=("$BUILD/bin" "$BUILD/carried-libs")
[ -d "$BUILD/data" ] && carried+=("$BUILD/data")
du -sh "${carried[@]}"
objdump -T "$BUILD"/bin/* | grep -o "GLIBC_[0-9.]*" | sort -uV | tail -1 | sed 's/^/newest glibc symbol: /'
objdump -T "$BUILD"/bin/* | grep -o "GLIBCXX_[0-9.]*" | sort -uV | tail -1 | sed 's/^/newest libstdc++ symbol: /'
# The device tool refuses a call whose tree (tracked and untracked-not-ignored files) and carried
# folders together pass 64 MiB.
# (A tracked file deleted from the work tree does not travel: du skips it.)
tree=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | { du --files0-from=- -cb 2>/dev/null || true; } \
  | tail -1 | cut -f1)
total=$(( tree + $(du -cb "${carried[@]}" | tail -1 | cut -f1) ))
echo "the tree and the carried folders: $(( total / 1048576 )) MiB of the 64 MiB the device tool carries"
if (( total > 64 * 1048576 )); then
  echo "too large: leave programs out of FCAM_GPU_PROGRAMS" >&2
  exit 1
fi

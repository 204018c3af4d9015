#!/usr/bin/env bash
# The GPU machine's one prepared run: the CUDA tests (test_backend_ops, what ctest -L cuda runs,
# a process per source file) and the GPU benchmarks with their PyTorch peers, everything written
# under $OUT (default: ./gpu-out).
#
#   bash benchmarks/gpu/run.sh            # builds build-gpu with -DFCAM_WITH_CUDA=ON, or uses it
#                                         # as it is when build-gpu/bin holds the programs already
#                                         # (built elsewhere: tools/build_gpu_carry.sh)
#
# FCAM_GPU_BENCHES picks the benchmarks (default "ops models": benchmarks/gpu/ops_vs_torch.py and
# benchmarks/gpu/models_vs_torch.py, the latter when build-gpu/bin holds fcam-bench-cuda-models;
# "train" adds benchmarks/train_vs_torch.py --device cuda, both
# stages in fp32 and TF32, FCAM_TRAIN_BATCH (32) and FCAM_TRAIN_ARCHS, FCAM_TRAIN_TIMEOUT seconds
# each, when build-gpu/bin holds fcam-bench-train; "demo" runs fcam-demo --device cuda on
# FCAM_DEMO_DATASETS (default pets) at each of FCAM_DEMO_PRECISIONS (default fp32; e.g.
# "fp32 tf32 bf16" for the precision table), FCAM_DEMO_TIMEOUT seconds each, when build-gpu/bin holds
# fcam-demo; "epoch" one epoch of each stage at CUB's scale, benchmarks/gpu/cub_scale_epoch.sh, when
# build-gpu/bin holds fcam-train); FCAM_BENCH_FILTER and FCAM_MODELS_FILTER narrow their rows,
# FCAM_BENCH_MIN_TIME sets their timing (seconds per measurement), FCAM_MODELS_TIMEOUT the
# seconds the models benchmark may take (its tables are rewritten after each backbone).
# The tests run with FCAM_CUDA_TRACE=1 (unless set otherwise): each convolution plan's cuDNN path
# (graph-API engine or legacy algorithm, float or bfloat16) goes to their log, and the distinct
# lines to $OUT/conv_plans.txt.
# When build-gpu/bin holds fcam-infer, tests/infer_cli_test.py runs it with --device cuda against
# PyTorch (FCAM_GPU_INFER=0 skips that).
#
# cuDNN and cuBLAS may live only inside PyTorch's wheels (nvidia-cudnn-cu13, nvidia-cublas) on
# that machine: the script finds them and puts their folders on LD_LIBRARY_PATH.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
BUILD=${FCAM_GPU_BUILD:-build-gpu}
PY=${PYTHON:-python3}
BENCHES=${FCAM_GPU_BENCHES:-ops models}
exec > >(tee -a "$OUT/run.log") 2>&1
step() { echo; echo "== $(date +%T) $*"; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
grep -m1 "model name" /proc/cpuinfo; nproc
grep -q avx512f /proc/cpuinfo && echo "CPU has AVX-512" || echo "CPU has no AVX-512"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" || true

step "libraries"
site=$("$PY" -c "import site, sys; print(' '.join(site.getsitepackages()))" 2>/dev/null || true)
libdirs=""
for lib in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13; do
  found=$(find $site /usr/local/cuda/lib64 /usr/local/cuda/targets -name "$lib" 2>/dev/null | head -1)
  echo "$lib: ${found:-not found}"
  [ -n "$found" ] && libdirs="$libdirs:$(dirname "$found")"
done
# Only libgomp and Google Benchmark are carried (never libstdc++, which PyTorch shares).
export LD_LIBRARY_PATH="$PWD/${BUILD}/carried-libs${libdirs}:${LD_LIBRARY_PATH:-}"
cudnn_dir=$(find $site -path "*cudnn*" -name cudnn.h 2>/dev/null | head -1)

# The CRF reference images, carried by tools/build_gpu_carry.sh (the GPU lattice's test uses them).
[ -z "${FCAM_DATA_DIR:-}" ] && [ -d "$BUILD/data/crf-reference" ] && export FCAM_DATA_DIR="$PWD/$BUILD/data"
echo "FCAM_DATA_DIR: ${FCAM_DATA_DIR:-not set (the CRF reference images are not compared)}"

if [ -x "$BUILD/bin/test_backend_ops" ]; then
  step "using the programs in $BUILD/bin"
  ldd "$BUILD/bin/test_backend_ops" | grep -E "not found|cudnn|cublas|stdc" || true
else
  step "building $BUILD (CUDA on)"
  cmake -S . -B "$BUILD" -DFCAM_WITH_CUDA=ON -DFCAM_NATIVE_ARCH=OFF -DFCAM_BUILD_EXAMPLES=OFF \
    ${cudnn_dir:+-DCUDNN_ROOT=$(dirname "$(dirname "$cudnn_dir")")} > "$OUT/configure.log" 2>&1 \
    || { tail -30 "$OUT/configure.log"; exit 1; }
  cmake --build "$BUILD" -j"$(nproc)" --target test_backend_ops fcam-bench-cuda-ops fcam-bench-cuda-models \
    > "$OUT/build.log" 2>&1 \
    || { grep -m20 -E "error" "$OUT/build.log"; exit 1; }
fi

# test_backend_ops is what `ctest -L cuda` runs. Here each of its source files runs in a process of
# its own (Catch2's file tags, -#): a CUDA error that breaks the context (an illegal address) or a
# crash then costs that file's cases only, not every case after it. FCAM_TESTS_TIMEOUT (300 s)
# bounds them all together. Logs: $OUT/<file>.log.
step "test_backend_ops (CPU vs CUDA, op by op), a process per source file"
tests_rc=0
deadline=$(( $(date +%s) + ${FCAM_TESTS_TIMEOUT:-300} ))
for tag in $("$BUILD/bin/test_backend_ops" -# --list-tags | grep -o '\[#[A-Za-z0-9_]*\]'); do
  file=${tag:2:-1}
  left=$(( deadline - $(date +%s) ))
  if [ "$left" -le 0 ]; then
    echo "$file: not run (the tests' time is spent)"; tests_rc=1; continue
  fi
  FCAM_CUDA_TRACE=${FCAM_CUDA_TRACE:-1} timeout "$left" "$BUILD/bin/test_backend_ops" -# "$tag" --durations yes \
    > "$OUT/$file.log" 2>&1
  r=$?
  echo "$file: exit $r, $(grep -E "^(All tests passed|test cases:)" "$OUT/$file.log" | tail -1)"
  if [ $r -ne 0 ]; then tests_rc=1; tail -25 "$OUT/$file.log"; fi
done
[ -n "${tag:-}" ] || { echo "test_backend_ops listed no source files"; tests_rc=1; }
# Which path cuDNN gave each convolution geometry (cuda/conv2d_graph.cpp, cuda/conv2d.cpp).
cat "$OUT"/test_*.log 2>/dev/null | grep -o "fcam cuda: conv2d.*" | sort | uniq -c | sort -rn > "$OUT/conv_plans.txt"
echo "convolution plans: $(grep -c "graph API, engine" "$OUT/conv_plans.txt") graph-API engines," \
  "$(grep -c "graph API, none\|graph API, refused\|failed its first run" "$OUT/conv_plans.txt") graph-API misses," \
  "$(grep -c "legacy API" "$OUT/conv_plans.txt") legacy choices ($OUT/conv_plans.txt)"

infer_rc=0
if [ -x "$BUILD/bin/fcam-infer" ] && [ "${FCAM_GPU_INFER:-1}" != 0 ]; then
  step "fcam-infer --device cuda against PyTorch (tests/infer_cli_test.py on tests/models_reference.py's models)"
  ref=${TMPDIR:-/tmp}/fcam_models_reference
  timeout 240 "$PY" tests/models_reference.py "$ref" > "$OUT/models_reference.log" 2>&1 \
    && timeout 240 "$PY" tests/infer_cli_test.py "$BUILD/bin/fcam-infer" "$ref" "${TMPDIR:-/tmp}/fcam_infer_work" cuda \
    || infer_rc=1
  echo "fcam-infer test exit $infer_rc"
fi

bench_rc=0
if [[ " $BENCHES " == *" ops "* ]]; then
  step "benchmarks: CUDA ops, fcam vs PyTorch"
  timeout 420 "$PY" benchmarks/gpu/ops_vs_torch.py --bench "$BUILD/bin/fcam-bench-cuda-ops" --out "$OUT" \
    --shapes benchmarks/wsol_resnet50_convs.csv --min-time "${FCAM_BENCH_MIN_TIME:-0.1}" \
    --filter "${FCAM_BENCH_FILTER:-.}" || bench_rc=1
fi
if [[ " $BENCHES " == *" models "* ]] && [ -x "$BUILD/bin/fcam-bench-cuda-models" ]; then
  step "benchmarks: models and CAM methods, fcam vs PyTorch"
  PYTHONUNBUFFERED=1 timeout "${FCAM_MODELS_TIMEOUT:-420}" "$PY" benchmarks/gpu/models_vs_torch.py \
    --bench "$BUILD/bin/fcam-bench-cuda-models" --out "$OUT" --min-time "${FCAM_BENCH_MIN_TIME:-0.1}" \
    --filter "${FCAM_MODELS_FILTER:-^cuda_models/(vgg16|inceptionv3|resnet50)/}" || bench_rc=1
fi

if [[ " $BENCHES " == *" train "* ]] && [ -x "$BUILD/bin/fcam-bench-train" ]; then
  step "benchmarks: training steps on the GPU, fcam vs PyTorch (benchmarks/train_vs_torch.py --device cuda)"
  for math in fp32 tf32; do
    for stage in 2 1; do
      PYTHONUNBUFFERED=1 timeout "${FCAM_TRAIN_TIMEOUT:-240}" "$PY" benchmarks/train_vs_torch.py \
        --bench "$BUILD/bin/fcam-bench-train" --device cuda $([ $math = tf32 ] && echo --tf32) --stage $stage \
        --batch "${FCAM_TRAIN_BATCH:-32}" --archs "${FCAM_TRAIN_ARCHS:-resnet50,vgg16,inceptionv3}" --steps 3 \
        --rounds 1 | tee "$OUT/train_stage${stage}_${math}.md" || bench_rc=1
    done
  done
fi

if [[ " $BENCHES " == *" demo "* ]] && [ -x "$BUILD/bin/fcam-demo" ]; then
  # pets reads the shipped data/oxford-pets-3; cfmnist needs a dataset folder built elsewhere
  # (FCAM_CFMNIST_DIR: fcam-make-dataset reads Debian's Fashion-MNIST, which this machine lacks).
  step "fcam-demo --device cuda end to end (the goal: under a minute each)"
  for dataset in ${FCAM_DEMO_DATASETS:-pets}; do
    data=data/oxford-pets-3
    [ "$dataset" = cfmnist ] && data=${FCAM_CFMNIST_DIR:-data/cfmnist}
    for precision in ${FCAM_DEMO_PRECISIONS:-fp32}; do
      name=demo-$dataset-$precision
      start=$(date +%s%N)
      timeout "${FCAM_DEMO_TIMEOUT:-240}" "$BUILD/bin/fcam-demo" --device cuda --precision "$precision" \
        --dataset "$dataset" --data "$data" --workers "${FCAM_DEMO_WORKERS:-8}" --out "$OUT/$name" > "$OUT/$name.log" 2>&1
      r=$?
      echo "fcam-demo --dataset $dataset --precision $precision: exit $r, $(( ($(date +%s%N) - start) / 1000000 )) ms end to end"
      tail -14 "$OUT/$name.log"
      [ $r -ne 0 ] && bench_rc=1
    done
  done
fi

if [[ " $BENCHES " == *" epoch "* ]] && [ -x "$BUILD/bin/fcam-train" ]; then
  step "one epoch of each stage at CUB's scale (benchmarks/gpu/cub_scale_epoch.sh)"
  BUILD="$BUILD" OUT="$OUT" bash benchmarks/gpu/cub_scale_epoch.sh || bench_rc=1
fi

step "done: tests exit $tests_rc, fcam-infer exit $infer_rc, benchmarks exit $bench_rc"
exit $(( tests_rc || infer_rc || bench_rc ))

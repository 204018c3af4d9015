#!/usr/bin/env bash
# The GPU machine's one prepared run: the CUDA tests (test_backend_ops, what ctest -L cuda runs,
# a process per source file) and the GPU benchmarks with their PyTorch peers.
#
#   OUT=DIR bash benchmarks/gpu/run.sh    # builds build-gpu with -DFCAM_WITH_CUDA=ON, or uses it
#                                         # as it is when build-gpu/bin holds the programs already
#                                         # (built elsewhere: tools/build_gpu_carry.sh)
#
# What comes back. The device tool returns at most 8 files from $OUT (16 MiB each), so the steps
# write into a run folder (FCAM_GPU_RUN_DIR, empty or new; default a new $TMPDIR/fcam-gpu-run.*),
# and $OUT receives two files: run.log (everything printed, written as it goes) and
# results.tar.gz (every file of the run folder under 4 MiB, without checkpoints, arrays or
# pictures), rewritten after each step and when the script ends in any way, so that a run cut
# short keeps what its finished steps wrote. Default OUT: ./gpu-out.
#
# Time. FCAM_GPU_DEADLINE (530 s) bounds the whole script: each step gets its own limit or what is
# left before the deadline, whichever is less, and a step that would start with under 30 s left
# is skipped with a message. Nothing stops the rest: a failing test file, benchmark row or
# program is reported, and the run goes on.
#
# FCAM_GPU_TESTS=0 skips the tests; FCAM_TESTS_TIMEOUT (300 s) bounds them all, FCAM_TEST_FILE_TIMEOUT
# (120 s) each file. They run with FCAM_CUDA_TRACE=1 (unless set otherwise): each convolution
# plan's cuDNN path (graph-API engine or legacy algorithm, float or bfloat16) goes to their log,
# and the distinct lines to conv_plans.txt.
# When build-gpu/bin holds fcam-infer, tests/infer_cli_test.py runs it with --device cuda against
# PyTorch (FCAM_GPU_INFER=0 skips that).
# FCAM_GPU_BENCHES picks the benchmarks ("none" for none; default "ops models": benchmarks/gpu/ops_vs_torch.py and
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
#
# cuDNN and cuBLAS may live only inside PyTorch's wheels (nvidia-cudnn-cu13, nvidia-cublas) on
# that machine: the script finds them and puts their folders on LD_LIBRARY_PATH.
set -uo pipefail
OUT=${OUT:-$(dirname "$0")/../../gpu-out}  # a relative OUT is the caller's
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/../.."
# A fresh run folder: a second run on a still-warm machine must not pack the first one's files.
if [ -n "${FCAM_GPU_RUN_DIR:-}" ]; then
  RUN=$FCAM_GPU_RUN_DIR
  mkdir -p "$RUN" && [ -z "$(ls -A "$RUN")" ] || { echo "FCAM_GPU_RUN_DIR=$RUN is not empty" >&2; exit 1; }
else
  RUN=$(mktemp -d "${TMPDIR:-/tmp}/fcam-gpu-run.XXXXXX")
fi
BUILD=${FCAM_GPU_BUILD:-build-gpu}
PY=${PYTHON:-python3}
BENCHES=${FCAM_GPU_BENCHES:-ops models}
DEADLINE=$(( $(date +%s) + ${FCAM_GPU_DEADLINE:-530} ))
exec > >(tee -a "$OUT/run.log") 2>&1
tee_pid=$!

# $OUT/results.tar.gz from the run folder's small files; replaced whole (a kill mid-way leaves the
# previous one).
# The run folder's files but checkpoints, arrays and pictures, with find's further tests "$@".
results() { (cd "$RUN" && find . -type f ! -name "*.safetensors" ! -name "*.npy" ! -name "*.png" "$@"); }
pack() {
  results -size -4096k -print0 | (cd "$RUN" && tar -czf "$OUT/results.tar.gz.part" --null -T -) \
    && mv -f "$OUT/results.tar.gz.part" "$OUT/results.tar.gz"
}
# However the script ends (the last step, a failed build, a TERM from a time limit): the run
# folder packed, and run.log complete before the script is gone.
finish() {
  local status=$?
  pack
  big=$(results -size +4095k)
  [ -z "$big" ] || echo "left out of results.tar.gz (4 MiB or more): $big"
  exec >&- 2>&-
  # tee ends once nothing writes to it: wait up to 5 s (a leftover child could hold the pipe).
  for _ in $(seq 50); do kill -0 "$tee_pid" 2>/dev/null || break; sleep 0.1; done
  exit "$status"
}
trap finish EXIT
trap 'exit 143' TERM INT
step() { pack; echo; echo "== $(date +%T) $*"; }
seconds_left() { echo $(( DEADLINE - $(date +%s) )); }
# The limit of a step whose own is $1 s: that, or what is left before the deadline less 10 s.
limit() { local left=$(( $(seconds_left) - 10 )); echo $(( left < $1 ? (left > 1 ? left : 1) : $1 )); }
# True when at least 30 s are left; otherwise says which step is skipped.
time_for() {
  [ "$(seconds_left)" -ge 30 ] && return 0
  echo "skipped: $* ($(seconds_left) s left before the run's deadline, FCAM_GPU_DEADLINE)"
  return 1
}
wants() { [[ " $BENCHES " == *" $1 "* ]]; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
grep -m1 "model name" /proc/cpuinfo; nproc
grep -q avx512f /proc/cpuinfo && echo "CPU has AVX-512" || echo "CPU has no AVX-512"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" || true
echo "run folder: $RUN; deadline in $(seconds_left) s"

step "libraries"
site=$("$PY" -c "import site, sys; print(' '.join(site.getsitepackages()))" 2>/dev/null || true)
libdirs=""
for lib in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13; do
  found=$(find $site /usr/local/cuda/lib64 /usr/local/cuda/targets -name "$lib" 2>/dev/null | head -1)
  echo "$lib: ${found:-not found}"
  [ -n "$found" ] && libdirs="$libdirs:$(dirname "$found")"
done
# Only libgomp and Google Benchmark are carried (never libstdc++, which PyTorch shares).
export LD_LIBRARY_PATH="$PWD/${BUILD}/carried-libs${libdirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cudnn_dir=$(find $site -path "*cudnn*" -name cudnn.h 2>/dev/null | head -1)

# The CRF reference images, carried by tools/build_gpu_carry.sh (the GPU lattice's test uses them).
[ -z "${FCAM_DATA_DIR:-}" ] && [ -d "$BUILD/data/crf-reference" ] && export FCAM_DATA_DIR="$PWD/$BUILD/data"
echo "FCAM_DATA_DIR: ${FCAM_DATA_DIR:-not set (the CRF reference images are not compared)}"

if [ -x "$BUILD/bin/test_backend_ops" ]; then
  step "using the programs in $BUILD/bin"
  ldd "$BUILD/bin/test_backend_ops" | grep -E "cudnn|cublas|stdc" || true
  for program in "$BUILD"/bin/*; do
    ldd "$program" | grep "not found" | sed "s|^|$(basename "$program"): |"
  done
else
  step "building $BUILD (CUDA on)"
  cmake -S . -B "$BUILD" -DFCAM_WITH_CUDA=ON -DFCAM_NATIVE_ARCH=OFF -DFCAM_BUILD_EXAMPLES=OFF \
    ${cudnn_dir:+-DCUDNN_ROOT=$(dirname "$(dirname "$cudnn_dir")")} > "$RUN/configure.log" 2>&1 \
    || { tail -30 "$RUN/configure.log"; exit 1; }
  cmake --build "$BUILD" -j"$(nproc)" --target test_backend_ops fcam-bench-cuda-ops fcam-bench-cuda-models \
    > "$RUN/build.log" 2>&1 \
    || { grep -m20 -E "error" "$RUN/build.log"; exit 1; }
fi

# test_backend_ops is what `ctest -L cuda` runs. Here each of its source files runs in a process of
# its own (Catch2's file tags, -#): a CUDA error that breaks the context (an illegal address) or a
# crash then costs that file's cases only, not every case after it. Logs: <file>.log.
tests_rc=0
if [ "${FCAM_GPU_TESTS:-1}" != 0 ]; then
  step "test_backend_ops (CPU vs CUDA, op by op), a process per source file"
  tests_end=$(( $(date +%s) + ${FCAM_TESTS_TIMEOUT:-300} ))
  files=0
  for tag in $("$BUILD/bin/test_backend_ops" -# --list-tags | grep -o '\[#[A-Za-z0-9_]*\]'); do
    file=${tag:2:-1}
    files=$(( files + 1 ))
    left=$(( tests_end - $(date +%s) ))
    if [ "$left" -le 0 ]; then
      echo "$file: not run (FCAM_TESTS_TIMEOUT is spent)"; tests_rc=1; continue
    fi
    time_for "$file" || { tests_rc=1; continue; }
    cap=$(limit "${FCAM_TEST_FILE_TIMEOUT:-120}")
    FCAM_CUDA_TRACE=${FCAM_CUDA_TRACE:-1} timeout -k 10 $(( cap < left ? cap : left )) \
      "$BUILD/bin/test_backend_ops" -# "$tag" --durations yes > "$RUN/$file.log" 2>&1
    r=$?
    echo "$file: exit $r, $(grep -E "^(All tests passed|test cases:)" "$RUN/$file.log" | tail -1)"
    if [ $r -ne 0 ]; then tests_rc=1; tail -25 "$RUN/$file.log"; fi
  done
  [ "$files" -gt 0 ] || { echo "test_backend_ops listed no source files"; tests_rc=1; }
  # Which path cuDNN gave each convolution geometry (cuda/conv2d_graph.cpp, cuda/conv2d.cpp).
  cat "$RUN"/test_*.log 2>/dev/null | grep -o "fcam cuda: conv2d.*" | sort | uniq -c | sort -rn > "$RUN/conv_plans.txt"
  echo "convolution plans: $(grep -c "graph API, engine" "$RUN/conv_plans.txt") graph-API engines," \
    "$(grep -c "graph API, none\|graph API, refused\|failed its first run" "$RUN/conv_plans.txt") graph-API misses," \
    "$(grep -c "legacy API" "$RUN/conv_plans.txt") legacy choices (conv_plans.txt)"
fi

infer_rc=0
if [ -x "$BUILD/bin/fcam-infer" ] && [ "${FCAM_GPU_INFER:-1}" != 0 ]; then
  step "fcam-infer --device cuda against PyTorch (tests/infer_cli_test.py on tests/models_reference.py's models)"
  if time_for "the fcam-infer test"; then
    ref=${TMPDIR:-/tmp}/fcam_models_reference
    timeout -k 10 "$(limit 240)" "$PY" tests/models_reference.py "$ref" > "$RUN/models_reference.log" 2>&1 \
      && timeout -k 10 "$(limit 240)" "$PY" tests/infer_cli_test.py "$BUILD/bin/fcam-infer" "$ref" \
        "${TMPDIR:-/tmp}/fcam_infer_work" cuda \
      || infer_rc=1
    echo "fcam-infer test exit $infer_rc"
  else
    infer_rc=1
  fi
fi

bench_rc=0
if wants ops; then
  step "benchmarks: CUDA ops, fcam vs PyTorch"
  if time_for "the ops benchmark"; then
    timeout -k 10 "$(limit 420)" "$PY" benchmarks/gpu/ops_vs_torch.py --bench "$BUILD/bin/fcam-bench-cuda-ops" \
      --out "$RUN" --shapes benchmarks/wsol_resnet50_convs.csv --min-time "${FCAM_BENCH_MIN_TIME:-0.1}" \
      --filter "${FCAM_BENCH_FILTER:-.}" || bench_rc=1
  else
    bench_rc=1
  fi
fi
if wants models && [ -x "$BUILD/bin/fcam-bench-cuda-models" ]; then
  step "benchmarks: models and CAM methods, fcam vs PyTorch"
  if time_for "the models benchmark"; then
    PYTHONUNBUFFERED=1 timeout -k 10 "$(limit "${FCAM_MODELS_TIMEOUT:-420}")" "$PY" benchmarks/gpu/models_vs_torch.py \
      --bench "$BUILD/bin/fcam-bench-cuda-models" --out "$RUN" --min-time "${FCAM_BENCH_MIN_TIME:-0.1}" \
      --filter "${FCAM_MODELS_FILTER:-^cuda_models/(vgg16|inceptionv3|resnet50)/}" || bench_rc=1
  else
    bench_rc=1
  fi
fi

if wants train && [ -x "$BUILD/bin/fcam-bench-train" ]; then
  step "benchmarks: training steps on the GPU, fcam vs PyTorch (benchmarks/train_vs_torch.py --device cuda)"
  for math in fp32 tf32; do
    for stage in 2 1; do
      time_for "training stage $stage, $math" || { bench_rc=1; continue; }
      PYTHONUNBUFFERED=1 timeout -k 10 "$(limit "${FCAM_TRAIN_TIMEOUT:-240}")" "$PY" benchmarks/train_vs_torch.py \
        --bench "$BUILD/bin/fcam-bench-train" --device cuda $([ $math = tf32 ] && echo --tf32) --stage $stage \
        --batch "${FCAM_TRAIN_BATCH:-32}" --archs "${FCAM_TRAIN_ARCHS:-resnet50,vgg16,inceptionv3}" --steps 3 \
        --rounds 1 | tee "$RUN/train_stage${stage}_${math}.md" || bench_rc=1
    done
  done
fi

if wants demo && [ -x "$BUILD/bin/fcam-demo" ]; then
  # pets reads the shipped data/oxford-pets-3; cfmnist needs a dataset folder built elsewhere
  # (FCAM_CFMNIST_DIR: fcam-make-dataset reads Debian's Fashion-MNIST, which this machine lacks).
  step "fcam-demo --device cuda end to end (the goal: under a minute each)"
  for dataset in ${FCAM_DEMO_DATASETS:-pets}; do
    data=data/oxford-pets-3
    [ "$dataset" = cfmnist ] && data=${FCAM_CFMNIST_DIR:-data/cfmnist}
    for precision in ${FCAM_DEMO_PRECISIONS:-fp32}; do
      name=demo-$dataset-$precision
      time_for "$name" || { bench_rc=1; continue; }
      start=$(date +%s%N)
      timeout -k 10 "$(limit "${FCAM_DEMO_TIMEOUT:-240}")" "$BUILD/bin/fcam-demo" --device cuda \
        --precision "$precision" --dataset "$dataset" --data "$data" --workers "${FCAM_DEMO_WORKERS:-8}" \
        --out "$RUN/$name" > "$RUN/$name.log" 2>&1
      r=$?
      echo "fcam-demo --dataset $dataset --precision $precision: exit $r, $(( ($(date +%s%N) - start) / 1000000 )) ms end to end"
      tail -14 "$RUN/$name.log"
      [ $r -ne 0 ] && bench_rc=1
    done
  done
fi

if wants epoch && [ -x "$BUILD/bin/fcam-train" ]; then
  step "one epoch of each stage at CUB's scale (benchmarks/gpu/cub_scale_epoch.sh)"
  if time_for "the CUB-scale epoch"; then
    BUILD="$BUILD" OUT="$RUN" FCAM_EPOCH_DEADLINE=$(( DEADLINE - 10 )) bash benchmarks/gpu/cub_scale_epoch.sh \
      || bench_rc=1
  else
    bench_rc=1
  fi
fi

step "done: tests exit $tests_rc, fcam-infer exit $infer_rc, benchmarks exit $bench_rc; the run folder's files are in $OUT/results.tar.gz"
exit $(( tests_rc || infer_rc || bench_rc ))  # finish() packs

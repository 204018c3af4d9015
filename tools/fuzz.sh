#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, with ASan and UBSan) and runs each for a
# fixed time, then prints executions and coverage per target. Any crash, sanitizer report,
# escaped exception, timeout or memory blow-up is a finding: its input is saved under
# <build>/findings/ and the script exits 1. Make a regression case of it: copy the input to
# tests/fuzz/regressions/<target>/ (replayed by ctest in every build) and fix the parser.
#
#   bash tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s; all targets)
#
# New inputs found while fuzzing go to <build>/corpus/<target>/ (kept between runs unless
# FCAM_FUZZ_FRESH=1 empties it first, as CI does); the committed seed corpus in tests/fuzz/corpus/
# is only read (refresh it with tools/make_fuzz_corpus.py).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(npy safetensors json wsol_metadata image flags)
build=${FCAM_FUZZ_BUILD:-build-fuzz}
# A fixed seed (and a fresh corpus folder) makes a run repeatable: CI's verdict does not depend on
# luck. Explore with FCAM_FUZZ_SEED=0 (libFuzzer picks a seed) and longer runs.
seed=${FCAM_FUZZ_SEED:-1}

# clang with libFuzzer's runtime, and what configuring fcam's tests needs.
bash tools/install_packages.sh clang libclang-rt-14-dev cmake ninja-build libeigen3-dev libstb-dev catch2 python3
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DFCAM_FUZZ=ON -DFCAM_NATIVE_ARCH=OFF -DFCAM_BUILD_EXAMPLES=OFF -DFCAM_BUILD_BENCHMARKS=OFF > "$build.configure.log"
cmake --build "$build" --target "${targets[@]/#/fuzz_}"

mkdir -p "$build/findings"
failed=0
report="| target | executions | exec/s | coverage (edges) | features | corpus | result |\n|---|---:|---:|---:|---:|---:|---|\n"
for t in "${targets[@]}"; do
  [ "${FCAM_FUZZ_FRESH:-0}" = 1 ] && rm -rf "$build/corpus/$t"
  mkdir -p "$build/corpus/$t"
  inputs=("$build/corpus/$t" "tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && inputs+=("tests/fuzz/regressions/$t")
  log="$build/fuzz_$t.log"
  echo "fuzzing $t for ${seconds}s ..."
  result=ok
  "$build/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -seed="$seed" -print_final_stats=1 -artifact_prefix="$build/findings/$t-" "${inputs[@]}" > "$log" 2>&1 || { result="FINDING (see $log)"; failed=1; }
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<< "$last")
  report+="| $t | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $result |\n"
done
printf "\n$report"
printf "$report" > "$build/fuzz_report.md"
exit $failed

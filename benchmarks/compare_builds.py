#!/usr/bin/env python3
"""Same-run before/after comparison of two builds of fcam's benchmark programs.

Runs each program of the BEFORE and AFTER bin folders alternately (--rounds times, so drift of a
shared machine hits both sides alike), keeps each side's best (lowest) time per row, and prints a
Markdown table: before ms, after ms, after / before.

Google Benchmark programs (fcam-bench-conv, -models, -crf, -gemm, -eval) are compared row by row
(real time); fcam-bench-train is compared on the rows of its Markdown table.

Usage:
  compare_builds.py --before OLD/bin --after NEW/bin [--rounds 3] [--min-time 0.3]
                    [--filter REGEX] PROGRAM [PROGRAM ...]
Example (the [backend] issue's tables):
  compare_builds.py --before /tmp/old/bin --after build/bin --rounds 3 fcam-bench-conv \
      fcam-bench-crf fcam-bench-train
"""
import argparse
import json
import os
import re
import subprocess
import sys


def run_google_benchmark(binary, min_time, pattern):
    cmd = [binary, "--benchmark_format=json", f"--benchmark_min_time={min_time}"]
    if pattern:
        cmd.append(f"--benchmark_filter={pattern}")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
        rows[b["name"]] = b["real_time"] * scale
    return rows


def run_train_breakdown(binary, _min_time, _pattern):
    out = subprocess.run([binary, "--steps", "3"], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        m = re.match(r"\|\s*(\**[^|]+?\**)\s*\|\s*\**([0-9.]+)\**", line)
        if m:
            rows[m.group(1).strip("* ")] = float(m.group(2))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", required=True, help="bin folder of the old build")
    p.add_argument("--after", required=True, help="bin folder of the new build")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds per side")
    p.add_argument("--min-time", type=float, default=0.3, help="Google Benchmark min time per row (s)")
    p.add_argument("--filter", default="", help="Google Benchmark filter regex")
    p.add_argument("programs", nargs="+")
    a = p.parse_args()
    for program in a.programs:
        runner = run_train_breakdown if program == "fcam-bench-train" else run_google_benchmark
        best = {"before": {}, "after": {}}
        order = []
        for r in range(a.rounds):
            for side in ("before", "after") if r % 2 == 0 else ("after", "before"):
                rows = runner(os.path.join(getattr(a, side), program), a.min_time, a.filter)
                for name, ms in rows.items():
                    if name not in order:
                        order.append(name)
                    best[side][name] = min(ms, best[side].get(name, float("inf")))
                print(f"# {program} round {r + 1} {side}: {len(rows)} rows", file=sys.stderr, flush=True)
        print(f"\n{program} (best of {a.rounds} alternating rounds per side; ms)\n")
        print("| row | before | after | after / before |\n|---|---:|---:|---:|")
        for name in order:
            b, n = best["before"].get(name), best["after"].get(name)
            if b is None or n is None:
                continue
            print(f"| {name} | {b:.3f} | {n:.3f} | {n / b if b > 0 else float('nan'):.2f} |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

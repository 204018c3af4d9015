#!/usr/bin/python3
"""fcam vs PyTorch (CPU) on the convolutions of WSOL-ResNet50, in one run, with a ratio table.

Usage (Debian's interpreter, which sees python3-torch):
    /usr/bin/python3 benchmarks/conv_vs_torch.py --bench build/bin/fcam-bench-conv [--threads 2]
        [--min-time 0.5] [--filter REGEX] [--markdown OUT.md]

Both sides use the same thread count, fp32, random data, and the shapes of
benchmarks/wsol_resnet50_convs.csv. Each row times fcam and then torch back to back, so slow
drifts of a shared machine hit both sides of a ratio alike. "forward" is y = conv(x); "backward" computes the input and
weight gradients from a given output gradient (what a training step needs) on both sides: PyTorch
through torch.ops.aten.convolution_backward, without a forward pass. fcam: Google Benchmark, median of 3 repetitions of
real time. PyTorch: torch.nn.functional.conv2d (oneDNN), warm-up then the median of timed loops.
Ratio = fcam / torch (below 1 means fcam is faster).
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys

import torch
import torch.nn.functional as F

from timing import median_ms

HERE = os.path.dirname(os.path.abspath(__file__))


def read_shapes(path):
    with open(path) as f:
        return [dict(name=r["name"], **{k: int(v) for k, v in r.items() if k != "name"}) for r in csv.DictReader(f)]


def torch_time(shape, batch, backward, min_time):
    x = torch.randn(batch, shape["in_channels"], shape["height"], shape["width"])
    w = torch.randn(shape["out_channels"], shape["in_channels"], shape["kernel"], shape["kernel"])
    stride, pad = (shape["stride"],) * 2, (shape["padding"],) * 2
    with torch.no_grad():
        dy = torch.randn_like(F.conv2d(x, w, None, stride, pad))

    def step():
        with torch.no_grad():
            if backward:  # the input and weight gradients from a given output gradient, as fcam's rows
                torch.ops.aten.convolution_backward(dy, x, w, None, stride, pad, (1, 1), False, (0, 0), 1,
                                                    (True, True, False))
            else:
                F.conv2d(x, w, None, stride, pad)

    return median_ms(step, min_time)


def fcam_time(bench, threads, min_time, name, shapes):
    """Median real time (ms) of one fcam benchmark, by exact name (names hold no regex metacharacters)."""
    out = subprocess.run([bench, "--shapes", shapes, "--threads", str(threads), f"--benchmark_min_time={min_time}",
                          "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true",
                          "--benchmark_format=json", f"--benchmark_filter=^{name}/real_time$"],
                         check=True, capture_output=True, text=True).stdout
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            return b["real_time"]
    raise RuntimeError(f"fcam benchmark {name} did not run")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="build/bin/fcam-bench-conv")
    ap.add_argument("--shapes", default=os.path.join(HERE, "wsol_resnet50_convs.csv"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--filter", default=".")
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    shapes = read_shapes(args.shapes)
    rows = []
    for s in shapes:
        for batch in (1, 8):
            for backward in (False, True):
                name = f"{'backward' if backward else 'forward'}/{s['name']}/batch{batch}"
                if not re.search(args.filter, name):
                    continue
                f = fcam_time(args.bench, args.threads, args.min_time, name, args.shapes)
                t = torch_time(s, batch, backward, args.min_time)
                rows.append((name, f, t, f / t))
                print(f"{name}: fcam {f:.3f} ms, torch {t:.3f} ms", file=sys.stderr, flush=True)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines = [f"CPU: {cpu}, {args.threads} threads, fp32, fcam vs PyTorch {torch.__version__} (oneDNN); "
             f"times in ms (median); ratio = fcam / torch", "",
             "| conv / batch | fcam ms | torch ms | ratio |", "|---|---:|---:|---:|"]
    for name, f, t, r in rows:
        lines.append(f"| {name} | {f:.3f} | {t:.3f} | {r:.2f} |")
    for kind in ("forward", "backward"):
        ratios = [r for n, _, _, r in rows if n.startswith(kind)]
        if ratios:
            geo = 1.0
            for r in ratios:
                geo *= r
            lines.append(f"| **{kind} geometric mean** | | | **{geo ** (1 / len(ratios)):.2f}** |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()

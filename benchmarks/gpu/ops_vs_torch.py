#!/usr/bin/env python3
"""fcam vs PyTorch on the GPU: the CUDA ops of fcam-bench-cuda-ops, in one run, with a ratio table.

Usage (on the GPU machine; benchmarks/gpu/run.sh calls it):
    python3 benchmarks/gpu/ops_vs_torch.py --bench build/bin/fcam-bench-cuda-ops --out DIR
        [--min-time 0.2] [--filter REGEX]

Both sides run the same work on the same card, fp32 tensors with TF32 off, then on (PyTorch:
torch.backends.cudnn.allow_tf32 / torch.backends.cuda.matmul.allow_tf32). "conv_forward" is
y = conv(x, W); "conv_backward" computes the input and weight gradients from a given output
gradient (torch.ops.aten.convolution_backward: the same work, without the forward). Both sides
enqueue 10 calls and then wait for the device, and report the time per call: fcam through Google
Benchmark (manual time, median of 3 repetitions), PyTorch as the median of timed loops. Rows
"fp32-find" are fcam with cuDNN algorithms chosen by timing (cuda::set_benchmark_algorithms), next
to PyTorch's default (cudnn.benchmark off), at batch 1.
"bandwidth" rows are memory-bound ops on a 32×256×112×112 tensor, in GB/s of bytes read and
written, next to each side's device-to-device copy. "host" rows are the host time of one call at
batch-1 sizes (100 calls timed without waiting, in µs per call; PyTorch's includes its Python
call): what bounds a batch-1 forward. "crf" rows are the CRF loss (value + gradient, batch 32,
224², 2 channels) on fcam's GPU lattice and on its CPU lattice with every host thread: PyTorch has
no permutohedral lattice (the F-CAM authors run theirs on the CPU), so their ratio is GPU / CPU.
"sampling" rows are stage 2's pseudo-labels of 32 CAMs of 224² (keyed sampler, default options) on
the GPU and on the CPU with every host thread; the reference samples on the CPU too, image by
image in Python, so their ratio is GPU / CPU as well.
Ratio = fcam / torch (below 1: fcam faster).
A row fcam could not run (its error, such as an out-of-memory) is listed as failed with the
reason, the other rows still run, and the script then exits with 1.
Writes DIR/ops_vs_torch.md and DIR/ops_vs_torch.json.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import gbench_json  # noqa: E402
CALLS = 10


def per_call_ms(call, min_time):
    """Median over 3 loops of (CALLS calls, then synchronise), in ms per call, after warm-up."""
    for _ in range(3):
        call()
    torch.cuda.synchronize()
    samples = []
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while True:
            for _ in range(CALLS):
                call()
            torch.cuda.synchronize()
            n += CALLS
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        samples.append(elapsed / n)
    return sorted(samples)[1] * 1e3


def torch_conv(name, batch, backward, tf32, shapes, min_time):
    s = shapes[name]
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    dev = torch.device("cuda")
    x = torch.rand(batch, s["in_channels"], s["height"], s["width"], device=dev) * 2 - 1
    w = torch.rand(s["out_channels"], s["in_channels"], s["kernel"], s["kernel"], device=dev) * 2 - 1
    stride, pad = (s["stride"],) * 2, (s["padding"],) * 2
    with torch.no_grad():
        y = F.conv2d(x, w, None, stride, pad)
    dy = torch.rand_like(y) * 2 - 1

    def forward():
        with torch.no_grad():
            F.conv2d(x, w, None, stride, pad)

    def backward_only():
        torch.ops.aten.convolution_backward(dy, x, w, None, stride, pad, (1, 1), False, (0, 0), 1,
                                            (True, True, False))

    return per_call_ms(backward_only if backward else forward, min_time)


def torch_bandwidth(name, min_time):
    dev = torch.device("cuda")
    a = torch.rand(32, 256, 112, 112, device=dev)
    b = torch.rand_like(a)
    q = torch.rand(32, 256, 56, 56, device=dev)
    h1, h2 = torch.rand(32, 128, 112, 112, device=dev), torch.rand(32, 128, 112, 112, device=dev)
    g, beta, mean, var = (torch.rand(256, device=dev) for _ in range(4))
    var = var + 2
    calls = {
        "copy": lambda: a.clone(),
        "relu": lambda: torch.relu(a),
        "add": lambda: a + b,
        "relu_backward": lambda: torch.ops.aten.threshold_backward(b, a, 0.0),
        "max_pool_3x3s2": lambda: F.max_pool2d(a, 3, 2, 1),
        "upsample_nearest_x2": lambda: F.interpolate(q, scale_factor=2, mode="nearest"),
        "resize_bilinear_x2": lambda: F.interpolate(q, size=(112, 112), mode="bilinear", align_corners=False),
        "batch_norm_eval": lambda: F.batch_norm(a, mean, var, g, beta, training=False, eps=1e-5),
        "concat_2": lambda: torch.cat([h1, h2], 1),
        "softmax_channels": lambda: torch.softmax(a, 1),
    }
    return per_call_ms(calls[name], min_time)


def host_ms(call, min_time):
    """Median over 3 loops of the host time of 100 calls (the wait after each is not counted)."""
    call()
    torch.cuda.synchronize()
    samples = []
    for _ in range(3):
        spent, n = 0.0, 0
        while spent < min_time:
            start = time.perf_counter()
            for _ in range(100):
                call()
            spent += time.perf_counter() - start
            n += 100
            torch.cuda.synchronize()
        samples.append(spent / n)
    return sorted(samples)[1] * 1e3


def torch_host(name, min_time):
    dev = torch.device("cuda")
    torch.backends.cudnn.allow_tf32 = False
    a, b = torch.rand(1, 256, 56, 56, device=dev), torch.rand(1, 256, 56, 56, device=dev)
    x64 = torch.rand(1, 64, 56, 56, device=dev)
    h1, h2 = torch.rand(1, 128, 56, 56, device=dev), torch.rand(1, 128, 56, 56, device=dev)
    q = torch.rand(1, 256, 28, 28, device=dev)
    g, beta, mean = (torch.rand(256, device=dev) for _ in range(3))
    var = torch.full((256,), 2.0, device=dev)
    w64 = torch.rand(64, 64, 3, 3, device=dev)
    layer = torch.nn.Sequential(torch.nn.Conv2d(64, 64, 3, 1, 1, bias=False), torch.nn.BatchNorm2d(64),
                                torch.nn.ReLU(inplace=True)).to(dev).eval()
    v, lw, lb = torch.rand(1, 2048, device=dev), torch.rand(200, 2048, device=dev), torch.rand(200, device=dev)
    s2 = torch.rand(1, 2, 224, 224, device=dev)
    calls = {
        "empty": lambda: torch.empty(1, 256, 56, 56, device=dev),
        "relu": lambda: torch.relu(a),
        "add": lambda: a + b,
        "batch_norm_eval": lambda: F.batch_norm(a, mean, var, g, beta, training=False, eps=1e-5),
        "conv3x3_64": lambda: F.conv2d(x64, w64, None, 1, 1),
        "conv3x3_64_bn_relu": lambda: layer(x64),
        "max_pool_3x3s2": lambda: F.max_pool2d(a, 3, 2, 1),
        "resize_bilinear_x2": lambda: F.interpolate(q, size=(56, 56), mode="bilinear", align_corners=True),
        "concat_2": lambda: torch.cat([h1, h2], 1),
        "linear_2048x200": lambda: F.linear(v, lw, lb),
        "softmax_channels": lambda: torch.softmax(s2, 1),
    }
    with torch.no_grad():
        return host_ms(calls[name], min_time)


def read_shapes(path):
    import csv
    with open(path) as f:
        return {r["name"]: {k: (v if k == "name" else int(v)) for k, v in r.items()} for r in csv.DictReader(f)}


def cell(text):
    """`text` as one table cell: one line, no column separator."""
    return " ".join(text.split()).replace("|", "/")


def write_tables(out, gpu, rows, failed):
    """OUT/ops_vs_torch.md and .json from the rows so far (the CRF and sampling rows get their
    GPU / CPU ratio); returns the table's lines."""
    for r in rows:
        on_cpu = next((c for c in rows if c["name"] == r["name"].replace("/cuda", "/cpu")), None)
        if r["name"].split("/")[0] in ("crf", "sampling") and r["name"].endswith("/cuda") and on_cpu:
            r["ratio_to_cpu"] = r["fcam_ms"] / on_cpu["fcam_ms"]
    copy = next((r for r in rows if r["name"] == "bandwidth/copy"), None)
    lines = [f"GPU: {gpu}; PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}; "
             f"{time.strftime('%Y-%m-%d')}", "",
             "| op | fcam ms | PyTorch ms | fcam / PyTorch | fcam GB/s | % of copy |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["torch_ms"] is None:  # the CRF and sampling rows: no PyTorch peer
            ratio = f"GPU / CPU {r['ratio_to_cpu']:.4f}" if r.get("ratio_to_cpu") else ""
            lines.append(f"| {r['name']} | {r['fcam_ms']:.4f} | | {ratio} | | |")
            continue
        gbs = f"{r['fcam_gbs']:.0f}" if r.get("fcam_gbs") else ""
        of_copy = f"{100 * r['fcam_gbs'] / copy['fcam_gbs']:.0f} %" if r.get("fcam_gbs") and copy else ""
        # PyTorch's share of its own copy bandwidth, for comparison
        if r.get("torch_gbs") and copy:
            of_copy += f" (PyTorch {100 * r['torch_gbs'] / copy['torch_gbs']:.0f} %)"
        lines.append(f"| {r['name']} | {r['fcam_ms']:.4f} | {r['torch_ms']:.4f} | {r['ratio']:.2f} | {gbs} | {of_copy} |")
    lines += [f"| {name} | failed: {cell(why)} | | | | |" for name, why in failed.items()]
    with open(os.path.join(out, "ops_vs_torch.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "ops_vs_torch.json"), "w") as f:
        json.dump(dict(gpu=gpu, torch=torch.__version__, rows=rows, failed=failed), f, indent=1)
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--shapes", default=os.path.join(HERE, "..", "wsol_resnet50_convs.csv"))
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--filter", default=".")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    fcam_json = os.path.join(args.out, "fcam_bench_cuda_ops.json")
    run = subprocess.run([args.bench, "--shapes", args.shapes, f"--benchmark_filter={args.filter}",
                          f"--benchmark_min_time={args.min_time / CALLS}", "--benchmark_repetitions=3",
                          "--benchmark_report_aggregates_only=true", f"--benchmark_out={fcam_json}",
                          "--benchmark_out_format=json"])
    report = gbench_json.read_rows(fcam_json)  # a program that died: the rows it finished
    if run.returncode != 0:
        print(f"fcam-bench-cuda-ops ended with exit code {run.returncode} after {len(report)} rows", flush=True)
    fcam_rows = {gbench_json.row_name(b): b for b in report if b.get("aggregate_name") == "median"}
    # Rows that threw (benchmarks/failed_rows.hpp): listed with their error, the others measured.
    failed = {gbench_json.row_name(b): b.get("error_message", "error") for b in report if b.get("error_occurred")}
    for name, why in failed.items():
        print(f"{name}: fcam failed: {why}", flush=True)
    shapes = read_shapes(args.shapes)
    gpu = torch.cuda.get_device_name(0)
    rows = []
    for name, b in fcam_rows.items():
        fcam_ms = b["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0}[b["time_unit"]]
        parts = name.split("/")
        if parts[0].startswith("conv_"):
            # "fp32-find": fcam with algorithms chosen by timing; PyTorch as in the fp32 row.
            torch_ms = torch_conv(parts[1], int(parts[2][5:]), parts[0] == "conv_backward", parts[3] == "tf32",
                                  shapes, args.min_time)
            rows.append(dict(name=name, fcam_ms=fcam_ms, torch_ms=torch_ms, ratio=fcam_ms / torch_ms,
                             fcam_tflops=b.get("TFLOP/s", 0)))
        elif parts[0] in ("crf", "sampling"):
            rows.append(dict(name=name, fcam_ms=fcam_ms, torch_ms=None, ratio=None,
                             threads=b.get("threads")))
            continue
        elif parts[0] == "host":
            torch_ms = torch_host(parts[1], args.min_time)
            rows.append(dict(name=name, fcam_ms=fcam_ms, torch_ms=torch_ms, ratio=fcam_ms / torch_ms))
        else:
            torch_ms = torch_bandwidth(parts[1], args.min_time)
            gbytes = b["GB/s"] * fcam_ms / 1e3 if "GB/s" in b else 0
            rows.append(dict(name=name, fcam_ms=fcam_ms, torch_ms=torch_ms, ratio=fcam_ms / torch_ms,
                             fcam_gbs=b.get("GB/s", 0), torch_gbs=gbytes / (torch_ms / 1e3) if gbytes else 0))
        print(f"{name}: fcam {fcam_ms:.4f} ms, torch {torch_ms:.4f} ms, ratio {fcam_ms / torch_ms:.2f}", flush=True)
        write_tables(args.out, gpu, rows, failed)  # a run cut short keeps the rows measured so far
    lines = write_tables(args.out, gpu, rows, failed)
    for r in rows:
        if r.get("ratio_to_cpu"):
            on_cpu = next(c for c in rows if c["name"] == r["name"].replace("/cuda", "/cpu"))
            print(f"{r['name']}: GPU {r['fcam_ms']:.3f} ms, CPU ({on_cpu['threads']:.0f} threads) "
                  f"{on_cpu['fcam_ms']:.3f} ms, GPU / CPU {r['ratio_to_cpu']:.4f}", flush=True)
    print("\n".join(lines))
    return 1 if failed or run.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())

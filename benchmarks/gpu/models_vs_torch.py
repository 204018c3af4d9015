#!/usr/bin/env python3
"""The paper's runtime table on a GPU: fcam vs PyTorch, backbone × row × batch × math, same run, same card.

Usage (on the GPU machine; benchmarks/gpu/run.sh calls it):
    python3 benchmarks/gpu/models_vs_torch.py --bench build-gpu/bin/fcam-bench-cuda-models --out DIR
        [--min-time 0.1] [--filter REGEX]

Rows (fcam-bench-cuda-models): "forward" = classifier logits; "<method>" = image tensor in,
full-resolution maps out, for cam, gradcam, gradcampp, sgcampp (4 noisy passes), xgradcam,
layercam and fcam (decoder, head, softmax); batch 1, 32 and 128 at 224×224, 200 classes, random
weights, eval mode. Math: "fp32" (TF32 off on both sides), "tf32", or "fp32-fast" (forward and
F-CAM rows: fcam with TF32 off but cuDNN's FFT and Winograd algorithms allowed, as PyTorch's fp32
allows them), or, for F-CAM and the CAM methods, "graph-fp32" / "graph-tf32": fcam's
models::InferencePlan (the pass, with cam::plan_maps for a CAM method, replayed as one CUDA graph;
Smooth-GradCAM++'s noise keyed once per plan)
against PyTorch's row captured with torch.cuda.graphs at the same math (its gradient CAMs with
autograd's backward inside the graph, and with the closed form; a row PyTorch cannot capture keeps
fcam's time and says why). "bf16" / "graph-bf16": fcam's bfloat16 convolutions (cuda::set_bf16)
against PyTorch under bf16 autocast.

The PyTorch peer is benchmarks/models_vs_torch.py's, moved to the GPU: the architectures of
tests/models_reference.py, run the way the F-CAM authors' code and CAM libraries run them
(torch.no_grad() for the forward, CAM and F-CAM; the gradient CAMs backpropagate the class logit
through the whole network with autograd). The gradient CAM rows also time PyTorch with fcam's
closed-form head gradient ("closed"). Also PyTorch's CUDA-graph F-CAM in TF32 and with bf16
autocast, after each eager tf32 F-CAM row, for reference.

Both sides: each call is followed by a wait for the device (the latency a caller sees); fcam
through Google Benchmark (manual time, median of 3 repetitions), PyTorch as the median of 3 timed
loops after warm-up. Ratio = fcam / torch (below 1: fcam faster). "fcam enqueue ms" is the host
time until fcam's call returned, before the wait: where it is close to the whole time, the host
(launches, plans, host copies) is what limits fcam.
A row fcam could not run (its error, such as an out-of-memory, or the program ending before it)
is listed as failed with the reason, the other rows still run, and the script then exits with 1.
Writes DIR/models_vs_torch.md and DIR/models_vs_torch.json.
"""
import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))  # the CPU peer's own imports (timing.py), gbench_json.py
import gbench_json  # noqa: E402
# The CPU peer (benchmarks/models_vs_torch.py: its models and rows), loaded by path: this file has its name.
_spec = importlib.util.spec_from_file_location("cpu_models_vs_torch", os.path.join(HERE, "..", "models_vs_torch.py"))
peer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(peer)


def latency_ms(call, min_time, warmup=2):
    """Median over 3 loops of (call, wait for the device), in ms per call."""
    def step():
        call()
        torch.cuda.synchronize()
    return peer.median_ms(step, min_time, warmup=warmup)


def set_tf32(on):
    torch.backends.cudnn.allow_tf32 = on
    torch.backends.cuda.matmul.allow_tf32 = on


def fcam_map(model, x):
    with torch.no_grad():
        return torch.softmax(model.segmentation_head(model.decoder(model.stages(x))), dim=1)


def captured_ms(run, min_time):
    """`run` (which reads fixed input tensors) captured in a CUDA graph and replayed: ms per replay."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            run()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        run()
    return latency_ms(graph.replay, min_time)


def graph_ms(model, x, bf16, min_time):
    """PyTorch's F-CAM, image in and map out, captured in a CUDA graph and replayed."""
    static_x = x.clone()

    def run():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            return fcam_map(model, static_x)
    return captured_ms(run, min_time)


def autocast(step, bf16):
    """`step` under bf16 autocast when `bf16` (PyTorch's bf16 precision), else `step` itself."""
    if not bf16:
        return step

    def run():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return step()
    return run


def peer_graph_ms(model, x, method, min_time, bf16):
    """PyTorch's row `method` captured in a CUDA graph: F-CAM, or a CAM method as CAM libraries run
    it (the gradient CAMs with autograd's backward in the graph), and for the gradient CAMs also
    fcam's closed form; under bf16 autocast when `bf16`. (ms, closed-form ms or None); None where
    PyTorch cannot capture the row."""
    if method == "fcam":
        return graph_ms(model, x, bf16, min_time), None
    static_x = x.clone()
    try:
        ms = captured_ms(autocast(peer.step_fn(model, static_x, method, "e2e"), bf16), min_time)
    except RuntimeError as e:
        print(f"  torch graph of {method} failed: {e}", flush=True)
        ms = None
    closed = None
    if method in peer.GRADIENT_METHODS:
        try:
            with torch.no_grad():
                closed = captured_ms(autocast(peer.closed_form_step(model, static_x, model.stages(static_x),
                                                                    method, "e2e"), bf16), min_time)
        except RuntimeError as e:  # keep the autograd graph's time
            print(f"  torch graph of {method}'s closed form failed: {e}", flush=True)
    return ms, closed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--min-time", type=float, default=0.1)
    ap.add_argument("--filter", default=".")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    listed = subprocess.run([args.bench, "--benchmark_list_tests=true"], capture_output=True, text=True, check=True)
    names = [n for n in (m.replace("/manual_time", "") for m in listed.stdout.split()) if re.search(args.filter, n)]
    if not names:
        print(f"models_vs_torch: no row of {args.bench} matches --filter {args.filter}")
        return 1
    archs = list(dict.fromkeys(n.split("/")[1] for n in names))
    torch.manual_seed(0)
    dev = torch.device("cuda")
    inputs, rows, graphs = {}, [], []
    # One backbone at a time, fcam's rows then PyTorch's, the tables rewritten after each: a run cut
    # short by its time limit keeps what it measured.
    for arch in archs:
        arch_names = [n for n in names if n.split("/")[1] == arch]
        fcam_rows, failed = fcam_times(args, arch_names, arch)
        model = peer.build(arch).to(dev)
        for name in arch_names:
            _, _, method, batch_text, math = name.split("/")
            batch = int(batch_text[5:])
            if name in failed:  # reported without a PyTorch time: the time limit is for fcam's rows
                rows.append(dict(name=name, arch=arch, row=method, batch=batch, math=math, fcam_ms=None,
                                 fcam_error=failed[name], fcam_enqueue_ms=None, torch_ms=None, ratio=None,
                                 torch_closed_ms=None))
                print(f"{name}: fcam failed: {failed[name]}", flush=True)
                continue
            fcam_ms, enqueue_ms = fcam_rows[name]
            if batch not in inputs:
                inputs[batch] = torch.rand(batch, 3, 224, 224, device=dev) * 4 - 2
            x = inputs[batch]
            set_tf32(math.endswith("tf32"))
            bf16 = math.endswith("bf16")
            closed_ms = None
            if math.startswith("graph-"):
                try:
                    torch_ms, closed_ms = peer_graph_ms(model, x, method, args.min_time, bf16)
                except RuntimeError as e:  # no peer: the row keeps fcam's time alone, the reason printed
                    print(f"{name}: torch graph failed: {e}", flush=True)
                    torch_ms = None
            else:
                torch_ms = latency_ms(autocast(peer.step_fn(model, x, method, "e2e"), bf16), args.min_time)
                if method in peer.GRADIENT_METHODS:
                    with torch.no_grad():
                        closed_ms = latency_ms(autocast(peer.closed_form_step(model, x, model.stages(x), method,
                                                                              "e2e"), bf16), args.min_time)
            rows.append(dict(name=name, arch=arch, row=method, batch=batch, math=math, fcam_ms=fcam_ms,
                             fcam_enqueue_ms=enqueue_ms, torch_ms=torch_ms,
                             ratio=fcam_ms / torch_ms if torch_ms else None, torch_closed_ms=closed_ms))
            closed = f", torch closed form {closed_ms:.3f} ms" if closed_ms else ""
            peer_text = f"torch {torch_ms:.3f} ms, ratio {fcam_ms / torch_ms:.2f}" if torch_ms else "no torch peer"
            print(f"{name}: fcam {fcam_ms:.3f} ms, {peer_text}{closed}", flush=True)
            if method == "fcam" and math == "tf32":
                set_tf32(True)
                try:
                    graphs.append(dict(arch=arch, batch=batch, tf32_ms=graph_ms(model, x, False, args.min_time),
                                       bf16_ms=graph_ms(model, x, True, args.min_time)))
                    print(f"  torch graph: tf32 {graphs[-1]['tf32_ms']:.3f} ms, bf16 {graphs[-1]['bf16_ms']:.3f} ms",
                          flush=True)
                except RuntimeError as e:  # PyTorch's graph rows are a reference only: go on without them
                    print(f"  torch graph of {arch} batch {batch} failed: {e}", flush=True)
        del model
        torch.cuda.empty_cache()
        write_tables(args.out, rows, graphs)
    print(open(os.path.join(args.out, "models_vs_torch.md")).read())
    return 1 if any(r["fcam_ms"] is None for r in rows) else 0


def fcam_times(args, names, arch):
    """fcam's rows in `names`, one process for the backbone: {name: (median ms, enqueue ms)} of
    those measured and {name: why} of those that failed (the row's error, or how the program
    ended before reaching it)."""
    out = os.path.join(args.out, f"fcam_bench_cuda_models_{arch}.json")
    run = subprocess.run([args.bench, "--benchmark_filter=^(" + "|".join(names) + ")/manual_time$",
                          f"--benchmark_min_time={args.min_time}", "--benchmark_repetitions=3",
                          "--benchmark_report_aggregates_only=true", f"--benchmark_out={out}",
                          "--benchmark_out_format=json"], stdout=subprocess.DEVNULL)
    report = gbench_json.read_rows(out)
    if os.path.exists(out):
        os.remove(out)  # the tables carry the numbers
    times = {gbench_json.row_name(b): (b["real_time"], b.get("enqueue_ms"))
             for b in report if b.get("aggregate_name") == "median"}
    failed = {gbench_json.row_name(b): b.get("error_message", "error") for b in report if b.get("error_occurred")}
    for name in names:
        if name not in times and name not in failed:
            failed[name] = f"not reached: fcam-bench-cuda-models ended with exit code {run.returncode}"
    return times, failed


def write_tables(out, rows, graphs):
    gpu = torch.cuda.get_device_name(0)
    lines = [f"GPU: {gpu}; PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}; "
             f"{time.strftime('%Y-%m-%d')}; eager, each call then a wait for the device", "",
             "| backbone | row | batch | math | fcam ms | fcam enqueue ms | PyTorch ms | fcam / PyTorch | "
             "fcam images/s | PyTorch images/s | PyTorch closed form ms | fcam / closed |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["fcam_ms"] is None:
            lines.append(f"| {r['arch']} | {r['row']} | {r['batch']} | {r['math']} | failed: "
                         f"{' '.join(r['fcam_error'].split()).replace('|', '/')} | | | | | | | |")
            continue
        closed = " | "
        if r["torch_closed_ms"]:
            closed = f"{r['torch_closed_ms']:.3f} | {r['fcam_ms'] / r['torch_closed_ms']:.2f}"
        enqueue = f"{r['fcam_enqueue_ms']:.3f}" if r.get("fcam_enqueue_ms") is not None else ""
        torch_cells = " — | — | " if not r["torch_ms"] else (
            f"{r['torch_ms']:.3f} | {r['ratio']:.2f} | ")
        torch_rate = f"{1e3 * r['batch'] / r['torch_ms']:.0f}" if r["torch_ms"] else "—"
        lines.append(f"| {r['arch']} | {r['row']} | {r['batch']} | {r['math']} | {r['fcam_ms']:.3f} | {enqueue} | "
                     f"{torch_cells}{1e3 * r['batch'] / r['fcam_ms']:.0f} | {torch_rate} | {closed} |")
    if graphs:
        lines += ["", "PyTorch F-CAM in a CUDA graph, TF32 and bf16 autocast:", "",
                  "| backbone | batch | tf32 ms | tf32 images/s | bf16 ms | bf16 images/s |",
                  "|---|---:|---:|---:|---:|---:|"]
        for g in graphs:
            lines.append(f"| {g['arch']} | {g['batch']} | {g['tf32_ms']:.3f} | {1e3 * g['batch'] / g['tf32_ms']:.0f} | "
                         f"{g['bf16_ms']:.3f} | {1e3 * g['batch'] / g['bf16_ms']:.0f} |")
    with open(os.path.join(out, "models_vs_torch.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "models_vs_torch.json"), "w") as f:
        json.dump(dict(gpu=gpu, torch=torch.__version__, rows=rows, graphs=graphs), f, indent=1)

if __name__ == "__main__":
    sys.exit(main())

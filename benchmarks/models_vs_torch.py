#!/usr/bin/python3
"""The paper's runtime table (Table F.4) on this CPU: fcam vs PyTorch, every backbone × CAM method,
batch 1, 224×224, 200 classes, same thread count, random weights, eval mode; ratio table.

Usage: /usr/bin/python3 benchmarks/models_vs_torch.py --bench build/bin/fcam-bench-models
           [--threads 2] [--min-time 0.5] [--filter REGEX] [--rounds 3]

Rows (docs/performance.md): "forward" = classifier logits; "<method> map" = the full-resolution map
from the encoder output (F-CAM: decoder + head + softmax from the encoder stages); "<method>
e2e" = image tensor in, map out. The PyTorch peer uses the same architectures
(tests/models_reference.py) the way the F-CAM authors' code runs them: torch.no_grad() for the
forward, CAM and F-CAM; the gradient CAMs end to end run a forward with autograd and backpropagate
the class logit through the whole network (what pytorch-grad-cam style implementations do); their
"map" rows start from the target activation with autograd through the head only. The gradient
CAM rows also time PyTorch with fcam's closed form instead of autograd (the WGAP head's gradient
is w[c, k] / (h·w) at every pixel: one forward without autograd), the column "closed". Each row
alternates fcam (Google Benchmark, median of 3 repetitions) and torch (warm-up, median of 3 timed
loops) for --rounds rounds and keeps each side's best round, so that a slow spell of a shared
machine hits both sides instead of one. Ratio = fcam / torch.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from models_reference import FcamInception, FcamMobileNetV2, FcamResNet, FcamVgg  # noqa: E402
from timing import median_ms  # noqa: E402

ARCHS = ["vgg16", "inceptionv3", "resnet50", "mobilenet_v2"]
METHODS = ["cam", "gradcam", "gradcampp", "xgradcam", "layercam", "fcam"]
GRADIENT_METHODS = ["gradcam", "gradcampp", "xgradcam", "layercam", "sgcampp"]
CLASS = 7


def build(arch):
    model = {"vgg16": FcamVgg, "inceptionv3": FcamInception, "mobilenet_v2": FcamMobileNetV2}.get(
        arch, lambda c: FcamResNet(arch, c))(200)
    return model.eval()


def cam_from(model, a, grads, method):
    if method == "cam":
        m = (model.classification_head.fc.weight[CLASS][None, :, None, None] * a).sum(1)
    elif method == "gradcam":
        m = F.relu((grads.mean(dim=(2, 3), keepdim=True) * a).sum(1))
    elif method == "gradcampp":
        g2, g3 = grads ** 2, grads ** 3
        alpha = g2 / (2 * g2 + a.sum(dim=(2, 3), keepdim=True) * g3 + 1e-7)
        m = F.relu(((alpha * F.relu(grads)).sum(dim=(2, 3), keepdim=True) * a).sum(1))
    elif method == "xgradcam":
        m = F.relu((((grads * a).sum(dim=(2, 3), keepdim=True) / (a.sum(dim=(2, 3), keepdim=True) + 1e-7)) * a).sum(1))
    else:
        m = F.relu((F.relu(grads) * a).sum(1))
    m = m - m.amin(dim=(1, 2), keepdim=True)
    m = m / m.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    return F.interpolate(m[:, None], size=(224, 224), mode="bilinear", align_corners=False)


def closed_form_step(model, x, stages, method, mode):
    """A gradient CAM row with fcam's closed-form head gradient instead of autograd."""
    def grads_of(a):
        w = model.classification_head.fc.weight[CLASS][None, :, None, None]
        return (w / (a.shape[2] * a.shape[3])).expand_as(a)

    def step():
        with torch.no_grad():
            if method == "sgcampp":  # 4 noisy forward passes, α averaged as in models_reference.py
                alphas = []
                for _ in range(4):
                    a = model.stages(x + 0.3 * torch.randn_like(x))[-1]
                    g = grads_of(a)
                    alphas.append(g ** 2 / (2 * g ** 2 + a.sum(dim=(2, 3), keepdim=True) * g ** 3 + 1e-7))
                m = F.relu(((torch.stack(alphas).mean(0) * F.relu(g)).sum(dim=(2, 3), keepdim=True) * a).sum(1))
                m = m - m.amin(dim=(1, 2), keepdim=True)
                m = m / m.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
                F.interpolate(m[:, None], size=(224, 224), mode="bilinear", align_corners=False)
                return
            a = stages[-1] if mode == "map" else model.stages(x)[-1]
            cam_from(model, a, grads_of(a), method)
    return step


def step_fn(model, x, method, mode):
    """The function timed for one row."""
    if method == "forward":
        def step():
            with torch.no_grad():
                model.classification_head(model.stages(x)[-1])
        return step
    with torch.no_grad():
        stages = model.stages(x)

    def fcam_map(st):
        seg = model.segmentation_head(model.decoder(st))
        return torch.softmax(seg, dim=1)

    if method == "fcam":
        def step():
            with torch.no_grad():
                fcam_map(stages if mode == "map" else model.stages(x))
        return step
    if method == "cam":
        def step():
            with torch.no_grad():
                cam_from(model, stages[-1] if mode == "map" else model.stages(x)[-1], None, "cam")
        return step

    if method == "sgcampp":  # 4 noisy passes, each a forward and a backward through the network
        def step():
            for _ in range(4):
                model.zero_grad(set_to_none=True)
                a = model.stages(x + 0.3 * torch.randn_like(x))[-1]
                a.retain_grad()
                model.classification_head(a)[:, CLASS].sum().backward()
            with torch.no_grad():
                cam_from(model, a.detach(), a.grad, "gradcampp")
        return step

    def step():
        if mode == "map":
            a = stages[-1].detach().requires_grad_(True)
            logit = model.classification_head(a)[:, CLASS].sum()
            grads = torch.autograd.grad(logit, a)[0]
        else:  # through the whole network, parameters included
            model.zero_grad(set_to_none=True)
            a = model.stages(x)[-1]
            a.retain_grad()
            model.classification_head(a)[:, CLASS].sum().backward()
            grads = a.grad
        with torch.no_grad():
            cam_from(model, a.detach(), grads, method)
    return step


def fcam_ms(bench, name, threads, min_time):
    out = subprocess.run([bench, f"--benchmark_filter=^{re.escape(name)}$", f"--benchmark_min_time={min_time}",
                          "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true",
                          "--benchmark_format=json"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, FCAM_NUM_THREADS=str(threads)))
    rows = [b for b in json.loads(out.stdout)["benchmarks"] if b.get("aggregate_name") == "median"]
    return rows[0]["real_time"]  # milliseconds (Unit kMillisecond)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--min-time", type=float, default=0.5)
    p.add_argument("--filter", default="")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(1, 3, 224, 224) * 4 - 2
    rows = []
    for arch in ARCHS:
        model = build(arch)
        rows_of_arch = [("forward", "")] + [(m, md) for m in METHODS for md in ("map", "e2e")] + [("sgcampp", "e2e")]
        for method, mode in rows_of_arch:
            name = f"models/{arch}/{method}" + (f"/{mode}" if mode else "")
            if args.filter and not re.search(args.filter, name):
                continue
            step = step_fn(model, x, method, mode)
            closed = None
            if method in GRADIENT_METHODS:
                with torch.no_grad():
                    closed = closed_form_step(model, x, model.stages(x), method, mode)
            t_fcam, t_torch, t_closed = float("inf"), float("inf"), float("inf")
            for _ in range(args.rounds):
                t_fcam = min(t_fcam, fcam_ms(args.bench, name, args.threads, args.min_time))
                t_torch = min(t_torch, median_ms(step, args.min_time, warmup=2))
                if closed:
                    t_closed = min(t_closed, median_ms(closed, args.min_time, warmup=2))
            rows.append((name, t_fcam, t_torch, t_closed if closed else None))
            extra = f", torch closed form {t_closed:.2f} ms, ratio {t_fcam / t_closed:.2f}" if closed else ""
            print(f"{name}: fcam {t_fcam:.2f} ms, torch {t_torch:.2f} ms, ratio {t_fcam / t_torch:.2f}{extra}",
                  flush=True)
    print(f"\nCPU: {platform.processor() or platform.machine()}, {args.threads} threads, fp32, batch 1, 224x224, "
          f"200 classes; fcam vs PyTorch {torch.__version__}; ms (median); ratio = fcam / torch\n")
    print("| row | fcam ms | torch ms | ratio | torch closed ms | ratio to closed |\n|---|---:|---:|---:|---:|---:|")
    for name, tf, tt, tc in rows:
        closed = f"{tc:.2f} | {tf / tc:.2f}" if tc else "— | —"
        print(f"| {name} | {tf:.2f} | {tt:.2f} | {tf / tt:.2f} | {closed} |")


if __name__ == "__main__":
    main()

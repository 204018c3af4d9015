#!/usr/bin/python3
"""One training step, part by part: fcam vs PyTorch on this CPU, same run, ratios.

Usage (Debian's interpreter, which sees python3-torch):
    /usr/bin/python3 benchmarks/train_vs_torch.py --bench build/bin/fcam-bench-train
        [--stage 2] [--archs resnet50,vgg16,inceptionv3] [--base-width 64] [--batch 8] [--size 224]
        [--threads 2] [--steps 3] [--rounds 3] [--device cpu|cuda] [--tf32]

The cluttered Fashion-MNIST demo's model: --archs resnet18 --base-width 16 --batch 64 --size 128.
On a GPU (--device cuda, fcam built with CUDA; benchmarks/gpu/run.sh's "train" benchmark) both
sides run there, each part ending with a wait for the device; --tf32 turns TF32 on for both.
The table then adds fcam's whole stage-2 step with the CAM, the region sampling and the CRF on
the GPU lattice, against PyTorch's step without them (the [cuda-train] goal).

Stage 1 (--stage 1): the classifier in training mode (BatchNorm batch statistics), the class
logits, cross-entropy, backward through head and encoder, SGD (Nesterov, momentum 0.9, weight
decay 1e-4) on both. Parts: "forward" (fcam: forward + cross-entropy) and "backward + SGD".

Stage 2 (the default):

The step: a frozen encoder (evaluation mode, no gradients), the F-CAM decoder and segmentation
head in training mode, softmax, the partial cross-entropy on sampled pixels and the size term,
backward through the decoder, SGD (Nesterov, momentum 0.9, weight decay 1e-4) on the decoder.
Batch 8, 224×224, 200 classes, random weights. fcam: `fcam-bench-train` (its own table, mean of
--steps steps after a warm-up; the CAM, the region sampling, the CRF and the image loading are
in its table but not in the PyTorch step, and are left out of the comparison). PyTorch: the
same architectures (tests/models_reference.py), each part's wall time, mean of --steps steps
after a warm-up. The parts:

    encoder forward          fcam "encoder forward"     torch: model.stages(x) under no_grad
    decoder + head forward   fcam "decoder + head forward, softmax" + PCE + size
                             torch: decoder, head, softmax, PCE on 1 + 1 pixels per image, size
    backward + SGD           fcam "decoder + head backward" + "SGD step"
                             torch: loss.backward() + optimizer.step()

Each round runs fcam then PyTorch; each side keeps its best round, so that a slow spell of a
shared machine hits both sides. Ratio = fcam / torch (below 1: fcam faster). The table goes to
stdout row by row as each backbone finishes (the rounds' progress to stderr). A backbone whose
fcam-bench-train or PyTorch side fails gets a row that says why, the others still run, and the
script then exits with 1.
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from models_reference import FcamInception, FcamResNet, FcamVgg  # noqa: E402

PARTS = {1: ("forward", "backward + SGD"), 2: ("encoder forward", "decoder + head forward", "backward + SGD")}


def build(arch, base_width):
    if arch in ("vgg16", "inceptionv3") and base_width != 64:
        sys.exit(f"train_vs_torch: the PyTorch {arch} has base width 64 only")
    return {"vgg16": FcamVgg, "inceptionv3": FcamInception}.get(arch, lambda c: FcamResNet(arch, c, base_width))(200)


class FcamFailed(Exception):
    """fcam-bench-train ended with an error, or without the rows of its table."""


def fcam_parts(args, arch):
    """fcam-bench-train's table, folded into the stage's PARTS (ms), and its whole step without
    the data loading (stage 2: CAM, sampling and CRF included). FcamFailed names what went wrong."""
    command = [args.bench, "--stage", str(args.stage), "--arch", arch, "--base_width", str(args.base_width),
               "--batch", str(args.batch), "--size", str(args.size), "--steps", str(args.steps), "--threads",
               str(args.threads), "--device", args.device] + (["--tf32"] if args.tf32 else [])
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no message"])[-1]
        raise FcamFailed(f"exit code {run.returncode}: {last}")
    out = run.stdout
    rows = {m.group(1).strip(): float(m.group(2)) for m in re.finditer(r"^\| ([^|*]+) \| ([0-9.]+) \|$", out, re.M)}
    whole = sum(v for k, v in rows.items() if not k.startswith("data"))

    def row(prefix):
        keys = [k for k in rows if k.startswith(prefix)]
        if len(keys) != 1:
            raise FcamFailed(f"no single row '{prefix}' in the output of {args.bench}:\n{out}")
        return rows[keys[0]]

    if args.stage == 1:
        return {"forward": row("forward") + row("cross-entropy"),
                "backward + SGD": row("backward") + row("SGD step")}, whole
    return {"encoder forward": row("encoder forward"),
            "decoder + head forward": row("decoder + head forward") + row("partial cross-entropy") + row("size loss"),
            "backward + SGD": row("decoder + head backward") + row("SGD step")}, whole


def time_parts(names, parts, steps, sync):
    """Mean ms of each part over `steps` steps after one warm-up step. The parts run in order
    each step; each gets the previous part's result (the first gets None); `sync` waits for the
    device after each."""
    totals = dict.fromkeys(names, 0.0)
    for step in range(steps + 1):
        value = None
        for name, part in zip(names, parts):
            t0 = time.perf_counter()
            value = part(value)
            sync()
            if step > 0:  # step 0 is the warm-up
                totals[name] += (time.perf_counter() - t0) * 1e3
    return {name: ms / steps for name, ms in totals.items()}


def backward_and_sgd(params):
    """The step's last part: loss.backward() and an SGD step (Nesterov, momentum 0.9, weight
    decay 1e-4) on `params`."""
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=1e-4, nesterov=True)

    def part(loss):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return part


def torch_stage1(model, batch, size, steps, device, sync):
    """The PyTorch classifier step's parts (ms), mean of `steps` steps after one warm-up step."""
    model.train()
    x = torch.rand(batch, 3, size, size, device=device) * 4 - 2
    targets = torch.randint(0, 200, (batch,), device=device)
    forward = lambda _: F.cross_entropy(model.classification_head(model.stages(x)[-1]), targets)  # noqa: E731
    params = list(model.encoder.parameters()) + list(model.classification_head.parameters())
    return time_parts(PARTS[1], (forward, backward_and_sgd(params)), steps, sync)


def torch_stage2(model, batch, size, steps, device, sync):
    """The PyTorch F-CAM step's parts (ms), mean of `steps` steps after one warm-up step."""
    model.encoder.eval()
    model.decoder.train()
    model.segmentation_head.train()
    x = torch.rand(batch, 3, size, size, device=device) * 4 - 2
    rows = torch.arange(batch, device=device)

    def encoder(_):
        with torch.no_grad():
            return model.stages(x)

    def decoder_and_losses(stages):
        seg = model.segmentation_head(model.decoder(stages))
        if seg.shape[-2:] != x.shape[-2:]:
            seg = F.interpolate(seg, size=x.shape[-2:], mode="bilinear", align_corners=True)
        probs = torch.softmax(seg, dim=1)
        # One foreground and one background pixel per image (fcam's default sampling).
        ys, xs = torch.randint(0, size, (2, batch), device=device), torch.randint(0, size, (2, batch), device=device)
        logp = torch.log_softmax(seg, dim=1)
        pce = -(logp[rows, 1, ys[0], xs[0]].mean() + logp[rows, 0, ys[1], xs[1]].mean()) / 2
        size_term = -torch.log(probs.sum(dim=(2, 3)).clamp_min(1e-8)).mean() * 0.1
        return pce + size_term

    params = list(model.decoder.parameters()) + list(model.segmentation_head.parameters())
    return time_parts(PARTS[2], (encoder, decoder_and_losses, backward_and_sgd(params)), steps, sync)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True)
    p.add_argument("--stage", type=int, choices=(1, 2), default=2)
    p.add_argument("--archs", default="resnet50,vgg16,inceptionv3")
    p.add_argument("--base-width", type=int, default=64)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--tf32", action="store_true", help="TF32 on both sides (GPU)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    torch.manual_seed(0)
    step = "classifier (stage-1) step" if args.stage == 1 else "F-CAM stage-2 step without CRF"
    where = (f"GPU: {torch.cuda.get_device_name(0)}" if args.device == "cuda"
             else f"CPU: {platform.processor() or platform.machine()}, {args.threads} threads")
    math = "TF32" if args.tf32 else "fp32"
    # The table goes to stdout, each backbone's rows as soon as they are measured (a run cut short
    # keeps them); the rounds' progress goes to stderr.
    print(f"{where}, {math}, batch {args.batch}, "
          f"{args.size}x{args.size}, 200 classes, base width {args.base_width}; {step}; "
          f"fcam vs PyTorch {torch.__version__}; "
          f"ms (best of {args.rounds} rounds, each the mean of {args.steps} steps); ratio = fcam / torch\n")
    print("| backbone | part | fcam ms | torch ms | ratio |\n|---|---|---:|---:|---:|", flush=True)
    failures = 0
    for arch in args.archs.split(","):
        model = build(arch, args.base_width).to(args.device)
        torch_parts = torch_stage1 if args.stage == 1 else torch_stage2
        best_f, best_t, best_whole, failure = None, None, None, None
        for r in range(args.rounds):
            try:
                f, whole = fcam_parts(args, arch)
            except FcamFailed as e:  # the other backbones still run; the table says why this one is missing
                print(f"{arch}: fcam-bench-train failed: {e}", file=sys.stderr, flush=True)
                failure = f"fcam failed: {str(e).splitlines()[0]}"
                break
            try:
                t = torch_parts(model, args.batch, args.size, args.steps, args.device, sync)
            except RuntimeError as e:  # PyTorch's side (an out-of-memory, say)
                print(f"{arch}: PyTorch failed: {e}", file=sys.stderr, flush=True)
                failure = f"PyTorch failed: {str(e).splitlines()[0]}"
                break
            best_whole = whole if best_whole is None else min(best_whole, whole)
            print(f"{arch} round {r + 1}: fcam {sum(f.values()):.0f} ms, torch {sum(t.values()):.0f} ms",
                  file=sys.stderr, flush=True)
            if best_f is None or sum(f.values()) < sum(best_f.values()):
                best_f = f
            if best_t is None or sum(t.values()) < sum(best_t.values()):
                best_t = t
        del model
        if args.device == "cuda":
            torch.cuda.empty_cache()
        if failure:
            failures += 1
            print(f"| {arch} | {failure.replace('|', '/')} | | | |", flush=True)
            continue
        rows = [(part, best_f[part], best_t[part]) for part in PARTS[args.stage]]
        rows.append(("**the whole step**", sum(best_f.values()), sum(best_t.values())))
        if args.stage == 2 and args.device == "cuda":
            rows.append(("fcam's whole step with CAM, sampling and CRF vs the above", best_whole, sum(best_t.values())))
        for part, tf, tt in rows:
            print(f"| {arch} | {part} | {tf:.1f} | {tt:.1f} | {tf / tt:.2f} |", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

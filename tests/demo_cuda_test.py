#!/usr/bin/python3
"""fcam-demo --tiny on the real photos with --device cuda, against the same run on the CPU (same
seed): the demo's GPU path end to end, as benchmarks/gpu/run.sh starts it on a GPU.

- both runs finish and write report.md, results.json and the four pictures;
- stage 1 (the classifier's head; fp32 with deterministic convolutions on both devices): its
  logged loss and validation score, and every trained weight, equal the CPU's within 1e-5
  relative;
- the six CAM baselines' test rows: the same accuracy and box scores, PxAP within 1e-5 relative;
- stage 2: the GPU draws other pseudo-label pixels than the CPU (docs/cuda.md), so its decoder
  differs after training; its untrained score (epoch 0) equals the CPU's, its losses are finite,
  and the CAM + F-CAM test row equals the CPU's when both runs kept the same epoch's decoder.

Usage: /usr/bin/python3 tests/demo_cuda_test.py FCAM_DEMO WORK_DIR REPO_DIR
"""
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np

from checks import check, finish
from safetensors_file import read_safetensors
from train_cli_test import read_log

TOLERANCE = 1e-5
PICTURES = ("overlays.png", "fig5_boxacc.png", "fig5_precision_recall.png", "fig6_activations.png")


def close(a, b):
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b), 1e-12)


def demo(fcam_demo, repo, out, device):
    """One tiny demo run in a fresh folder (an existing one would be resumed); its results."""
    shutil.rmtree(out, ignore_errors=True)
    data, weights = os.path.join(repo, "data", "oxford-pets-3"), os.path.join(repo, "data", "weights")
    r = subprocess.run([fcam_demo, "--tiny", "--device", device, "--out", out, "--data", data, "--pretrained",
                        os.path.join(weights, "mobilenet_v2_imagenet.f16.safetensors")], capture_output=True, text=True)
    check(r.returncode == 0, f"fcam-demo --tiny --device {device} finishes" +
          ("" if r.returncode == 0 else f": {r.stderr.strip()[-300:]}"))
    missing = [f for f in ("report.md", "results.json") + PICTURES if not os.path.isfile(os.path.join(out, f))]
    check(not missing, f"--device {device} writes the report, results and pictures (missing: {missing})")
    with open(os.path.join(out, "results.json")) as f:
        return {row["name"]: row for row in json.load(f)["rows"]}


def best_epoch(log):
    """The epoch whose validation score the run kept (the first of the best)."""
    scores = [float(row[next(k for k in row if k.startswith("val_"))]) for row in log]
    return scores.index(max(scores))


def compare_rows(cpu, gpu, name):
    a, b = cpu[name], gpu[name]
    same = [k for k in a if k not in ("PxAP", "group", "name")]
    check(all(a[k] == b[k] for k in same), f"{name}: accuracy and box scores as on the CPU "
          f"({[(k, a[k], b[k]) for k in same if a[k] != b[k]]})")
    check(close(a["PxAP"], b["PxAP"]), f"{name}: PxAP {b['PxAP']:.6f} as on the CPU ({a['PxAP']:.6f})")


def main():
    fcam_demo, work, repo = sys.argv[1:4]
    cpu_dir, gpu_dir = os.path.join(work, "cpu"), os.path.join(work, "cuda")
    cpu = demo(fcam_demo, repo, cpu_dir, "cpu")
    gpu = demo(fcam_demo, repo, gpu_dir, "cuda")

    # Stage 1.
    cpu_log, gpu_log = read_log(os.path.join(cpu_dir, "classifier")), read_log(os.path.join(gpu_dir, "classifier"))
    check(len(cpu_log) == len(gpu_log) == 2, f"stage 1 logs epochs 0 and 1 on both devices ({len(gpu_log)} rows)")
    for key in ("loss", "val_maxboxacc50"):
        a, b = float(cpu_log[-1][key]), float(gpu_log[-1][key])
        check(close(a, b), f"stage 1, epoch 1: {key} {b} as on the CPU ({a})")
    cpu_weights = read_safetensors(os.path.join(cpu_dir, "classifier", "last.safetensors"))
    gpu_weights = read_safetensors(os.path.join(gpu_dir, "classifier", "last.safetensors"))
    check(cpu_weights.keys() == gpu_weights.keys(), f"stage 1 saves the same {len(cpu_weights)} tensors")
    worst = max(((float(np.max(np.abs(cpu_weights[k].astype(np.float64) - gpu_weights[k]))) /
                  max(float(np.max(np.abs(cpu_weights[k]))), 1e-30), k)
                 for k in cpu_weights if k in gpu_weights and cpu_weights[k].size), default=(math.inf, "none"))
    check(worst[0] <= TOLERANCE, f"stage 1's weights as on the CPU: worst {worst[0]:.2e} of the tensor's largest "
          f"magnitude ({worst[1]})")

    # The CAM baselines on the test split.
    baselines = [name for name, row in cpu.items() if row["group"] == "baselines"]
    check(len(baselines) == 6 and sorted(baselines) == sorted(n for n, r in gpu.items() if r["group"] == "baselines"),
          f"six CAM baselines on both devices ({baselines})")
    for name in baselines:
        compare_rows(cpu, gpu, name)

    # Stage 2.
    cpu_log, gpu_log = read_log(os.path.join(cpu_dir, "fcam-cam")), read_log(os.path.join(gpu_dir, "fcam-cam"))
    check(len(cpu_log) == len(gpu_log) == 2, f"stage 2 logs epochs 0 and 1 on both devices ({len(gpu_log)} rows)")
    a, b = float(cpu_log[0]["val_pxap"]), float(gpu_log[0]["val_pxap"])
    check(close(a, b), f"stage 2, epoch 0 (the untrained decoder): validation PxAP {b} as on the CPU ({a})")
    losses = {k: float(gpu_log[-1][k]) for k in ("loss", "pce", "crf", "size")}
    check(all(math.isfinite(v) for v in losses.values()), f"stage 2 on the GPU: finite losses {losses}")
    kept = best_epoch(cpu_log), best_epoch(gpu_log)
    if kept[0] == kept[1] == 0:
        compare_rows(cpu, gpu, "CAM + F-CAM")
    else:
        print(f"note: CAM + F-CAM not compared: the runs kept the decoders of epochs {kept} (other pixel draws)")
    finish()


if __name__ == "__main__":
    main()

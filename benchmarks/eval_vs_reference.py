#!/usr/bin/python3
"""fcam-eval against the Python reference evaluation (tests/wsol_reference.py: wsolevaluation's
formulas with numpy + OpenCV) on CUB-test-sized and OpenImages-test-sized workloads, same
machine, same run; checks the results are identical and prints a ratio table.

Usage: /usr/bin/python3 benchmarks/eval_vs_reference.py --fcam-eval build/bin/fcam-eval
           [--work build/bench_eval] [--threads 2] [--limit N] [--repeats 3] [--skip-masks]
           [--skip-boxes]

Workloads (generated once into --work, reused by later runs):
  CUB: the real CUB test metadata (../shared/data/wsol-metadata/CUB/test: 5,794 images, their
       sizes and boxes) with synthetic CAM-like 224×224 float32 maps (a 28×28 map — a
       stride-8 CAM — peaked near the object box, bilinearly upsampled, min-max normalised);
       interval 0.001, largest contour (MaxBoxAcc) and all contours + 3 IoUs (MaxBoxAccV2).
  OpenImages: the real OpenImages test metadata (5,000 images, 7,630 instance masks, ignore
       masks) with synthetic PNG masks of the original resolution (1600×1066, like the shipped
       samples) and maps; PxAP at interval 0.001.
The reference runs single-threaded (as wsolevaluation does); fcam-eval uses --threads.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from wsol_reference import evaluate_wsol, read_lines  # noqa: E402

SHARED = os.path.join(HERE, "..", "..", "shared", "data", "wsol-metadata")


def write_split(src, dst, limit):
    """Copies the first `limit` images of a metadata split."""
    os.makedirs(dst, exist_ok=True)
    ids = read_lines(os.path.join(src, "image_ids.txt"))[:limit]
    keep = set(ids)
    for name in ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt"):
        lines = [l for l in read_lines(os.path.join(src, name)) if l.split(",")[0] in keep]
        with open(os.path.join(dst, name), "w") as f:
            f.write("\n".join(lines))
    return ids


def cam_map(rng, box=None, size=224):
    """A stride-8 CAM: 28×28, a bump near the (224-scaled) box — displaced and resized at
    random, as CAMs miss parts of objects — plus a weaker distractor and noise, upsampled."""
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32) * 8 + 4
    m = rng.random((28, 28)).astype(np.float32) * 0.25
    if box is not None:
        w, h = box[2] - box[0], box[3] - box[1]
        cx = (box[0] + box[2]) / 2 + rng.normal(0, 0.15) * w
        cy = (box[1] + box[3]) / 2 + rng.normal(0, 0.15) * h
        sx, sy = max(8.0, w / 2 * rng.uniform(0.4, 1.0)), max(8.0, h / 2 * rng.uniform(0.4, 1.0))
        m += np.exp(-((xx - cx) / sx) ** 2 - ((yy - cy) / sy) ** 2)
        dx, dy = rng.uniform(0, 224, 2)
        m += 0.5 * rng.random() * np.exp(-((xx - dx) / 20) ** 2 - ((yy - dy) / 20) ** 2)
    m = cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR)
    return ((m - m.min()) / (m.max() - m.min())).astype(np.float32)


def make_cub(work, limit, rng):
    meta = os.path.join(work, "metadata")
    ids = write_split(os.path.join(SHARED, "CUB", "test"), os.path.join(meta, "CUB", "test"), limit)
    sizes = {l.split(",")[0]: [int(v) for v in l.split(",")[1:]]
             for l in read_lines(os.path.join(meta, "CUB", "test", "image_sizes.txt"))}
    boxes = {}
    for l in read_lines(os.path.join(meta, "CUB", "test", "localization.txt")):
        f = l.split(",")
        boxes.setdefault(f[0], [float(v) for v in f[1:]])
    for i in ids:
        w, h = sizes[i]
        b = boxes[i]
        path = os.path.join(work, "maps", i + ".npy")
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            np.save(path + ".tmp.npy", cam_map(rng, [b[0] * 224 / w, b[1] * 224 / h, b[2] * 224 / w, b[3] * 224 / h]))
            os.replace(path + ".tmp.npy", path)
    return len(ids)


def make_openimages(work, limit, rng):
    meta = os.path.join(work, "metadata")
    ids = write_split(os.path.join(SHARED, "OpenImages", "test"), os.path.join(meta, "OpenImages", "test"), limit)
    root = os.path.join(work, "masks", "OpenImages")
    for l in read_lines(os.path.join(meta, "OpenImages", "test", "localization.txt")):
        for rel in l.split(",")[1:]:
            path = os.path.join(root, rel)
            if rel and not os.path.exists(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                m = np.zeros((1066, 1600), np.uint8)
                cv2.ellipse(m, (int(rng.integers(200, 1400)), int(rng.integers(200, 866))),
                            (int(rng.integers(50, 600)), int(rng.integers(50, 400))), 0, 0, 360, 255, -1)
                with open(path + ".tmp", "wb") as f:  # atomic: an interrupted run leaves no broken PNG
                    f.write(cv2.imencode(".png", m)[1].tobytes())
                os.replace(path + ".tmp", path)
    for i in ids:
        path = os.path.join(work, "maps", i + ".npy")
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            np.save(path + ".tmp.npy", cam_map(rng, [56, 56, 168, 168]))
            os.replace(path + ".tmp.npy", path)
    return len(ids)


def timed_fcam(args, flags, repeats):
    best, result = None, None
    out = os.path.join(args.work, "fcam.json")
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([args.fcam_eval] + flags + ["--threads", str(args.threads), "--json", out, "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - t
        best = elapsed if best is None else min(best, elapsed)
        with open(out) as f:
            result = json.load(f)
    return best, result


def same(a, b):
    keys = [k for k in ("max_box_acc", "max_box_acc_v2", "pxap", "performance") if k in b]
    for k in keys:
        x, y = a[k], b[k]
        if isinstance(y, dict):
            if any(abs(x[s] - y[s]) > 1e-9 for s in y):
                return False
        elif abs(x - y) > 1e-9:
            return False
    return True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fcam-eval", required=True)
    p.add_argument("--work", default="build/bench_eval")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-masks", action="store_true", help="no OpenImages (PxAP) workload")
    p.add_argument("--skip-boxes", action="store_true", help="no CUB (box) workload")
    args = p.parse_args()
    if not os.path.isdir(SHARED):
        sys.exit(f"needs the WSOL metadata in {SHARED}")
    rng = np.random.default_rng(0)
    work = args.work
    rows = []
    common = ["--scoremap_root", os.path.join(work, "maps"), "--metadata_root", os.path.join(work, "metadata"),
              "--split", "test"]
    n_cub = 0 if args.skip_boxes else make_cub(work, args.limit, rng)
    for label, extra, kwargs in [] if args.skip_boxes else [
        ("CUB MaxBoxAcc (largest contour)", [], dict(multi_contour_eval=False, multi_iou_eval=False)),
        ("CUB MaxBoxAccV2 (all contours, 3 IoUs)", ["--multi_contour_eval", "--multi_iou_eval"],
         dict(multi_contour_eval=True, multi_iou_eval=True))]:
        t_fcam, ours = timed_fcam(args, common + ["--dataset_name", "CUB"] + extra, args.repeats)
        t = time.perf_counter()
        ref = evaluate_wsol(os.path.join(work, "maps"), os.path.join(work, "metadata"), "", "CUB", "test",
                            iou_threshold_list=[30, 50, 70], cam_curve_interval=0.001, **kwargs)
        t_ref = time.perf_counter() - t
        rows.append((label, n_cub, t_fcam, t_ref, same(ours, ref), ref["performance"]))
        print(rows[-1], flush=True)
    if not args.skip_masks:
        n_oi = make_openimages(work, args.limit, rng)
        masks = os.path.join(work, "masks")
        flags = common + ["--dataset_name", "OpenImages", "--mask_root", masks]
        t_cold, cold = timed_fcam(args, flags, args.repeats)
        cache = os.path.join(work, "masks.cache")
        if os.path.exists(cache):
            os.remove(cache)
        timed_fcam(args, flags + ["--mask_cache", cache], 1)  # writes the cache
        t_warm, warm = timed_fcam(args, flags + ["--mask_cache", cache], args.repeats)
        t = time.perf_counter()
        ref = evaluate_wsol(os.path.join(work, "maps"), os.path.join(work, "metadata"), masks, "OpenImages", "test",
                            False, False, [30, 50, 70], 0.001)
        t_ref = time.perf_counter() - t
        rows.append(("OpenImages PxAP, cold (decodes the 1600×1066 mask PNGs)", n_oi, t_cold, t_ref, same(cold, ref),
                     ref["performance"]))
        rows.append(("OpenImages PxAP, --mask_cache warm", n_oi, t_warm, t_ref, same(warm, ref), ref["performance"]))
        print(rows[-2:], flush=True)

    print(f"\nfcam-eval vs Python reference (numpy {np.__version__}, OpenCV {cv2.__version__}); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; fcam --threads {args.threads}, "
          f"reference single-threaded; interval 0.001; fcam best of {args.repeats}, reference 1 run\n")
    print("| workload | maps | fcam-eval (s) | reference (s) | speed-up | identical | value |")
    print("|---|---|---|---|---|---|---|")
    for label, n, tf, tr, ok, value in rows:
        print(f"| {label} | {n} | {tf:.2f} | {tr:.1f} | {tr / tf:.1f}x | {'yes' if ok else 'NO'} | {value:.4f} |")


if __name__ == "__main__":
    main()

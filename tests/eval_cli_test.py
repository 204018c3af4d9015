#!/usr/bin/python3
"""End-to-end test of fcam-eval against tests/wsol_reference.py (numpy + OpenCV).

Usage: /usr/bin/python3 tests/eval_cli_test.py FCAM_EVAL WORK_DIR
Builds a CUB-like and an OpenImages-like split (ids in sub-folders, original image sizes other
than 224, several boxes per image, PNG instance masks with and without ignore masks, float32 and
float64 maps), runs fcam-eval with reference-style command lines and compares its --json with
the reference within 1e-9; then checks the error paths (missing / NaN map, bad flags).
"""
import json
import os
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsol_reference import evaluate_wsol  # noqa: E402

from checks import check, finish


def cam_like(rng, size=224):
    small = rng.random((7, 7)).astype(np.float32)
    m = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    m = (m - m.min()) / (m.max() - m.min())
    return m


def write_lines(path, lines, final_newline):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        f.write("\n".join(lines) + ("\n" if final_newline else ""))


def make_cub(root, rng, n=40):
    ids = [f"{c:03d}.Class_{c}/img_{k}.jpg" for k in range(n) for c in [k % 5]]
    split = os.path.join(root, "metadata", "CUB", "test")
    sizes, boxes = [], []
    for k, i in enumerate(ids):
        w, h = int(rng.integers(100, 500)), int(rng.integers(100, 500))
        sizes.append(f"{i},{w},{h}")
        m = cam_like(rng)
        for _ in range(1 + k % 2):  # near the map's region above a random level, in original pixels
            other = 0.6 * m + 0.4 * cam_like(rng)  # a related, not identical, map
            ys, xs = np.nonzero(other >= rng.uniform(0.3, 0.8) * other.max())
            j = rng.integers(-25, 26, 4)
            x0, y0 = np.clip(xs.min() + j[0], 0, 223), np.clip(ys.min() + j[1], 0, 223)
            x1, y1 = np.clip(xs.max() + j[2], x0, 223), np.clip(ys.max() + j[3], y0, 223)
            sx, sy = w / 224, h / 224
            boxes.append(f"{i},{int(x0 * sx)},{int(y0 * sy)},{int(x1 * sx)},{int(y1 * sy)}")
        path = os.path.join(root, "maps", i + ".npy")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, m if k % 3 else m.astype(np.float64))
    write_lines(os.path.join(split, "image_ids.txt"), ids, False)
    write_lines(os.path.join(split, "class_labels.txt"), [f"{i},{k % 5}" for k, i in enumerate(ids)], True)
    write_lines(os.path.join(split, "image_sizes.txt"), sizes, False)
    write_lines(os.path.join(split, "localization.txt"), boxes, False)
    return ids


def make_openimages(root, rng, n=20):
    ids = [f"test/c{k % 3}/img{k}.jpg" for k in range(n)]
    split = os.path.join(root, "metadata", "OpenImages", "test")
    lines = []
    for k, i in enumerate(ids):
        w, h = int(rng.integers(150, 400)), int(rng.integers(150, 400))
        union = np.zeros((h, w), np.float32)
        for j in range(1 + k % 2):
            mask = np.zeros((h, w), np.uint8)
            cv2.ellipse(mask, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                        (int(rng.integers(10, w // 2)), int(rng.integers(10, h // 2))), 0, 0, 360, 255, -1)
            name = f"masks/{k}_{j}.png"
            ignore = ""
            if j == 0 and k % 3 == 0:
                ignore = f"ignore/{k}.png"
                box = np.zeros((h, w), np.uint8)
                box[h // 4:h // 2, w // 4:] = 255
                cv2.imwrite(os.path.join(root, "masks", "OpenImages", ignore), box)
            lines.append(f"{i},{name},{ignore}")
            cv2.imwrite(os.path.join(root, "masks", "OpenImages", name), mask)
            union = np.maximum(union, mask / 255.0)
        # A blurred, noisy version of the objects: a map that localizes them imperfectly.
        m = cv2.resize(cv2.GaussianBlur(union, (0, 0), 15), (224, 224)) + 1.5 * cam_like(rng)
        m = ((m - m.min()) / (m.max() - m.min())).astype(np.float32)
        path = os.path.join(root, "maps", i + ".npy")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, m)
    write_lines(os.path.join(split, "image_ids.txt"), ids, False)
    write_lines(os.path.join(split, "class_labels.txt"), [f"{i},{k % 3}" for k, i in enumerate(ids)], False)
    write_lines(os.path.join(split, "image_sizes.txt"), [], False)
    write_lines(os.path.join(split, "localization.txt"), lines, False)
    return ids


def run(fcam_eval, args):
    return subprocess.run([fcam_eval] + args, capture_output=True, text=True)


def compare(name, ours, ref):
    for key, value in ref.items():
        if isinstance(value, dict):
            for k, v in value.items():
                check(key in ours and abs(ours[key][k] - v) <= 1e-9, f"{name}: {key}[{k}] {ours.get(key, {}).get(k)} vs {v}")
        elif isinstance(value, float):
            check(key in ours and abs(ours[key] - value) <= 1e-9, f"{name}: {key} {ours.get(key)} vs {value}")
        else:
            check(ours.get(key) == value, f"{name}: {key} {ours.get(key)} vs {value}")


def main():
    fcam_eval, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "masks", "OpenImages", "masks"))
    os.makedirs(os.path.join(work, "masks", "OpenImages", "ignore"))
    rng = np.random.default_rng(3)
    cub_ids = make_cub(work, rng)
    make_openimages(work, rng)
    maps, meta, masks = (os.path.join(work, d) for d in ("maps", "metadata", "masks"))
    out = os.path.join(work, "out.json")

    cases = [  # (name, fcam-eval flags, reference keyword arguments)
        ("CUB v1 0.01", ["--scoremap_root", maps, "--metadata_root", meta, "--dataset_name", "CUB", "--split", "test",
                         "--cam_curve_interval", "0.01"],
         dict(dataset_name="CUB", multi_contour_eval=False, multi_iou_eval=False, iou_threshold_list=[30, 50, 70],
              cam_curve_interval=0.01)),
        ("CUB v2 0.001", [f"--scoremap-root={maps}", f"--metadata-root={meta}", "--dataset-name=CUB", "--split=test",
                          "--multi-contour-eval", "--multi_iou_eval", "true", "--threads", "2"],
         dict(dataset_name="CUB", multi_contour_eval=True, multi_iou_eval=True, iou_threshold_list=[30, 50, 70],
              cam_curve_interval=0.001)),
        ("CUB sigma list", ["--scoremap_root", maps, "--metadata_root", meta, "--dataset_name", "CUB", "--split",
                            "test", "--cam_curve_interval", "0.004", "--iou_threshold_list", "40", "50", "90",
                            "--threads", "1"],
         dict(dataset_name="CUB", multi_contour_eval=False, multi_iou_eval=False, iou_threshold_list=[40, 50, 90],
              cam_curve_interval=0.004)),
        ("OpenImages 0.001", ["--scoremap_root", maps, "--metadata_root", meta, "--mask_root", masks,
                              "--dataset_name", "OpenImages", "--split", "test"],
         dict(dataset_name="OpenImages", multi_contour_eval=False, multi_iou_eval=False,
              iou_threshold_list=[30, 50, 70], cam_curve_interval=0.001)),
    ]
    for name, flags, kwargs in cases:
        ref = evaluate_wsol(scoremap_root=maps, metadata_root=meta, mask_root=masks, split="test", **kwargs)
        result = run(fcam_eval, flags + ["--json", out, "--curves", out + ".csv", "--quiet"])
        check(result.returncode == 0, f"{name}: exit code {result.returncode} {result.stderr.strip()}")
        if result.returncode != 0:
            continue
        with open(out) as f:
            compare(name, json.load(f), ref)
        check("localization:" in result.stdout, f"{name}: summary on stdout")
        with open(out + ".csv") as f:
            rows = f.read().splitlines()
        check(len(rows) == 1 + len(np.arange(0, 1, kwargs["cam_curve_interval"])), f"{name}: curves rows {len(rows)}")

    # The mask cache: written, reused, rebuilt when a mask changes or the file is damaged.
    oi = ["--scoremap_root", maps, "--metadata_root", meta, "--mask_root", masks, "--dataset_name", "OpenImages",
          "--split", "test", "--quiet", "--json", out]
    cache = os.path.join(work, "masks.cache")

    def pxap_with_cache():
        r = run(fcam_eval, oi + ["--mask_cache", cache])
        check(r.returncode == 0, f"mask cache run: exit {r.returncode} {r.stderr.strip()}")
        with open(out) as f:
            return json.load(f)["pxap"]

    def reference_pxap():
        return evaluate_wsol(maps, meta, masks, "OpenImages", "test", False, False, [30, 50, 70], 0.001)["pxap"]

    expected = reference_pxap()
    first = pxap_with_cache()
    check(os.path.exists(cache) and abs(first - expected) <= 1e-9, "mask cache: first run writes it, same PxAP")
    check(abs(pxap_with_cache() - expected) <= 1e-9, "mask cache: second run reads it, same PxAP")
    changed = os.path.join(masks, "OpenImages", "masks", "0_0.png")
    mask = cv2.imread(changed, cv2.IMREAD_GRAYSCALE)
    mask[:, : mask.shape[1] // 2] = 255
    cv2.imwrite(changed, mask)
    os.utime(changed, ns=(os.stat(changed).st_atime_ns, os.stat(changed).st_mtime_ns + 10**9))
    expected = reference_pxap()
    check(abs(pxap_with_cache() - expected) <= 1e-9 and abs(expected - first) > 1e-6,
          "mask cache: a changed mask file invalidates it")
    with open(cache, "r+b") as f:
        f.truncate(100)
    check(abs(pxap_with_cache() - expected) <= 1e-9, "mask cache: a damaged file is rebuilt")
    with open(cache, "r+b") as f:  # header and sizes intact; the first run length becomes 2^63 - 1
        f.seek(len(b"FCAMMASKS1\n") + 8 + 8 + 8 + 1)  # magic, fingerprint, count, code length, label
        f.write(b"\xff" * 7 + b"\x7f")
    check(abs(pxap_with_cache() - expected) <= 1e-9, "mask cache: a corrupt run inside an image is rebuilt")

    base = ["--scoremap_root", maps, "--metadata_root", meta, "--dataset_name", "CUB", "--split", "test"]
    victim = os.path.join(maps, cub_ids[7] + ".npy")
    saved = np.load(victim)
    os.remove(victim)
    r = run(fcam_eval, base + ["--quiet"])
    check(r.returncode != 0 and cub_ids[7] in r.stderr, f"missing map: exit {r.returncode}, names the image")
    bad = saved.copy()
    bad[3, 4] = np.nan
    np.save(victim, bad)
    r = run(fcam_eval, base + ["--quiet"])
    check(r.returncode != 0 and cub_ids[7] in r.stderr and "NaN" in r.stderr, "NaN map: error names image and NaN")
    np.save(victim, saved[:100, :100])
    r = run(fcam_eval, base + ["--quiet"])
    check(r.returncode != 0 and "expected 224x224" in r.stderr, "wrong map size is an error")
    np.save(victim, saved)
    for flags, message in [(["--bogus"], "unknown flag --bogus"), (["--cam_curve_interval", "x"], "expects a number"),
                           (["--multi_contour_eval", "maybe"], "expects a boolean"),
                           (["--dataset_name", "Foo"], "dataset_name must be CUB, ILSVRC or OpenImages"),
                           (["--iou_threshold_list", "30", "70"], "must contain 50"),
                           # ranges are checked before any work (1e-300 once overflowed the threshold count)
                           (["--cam_curve_interval", "1e-300"], "--cam_curve_interval must be in [1e-06, 0.5]"),
                           (["--cam_curve_interval", "nan"], "--cam_curve_interval expects a finite number"),
                           (["--iou_threshold_list", "50", "101"], "--iou_threshold_list must be in [0, 100], got '101'"),
                           (["--threads", "0"], "--threads must be in [1, 4096]")]:
        r = run(fcam_eval, base + flags)
        check(r.returncode != 0 and message in r.stderr, f"bad flags {flags}: '{message}' in stderr")
    # Output paths: nothing at --json / --curves is destroyed (all inside the work folder; never a
    # real device node).
    outputs = os.path.join(work, "outputs")
    os.makedirs(os.path.join(outputs, "a_dir", "inner"))
    r = run(fcam_eval, base + ["--quiet", "--json", os.path.join(outputs, "a_dir")])
    check(r.returncode != 0 and "a_dir is a directory; refusing to replace it" in r.stderr
          and os.path.isdir(os.path.join(outputs, "a_dir", "inner")), f"--json at a directory is refused: {r.stderr[-200:]}")
    real = os.path.join(outputs, "real.json")
    open(real, "w").write("old")
    os.symlink(real, os.path.join(outputs, "link.json"))
    r = run(fcam_eval, base + ["--quiet", "--json", os.path.join(outputs, "link.json")])
    check(r.returncode == 0 and os.path.islink(os.path.join(outputs, "link.json"))
          and "max_box_acc" in open(real).read(), "--json through a symbolic link keeps the link")
    fifo = os.path.join(outputs, "curves.fifo")
    os.mkfifo(fifo)
    proc = subprocess.Popen([fcam_eval, *base, "--quiet", "--curves", fifo], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the reader end (never blocks if fcam-eval fails)
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            data = None
        if data:
            chunks.append(data)
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.05)
    os.close(fd)
    streamed = b"".join(chunks).decode()
    proc.communicate()
    check(proc.returncode == 0 and streamed.startswith("threshold") and os.path.exists(fifo)
          and not os.path.isfile(fifo), "--curves into a FIFO is written through; the FIFO stays")
    check(not [f for f in os.listdir(outputs) if f.endswith(".tmp")], "no temporary file left in the output folder")

    r = run(fcam_eval, ["--help"])
    check(r.returncode == 0 and "--cam_curve_interval" in r.stdout, "--help lists the flags")
    r = run(fcam_eval, base)  # progress goes to stderr, results to stdout
    check(r.returncode == 0 and "maps" in r.stderr and "localization:" in r.stdout, "progress on stderr")


if __name__ == "__main__":
    main()
    finish()

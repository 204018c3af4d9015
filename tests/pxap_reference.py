#!/usr/bin/python3
"""Random score maps and masks with PxAP computed by the wsolevaluation formulas (numpy).

Usage: /usr/bin/python3 tests/pxap_reference.py OUT_DIR
Writes scores.npy (N×H×W float32), foreground.npy, ignore.npy (N×H×W float32 0/1),
pxap.npy (float64: PxAP at intervals 0.01 and 0.001), and the reference's binarisation inputs:
u8.npy (uint8(255·map) as float32) and levels.npy (int(τ·max(u8)) for τ every 0.01, N×100)
for tests/test_pxap.cpp.
"""
import os
import sys

import numpy as np


def reference_pxap(scores, foreground, ignore, interval):
    """wsolevaluation's MaskEvaluator.accumulate + compute, written out with numpy."""
    thresholds = list(np.arange(0, 1, interval))
    edges = np.append(thresholds, [1.0, 2.0, 3.0])
    fg_hist = np.zeros(len(thresholds) + 2)
    bg_hist = np.zeros(len(thresholds) + 2)
    for s, f, ig in zip(scores, foreground, ignore):
        mask = np.float32(f > 0.5)
        mask[np.logical_and(ig > 0.5, f <= 0.5)] = 255
        fg_hist += np.histogram(s[mask == 1], bins=edges)[0].astype(float)
        bg_hist += np.histogram(s[mask == 0], bins=edges)[0].astype(float)
    tp = fg_hist[::-1].cumsum()
    fn = fg_hist.sum() - tp
    fp = bg_hist[::-1].cumsum()
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    return 100 * (precision[1:] * np.diff(recall))[~np.isnan(precision[1:])].sum()


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    n, h, w = 100, 32, 40
    scores = rng.random((n, h, w)).astype(np.float32)
    # Values exactly on bin edges, 0 and 1, and constant regions exercise the bin rules.
    scores[:, :4, :] = np.round(scores[:, :4, :], 2)
    scores[:, 4, :5] = 1.0
    scores[:, 5, :5] = 0.0
    scores[10] = 0.5
    foreground = np.zeros((n, h, w), np.float32)
    for i in range(n):
        y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
        y1, x1 = rng.integers(y0 + 1, h), rng.integers(x0 + 1, w)
        foreground[i, y0:y1, x0:x1] = 1
        scores[i, y0:y1, x0:x1] = np.clip(scores[i, y0:y1, x0:x1] + np.float32(0.3), 0, 1)
    ignore = (rng.random((n, h, w)) < 0.1).astype(np.float32) * (1 - foreground)
    pxap = np.array([reference_pxap(scores, foreground, ignore, iv) for iv in (0.01, 0.001)])
    u8 = (scores * 255).astype(np.uint8)  # the reference's quantisation (float32 product, truncation)
    levels = np.array([[int(t * np.max(m)) for t in np.arange(0, 1, 0.01)] for m in u8], dtype=np.float32)
    arrays = [("scores", scores), ("foreground", foreground), ("ignore", ignore), ("pxap", pxap),
              ("u8", u8.astype(np.float32)), ("levels", levels)]
    for name, arr in arrays:
        np.save(os.path.join(out, name + ".npy"), arr)
    print(f"PxAP reference: {pxap} (numpy {np.__version__})")

#!/usr/bin/python3
"""OpenCV's findContours(RETR_TREE, CHAIN_APPROX_SIMPLE) on random binary masks, for
tests/test_contours.cpp.

Usage: /usr/bin/python3 tests/contours_reference.py OUT_DIR
Writes (all float64 except masks.npy):
  masks.npy     every mask's pixels (row-major), concatenated: float32 0/1
  sizes.npy     M×2 (height, width) of each mask
  contours.npy  one row per contour, masks in order, contours in OpenCV's order:
                (mask index, is_hole, parent, area, x, y, w, h, point count)
  points.npy    every contour's points, concatenated: (x, y)
  largest.npy   per mask: index of max(contours, key=cv2.contourArea) (the reference evaluation's
                choice), -1 without contours
"""
import os
import sys

import cv2
import numpy as np

SIDE = 64  # masks are at most SIDE×SIDE, except the large ones below


def blobs(rng, h, w):
    """Filled and hollow ellipses and rectangles, nested rings, islands in holes."""
    m = np.zeros((h, w), np.uint8)
    for _ in range(rng.integers(1, 6)):
        cx, cy = int(rng.integers(-2, w + 2)), int(rng.integers(-2, h + 2))
        ax, ay = int(rng.integers(1, max(2, w // 2))), int(rng.integers(1, max(2, h // 2)))
        colour = int(rng.integers(0, 2))
        thickness = int(rng.choice([-1, -1, 1, 2]))
        if rng.random() < 0.5:
            cv2.ellipse(m, (cx, cy), (ax, ay), float(rng.integers(0, 180)), 0, 360, colour, thickness)
        else:
            cv2.rectangle(m, (cx - ax, cy - ay), (cx + ax, cy + ay), colour, thickness)
    return m


def lines(rng, h, w):
    """One-pixel lines (4- and 8-connected), crossing, touching the edges."""
    m = np.zeros((h, w), np.uint8)
    for _ in range(rng.integers(1, 6)):
        p0 = (int(rng.integers(-1, w + 1)), int(rng.integers(-1, h + 1)))
        p1 = (int(rng.integers(-1, w + 1)), int(rng.integers(-1, h + 1)))
        cv2.line(m, p0, p1, 1, 1, lineType=int(rng.choice([4, 8])))
    return m


def diagonal(rng, h, w):
    """Checkerboard patches and isolated pixels: diagonal contacts everywhere."""
    yy, xx = np.mgrid[0:h, 0:w]
    m = ((yy + xx) % 2 == 0).astype(np.uint8)
    m &= (rng.random((h, w)) < rng.uniform(0.5, 1.0)).astype(np.uint8)
    return m


def noise(rng, h, w):
    return (rng.random((h, w)) < rng.uniform(0.05, 0.95)).astype(np.uint8)


def smooth(rng, h, w):
    """A CAM-like map thresholded at a random level."""
    small = rng.random((max(1, h // 4), max(1, w // 4))).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return (big > rng.uniform(0.2, 0.8)).astype(np.uint8)


def nested(rng, h, w):
    """Concentric squares: holes inside holes inside holes, with islands."""
    m = np.zeros((h, w), np.uint8)
    k = int(rng.integers(0, 2))
    for r in range(0, min(h, w) // 2 + 1, int(rng.integers(1, 3))):
        m[r:h - r, r:w - r] = k
        k ^= 1
    return m


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(11)
    makers = [blobs, lines, diagonal, noise, smooth, nested]
    masks = []
    for i in range(2400):
        h, w = int(rng.integers(1, SIDE + 1)), int(rng.integers(1, SIDE + 1))
        if i % 10 == 0:
            h, w = int(rng.integers(1, 4)), int(rng.integers(1, 8))  # tiny images, 1-pixel rows
        masks.append(makers[i % len(makers)](rng, h, w))
    # Large noisy masks: thousands of contours (OpenCV folds its border labels into 7 bits).
    for _ in range(16):
        masks.append(noise(rng, 224, 224) if rng.random() < 0.5 else smooth(rng, 224, 224))

    rows, points, largest = [], [], []
    for index, m in enumerate(masks):
        contours, hierarchy = cv2.findContours(m.copy(), cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2:]
        largest.append(-1 if len(contours) == 0 else
                       max(range(len(contours)), key=lambda k: cv2.contourArea(contours[k])))
        for k, c in enumerate(contours):
            parent = int(hierarchy[0][k][3])
            depth, p = 0, parent
            while p >= 0:
                depth, p = depth + 1, int(hierarchy[0][p][3])
            x, y, w, h = cv2.boundingRect(c)
            rows.append([index, depth % 2, parent, cv2.contourArea(c), x, y, w, h, len(c)])
            points.extend(c.reshape(-1, 2).tolist())

    np.save(os.path.join(out, "masks.npy"), np.concatenate([m.ravel() for m in masks]).astype(np.float32))
    np.save(os.path.join(out, "sizes.npy"), np.array([m.shape for m in masks], np.float64))
    np.save(os.path.join(out, "contours.npy"), np.array(rows, np.float64).reshape(-1, 9))
    np.save(os.path.join(out, "points.npy"), np.array(points, np.float64).reshape(-1, 2))
    np.save(os.path.join(out, "largest.npy"), np.array(largest, np.float64))
    print(f"{len(masks)} masks, {len(rows)} contours, {len(points)} points (OpenCV {cv2.__version__})")


if __name__ == "__main__":
    main()

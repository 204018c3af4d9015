#!/usr/bin/python3
"""OpenCV INTER_NEAREST references for fcam's resize_nearest (tests/test_image_io.cpp).

Usage: /usr/bin/python3 tests/resize_reference.py OUT_DIR
Writes case_<i>_src.npy and case_<i>_dst.npy (float32 copies of uint8 images) for sizes that
shrink, grow, keep and mix (including the real OpenImages mask sizes).
"""
import os
import sys

import cv2
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(3)
cases = [((632, 459), (224, 224)), ((1063, 1600), (224, 224)), ((1066, 1600), (224, 224)), ((7, 5), (224, 224)),
         ((224, 224), (224, 224)), ((300, 17), (13, 250)), ((97, 131), (224, 224)), ((1, 1), (3, 2))]
for i, ((h, w), (oh, ow)) in enumerate(cases):
    src = rng.integers(0, 256, (h, w), dtype=np.uint8)
    dst = cv2.resize(src, (ow, oh), interpolation=cv2.INTER_NEAREST)
    np.save(os.path.join(out, f"case_{i}_src.npy"), src.astype(np.float32))
    np.save(os.path.join(out, f"case_{i}_dst.npy"), dst.astype(np.float32))
print(f"wrote {len(cases)} INTER_NEAREST cases to {out} (OpenCV {cv2.__version__})")

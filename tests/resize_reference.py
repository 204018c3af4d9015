#!/usr/bin/python3
"""OpenCV INTER_NEAREST references for fcam's resize_nearest, and PyTorch references for the
network input preprocessing (tests/test_image_io.cpp).

Usage: /usr/bin/python3 tests/resize_reference.py OUT_DIR
Writes case_<i>_src.npy and case_<i>_dst.npy (float32 copies of uint8 images) for sizes that
shrink, grow, keep and mix (including the real OpenImages mask sizes); and input_<i>.png (RGB or
gray) with input_<i>.npy, its 1×3×224×224 network input made with torch: bilinear
(align_corners=False) on the 0-255 values, /255, ImageNet mean/std.
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

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

for i, (h, w, channels) in enumerate([(173, 131, 3), (100, 60, 3), (224, 224, 3), (301, 257, 1)]):
    img = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    cv2.imwrite(os.path.join(out, f"input_{i}.png"), img[:, :, ::-1] if channels == 3 else img[:, :, 0])
    rgb = np.repeat(img, 3, axis=2) if channels == 1 else img
    x = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None]
    if (h, w) != (224, 224):
        x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406])[None, :, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[None, :, None, None]
    np.save(os.path.join(out, f"input_{i}.npy"), ((x / 255 - mean) / std).numpy())
print(f"wrote 4 preprocessing cases (torch {torch.__version__})")

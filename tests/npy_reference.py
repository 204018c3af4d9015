#!/usr/bin/python3
"""Writes .npy files with numpy for fcam's .npy tests (tests/test_npy.cpp).

Usage: /usr/bin/python3 tests/npy_reference.py OUT_DIR
Values are deterministic: arange(n) / 7 reshaped, so the C++ test can recompute them.
"""
import os
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
base = (np.arange(12) / 7.0).reshape(3, 4)
np.save(os.path.join(out, "f4.npy"), base.astype("<f4"))
np.save(os.path.join(out, "f8.npy"), base.astype("<f8"))
np.save(os.path.join(out, "f4_1d.npy"), np.arange(5, dtype="<f4") / 7.0)
np.save(os.path.join(out, "f4_3d.npy"), (np.arange(24) / 7.0).reshape(2, 3, 4).astype("<f4"))
np.save(os.path.join(out, "big_endian.npy"), base.astype(">f4"))
np.save(os.path.join(out, "fortran.npy"), np.asfortranarray(base.astype("<f4")))
np.save(os.path.join(out, "int.npy"), np.arange(4, dtype=np.int32))
score = np.linspace(0, 1, 224 * 224, dtype=np.float32).reshape(224, 224)
np.save(os.path.join(out, "score.npy"), score)
bad = score.copy()
bad[3, 5] = np.nan
np.save(os.path.join(out, "score_nan.npy"), bad)
bad = score.copy()
bad[7, 1] = 1.5
np.save(os.path.join(out, "score_above_one.npy"), bad)
with open(os.path.join(out, "truncated.npy"), "wb") as f:
    data = open(os.path.join(out, "f4.npy"), "rb").read()
    f.write(data[:-4])
print(f"wrote .npy references to {out} (numpy {np.__version__})")

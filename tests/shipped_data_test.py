#!/usr/bin/python3
"""The real data shipped in the repository is what its scripts make: tools/make_pets_dataset.py
and tools/make_shipped_weights.py, run again from ../shared/data, reproduce data/oxford-pets-3
and data/weights file for file, byte for byte. Also checks the dataset's counts and that every
box is the tight box of its mask.

Usage: /usr/bin/python3 tests/shipped_data_test.py REPO_DIR WORK_DIR
Needs FCAM_DATA_DIR; exits 77 (ctest: skipped) without it.
"""
import filecmp
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np

from checks import check, finish


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def main():
    repo, work = sys.argv[1:3]
    data = os.environ.get("FCAM_DATA_DIR", "")
    if not data or not os.path.isdir(os.path.join(data, "oxford-pets-3")):
        print(f"no shared data (FCAM_DATA_DIR='{data}'): skipped")
        return 77
    shutil.rmtree(work, ignore_errors=True)
    for script, source, shipped in (("make_pets_dataset.py", "oxford-pets-3", "oxford-pets-3"),
                                    ("make_shipped_weights.py", "weights", "weights")):
        out = os.path.join(work, shipped)
        run = subprocess.run([sys.executable, os.path.join(repo, "tools", script), "--source",
                              os.path.join(data, source), "--out", out], capture_output=True, text=True)
        check(run.returncode == 0, f"{script} runs {run.stderr}")
        made, kept = files_under(out), files_under(os.path.join(repo, "data", shipped))
        check(made == kept, f"{script} makes the {len(kept)} files of data/{shipped} ({len(made)} made)")
        differ = [f for f in made if f in kept and not filecmp.cmp(os.path.join(out, f),
                                                                   os.path.join(repo, "data", shipped, f), shallow=False)]
        check(not differ, f"data/{shipped}: every file equal byte for byte (differing: {differ[:5]})")

    pets = os.path.join(repo, "data", "oxford-pets-3")
    counts = {}
    for split in ("train", "val", "test"):
        boxes = open(os.path.join(pets, "metadata", "CUB", split, "localization.txt")).read().split()
        counts[split] = len(boxes)
        for line in boxes[::25]:  # a sample: each box is the tight box of the pet pixels
            image_id, *box = line.split(",")
            name = os.path.splitext(os.path.basename(image_id))[0]
            mask = cv2.imread(os.path.join(pets, "masks", "OpenImages", split, name + ".png"), cv2.IMREAD_GRAYSCALE)
            ys, xs = np.nonzero(mask)
            check([int(v) for v in box] == [xs.min(), ys.min(), xs.max(), ys.max()], f"{image_id}: box {box}")
            photo = cv2.imread(os.path.join(pets, "images", image_id))
            check(photo.shape[:2] == mask.shape and max(photo.shape[:2]) <= 320, f"{image_id}: size {photo.shape}")
    check(counts == {"train": 240, "val": 60, "test": 298}, f"split sizes {counts}")
    finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""fcam-infer with the real pretrained MobileNetV2 weights on real CUB photos.

Usage: /usr/bin/python3 tests/real_birds_test.py FCAM_INFER WORK_DIR
Needs FCAM_DATA_DIR (the shared data folder); exits 77 (ctest: skipped) without it.
The iNaturalist-birds weights must name each photo's true species top-1 (all eight photos of
real-samples are of species the labels file names: Black-footed Albatross, Bobolink), and the
ImageNet weights must call the albatrosses "albatross"; the CAM overlays and maps are written;
asking a torchvision classifier for F-CAM maps, or a labels file of the wrong length, is an error
that says why.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

from checks import check, finish


def words(text):
    return re.sub(r"[^a-z]+", " ", text.lower()).strip()


def main():
    infer, work = sys.argv[1:3]
    data = os.environ.get("FCAM_DATA_DIR", "")
    weights = os.path.join(data, "weights")
    if not data or not os.path.isfile(os.path.join(weights, "mobilenet_v2_inat_bird.safetensors")):
        print(f"no shared data with MobileNetV2 weights (FCAM_DATA_DIR='{data}'): skipped")
        return 77
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    samples = os.path.join(data, "real-samples")
    photos = [os.path.join(samples, "cub-masks", f) for f in sorted(os.listdir(os.path.join(samples, "cub-masks")))
              if f.endswith(".jpg")]

    def run(model, methods, out, extra=()):
        cmd = [infer, "--arch", "mobilenet_v2", "--weights", os.path.join(weights, model + ".safetensors"),
               "--labels", os.path.join(weights, model + ".labels.txt"), "--out", out,
               "--json", out + ".json", *extra]
        if methods:
            cmd += ["--methods", methods]
        return subprocess.run(cmd + photos, capture_output=True, text=True)

    birds = run("mobilenet_v2_inat_bird", "cam,gradcampp", os.path.join(work, "birds"))
    check(birds.returncode == 0, f"fcam-infer runs with the iNat-birds weights {birds.stderr}")
    summary = json.load(open(os.path.join(work, "birds.json")))["inputs"]
    check(len(summary) == len(photos) == 7, f"{len(summary)} summaries for {len(photos)} photos")
    for entry in summary:
        species = words(re.sub(r"_\d+_\d+$", "", entry["input"]))  # Black_Footed_Albatross_0001_796111
        top1_name = entry["top5"][0][2]
        check(species in words(top1_name), f"{entry['input']}: top-1 is '{top1_name}' (true species: {species})")
        check(0.3 < entry["top5"][0][1] <= 1, f"{entry['input']}: top-1 probability {entry['top5'][0][1]:.3f} > 0.3")
        cam = np.load(os.path.join(work, "birds", entry["input"], "cam.npy"))
        # Normalised on the 7x7 map, then upsampled: within [0, 1], its extremes between pixels.
        check(cam.shape == (224, 224) and 0 <= cam.min() < 0.01 and 0.9 < cam.max() <= 1,
              f"cam.npy: shape {cam.shape}, range [{cam.min()}, {cam.max():.4f}]")
        check(os.path.isfile(os.path.join(work, "birds", entry["input"], "gradcampp.png")), "gradcampp.png written")
    check("Black-footed Albatross" in birds.stdout, "the top-5 lines print the species names")

    imagenet = run("mobilenet_v2_imagenet", "", os.path.join(work, "imagenet"))
    check(imagenet.returncode == 0, "fcam-infer runs with the ImageNet weights")
    check("without an F-CAM decoder" in imagenet.stderr, "the default methods drop fcam with a note")
    for entry in json.load(open(os.path.join(work, "imagenet.json")))["inputs"]:
        if "Albatross" in entry["input"]:
            check("albatross" in entry["top5"][0][2], f"{entry['input']}: ImageNet top-1 is '{entry['top5'][0][2]}'")

    explicit = run("mobilenet_v2_imagenet", "cam,fcam", os.path.join(work, "explicit"))
    check(explicit.returncode == 1 and "without an F-CAM decoder" in explicit.stderr,
          f"asking for fcam maps of a torchvision classifier: rc {explicit.returncode}, {explicit.stderr}")
    wrong = subprocess.run([infer, "--arch", "mobilenet_v2", "--weights",
                            os.path.join(weights, "mobilenet_v2_imagenet.safetensors"), "--labels",
                            os.path.join(weights, "mobilenet_v2_inat_bird.labels.txt"), "--methods", "cam",
                            "--out", os.path.join(work, "wrong"), photos[0]], capture_output=True, text=True)
    check(wrong.returncode == 1 and "names 965 classes, but the model has 1001" in wrong.stderr,
          f"a labels file of the wrong length: rc {wrong.returncode}, {wrong.stderr}")
    finish()


if __name__ == "__main__":
    sys.exit(main())

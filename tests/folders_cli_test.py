#!/usr/bin/python3
"""Your own photos, end to end: fcam-make-dataset --from_folders writes the metadata of
<root>/<class>/<image> (sorted classes and files, every 5th photo of a class to val, whole-image
boxes, class_names.txt), fcam-train trains a MobileNetV2 head on it with the shipped weights, and
fcam-infer names the classes with --labels; bad folders are errors that name the file.

Usage: /usr/bin/python3 tests/folders_cli_test.py FCAM_MAKE_DATASET FCAM_TRAIN FCAM_INFER REPO_DIR WORK_DIR
"""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np

from checks import check, finish


def run(args):
    return subprocess.run(args, capture_output=True, text=True)


def main():
    make, train, infer, repo, work = sys.argv[1:6]
    shutil.rmtree(work, ignore_errors=True)
    photos, meta = os.path.join(work, "photos"), os.path.join(work, "meta")
    rng = np.random.default_rng(0)
    for c, name in enumerate(["red", "green", "blue"]):  # classes told apart by colour
        os.makedirs(os.path.join(photos, name))
        for k in range(6):
            image = rng.integers(0, 60, (48 + k, 64, 3), dtype=np.uint8)
            image[:, :, 2 - c] += 180  # OpenCV writes BGR
            cv2.imwrite(os.path.join(photos, name, f"img{k}.png" if k % 2 else f"img{k}.JPG"), image)
    open(os.path.join(photos, "red", "notes.txt"), "w").write("not an image")

    r = run([make, "--from_folders", photos, "--out", meta, "--quiet"])
    check(r.returncode == 0, f"fcam-make-dataset --from_folders runs {r.stderr}")
    check("3 classes, 15 training and 3 validation photos" in r.stdout, f"its summary: {r.stdout.strip()[:120]}")
    names = open(os.path.join(meta, "class_names.txt")).read().split()
    check(names == ["blue", "green", "red"], f"class names in label order: {names}")
    val_ids = open(os.path.join(meta, "CUB", "val", "image_ids.txt")).read().split()
    check(val_ids == ["blue/img4.JPG", "green/img4.JPG", "red/img4.JPG"], f"every 5th photo to val: {val_ids}")
    sizes = open(os.path.join(meta, "CUB", "train", "image_sizes.txt")).read().split()
    check("blue/img1.png,64,49" in sizes, "image sizes read from the files")
    boxes = open(os.path.join(meta, "CUB", "train", "localization.txt")).read().split()
    check("blue/img1.png,0,0,63,48" in boxes, "whole-image boxes")

    weights = os.path.join(repo, "data", "weights")
    out = os.path.join(work, "cls")
    r = run([train, "classifier", "--arch", "mobilenet_v2", "--base_width", "8", "--num_classes", "3",
             "--pretrained", os.path.join(weights, "mobilenet_v2_imagenet.f16.safetensors"), "--freeze_encoder",
             "--data_root", photos, "--metadata_root", meta, "--dataset_name", "CUB", "--test_split", "",
             "--epochs", "2", "--batch_size", "5", "--lr", "0.01", "--resize_size", "112", "--crop_size", "96",
             "--out", out, "--quiet"])
    check(r.returncode == 0, f"fcam-train classifier trains on the folders {r.stderr.strip()[-300:]}")
    r = run([infer, "--weights", os.path.join(out, "last.safetensors"), "--labels",
             os.path.join(meta, "class_names.txt"), "--methods", "cam", "--size", "96", "--out",
             os.path.join(work, "maps"), "--json", os.path.join(work, "maps.json"),
             os.path.join(photos, "green", "img4.JPG")])
    check(r.returncode == 0, f"fcam-infer with --labels class_names.txt {r.stderr.strip()[-300:]}")
    if r.returncode == 0:
        top5 = json.load(open(os.path.join(work, "maps.json")))["inputs"][0]["top5"]
        check(sorted(entry[2] for entry in top5) == ["blue", "green", "red"], f"top-5 named: {top5}")

    r = run([make, "--from_folders", photos, "--quiet"])
    check(r.returncode == 1 and "give --out" in r.stderr, f"--from_folders without --out: {r.stderr}")
    os.makedirs(os.path.join(work, "empty", "cats"))
    r = run([make, "--from_folders", os.path.join(work, "empty"), "--out", os.path.join(work, "m2"), "--quiet"])
    check(r.returncode == 1 and "empty/cats holds no image" in r.stderr, f"an empty class folder: {r.stderr}")
    comma = os.path.join(work, "comma", "a")
    os.makedirs(comma)
    for k in range(5):
        shutil.copy(os.path.join(photos, "red", "img1.png"), os.path.join(comma, f"x,{k}.png"))
    r = run([make, "--from_folders", os.path.join(work, "comma"), "--out", os.path.join(work, "m3"), "--quiet"])
    check(r.returncode == 1 and "x,0.png" in r.stderr and "comma" in r.stderr, f"a comma in a name: {r.stderr}")
    broken = os.path.join(work, "broken", "a")
    os.makedirs(broken)
    for k in range(5):
        shutil.copy(os.path.join(photos, "red", "img1.png"), os.path.join(broken, f"ok{k}.png"))
    open(os.path.join(broken, "bad.png"), "wb").write(b"not a png")
    r = run([make, "--from_folders", os.path.join(work, "broken"), "--out", os.path.join(work, "m4"), "--quiet"])
    check(r.returncode == 1 and "bad.png" in r.stderr, f"an unreadable photo is named: {r.stderr}")
    finish()


if __name__ == "__main__":
    main()

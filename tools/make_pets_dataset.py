#!/usr/bin/python3
"""Builds data/oxford-pets-3, the compact real-photo WSOL dataset in the repository, from the
3-breed Oxford-IIIT Pet subset (../shared/data/oxford-pets-3): photos with the long side at most
320 px, trimaps resized by nearest neighbour, and wsolevaluation metadata for boxes and masks in
the layout of fcam-make-dataset (so fcam-train, fcam-eval and fcam-demo read it as they read the
cluttered Fashion-MNIST dataset):

    images/<split>/<Name>.jpg
    metadata/CUB/<split>/{image_ids,class_labels,image_sizes,localization}.txt     boxes
    metadata/OpenImages/<split>/...                                                 masks
    masks/OpenImages/<split>/<Name>.png (pet = 255), <Name>_ignore.png (border band = 255)

Masks follow the OpenImages convention: trimap 1 (pet) is the object, 3 (the unclassified band
along its outline) is ignored by PxAP. The box of a photo is the tight box of its pet pixels
(inclusive corners). Classes: Abyssinian 0, american_bulldog 1, Bengal 2 (the dataset's class ids
1, 2 and 6). Splits: test = the dataset's test list (298); val = every fifth photo of each breed
in the trainval list sorted by number (60), train = the rest (240).

Usage: /usr/bin/python3 tools/make_pets_dataset.py [--source DIR] [--out DIR]
The output is a function of the source and of Debian 12's OpenCV: running it again reproduces
every file byte for byte (tests/pets_dataset_test.py checks this).
"""
import argparse
import os
import re
import shutil
import sys

import cv2
import numpy as np

LONG_SIDE = 320
JPEG_QUALITY = 90
CLASS_OF_DATASET_ID = {1: 0, 2: 1, 6: 2}
CLASS_NAMES = ["Abyssinian", "american_bulldog", "Bengal"]

README = """# Oxford-IIIT Pet, 3 breeds: real photos with pixel masks (compact copy)

{count} photographs of three breeds of the Oxford-IIIT Pet dataset, Abyssinian (cat, class 0),
american_bulldog (dog, class 1) and Bengal (cat, class 2), resized so that the long side is at
most {long_side} px (OpenCV INTER_AREA, JPEG quality {quality}), with their pixel masks, in the
wsolevaluation layout that fcam-train, fcam-eval and fcam-demo read:

| path | what |
|---|---|
| `images/<split>/<Name>.jpg` | the photos |
| `metadata/CUB/<split>/` | image ids, class labels, sizes and one box per photo (the tight box of the pet pixels, inclusive corners) |
| `metadata/OpenImages/<split>/` | the same photos with their masks (`localization.txt`: id, mask, ignore mask) |
| `masks/OpenImages/<split>/<Name>.png` | the pet (trimap value 1) as 255, else 0 |
| `masks/OpenImages/<split>/<Name>_ignore.png` | the unclassified band along the outline (trimap value 3) as 255: PxAP ignores it |

Splits: `test` is the dataset's own test list ({test} photos); `val` is every fifth photo of each
breed of its trainval list sorted by number ({val}), `train` the rest ({train}). Made by
`tools/make_pets_dataset.py` from the 3-breed subset; running it again reproduces every file.

## Source and licence

The Oxford-IIIT Pet dataset: O. M. Parkhi, A. Vedaldi, A. Zisserman, C. V. Jawahar, "Cats and
Dogs", IEEE CVPR 2012, https://www.robots.ox.ac.uk/~vgg/data/pets/ (this 3-breed subset as packed in
the public repository Naveen-Dodda/Sample_Pets_dataset). The dataset is licensed under the
Creative Commons Attribution-ShareAlike 4.0 International licence (`LICENSE`); the copyright of
the images remains with their original owners. These files are resized copies and derived
masks and metadata, and are distributed under the same licence with this attribution. The
licence covers these data files only, not fcam's code.
"""

LICENSE = """Creative Commons Attribution-ShareAlike 4.0 International (CC BY-SA 4.0)

The files in this folder (photos, masks and metadata) are derived from the Oxford-IIIT Pet
dataset by O. M. Parkhi, A. Vedaldi, A. Zisserman and C. V. Jawahar (University of Oxford,
IIIT Hyderabad), https://www.robots.ox.ac.uk/~vgg/data/pets/, which is licensed under CC BY-SA
4.0. Changes: a 3-breed subset; photos resized to a long side of at most 320 pixels and
re-encoded; trimaps resized and turned into object and ignore masks; boxes and split lists
computed from them. The copyright of the images remains with their original owners.

You are free to share (copy and redistribute the material in any medium or format) and adapt
(remix, transform and build upon the material) for any purpose, even commercially, under the
following terms: Attribution (give appropriate credit, provide a link to the licence, and
indicate if changes were made) and ShareAlike (if you remix, transform or build upon the
material, you must distribute your contributions under the same licence as the original). No
additional restrictions may be applied.

Full legal code: https://creativecommons.org/licenses/by-sa/4.0/legalcode
"""


def read_list(path):
    """[(name, dataset class id)] of an annotations list file (comment lines skipped)."""
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, class_id = line.split()[:2]
                rows.append((name, int(class_id)))
    return rows


def photo_number(name):
    return int(re.search(r"_(\d+)$", name).group(1))


def splits_of(annotations):
    """{'train' | 'val' | 'test': [(name, class)]}, each sorted by class then number."""
    trainval = read_list(os.path.join(annotations, "trainval.txt"))
    test = read_list(os.path.join(annotations, "test.txt"))
    key = lambda row: (CLASS_OF_DATASET_ID[row[1]], photo_number(row[0]))  # noqa: E731
    splits = {"train": [], "val": [], "test": sorted(((n, CLASS_OF_DATASET_ID[c]) for n, c in test),
                                                     key=lambda r: (r[1], photo_number(r[0])))}
    for cls in sorted(set(CLASS_OF_DATASET_ID.values())):
        rows = sorted((r for r in trainval if CLASS_OF_DATASET_ID[r[1]] == cls), key=key)
        for k, (name, _) in enumerate(rows):
            splits["val" if k % 5 == 4 else "train"].append((name, cls))
    return splits


def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def encode(ext, image, params=()):
    ok, buf = cv2.imencode(ext, image, list(params))
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {ext} image")
    return buf.tobytes()


def convert(source, name):
    """The resized photo (BGR) and trimap of `name`, checked to match."""
    photo = cv2.imread(os.path.join(source, "images", name + ".jpg"), cv2.IMREAD_COLOR)
    trimap = cv2.imread(os.path.join(source, "trimaps", name + ".png"), cv2.IMREAD_UNCHANGED)
    if photo is None or trimap is None:
        raise RuntimeError(f"{name}: the photo or its trimap cannot be read")
    if trimap.ndim != 2 or trimap.shape != photo.shape[:2]:
        raise RuntimeError(f"{name}: trimap {trimap.shape} does not match photo {photo.shape}")
    h, w = photo.shape[:2]
    scale = min(1.0, LONG_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if scale < 1:
        photo = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
        trimap = cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST)
    return photo, trimap


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=os.path.join(here, "..", "..", "shared", "data", "oxford-pets-3"))
    parser.add_argument("--out", default=os.path.join(here, "..", "data", "oxford-pets-3"))
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.source, "trimaps")):
        sys.exit(f"make_pets_dataset: {args.source} is not the Oxford-IIIT Pet subset (no trimaps/)")
    splits = splits_of(os.path.join(args.source, "annotations"))
    shutil.rmtree(args.out, ignore_errors=True)
    count = 0
    for split, rows in splits.items():
        lines = {"image_ids": [], "class_labels": [], "image_sizes": [], "boxes": [], "masks": []}
        for name, cls in rows:
            photo, trimap = convert(args.source, name)
            pet = trimap == 1
            ys, xs = np.nonzero(pet)
            if len(xs) == 0:
                raise RuntimeError(f"{name}: the trimap marks no pet pixel")
            image_id = f"{split}/{name}.jpg"
            write_bytes(os.path.join(args.out, "images", image_id),
                        encode(".jpg", photo, (cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY)))
            masks = os.path.join(args.out, "masks", "OpenImages", split)
            write_bytes(os.path.join(masks, name + ".png"), encode(".png", pet.astype(np.uint8) * 255))
            write_bytes(os.path.join(masks, name + "_ignore.png"), encode(".png", (trimap == 3).astype(np.uint8) * 255))
            lines["image_ids"].append(image_id)
            lines["class_labels"].append(f"{image_id},{cls}")
            lines["image_sizes"].append(f"{image_id},{photo.shape[1]},{photo.shape[0]}")
            lines["boxes"].append(f"{image_id},{xs.min()},{ys.min()},{xs.max()},{ys.max()}")
            lines["masks"].append(f"{image_id},{split}/{name}.png,{split}/{name}_ignore.png")
            count += 1
        for dataset, localization in (("CUB", "boxes"), ("OpenImages", "masks")):
            meta = os.path.join(args.out, "metadata", dataset, split)
            for file, key in (("image_ids", "image_ids"), ("class_labels", "class_labels"),
                              ("image_sizes", "image_sizes"), ("localization", localization)):
                write_bytes(os.path.join(meta, file + ".txt"), ("\n".join(lines[key]) + "\n").encode())
        print(f"{split}: {len(rows)} photos")
    text = README.format(count=count, long_side=LONG_SIDE, quality=JPEG_QUALITY, test=len(splits["test"]),
                         val=len(splits["val"]), train=len(splits["train"]))
    write_bytes(os.path.join(args.out, "README.md"), text.encode())
    write_bytes(os.path.join(args.out, "LICENSE"), LICENSE.encode())
    write_bytes(os.path.join(args.out, "class_names.txt"), ("\n".join(CLASS_NAMES) + "\n").encode())
    print(f"{count} photos -> {args.out}")


if __name__ == "__main__":
    main()

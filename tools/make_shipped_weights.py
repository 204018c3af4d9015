#!/usr/bin/python3
"""Writes data/weights: the two pretrained MobileNetV2 classifiers of ../shared/data/weights
(ImageNet, 1001 classes; iNaturalist birds, 965 classes) as float16 safetensors with their labels
and Apache-2.0 licence, so that a clone runs the real-photo demo without ../shared.

Float16 halves the files (7 MB each); every weight is rounded to the nearest float16 (relative
error at most 2^-11). tests/test_mobilenet_v2.cpp measures what that does to the logits of real
photos against the float32 originals.

Usage: /usr/bin/python3 tools/make_shipped_weights.py [--source DIR] [--out DIR]
Running it again reproduces every file byte for byte.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pt2safetensors import write_safetensors  # noqa: E402

MODELS = ["mobilenet_v2_imagenet", "mobilenet_v2_inat_bird"]

README = """# Pretrained MobileNetV2 weights (float16)

| file | model | classes |
|---|---|---|
| `mobilenet_v2_imagenet.f16.safetensors` | MobileNetV2 1.0 / 224 trained on ImageNet | 1001 (index 0 = background; ImageNet class = index − 1) |
| `mobilenet_v2_inat_bird.f16.safetensors` | MobileNetV2 1.0 / 224 trained on iNaturalist birds | 965 (index 964 = background) |

Class names: `<model>.labels.txt`, one per line. Tensor names are torchvision's `mobilenet_v2`
(`features.*`, `classifier.1.*`), every convolution with a bias (BatchNorm folded in). The models
expect RGB input `(pixel − 128) / 128` and TensorFlow "SAME" padding, which `--arch mobilenet_v2`
implements (docs/real-photos.md).

Source: Google's Coral test data (uint8-quantized TFLite models, Apache-2.0, see `LICENSE`),
dequantized exactly to float32 (`w = scale·(q − zero_point)`), then rounded to float16 by
`tools/make_shipped_weights.py`. The licence covers these weight files.
"""


def read_f32_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + size])
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            sys.exit(f"make_shipped_weights: {path}: tensor {name} is {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        array = np.frombuffer(blob[8 + size + begin:8 + size + end], dtype="<f4").reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=os.path.join(here, "..", "..", "shared", "data", "weights"))
    parser.add_argument("--out", default=os.path.join(here, "..", "data", "weights"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    for model in MODELS:
        tensors = read_f32_safetensors(os.path.join(args.source, model + ".safetensors"))
        half = {name: t.to(torch.float16) for name, t in tensors.items()}
        worst = max(float(((half[n].float() - t).abs() / t.abs().clamp_min(1e-30)).max()) for n, t in tensors.items())
        write_safetensors(os.path.join(args.out, model + ".f16.safetensors"), half,
                          {"source": model + ".safetensors (float32), rounded to float16"})
        shutil.copyfile(os.path.join(args.source, model + ".labels.txt"), os.path.join(args.out, model + ".labels.txt"))
        print(f"{model}: {len(half)} tensors, largest relative rounding {worst:.2e}")
    shutil.copyfile(os.path.join(args.source, "LICENSE"), os.path.join(args.out, "LICENSE"))
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(README)


if __name__ == "__main__":
    main()

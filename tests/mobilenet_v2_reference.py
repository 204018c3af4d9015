#!/usr/bin/python3
"""MobileNetV2 logits from the real pretrained weights of ../shared/data/weights, computed by a
PyTorch network written here from each weight file's `.arch.json` layer list (not from fcam or
torchvision), for tests/test_mobilenet_v2.cpp.

Usage: /usr/bin/python3 tests/mobilenet_v2_reference.py OUT_DIR
Needs FCAM_DATA_DIR (the shared data folder); exits 77 (ctest: skipped) without it. For each
weight file writes OUT_DIR/<model>_io.safetensors: "photos" (the two real CUB photos of
real-samples/cub-full, resized to 224x224 by OpenCV's bilinear rule, then (pixel - 128) / 128),
"odd" (a random 1x3x197x163 input, where "SAME" padding is symmetric on odd sizes), and for each
input its five feature stages ("<input>_stage1" ... "_stage5") and its logits ("<input>_logits").
"""
import json
import os
import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from make_shipped_weights import read_f32_safetensors  # noqa: E402
from pt2safetensors import write_safetensors as write  # noqa: E402

# Layers whose outputs are the encoder stages (strides 2, 4, 8, 16, 32).
STAGE_LAYERS = ["features.1.conv.1", "features.3.add", "features.6.add", "features.13.add", "features.18.0"]


def same_padding(size, kernel, stride):
    """TensorFlow's SAME rule for one axis: (before, after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def run(arch, weights, x):
    """Every layer of arch.json in order; returns {layer name: output}."""
    outputs = {"input": x}
    for layer in arch["layers"]:
        kind = layer["type"]
        if kind in ("conv2d", "depthwise_conv2d"):
            h = outputs[layer["input"]]
            (kh, kw), (sh, sw) = layer["kernel"], layer["stride"]
            top, bottom = same_padding(h.shape[2], kh, sh)
            left, right = same_padding(h.shape[3], kw, sw)
            h = F.pad(h, (left, right, top, bottom))
            y = F.conv2d(h, weights[layer["weight"]], weights[layer["bias"]], stride=(sh, sw), groups=layer["groups"])
        elif kind == "add":
            y = outputs[layer["inputs"][0]] + outputs[layer["inputs"][1]]
        elif kind == "global_avg_pool":
            y = outputs[layer["input"]].mean(dim=(2, 3))
        elif kind == "linear":
            y = F.linear(outputs[layer["input"]], weights[layer["weight"]], weights[layer["bias"]])
        elif kind == "softmax":
            continue
        else:
            raise ValueError(f"unknown layer type {kind}")
        if layer.get("activation", "NONE") == "RELU6":
            y = y.clamp(0, 6)
        outputs[layer["name"]] = y
    return outputs


def main():
    data = os.environ.get("FCAM_DATA_DIR", "")
    weights_dir = os.path.join(data, "weights")
    if not data or not os.path.isdir(weights_dir):
        print(f"no shared data (FCAM_DATA_DIR='{data}'): skipped")
        return 77
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    photos_dir = os.path.join(data, "real-samples", "cub-full")
    photos = []
    for name in sorted(os.listdir(photos_dir)):
        bgr = cv2.imread(os.path.join(photos_dir, name), cv2.IMREAD_COLOR)
        rgb = cv2.resize(bgr[:, :, ::-1], (224, 224), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        photos.append(torch.from_numpy((rgb - 128) / 128).permute(2, 0, 1))
    odd = torch.empty(1, 3, 197, 163).uniform_(-1, 1, generator=torch.Generator().manual_seed(5))
    inputs = {"photos": torch.stack(photos), "odd": odd}
    for model in ("mobilenet_v2_imagenet", "mobilenet_v2_inat_bird"):
        with open(os.path.join(weights_dir, model + ".arch.json")) as f:
            arch = json.load(f)
        path = os.path.join(weights_dir, model + ".safetensors")
        weights = read_f32_safetensors(path)
        tensors = {}
        with torch.no_grad():
            for input_name, x in inputs.items():
                outputs = run(arch, weights, x)
                tensors[input_name] = x
                for s, layer in enumerate(STAGE_LAYERS, start=1):
                    tensors[f"{input_name}_stage{s}"] = outputs[layer]
                tensors[f"{input_name}_logits"] = outputs["classifier.1"]
        labels = open(os.path.join(weights_dir, model + ".labels.txt")).read().splitlines()
        for i, logits in enumerate(tensors["photos_logits"]):
            top = logits.topk(3).indices.tolist()
            print(model, "photo", i, "top-3:", [labels[k] for k in top])
        write(os.path.join(out_dir, model + "_io.safetensors"), tensors)
    return 0


if __name__ == "__main__":
    sys.exit(main())

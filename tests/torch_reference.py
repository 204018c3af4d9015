#!/usr/bin/python3
"""Writes PyTorch reference values for fcam's parity test (tests/test_torch_parity.cpp).

Run with Debian's interpreter (/usr/bin/python3, which sees python3-torch):
    /usr/bin/python3 tests/torch_reference.py OUT.safetensors

Every case stores float32 tensors named "<case>/<role>" (inputs, parameters, upstream gradient
"dy", outputs "y", gradients "dx", "d<param>") and its settings as a JSON string in the file's
metadata under the case name. The file is written without the safetensors package.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models.resnet as resnet

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from pt2safetensors import write_safetensors as write  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)

TENSORS = {}
META = {}


def put(case, role, t):
    TENSORS[f"{case}/{role}"] = t.detach().clone().contiguous()


def rand(*shape, lo=-1.0, hi=1.0):
    return torch.empty(*shape).uniform_(lo, hi)


def module_case(case, settings, module, x, extra_roles=()):
    """Forward + backward of a single-input module; records inputs, params, outputs and grads."""
    META[case] = json.dumps(settings)
    x = x.clone().requires_grad_(True)
    for name, p in module.named_parameters():
        put(case, name, p)
    for name, b in module.named_buffers():
        put(case, name, b)
    y = module(x)
    dy = rand(*y.shape)
    y.backward(dy)
    put(case, "x", x)
    put(case, "y", y)
    put(case, "dy", dy)
    put(case, "dx", x.grad)
    for name, p in module.named_parameters():
        put(case, "d" + name, p.grad)
    for role in extra_roles:
        for name, b in module.named_buffers():
            put(case, name + "_after", b)


def conv_cases():
    specs = [
        ("conv_3x3_pad1", dict(n=2, cin=3, cout=4, h=9, w=8, k=3, s=1, p=1, d=1, g=1, bias=True)),
        ("conv_3x3_s2_d2", dict(n=1, cin=4, cout=6, h=11, w=10, k=3, s=2, p=2, d=2, g=1, bias=False)),
        ("conv_groups2", dict(n=3, cin=6, cout=4, h=7, w=7, k=3, s=1, p=1, d=1, g=2, bias=True)),
        ("conv_depthwise", dict(n=2, cin=5, cout=5, h=8, w=6, k=3, s=2, p=1, d=1, g=5, bias=True)),
        ("conv_1x1", dict(n=4, cin=16, cout=8, h=6, w=5, k=1, s=1, p=0, d=1, g=1, bias=False)),
        ("conv_1x1_s2", dict(n=1, cin=8, cout=16, h=9, w=9, k=1, s=2, p=0, d=1, g=1, bias=True)),
        ("conv_stem_7x7_s2", dict(n=1, cin=3, cout=8, h=32, w=30, k=7, s=2, p=3, d=1, g=1, bias=False)),
        ("conv_3x3_deep", dict(n=2, cin=64, cout=32, h=14, w=14, k=3, s=1, p=1, d=1, g=1, bias=False)),
        ("conv_3x3_wide_rows", dict(n=1, cin=16, cout=24, h=9, w=40, k=3, s=1, p=1, d=1, g=1, bias=True)),
        ("conv_7x7_s2_wide_rows", dict(n=1, cin=3, cout=16, h=20, w=104, k=7, s=2, p=3, d=1, g=1, bias=False)),
        ("conv_3x3_s2_wide_rows", dict(n=2, cin=8, cout=8, h=6, w=70, k=3, s=2, p=1, d=1, g=1, bias=True)),
        ("conv_3x3_256_out_batch1", dict(n=1, cin=8, cout=264, h=5, w=40, k=3, s=1, p=1, d=1, g=1, bias=True)),
        ("conv_3x3_d2_wide_rows", dict(n=2, cin=8, cout=8, h=7, w=70, k=3, s=1, p=2, d=2, g=2, bias=False)),
    ]
    for case, c in specs:
        conv = nn.Conv2d(c["cin"], c["cout"], c["k"], c["s"], c["p"], c["d"], c["g"], c["bias"])
        module_case(case, dict(op="conv2d", **c), conv, rand(c["n"], c["cin"], c["h"], c["w"]))


def batch_norm_cases():
    for case, shape, train in [("bn_train", (3, 4, 5, 6), True), ("bn_eval", (2, 4, 5, 3), False),
                               ("bn_train_2d", (6, 5), True)]:
        bn = nn.BatchNorm2d(shape[1]) if len(shape) == 4 else nn.BatchNorm1d(shape[1])
        with torch.no_grad():
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 1.5)
        bn.train(train)
        module_case(case, dict(op="batch_norm", channels=shape[1], train=train), bn, rand(*shape, lo=-2, hi=3),
                    extra_roles=("after",))


def simple_cases():
    module_case("relu", dict(op="relu"), nn.ReLU(), rand(2, 3, 5, 5))
    module_case("relu6", dict(op="relu6"), nn.ReLU6(), rand(2, 3, 5, 5, lo=-4, hi=10))
    module_case("softmax_4d", dict(op="softmax"), nn.Softmax(dim=1), rand(2, 5, 3, 4, lo=-4, hi=4))
    module_case("softmax_2d", dict(op="softmax"), nn.Softmax(dim=1), rand(4, 7, lo=-4, hi=4))
    module_case("gap", dict(op="global_avg_pool"), nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
                rand(2, 6, 7, 5))
    module_case("linear", dict(op="linear", cin=12, cout=5, bias=True), nn.Linear(12, 5), rand(3, 12))
    module_case("upsample_nearest_x2", dict(op="upsample_nearest", factor=2), nn.Upsample(scale_factor=2),
                rand(2, 3, 4, 5))
    for k, s, p, ceil in [(3, 2, 1, False), (3, 2, 1, True), (2, 2, 0, False), (3, 2, 0, True)]:
        module_case(f"maxpool_k{k}_s{s}_p{p}_ceil{int(ceil)}", dict(op="max_pool", k=k, s=s, p=p, ceil=ceil),
                    nn.MaxPool2d(k, s, p, ceil_mode=ceil), rand(2, 3, 11, 10))
        for include in (False, True):
            module_case(f"avgpool_k{k}_s{s}_p{p}_ceil{int(ceil)}_inc{int(include)}",
                        dict(op="avg_pool", k=k, s=s, p=p, ceil=ceil, include_pad=include),
                        nn.AvgPool2d(k, s, p, ceil_mode=ceil, count_include_pad=include), rand(2, 3, 11, 10))
    for align in (False, True):
        for (h, w), (oh, ow) in [((5, 7), (13, 9)), ((14, 14), (28, 28)), ((9, 11), (4, 6)), ((28, 28), (224, 224))]:
            class Resize(nn.Module):
                def forward(self, x, oh=oh, ow=ow, align=align):
                    return F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=align)
            module_case(f"bilinear_{h}x{w}_to_{oh}x{ow}_align{int(align)}",
                        dict(op="resize_bilinear", out_h=oh, out_w=ow, align_corners=align, upsampled=1), Resize(),
                        rand(2, 2, h, w))
    # The F-CAM decoder's step: nearest ×2, then bilinear (align_corners) to the skip's size.
    for (h, w), (oh, ow) in [((28, 28), (28, 28)), ((15, 15), (29, 29)), ((5, 7), (9, 16))]:
        class UpResize(nn.Module):
            def forward(self, x, oh=oh, ow=ow):
                return F.interpolate(F.interpolate(x, scale_factor=2, mode="nearest"), size=(oh, ow),
                                     mode="bilinear", align_corners=True)
        module_case(f"nearest2_bilinear_{h}x{w}_to_{oh}x{ow}",
                    dict(op="resize_bilinear", out_h=oh, out_w=ow, align_corners=True, upsampled=2), UpResize(),
                    rand(2, 3, h, w))


def multi_input_cases():
    a, b, c = (rand(2, k, 3, 4).requires_grad_(True) for k in (3, 1, 2))
    y = torch.cat([a, b, c], dim=1)
    dy = rand(*y.shape)
    y.backward(dy)
    META["concat"] = json.dumps(dict(op="concat", channels=[3, 1, 2]))
    for i, t in enumerate((a, b, c)):
        put("concat", f"x{i}", t)
        put("concat", f"dx{i}", t.grad)
    put("concat", "y", y)
    put("concat", "dy", dy)

    a, b = rand(2, 3, 4, 4), rand(2, 3, 4, 4)  # forward only (see the C++ case)
    META["add"] = json.dumps(dict(op="add"))
    put("add", "x0", a)
    put("add", "x1", b)
    put("add", "y", a + b)


def cross_entropy_cases():
    for case, shape, targets in [("cross_entropy_2d", (5, 4), [3, -100, 0, 2, 1]),
                                 ("cross_entropy_4d", (2, 3, 2, 3), [0, 2, 1, -100, 2, 0, 1, 1, -100, 0, 2, 2])]:
        x = rand(*shape, lo=-3, hi=3).requires_grad_(True)
        t = torch.tensor(targets, dtype=torch.int64)
        t = t.view(shape[0], *shape[2:]) if len(shape) == 4 else t
        loss = F.cross_entropy(x, t, ignore_index=-100)
        loss.backward()
        META[case] = json.dumps(dict(op="cross_entropy", ignore_index=-100))
        put(case, "x", x)
        put(case, "targets", t.to(torch.float32))
        put(case, "y", loss.reshape(1))
        put(case, "dx", x.grad)


def dropout_case():
    x = rand(4, 8, 16, 16).requires_grad_(True)
    drop = nn.Dropout(p=0.3)
    y = drop(x)
    dy = rand(*y.shape)
    y.backward(dy)
    META["dropout"] = json.dumps(dict(op="dropout", p=0.3))
    put("dropout", "x", x)
    put("dropout", "y", y)
    put("dropout", "dy", dy)
    put("dropout", "dx", x.grad)


def composite_cases():
    for case, (cin, planes, stride) in [("bottleneck_identity", (16, 4, 1)), ("bottleneck_stride2", (8, 4, 2))]:
        down = None
        if stride != 1 or cin != planes * 4:
            down = nn.Sequential(nn.Conv2d(cin, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4))
        block = resnet.Bottleneck(cin, planes, stride, down)
        with torch.no_grad():
            for name, p in block.named_parameters():
                if "bn" in name or "downsample.1" in name:
                    p.uniform_(0.5, 1.5)
        block.train()
        module_case(case, dict(op="bottleneck", cin=cin, planes=planes, stride=stride), block, rand(2, cin, 9, 9),
                    extra_roles=("after",))
    seq = nn.Sequential(nn.Conv2d(3, 6, 3, 1, 1, bias=False), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2))
    module_case("sequential", dict(op="sequential"), seq, rand(2, 3, 8, 8))


def write_safetensors(path):
    write(path, {name: TENSORS[name].to(torch.float32) for name in TENSORS}, META)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: torch_reference.py OUT.safetensors")
    conv_cases()
    batch_norm_cases()
    simple_cases()
    multi_input_cases()
    cross_entropy_cases()
    dropout_case()
    composite_cases()
    write_safetensors(sys.argv[1])
    print(f"wrote {len(META)} cases, {len(TENSORS)} tensors to {sys.argv[1]} (torch {torch.__version__})")

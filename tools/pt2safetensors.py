#!/usr/bin/python3
"""Converts a PyTorch checkpoint (.pt / .pth) to safetensors for fcam, with Debian's torch.

Usage: /usr/bin/python3 tools/pt2safetensors.py IN.pth OUT.safetensors [--strip-prefix P ...]
           [--add-prefix P]

IN may hold a state dict, or a checkpoint dict that holds one under "state_dict", "model" or
"model_state_dict". A leading "module." (DataParallel) is removed from every name, then each
--strip-prefix, then --add-prefix is prepended. Tensors keep their dtype when safetensors and
fcam know it (F32, F64, F16, BF16, I64); other integer tensors become I64. Names and shapes are
printed; nothing is written when a tensor cannot be converted.
"""
import argparse
import json
import os
import struct
import sys

import torch

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
          torch.int64: "I64"}


def find_state_dict(obj):
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in obj:
                return find_state_dict(obj[key])
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    sys.exit("pt2safetensors: no state dict found (expected a dict of tensors, or one under "
             "'state_dict' / 'model' / 'model_state_dict')")


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} (dtypes in DTYPES) as safetensors, atomically; `metadata` is an
    optional {str: str} header entry."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if t.dtype not in DTYPES:
            raise ValueError(f"tensor '{name}' has unsupported dtype {t.dtype}")
        data = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = dict(dtype=DTYPES[t.dtype], shape=list(t.shape), data_offsets=[offset, offset + len(data)])
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)
    os.replace(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--strip-prefix", action="append", default=[])
    p.add_argument("--add-prefix", default="")
    args = p.parse_args()
    state = find_state_dict(torch.load(args.input, map_location="cpu"))
    tensors = {}
    for name, t in state.items():
        if name.startswith("module."):
            name = name[len("module."):]
        for prefix in args.strip_prefix:
            if name.startswith(prefix):
                name = name[len(prefix):]
        name = args.add_prefix + name
        if t.dtype not in DTYPES:
            if t.is_floating_point() or t.is_complex():
                sys.exit(f"pt2safetensors: tensor '{name}' has unsupported dtype {t.dtype}")
            t = t.to(torch.int64)
        if name in tensors:
            sys.exit(f"pt2safetensors: two tensors map to the name '{name}'")
        tensors[name] = t.detach().contiguous()
    write_safetensors(args.output, tensors)
    print(f"pt2safetensors: {len(tensors)} tensors -> {args.output}")


if __name__ == "__main__":
    main()

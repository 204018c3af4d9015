#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/): small valid inputs
of every format and variant the parsers accept, plus a few near misses. Run once; the corpus is
committed. Usage: /usr/bin/python3 tools/make_fuzz_corpus.py [tests/fuzz/corpus]"""
import io
import json
import os
import struct
import sys

import cv2
import numpy as np


def write(root, target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy_bytes(array, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


def safetensors_bytes(tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "fuzz", "corpus")
    a = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    write(root, "npy", "f4_3x4.npy", npy_bytes(a))
    write(root, "npy", "f8_2.npy", npy_bytes(np.array([1.5, -2.0])))
    write(root, "npy", "f4_scalar.npy", npy_bytes(np.float32(3.0).reshape(())))
    write(root, "npy", "f4_1x3x2x2.npy", npy_bytes(np.ones((1, 3, 2, 2), np.float32)))
    write(root, "npy", "f4_0x3.npy", npy_bytes(np.zeros((0, 3), np.float32)))
    write(root, "npy", "f4_v2.npy", npy_bytes(a, version=(2, 0)))
    write(root, "npy", "f4_fortran.npy", npy_bytes(np.asfortranarray(a)))
    write(root, "npy", "i4.npy", npy_bytes(np.arange(4, dtype=np.int32)))

    f32 = np.arange(6, dtype=np.float32).tobytes()
    write(root, "safetensors", "f32.safetensors", safetensors_bytes({"w": ("F32", [2, 3], f32)}, {"fcam.arch": "resnet18"}))
    write(root, "safetensors", "mixed.safetensors", safetensors_bytes({
        "a": ("F16", [2], np.array([1, -2], np.float16).tobytes()),
        "b": ("BF16", [1], b"\x80\x3f"),
        "c": ("F64", [], np.float64(2.5).tobytes()),
        "d": ("F32", [0, 4], b"")}))
    write(root, "safetensors", "empty.safetensors", safetensors_bytes({}))

    for i, doc in enumerate(['{"a": [1, 2.5, -3e-7, true, null], "b": {"c": "\\u00e9\\n"}}', "[]", "18446744073709551615",
                             '"x"', "-9223372036854775808", '{"seed": 1, "rows": [{"group": "g", "name": "n"}]}']):
        write(root, "json", f"doc{i}.json", doc)

    ids = "train/a.png\ntrain/b.png\n"
    labels = "train/a.png,0\ntrain/b.png,2\n"
    sizes = "train/a.png,10,8\ntrain/b.png,5,5\n"
    boxes = "train/a.png,1,1,9,7\ntrain/a.png,0,0,3,3\ntrain/b.png,0,0,4,4\n"
    masks = "train/a.png,masks/a.png,masks/ignore.png\ntrain/b.png,masks/b.png\n"
    write(root, "wsol_metadata", "boxes.txt", "\0".join([ids, labels, sizes, boxes]))
    write(root, "wsol_metadata", "masks.txt", "\0".join([ids, labels, sizes, masks]))
    write(root, "wsol_metadata", "no_localization.txt", "\0".join([ids, labels, "", ""]))

    rgb = (np.arange(4 * 3 * 3).reshape(3, 4, 3) * 7 % 256).astype(np.uint8)
    for ext in (".png", ".jpg", ".bmp", ".ppm"):
        ok, data = cv2.imencode(ext, rgb)
        assert ok
        write(root, "image", "rgb4x3" + ext, data.tobytes())
    for name, params in [("progressive", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
                         ("restart", [cv2.IMWRITE_JPEG_OPTIMIZE, 1, cv2.IMWRITE_JPEG_RST_INTERVAL, 1])]:
        ok, data = cv2.imencode(".jpg", rgb, params)
        write(root, "image", f"rgb4x3_{name}.jpg", data.tobytes())
    ok, data = cv2.imencode(".png", rgb[:, :, 0])
    write(root, "image", "gray4x3.png", data.tobytes())
    ok, data = cv2.imencode(".png", np.dstack([rgb, np.full((3, 4), 128, np.uint8)]))
    write(root, "image", "rgba4x3.png", data.tobytes())
    ok, data = cv2.imencode(".png", (rgb.astype(np.uint16) * 257))
    write(root, "image", "rgb16_4x3.png", data.tobytes())

    for i, argv in enumerate([["--count", "7", "--step", "0.25", "file.png"], ["--count=100", "--thresholds", "0,50,100"],
                              ["--seed", "18446744073709551615", "--quiet", "--name", "a,b,,c"], ["--help"],
                              ["--step", "1e-300"], ["--count", "101"], ["--unknown", "1"], ["--quiet=false", "--", "-x"]]):
        write(root, "flags", f"argv{i}.txt", "\0".join(argv))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""End-to-end test of fcam-infer on the ResNet18 case of tests/models_reference.py.

Usage: /usr/bin/python3 tests/infer_cli_test.py FCAM_INFER MODELS_REFERENCE_DIR WORK_DIR [DEVICE]
Runs fcam-infer on the case's input (as an .npy tensor) with the case's weights and compares
logits.npy, the CAM maps, fcam.npy (normalised) and fcam_probability.npy with PyTorch's values;
runs it on a PNG image and checks the overlays and the JSON summary; checks the error paths.
DEVICE (auto, cpu or cuda; default cpu) is passed as --device to the runs that compare maps
(benchmarks/gpu/run.sh runs this test with cuda on the GPU machine).
"""
import json
import os
import shutil
import struct
import subprocess
import sys

import cv2
import numpy as np
import torch

from checks import check, finish
from safetensors_file import read_safetensors


def perturbed_copy(src, dst, name, index, delta):
    """A copy of safetensors file src with element `index` of its F32 tensor `name` moved by delta
    (a patched copy instead of another full-size reference file)."""
    shutil.copyfile(src, dst)
    with open(dst, "r+b") as f:
        (header_size,) = struct.unpack("<Q", f.read(8))
        begin = json.loads(f.read(header_size))[name]["data_offsets"][0]
        f.seek(8 + header_size + begin + 4 * index)
        (value,) = struct.unpack("<f", f.read(4))
        f.seek(-4, os.SEEK_CUR)
        f.write(struct.pack("<f", value + delta))


def main():
    infer, ref_dir, work = sys.argv[1:4]
    device = sys.argv[4] if len(sys.argv) > 4 else "cpu"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    ref = read_safetensors(os.path.join(ref_dir, "resnet18_io.safetensors"))
    weights = os.path.join(ref_dir, "resnet18_weights.safetensors")
    np.save(os.path.join(work, "batch.npy"), ref["input"])
    cls = int(ref["cam_classes"][0])
    methods = ["cam", "gradcam", "gradcampp", "xgradcam", "layercam", "fcam"]
    base = [infer, "--arch", "resnet18", "--num_classes", "10", "--weights", weights, "--device", device]
    r = subprocess.run(base + ["--methods", ",".join(methods), "--class", str(cls), "--out", os.path.join(work, "out"),
                               "--json", os.path.join(work, "summary.json"), os.path.join(work, "batch.npy")],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"fcam-infer on an .npy tensor: exit {r.returncode} {r.stderr.strip()}")
    out = os.path.join(work, "out", "batch_0")

    def close(name, got, want):
        err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-12)
        check(got.shape == want.shape and err <= 1e-4, f"{name}: relative error {err:.2e}")

    if r.returncode == 0:
        close("logits.npy", np.load(os.path.join(out, "logits.npy")), ref["logits"])
        for m in methods[:-1]:
            close(f"{m}.npy", np.load(os.path.join(out, f"{m}.npy")), ref["cam_" + m][0])
        fg = torch.softmax(torch.from_numpy(ref["segmentation"].copy()), dim=1)[0, 1].numpy()
        # fcam.npy is min-max normalised like every score map; the probability is kept beside it.
        close("fcam_probability.npy", np.load(os.path.join(out, "fcam_probability.npy")), fg)
        close("fcam.npy", np.load(os.path.join(out, "fcam.npy")), (fg - fg.min()) / (fg.max() - fg.min()))
        png = cv2.imread(os.path.join(out, "gradcam.png"))
        check(png is not None and png.shape[:2] == ref["input"].shape[2:], "gradcam.png overlay of the input size")
        with open(os.path.join(work, "summary.json")) as f:
            summary = json.load(f)["inputs"][0]
        top = np.argsort(-ref["logits"][0], kind="stable")[:5].tolist()
        check([c for c, _ in summary["top5"]] == top and summary["class"] == cls, "JSON: top-5 classes and class")

    # An fcam checkpoint (weights + "fcam.*" metadata) needs no --arch / --num_classes.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    from pt2safetensors import write_safetensors
    checkpoint = os.path.join(work, "checkpoint.safetensors")
    tensors = {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(weights).items()}
    write_safetensors(checkpoint, tensors, {"fcam.arch": "resnet18", "fcam.num_classes": "10", "fcam.base_width": "64",
                                            "fcam.mean": "[0.485,0.456,0.406]", "fcam.std": "[0.229,0.224,0.225]",
                                            "fcam.training": "{}"})
    r = subprocess.run([infer, "--weights", checkpoint, "--methods", "cam", "--out", os.path.join(work, "ck"),
                        os.path.join(work, "batch.npy")], capture_output=True, text=True)
    check(r.returncode == 0, f"fcam checkpoint without --arch: exit {r.returncode} {r.stderr.strip()}")
    if r.returncode == 0:
        close("checkpoint logits.npy", np.load(os.path.join(work, "ck", "batch_0", "logits.npy")), ref["logits"])
    r = subprocess.run([infer, "--weights", checkpoint, "--arch", "resnet50", "--out", os.path.join(work, "ck"),
                        os.path.join(work, "batch.npy")], capture_output=True, text=True)
    check(r.returncode != 0 and "the checkpoint is a resnet18" in r.stderr, "checkpoint vs --arch mismatch is an error")

    # A reference F-CAM checkpoint (VGG16 layout, every alias stored): classes from its head.
    vgg = read_safetensors(os.path.join(ref_dir, "vgg16_io.safetensors"))
    np.save(os.path.join(work, "vgg_batch.npy"), vgg["input"])
    r = subprocess.run([infer, "--arch", "vgg16", "--weights", os.path.join(ref_dir, "vgg16_reference.safetensors"),
                        "--methods", "cam,fcam", "--out", os.path.join(work, "vgg"), os.path.join(work, "vgg_batch.npy")],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"reference VGG16 checkpoint: exit {r.returncode} {r.stderr.strip()}")
    if r.returncode == 0:
        close("reference checkpoint logits.npy", np.load(os.path.join(work, "vgg", "vgg_batch_0", "logits.npy")),
              vgg["logits"])
        close("reference checkpoint cam.npy", np.load(os.path.join(work, "vgg", "vgg_batch_0", "cam.npy")),
              vgg["cam_cam"][0])
    disagree = os.path.join(work, "vgg16_reference_disagree.safetensors")
    perturbed_copy(os.path.join(ref_dir, "vgg16_reference.safetensors"), disagree, "encoder.full_features.29.weight", 7,
                   1e-3)
    r = subprocess.run([infer, "--arch", "vgg16", "--weights", disagree, "--out", os.path.join(work, "vgg"),
                        os.path.join(work, "vgg_batch.npy")], capture_output=True, text=True)
    os.remove(disagree)
    check(r.returncode != 0 and "disagree" in r.stderr, "reference checkpoint whose aliases disagree is an error")

    image = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    cv2.imwrite(os.path.join(work, "photo.png"), image)
    r = subprocess.run(base + ["--methods", "cam,sgcampp,fcam", "--size", "64", "--out", os.path.join(work, "out"),
                               os.path.join(work, "photo.png")], capture_output=True, text=True)
    png = cv2.imread(os.path.join(work, "out", "photo", "fcam.png"))
    check(r.returncode == 0 and png is not None and png.shape[:2] == (64, 64), "image input: 64x64 overlays")
    smooth = np.load(os.path.join(work, "out", "photo", "sgcampp.npy")) if r.returncode == 0 else None
    check(smooth is not None and smooth.shape == (64, 64) and 0 <= smooth.min() and smooth.max() <= 1,
          "sgcampp.npy: a 64x64 map in [0, 1]")

    # JPEG variants pass fcam's checks in front of stb_image (Huffman tables defined before use,
    # at most 256 codes each): progressive, with restart markers and optimised tables, and gray.
    jpegs = []
    for name, image_, params in [("prog.jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
                                 ("rst.jpg", image, [cv2.IMWRITE_JPEG_OPTIMIZE, 1, cv2.IMWRITE_JPEG_RST_INTERVAL, 2]),
                                 ("gray.jpg", image[:, :, 0], [])]:
        cv2.imwrite(os.path.join(work, name), image_, params)
        jpegs.append(os.path.join(work, name))
    r = subprocess.run(base + ["--methods", "cam", "--size", "32", "--out", os.path.join(work, "jpeg_out"), *jpegs],
                       capture_output=True, text=True)
    check(r.returncode == 0 and all(os.path.exists(os.path.join(work, "jpeg_out", n, "cam.npy")) for n in ("prog", "rst", "gray")),
          f"progressive, restart-marker and gray JPEGs are read: {r.stderr[-200:]}")

    # Two inputs with one file name would write one output folder: refused before any output.
    os.makedirs(os.path.join(work, "other"), exist_ok=True)
    cv2.imwrite(os.path.join(work, "other", "photo.png"), image)
    r = subprocess.run(base + ["--size", "64", "--out", os.path.join(work, "clash"), os.path.join(work, "photo.png"),
                               os.path.join(work, "other", "photo.png")], capture_output=True, text=True)
    check(r.returncode != 0 and "would both write to <out>/photo" in r.stderr
          and not os.path.exists(os.path.join(work, "clash")), f"inputs with one name are refused: {r.stderr[-200:]}")

    # An image whose header claims 20000x20000 pixels is refused before decoding (a gray PNG with
    # its IHDR size patched; stb does not check the CRC), and the limit is a flag.
    cv2.imwrite(os.path.join(work, "small_gray.png"), np.full((10, 20), 128, np.uint8))
    data = bytearray(open(os.path.join(work, "small_gray.png"), "rb").read())
    data[16:24] = (20000).to_bytes(4, "big") * 2
    open(os.path.join(work, "huge.png"), "wb").write(bytes(data))
    r = subprocess.run(base + ["--size", "64", "--out", os.path.join(work, "huge_out"), os.path.join(work, "huge.png")],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "huge.png: a 20000x20000 image (400000000 pixels) is above the limit" in r.stderr,
          f"an image above the pixel limit is refused from its header: {r.stderr[-200:]}")
    r = subprocess.run(base + ["--size", "64", "--max_image_pixels", "199", "--out", os.path.join(work, "limit_out"),
                               os.path.join(work, "small_gray.png")], capture_output=True, text=True)
    check(r.returncode != 0 and "a 20x10 image (200 pixels) is above the limit of 199" in r.stderr,
          "--max_image_pixels lowers the limit")

    # Non-finite numbers are refused where they enter, naming the file, before anything is written
    # (they used to reach the box search as a NaN map naming nothing, or exit 0 with p = nan).
    nan_batch = ref["input"].copy()
    nan_batch[0, 1, 2, 3] = np.nan
    np.save(os.path.join(work, "nan_batch.npy"), nan_batch)
    r = subprocess.run(base + ["--out", os.path.join(work, "nan_out"), os.path.join(work, "nan_batch.npy")],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "nan_batch.npy: holds a NaN or infinity (item 0" in r.stderr
          and not os.path.exists(os.path.join(work, "nan_out")), f"a NaN input is refused, named: {r.stderr[-200:]}")
    nan_head = dict(tensors)
    head = [k for k in nan_head if k.startswith("classification_head") or k.startswith("fc")][0]
    nan_head[head] = nan_head[head].clone()
    nan_head[head].view(-1)[0] = float("nan")
    meta = {"fcam.arch": "resnet18", "fcam.num_classes": "10", "fcam.base_width": "64", "fcam.mean": "[0.485,0.456,0.406]",
            "fcam.std": "[0.229,0.224,0.225]", "fcam.training": "{}"}
    write_safetensors(os.path.join(work, "nan_head.safetensors"), nan_head, meta)
    r = subprocess.run([infer, "--weights", os.path.join(work, "nan_head.safetensors"), "--out", os.path.join(work, "nan_out"),
                        os.path.join(work, "batch.npy")], capture_output=True, text=True)
    check(r.returncode != 0 and f"nan_head.safetensors: tensor '{head}' holds a NaN or infinity" in r.stderr
          and not os.path.exists(os.path.join(work, "nan_out")), f"a NaN weight is refused, named: {r.stderr[-200:]}")
    write_safetensors(os.path.join(work, "zero_std.safetensors"), tensors, {**meta, "fcam.std": "[0.229,0,0.225]"})
    r = subprocess.run([infer, "--weights", os.path.join(work, "zero_std.safetensors"), "--out", os.path.join(work, "nan_out"),
                        os.path.join(work, "batch.npy")], capture_output=True, text=True)
    check(r.returncode != 0 and "zero_std.safetensors: 'fcam.std' must hold positive numbers, got 0" in r.stderr,
          f"a zero std in a checkpoint is refused, named: {r.stderr[-200:]}")
    huge = ref["input"].copy() * np.float32(3e37)
    np.save(os.path.join(work, "huge_batch.npy"), huge)
    r = subprocess.run(base + ["--out", os.path.join(work, "nan_out"), os.path.join(work, "huge_batch.npy")],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "huge_batch.npy (huge_batch_0): a NaN or infinity in the logits" in r.stderr
          and not os.path.exists(os.path.join(work, "nan_out", "huge_batch_0")),
          f"logits that overflow float are refused before any output of the input: {r.stderr[-200:]}")

    for flags, message in [(["--methods", "scorecam"], "unknown CAM method 'scorecam'"),
                           (["--max_image_pixels", "0"], "max_image_pixels must be at least 1"),
                           (["--box_threshold", "-1"], "--box_threshold must be in [0, 1], got '-1'"),
                           (["--box_threshold", "nan"], "--box_threshold expects a finite number, got 'nan'"),
                           (["--weights", os.path.join(work, "none.safetensors")], "none.safetensors"),
                           (["--class", "10"], "outside [0, 10)"),
                           (["--device", "gpu"], "--device must be auto, cpu or cuda, got 'gpu'"),
                           (["--precision", "fp16"], "--precision must be fp32, tf32 or bf16, got 'fp16'")]:
        r = subprocess.run(base + flags + ["--out", os.path.join(work, "bad"), os.path.join(work, "batch.npy")],
                           capture_output=True, text=True)
        check(r.returncode != 0 and message in r.stderr, f"error {flags}: '{message}' in stderr")
    r = subprocess.run([infer, "--arch", "resnet18", "--num_classes", "10", os.path.join(work, "batch.npy")],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "--weights is required" in r.stderr, "missing --weights is an error")
    if device == "cpu":  # this machine is then taken to have no GPU: --device cuda must say why it cannot
        r = subprocess.run(base + ["--device", "cuda", "--out", os.path.join(work, "bad"),
                                   os.path.join(work, "batch.npy")], capture_output=True, text=True)
        check(r.returncode != 0 and ("built without CUDA" in r.stderr or "no CUDA device is visible" in r.stderr),
              f"--device cuda without a GPU is an error saying why: {r.stderr[-200:]}")
        r = subprocess.run(base + ["--precision", "bf16", "--out", os.path.join(work, "bad"),
                                   os.path.join(work, "batch.npy")], capture_output=True, text=True)
        check(r.returncode != 0 and "--precision bf16 needs --device cuda" in r.stderr
              and not os.path.exists(os.path.join(work, "bad", "batch_0")),
              f"--precision bf16 on the CPU is an error saying why, before any output: {r.stderr[-200:]}")


if __name__ == "__main__":
    main()
    finish()

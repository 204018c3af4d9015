#!/usr/bin/python3
"""Bad input across the programs (docs/guarantees.md): for fcam-train, fcam-infer and fcam-eval,
each class of hostile input gets several cases. Every case checks three things:
- the exit code;
- that the message names the file, flag or value;
- that nothing at the output path was destroyed or left half-written.

FIFOs, links and read-only folders are made inside the work folder. The suite never points at a
real device node, because CI runs as root.

Usage: /usr/bin/python3 tests/bad_input_test.py FCAM_TRAIN FCAM_INFER FCAM_EVAL WORK_DIR
"""
import os
import shutil
import stat
import subprocess
import sys
import threading

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402
from train_cli_test import make_dataset  # noqa: E402


def run(args):
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def refused(r, *needles):
    """Exit code 1 with an 'error:' line holding every needle (no crash: a signal is negative)."""
    return r.returncode == 1 and "error: " in r.stderr and all(n in r.stderr for n in needles)


def npy_header(shape_text):
    """A version-1.0 .npy file of float32 with the given shape text and no data."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text + ", }"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()


def output_path_cases(work, name, command, flag):
    """The output flag `flag` of `command` (a list, run once per case) against what a path can
    name: a directory (refused, kept), a link to a file (followed, the link kept), a FIFO
    (written through, kept), a file in a read-only folder (refused, the old file intact and no
    temporary left)."""
    base = os.path.join(work, "out_" + name)
    os.makedirs(base)
    target_dir = os.path.join(base, "a_directory")
    os.makedirs(os.path.join(target_dir, "inside"))
    r = run(command + [flag, target_dir])
    check(refused(r, target_dir) and os.path.isdir(os.path.join(target_dir, "inside")),
          f"{name} {flag} at a directory: refused, kept: {r.stderr.strip()[-160:]}")

    real, link = os.path.join(base, "real.json"), os.path.join(base, "link.json")
    with open(real, "w") as f:
        f.write("old")
    os.symlink(real, link)
    r = run(command + [flag, link])
    check(r.returncode == 0 and os.path.islink(link) and open(real).read().startswith("{"),
          f"{name} {flag} through a link: the file behind it written, the link kept: {r.stderr.strip()[-160:]}")

    fifo = os.path.join(base, "pipe.json")
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    r = run(command + [flag, fifo])
    try:  # the program failed before opening the FIFO: release the reader (never blocks)
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass
    reader.join()
    check(r.returncode == 0 and got and got[0].startswith("{") and stat.S_ISFIFO(os.stat(fifo).st_mode),
          f"{name} {flag} into a FIFO: written through, the FIFO kept: {r.stderr.strip()[-160:]}")

    locked = os.path.join(base, "locked")
    os.makedirs(locked)
    kept = os.path.join(locked, "result.json")
    with open(kept, "w") as f:
        f.write("keep me")
    os.chmod(locked, 0o555)
    try:
        if os.access(locked, os.W_OK):  # root writes anyway: a regular file in the way of the temporary
            os.chmod(locked, 0o755)
            os.makedirs(kept + ".tmp")
        r = run(command + [flag, kept])
        check(refused(r, kept) and open(kept).read() == "keep me" and not os.path.isfile(kept + ".tmp"),
              f"{name} {flag} that cannot be written: refused, the old file intact: {r.stderr.strip()[-160:]}")
    finally:
        os.chmod(locked, 0o755)


def main():
    train, infer, evaluate, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    make_dataset(work, {"train": 16, "val": 8, "test": 8})
    data = ["--data_root", os.path.join(work, "images"), "--metadata_root", os.path.join(work, "metadata"),
            "--dataset_name", "TOY", "--resize_size", "40", "--crop_size", "32", "--batch_size", "8", "--quiet"]
    model = ["--arch", "resnet18", "--base_width", "8", "--num_classes", "3"]
    # A checkpoint to infer with: stage 1 evaluated at epoch 0 only (no training needed).
    run_dir = os.path.join(work, "run")
    r = run([train, "classifier", *data, *model, "--epochs", "0", "--test_split", "", "--out", run_dir])
    check(r.returncode == 0, f"set-up: a checkpoint: {r.stderr.strip()[-200:]}")
    weights = os.path.join(run_dir, "best.safetensors")
    image = os.path.join(work, "images", "test", "img000.png")
    # Score maps of the toy test split for fcam-eval (ids test/imgNNN.png; the split has boxes like CUB).
    os.symlink("TOY", os.path.join(work, "metadata", "CUB"))
    rng = np.random.default_rng(0)
    for k in range(8):
        path = os.path.join(work, "maps", "test", f"img{k:03d}.png.npy")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, rng.random((32, 32)).astype(np.float32))
    eval_base = [evaluate, "--scoremap_root", os.path.join(work, "maps"), "--metadata_root",
                 os.path.join(work, "metadata"), "--dataset_name", "CUB", "--split", "test", "--resize_size", "32",
                 "--quiet"]

    # 1. Output paths, for each program's JSON output.
    output_path_cases(work, "fcam-eval", eval_base, "--json")
    output_path_cases(work, "fcam-infer", [infer, "--weights", weights, "--methods", "cam", "--size", "32",
                                           "--out", os.path.join(work, "infer_out"), image], "--json")
    output_path_cases(work, "fcam-train", [train, "classifier", *data, "--classifier", weights, "--epochs", "0",
                                           "--out", os.path.join(work, "train_json")], "--json")

    # 2. Numeric options: refused at parse time, naming the flag and value, before any output.
    for program, args, message in [
            ([evaluate], ["--cam_curve_interval", "1e-300"], "--cam_curve_interval must be in [1e-06"),
            ([evaluate], ["--iou_threshold_list", "50", "101"], "--iou_threshold_list must be in [0, 100], got '101'"),
            ([evaluate], ["--threads", "99999999999"], "--threads"),
            ([infer, "--weights", weights], ["--box_threshold", "inf"], "--box_threshold expects a finite number"),
            ([infer, "--weights", weights], ["--size", "-5"], "--size must be in [1, 8192], got '-5'"),
            ([infer, "--weights", weights], ["--sgcampp_passes", "1e3"], "--sgcampp_passes"),
            ([train, "classifier", *data], ["--lr", "-0.1"], "--lr must be >= 0, got '-0.1'"),
            ([train, "classifier", *data], ["--n_minus", "1.5"], "--n_minus must be in [0, 1]"),
            ([train, "fcam", *data, "--classifier", weights], ["--erosion", "10"], "--erosion must be odd")]:
        out = os.path.join(work, "numeric_out")
        extra = ["--out", out] if program[0] != evaluate else ["--json", out]
        base_args = eval_base[1:] if program[0] == evaluate else []
        r = run(program + base_args + args + extra + ([image] if program[0] == infer else []))
        check(refused(r, message) and not os.path.exists(out),
              f"{os.path.basename(program[0])} {args}: refused before any work: {r.stderr.strip()[-160:]}")

    # 3. Sizes from file headers that overflow, and 4. images above the pixel limit.
    wrap = os.path.join(work, "wrap.npy")
    with open(wrap, "wb") as f:
        f.write(npy_header("(4294967296, 4294967296, 1, 1)"))
    r = run([infer, "--weights", weights, "--out", os.path.join(work, "wrap_out"), wrap])
    check(refused(r, "wrap.npy: .npy shape", "too many elements") and not os.path.exists(os.path.join(work, "wrap_out")),
          f"fcam-infer: an .npy shape whose size wraps: {r.stderr.strip()[-160:]}")
    bad_map = os.path.join(work, "maps", "test", "img003.png.npy")
    good_map = open(bad_map, "rb").read()
    with open(bad_map, "wb") as f:
        f.write(npy_header("(0, 4294967296, 4294967296)"))
    r = run(eval_base + ["--json", os.path.join(work, "wrap.json")])
    check(refused(r, "img003.png.npy", "too many elements") and not os.path.exists(os.path.join(work, "wrap.json")),
          f"fcam-eval: a score map whose empty shape's strides overflow: {r.stderr.strip()[-160:]}")
    with open(bad_map, "wb") as f:
        f.write(good_map)
    r = run([train, "classifier", *data, *model, "--epochs", "1", "--test_split", "", "--max_image_pixels", "1000",
             "--out", os.path.join(work, "limit_run")])
    check(refused(r, "a 64x64 image (4096 pixels) is above the limit of 1000"),
          f"fcam-train: a training image above --max_image_pixels: {r.stderr.strip()[-160:]}")

    # 7. Errors that name the file, field or value.
    r = run([infer, "--weights", work, "--out", os.path.join(work, "dir_out"), image])
    check(refused(r, work + " is a directory, not a file"), f"fcam-infer: a directory as --weights: {r.stderr.strip()[-160:]}")
    r = run([infer, "--weights", weights, "--out", os.path.join(work, "dir_out"), os.path.join(work, "images")])
    check(refused(r, "is a directory, not a file") and not os.path.exists(os.path.join(work, "dir_out")),
          f"fcam-infer: a directory as an input image: {r.stderr.strip()[-160:]}")
    labels = os.path.join(work, "metadata", "TOY", "test", "class_labels.txt")
    original = open(labels).read()
    for content, message in [("test/img000.png,1x\n", "class_labels.txt:1: label"),
                             ("test/img000.png,99999999999\n", "class_labels.txt:1: label"),
                             ("test/img000.png\n", "class_labels.txt:1: expected 'id,label', got 1 fields")]:
        with open(labels, "w") as f:
            f.write(content + "".join(original.splitlines(keepends=True)[1:]))
        r = run(eval_base)
        check(refused(r, message), f"fcam-eval: metadata {content.strip()!r} is named: {r.stderr.strip()[-160:]}")
    with open(labels, "w") as f:
        f.write(original)
    cut = os.path.join(work, "cut.safetensors")
    with open(cut, "wb") as f:
        f.write(open(weights, "rb").read()[:-100])
    r = run([infer, "--weights", cut, "--out", os.path.join(work, "cut_out"), image])
    check(refused(r, "cut.safetensors") and not os.path.exists(os.path.join(work, "cut_out")),
          f"fcam-infer: a truncated checkpoint is named: {r.stderr.strip()[-160:]}")


if __name__ == "__main__":
    main()
    finish()

#!/usr/bin/python3
"""Smoke test of fcam-train on a tiny generated dataset (3 classes of coloured shapes on
textured backgrounds, boxes in wsolevaluation layout): the classifier runs 2 epochs and stage 2
runs 4, the training losses decrease, checkpoints are written and reload (the stage-2 model keeps
the frozen classifier's logits bit for bit, through fcam-infer), an interrupted run resumes, and
bad input is reported.

The stage-2 checkpoints' maps written by fcam-infer for the test split and scored by fcam-eval give
exactly the MaxBoxAcc (v1 at IoU 30/50/70, and V2) that fcam-train reports for them.

Usage: /usr/bin/python3 tests/train_cli_test.py FCAM_TRAIN FCAM_INFER FCAM_EVAL WORK_DIR [DEVICE]

DEVICE (cpu or cuda; default cpu) is passed as --device to every training run. With cpu, the
machine is taken to have no GPU: --device cuda must then stop with an error that says why.
"""
import csv
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np

from checks import check, finish


def make_dataset(root, counts, size=64, seed=0):
    rng = np.random.default_rng(seed)
    for split, n in counts.items():
        meta = os.path.join(root, "metadata", "TOY", split)
        os.makedirs(meta, exist_ok=True)
        rows = {"ids": [], "labels": [], "sizes": [], "boxes": []}
        for i in range(n):
            label = i % 3
            img = (rng.random((size, size, 3)) * 60 + 60).astype(np.uint8)
            s = int(rng.integers(18, 30))
            x0, y0 = int(rng.integers(0, size - s)), int(rng.integers(0, size - s))
            colour = [(230, 40, 40), (40, 200, 40), (40, 60, 230)][label]
            if label == 0:
                cv2.rectangle(img, (x0, y0), (x0 + s - 1, y0 + s - 1), colour, -1)
            elif label == 1:
                cv2.circle(img, (x0 + s // 2, y0 + s // 2), s // 2, colour, -1)
            else:
                pts = np.array([[x0 + s // 2, y0], [x0, y0 + s - 1], [x0 + s - 1, y0 + s - 1]], np.int32)
                cv2.fillPoly(img, [pts], colour)
            image_id = f"{split}/img{i:03d}.png"
            os.makedirs(os.path.join(root, "images", split), exist_ok=True)
            cv2.imwrite(os.path.join(root, "images", image_id), img[:, :, ::-1])
            rows["ids"].append(image_id)
            rows["labels"].append(f"{image_id},{label}")
            rows["sizes"].append(f"{image_id},{size},{size}")
            rows["boxes"].append(f"{image_id},{x0},{y0},{x0 + s - 1},{y0 + s - 1}")
        for name, key in [("image_ids.txt", "ids"), ("class_labels.txt", "labels"), ("image_sizes.txt", "sizes"),
                          ("localization.txt", "boxes")]:
            with open(os.path.join(meta, name), "w") as f:
                f.write("\n".join(rows[key]) + "\n")


def safetensors_metadata(path):
    """The "__metadata__" of a safetensors file (Python's json keeps big integers exact)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n)).get("__metadata__", {})


def read_log(run):
    with open(os.path.join(run, "log.csv")) as f:
        return list(csv.DictReader(f))


RUN_FILES = ("state.safetensors", "best.safetensors", "last.safetensors", "log.csv")


def tensor_bytes(path):
    """The data section of a safetensors file (what follows its JSON header)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        f.seek(8 + n)
        return f.read()


def without_log_rows(state_bytes):
    """A training state as fcam wrote it before the state kept log.csv's rows."""
    n = int.from_bytes(state_bytes[:8], "little")
    header = json.loads(state_bytes[8:8 + n])
    counters = json.loads(header["__metadata__"]["fcam.train_state"])
    del counters["log_rows"]
    header["__metadata__"]["fcam.train_state"] = json.dumps(counters)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + state_bytes[8 + n:]


def same_run(a, b):
    """Two run folders hold the same finished epochs: equal weights, momentum and log rows (the
    seconds column aside)."""
    for f in RUN_FILES[:3]:
        if tensor_bytes(os.path.join(a, f)) != tensor_bytes(os.path.join(b, f)):
            return f"{f} differs"
    rows = [[row[:-1] for row in csv.reader(open(os.path.join(d, "log.csv")))] for d in (a, b)]
    return "" if rows[0] == rows[1] else f"log.csv differs: {rows[0]} vs {rows[1]}"


def check_resume(train, common, work):
    """Resume is exactly once per epoch: a run interrupted after epoch 1 (at any point of the epoch-2
    writes) and resumed equals the uninterrupted run bit for bit (two threads, as every run here:
    each thread sums a fixed share of the weight gradients). Returns the resumed run's folder."""
    args = [train, "classifier", *common, "--arch", "resnet18", "--base_width", "8", "--num_classes", "3",
            "--lr", "0.05", "--test_split", ""]
    whole, part = os.path.join(work, "resume_whole"), os.path.join(work, "resume_part")
    subprocess.run(args + ["--epochs", "2", "--out", whole], capture_output=True, check=True)
    subprocess.run(args + ["--epochs", "1", "--out", part], capture_output=True, check=True)
    after = {1: {f: open(os.path.join(part, f), "rb").read() for f in RUN_FILES}}

    def resume(files, expected_epoch, what):
        for name, data in files.items():
            with open(os.path.join(part, name), "wb") as f:
                f.write(data)
        r = subprocess.run(args + ["--epochs", "2", "--out", part, "--resume"], capture_output=True, text=True)
        check(r.returncode == 0 and f"resuming classifier from epoch {expected_epoch}" in r.stdout,
              f"{what}: resumes from epoch {expected_epoch}: {r.stderr.strip()[-200:]}")
        if r.returncode == 0:
            differs = same_run(whole, part)
            check(not differs, f"{what}: equals the uninterrupted run ({differs or 'bit for bit'})")

    resume({}, 1, "stopped after epoch 1")
    after[2] = {f: open(os.path.join(part, f), "rb").read() for f in RUN_FILES}
    # Killed after epoch 2's state (the commit) and before its best, last and log were written.
    resume({**after[1], "state.safetensors": after[2]["state.safetensors"]}, 2, "killed after the commit")
    # Killed before epoch 2's commit, after the epoch's other files were written (as fcam did
    # before the state became the commit point): the log gained an epoch-2 row twice.
    resume({**after[2], "state.safetensors": after[1]["state.safetensors"]}, 1, "killed before the commit")
    log_twice = after[2]["log.csv"] + after[2]["log.csv"].splitlines(keepends=True)[-1]
    resume({**after[2], "log.csv": log_twice, "state.safetensors": without_log_rows(after[1]["state.safetensors"])},
           1, "a state of an older fcam and a duplicated log row")
    # --resume where there is nothing to resume is an error, and creates nothing.
    none = os.path.join(work, "resume_none")
    r = subprocess.run(args + ["--epochs", "1", "--out", none, "--resume"], capture_output=True, text=True)
    check(r.returncode != 0 and "has no training state (state.safetensors)" in r.stderr and not os.path.exists(none),
          f"--resume without a state is refused: {r.stderr.strip()[-200:]}")
    return part


def check_infer_eval_agree(infer, evaluate, work, run, summary):
    """fcam-infer's F-CAM maps of the test split, scored by fcam-eval, give the test metrics that
    fcam-train reported for the same checkpoints (one score-map convention: min-max normalised)."""
    images = sorted(os.listdir(os.path.join(work, "images", "test")))
    # fcam-eval knows CUB, ILSVRC and OpenImages; the toy split has boxes like CUB.
    cub = os.path.join(work, "metadata", "CUB")
    if not os.path.exists(cub):
        os.symlink("TOY", cub)
    for which in ("best", "last"):
        out = os.path.join(work, "infer_test_" + which)
        r = subprocess.run([infer, "--weights", os.path.join(run, which + ".safetensors"), "--methods", "fcam",
                            "--size", "48", "--out", out, *(os.path.join(work, "images", "test", i) for i in images)],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"fcam-infer on the test split ({which}): {r.stderr.strip()[-200:]}")
        if r.returncode != 0:
            continue
        maps = os.path.join(work, "scoremaps_" + which)
        os.makedirs(os.path.join(maps, "test"), exist_ok=True)
        for i in images:  # <scoremap_root>/<image id>.npy, image ids "test/imgNNN.png"
            shutil.copy(os.path.join(out, os.path.splitext(i)[0], "fcam.npy"), os.path.join(maps, "test", i + ".npy"))
        m = np.load(os.path.join(out, os.path.splitext(images[0])[0], "fcam.npy"))
        check(m.min() == 0 and m.max() == 1, f"fcam.npy is min-max normalised ({m.min()}, {m.max()})")
        got = {}
        for variant, flags in (("v1", []), ("v2", ["--multi_contour_eval", "--multi_iou_eval"])):
            result = os.path.join(work, f"eval_{which}_{variant}.json")
            r = subprocess.run([evaluate, "--scoremap_root", maps, "--metadata_root", os.path.join(work, "metadata"),
                                "--dataset_name", "CUB", "--split", "test", "--resize_size", "48",
                                "--cam_curve_interval", "0.001", "--quiet", "--json", result, *flags],
                               capture_output=True, text=True)
            check(r.returncode == 0, f"fcam-eval on fcam-infer's maps ({which}, {variant}): {r.stderr.strip()[-200:]}")
            got[variant] = json.load(open(result)) if r.returncode == 0 else {}
            # The independent reference (wsolevaluation's formulas in numpy + OpenCV) on the same maps.
            ref = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "wsol_reference.py"),
                                  "--scoremap_root", maps, "--metadata_root", os.path.join(work, "metadata"),
                                  "--dataset_name", "CUB", "--split", "test", "--resize_size", "48",
                                  "--cam_curve_interval", "0.001", *flags], capture_output=True, text=True)
            check(ref.returncode == 0, f"wsol_reference.py on fcam-infer's maps ({which}, {variant}): {ref.stderr[-200:]}")
            got["reference_" + variant] = json.loads(ref.stdout) if ref.returncode == 0 else {}
        reported = summary["test_" + which]
        v1 = [got["v1"].get("max_box_acc", {}).get(k) for k in ("30", "50", "70")]
        check(v1 == reported["max_box_acc_30_50_70"],
              f"{which}: fcam-infer + fcam-eval MaxBoxAcc {v1} == fcam-train's {reported['max_box_acc_30_50_70']}")
        ref_v1 = [got["reference_v1"].get("max_box_acc", {}).get(k) for k in ("30", "50", "70")]
        check(all(r is not None and abs(r - t) < 1e-9 for r, t in zip(ref_v1, reported["max_box_acc_30_50_70"])),
              f"{which}: the reference evaluation's MaxBoxAcc {ref_v1} == fcam-train's {reported['max_box_acc_30_50_70']}")
        ref_v2 = got["reference_v2"].get("max_box_acc_v2")
        check(ref_v2 is not None and abs(ref_v2 - reported["max_box_acc_v2"]) < 1e-9,
              f"{which}: the reference evaluation's MaxBoxAccV2 {ref_v2} == fcam-train's {reported['max_box_acc_v2']}")
        check(got["v2"].get("max_box_acc_v2") == reported["max_box_acc_v2"],
              f"{which}: fcam-infer + fcam-eval MaxBoxAccV2 {got['v2'].get('max_box_acc_v2')} == fcam-train's "
              f"{reported['max_box_acc_v2']}")


def main():
    train, infer, evaluate, work = sys.argv[1:5]
    device = sys.argv[5] if len(sys.argv) > 5 else "cpu"
    # One thread count for every run, whatever the machine: runs with the same seed then agree
    # bit for bit (the rounding of the weight gradients' per-thread sums depends on the count).
    os.environ["FCAM_NUM_THREADS"] = "2"
    shutil.rmtree(work, ignore_errors=True)
    make_dataset(work, {"train": 96, "val": 24, "test": 24})
    common = ["--data_root", os.path.join(work, "images"), "--metadata_root", os.path.join(work, "metadata"),
              "--dataset_name", "TOY", "--resize_size", "56", "--crop_size", "48", "--batch_size", "8",
              "--workers", "2", "--quiet", "--device", device]
    # TOY is not a known dataset name for fcam-eval, but a split with boxes is evaluated with boxes.
    cls = os.path.join(work, "cls")
    r = subprocess.run([train, "classifier", *common, "--arch", "resnet18", "--base_width", "8", "--num_classes", "3",
                        "--epochs", "2", "--lr", "0.05", "--out", cls, "--json", os.path.join(work, "cls.json")],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"classifier stage runs: exit {r.returncode} {r.stderr.strip()[-300:]}")
    if r.returncode != 0:
        return
    log = read_log(cls)
    check(len(log) == 3, "log.csv: epoch 0 and 2 epochs")
    check(float(log[2]["loss"]) < float(log[1]["loss"]), f"classifier loss decreases {log[1]['loss']} -> {log[2]['loss']}")
    summary = json.load(open(os.path.join(work, "cls.json")))
    check("test_best" in summary and 0 <= summary["test_best"]["localization"] <= 100, "JSON: test metrics of best")
    for f in ("best.safetensors", "last.safetensors", "state.safetensors"):
        check(os.path.exists(os.path.join(cls, f)), f"classifier wrote {f}")

    # A classifier checkpoint evaluated again (--classifier, 0 epochs): its validation score. The
    # CAM's evaluation does not depend on the seed; the largest 64-bit seed, 2^64 - 1, must be kept
    # exactly in the checkpoint's settings, and a negative seed is refused (not wrapped).
    r = subprocess.run([train, "classifier", *common, "--classifier", os.path.join(cls, "best.safetensors"),
                        "--epochs", "0", "--seed", "-1", "--out", os.path.join(work, "cls_neg")],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "--seed expects a seed" in r.stderr and "'-1'" in r.stderr,
          f"a negative seed is refused: {r.stderr.strip()[-200:]}")
    r = subprocess.run([train, "classifier", *common, "--classifier", os.path.join(cls, "best.safetensors"),
                        "--epochs", "0", "--test_split", "", "--seed", str(2**64 - 1), "--out", os.path.join(work, "cls_eval"),
                        "--json", os.path.join(work, "cls_eval.json")], capture_output=True, text=True)
    again = json.load(open(os.path.join(work, "cls_eval.json"))) if r.returncode == 0 else {}
    check(again.get("best_val") == summary["best_val"], "re-evaluating the best classifier gives its validation score")
    if r.returncode == 0:
        training = json.loads(safetensors_metadata(os.path.join(work, "cls_eval", "best.safetensors"))["fcam.training"])
        check(training.get("seed") == 2**64 - 1, f"a 64-bit seed is kept exactly in the checkpoint: {training.get('seed')}")

    part = check_resume(train, common, work)
    state = json.loads(safetensors_metadata(os.path.join(part, "state.safetensors"))["fcam.train_state"])
    check(state.get("seed") == 0, f"the resumable state records the seed: {state.get('seed')}")
    r = subprocess.run([train, "classifier", *common, "--arch", "resnet18", "--base_width", "8", "--num_classes", "3",
                        "--epochs", "3", "--lr", "0.05", "--seed", str(2**64 - 1), "--out", part, "--resume"],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "started with seed 0" in r.stderr and "not 18446744073709551615" in r.stderr,
          f"resuming with another seed is refused: {r.stderr.strip()[-200:]}")
    plog = read_log(part)
    # Same seed, data, order and thread count: the same first epoch, to the last digit.
    check(plog[1]["loss"] == log[1]["loss"],
          f"same seed: the first epoch's loss is reproduced ({plog[1]['loss']} vs {log[1]['loss']})")

    # Stage 2 from the classifier. An epoch's PCE is measured on that epoch's random pixels (one of
    # each side per image, dilated), so it varies by about 0.01 between epochs of an untrained
    # decoder (a standard deviation of 0.009 at lr 0); the GPU draws other pixels than the CPU.
    # Measured with seeds 0-11 (the GPU's on the CUDA emulation): at lr 0.1, epoch 2 was above
    # epoch 1 in 3 of 12 CPU runs and 2 of 6 GPU runs, and 3 CPU runs collapsed to log 2; at lr
    # 0.03, epoch 4 was below epoch 1 in all 24 runs, by 0.034 at least.
    fc = os.path.join(work, "fcam")
    r = subprocess.run([train, "fcam", *common, "--classifier", os.path.join(cls, "best.safetensors"), "--epochs", "4",
                        "--lr", "0.03", "--erosion", "5", "--out", fc, "--json", os.path.join(work, "fcam.json")],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"fcam stage runs: exit {r.returncode} {r.stderr.strip()[-300:]}")
    if r.returncode == 0:
        flog = read_log(fc)
        # The total is not comparable across epochs (the log-barrier's t grows); the PCE is.
        check(float(flog[4]["pce"]) < float(flog[1]["pce"]), f"fcam PCE decreases {flog[1]['pce']} -> {flog[4]['pce']}")
        check(all(float(flog[k]["crf"]) < 0 and float(flog[k]["size"]) != 0 for k in (1, 4)), "CRF and size terms logged")
        # The frozen classifier: identical logits through fcam-infer; the F-CAM map is written.
        img = os.path.join(work, "images", "test", "img000.png")
        outs = []
        for name, ck in (("a", os.path.join(cls, "best.safetensors")), ("b", os.path.join(fc, "last.safetensors"))):
            rr = subprocess.run([infer, "--weights", ck, "--methods", "cam,fcam", "--size", "48",
                                 "--out", os.path.join(work, "infer_" + name), img], capture_output=True, text=True)
            check(rr.returncode == 0, f"fcam-infer reads the {name} checkpoint: {rr.stderr.strip()[-200:]}")
            outs.append(os.path.join(work, "infer_" + name, "img000"))
        if all(os.path.exists(o) for o in outs):
            la, lb = (np.load(os.path.join(o, "logits.npy")) for o in outs)
            check(np.array_equal(la, lb), "stage 2 keeps the classifier's logits bit for bit")
            check(os.path.exists(os.path.join(outs[1], "fcam.npy")), "F-CAM map written")
        check_infer_eval_agree(infer, evaluate, work, fc, json.load(open(os.path.join(work, "fcam.json"))))

    # Errors: unknown command, missing classifier, missing image (named) and --skip_bad.
    r = subprocess.run([train, "detector", *common], capture_output=True, text=True)
    check(r.returncode != 0 and "unknown command 'detector'" in r.stderr, "unknown command is an error")
    r = subprocess.run([train, "fcam", *common, "--out", os.path.join(work, "x")], capture_output=True, text=True)
    check(r.returncode != 0 and "--classifier" in r.stderr, "fcam without --classifier is an error")
    # Option ranges are checked before any work (--test_interval used to be checked after training).
    for flags, message in [(["--test_interval", "0"], "--test_interval must be in [1e-06, 0.5], got '0'"),
                           (["--momentum", "1.5"], "--momentum must be in [0, 1]"),
                           (["--lr", "nan"], "--lr expects a finite number"),
                           (["--batch_size", "0"], "--batch_size must be in [1, 65536]"),
                           (["--log_every", "0"], "--log_every must be in [1, 1e+06], got '0'"),
                           (["--erosion", "4"], "--erosion must be odd, got 4"),
                           (["--dilation", "2"], "--dilation must be odd, got 2")]:
        out_dir = os.path.join(work, "range")
        r = subprocess.run([train, "classifier", *common, *flags, "--out", out_dir], capture_output=True, text=True)
        check(r.returncode != 0 and "fcam-train: error: " + message in r.stderr and not os.path.exists(out_dir),
              f"{flags}: refused before any work: {r.stderr.strip()[-160:]}")
    if device == "cpu":  # the machine is taken to have no GPU: --device cuda must say why it cannot train there
        base = [train, "classifier", *common[:-2]]  # without common's --device
        for value, reasons in [("gpu", ["--device must be auto, cpu or cuda, got 'gpu'"]),
                               ("cuda", ["built without CUDA", "no CUDA device is visible"])]:
            out_dir = os.path.join(work, "device")
            r = subprocess.run(base + ["--device", value, "--out", out_dir], capture_output=True, text=True)
            check(r.returncode != 0 and any(reason in r.stderr for reason in reasons) and not os.path.exists(out_dir),
                  f"--device {value}: refused before any work: {r.stderr.strip()[-200:]}")
        for value, reason in [("fp16", "--precision must be fp32, tf32 or bf16, got 'fp16'"),
                              ("tf32", "--precision tf32 needs --device cuda")]:
            out_dir = os.path.join(work, "precision")
            r = subprocess.run(base + ["--device", "cpu", "--precision", value, "--out", out_dir],
                               capture_output=True, text=True)
            check(r.returncode != 0 and reason in r.stderr and not os.path.exists(out_dir),
                  f"--precision {value} on the CPU: refused before any work: {r.stderr.strip()[-200:]}")
    os.remove(os.path.join(work, "images", "train", "img005.png"))
    args = [train, "classifier", *common, "--arch", "resnet18", "--base_width", "8", "--num_classes", "3",
            "--epochs", "1", "--test_split", ""]
    r = subprocess.run(args + ["--out", os.path.join(work, "bad")], capture_output=True, text=True)
    check(r.returncode != 0 and "img005.png" in r.stderr, "a missing image stops the run, named")
    r = subprocess.run(args + ["--out", os.path.join(work, "skip"), "--skip_bad"], capture_output=True, text=True)
    check(r.returncode == 0 and "skipped 1 unreadable" in r.stdout, "--skip_bad skips and counts it")


if __name__ == "__main__":
    main()
    finish()

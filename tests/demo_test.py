#!/usr/bin/python3
"""fcam-demo --tiny end to end (a few hundred images, one epoch per stage), on cluttered
Fashion-MNIST and on the real photos of data/oxford-pets-3:

- it builds the dataset, trains both stages and writes report.md, results.json and the four
  pictures (valid PNGs of the expected sizes);
- the merged evaluation (boxes and masks of one split) gives exactly what fcam-train's separate
  evaluations of the same checkpoint give, for the CAM row (CUB layout: MaxBoxAcc, V2, top-1 loc;
  OpenImages: PxAP) and the CAM + F-CAM row (MaxBoxAcc, V2, PxAP); train_cli_test ties
  fcam-train's numbers to wsol_reference.py;
- a damaged results.json given to --collect is named with the missing field;
- the downscale simulation equals torch's avg_pool2d + interpolate(bilinear) with the
  wsolevaluation PxAP formulas (numpy);
- a second run with the same --out resumes (no training) and reproduces the results;
- --collect over two copies gives zero spread; bad flags, --device cuda without a GPU and a
  mismatched dataset are errors.

Usage: /usr/bin/python3 tests/demo_test.py FCAM_DEMO FCAM_TRAIN WORK_DIR REPO_DIR FCAM_INFER
"""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from pxap_reference import reference_pxap

from checks import check, finish


def run(args):
    """Runs a program of fcam (each takes --device) on the CPU unless args choose a device: this
    test compares CPU runs, also on a machine with a GPU."""
    if "--device" not in args:
        args = args + ["--device", "cpu"]
    return subprocess.run(args, capture_output=True, text=True)


def gpu_visible():
    """Whether nvidia-smi lists a GPU (then a CUDA build may train there)."""
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.strip() != ""
    except OSError:
        return False


def rows_by_name(results):
    return {r["name"]: r for r in results["rows"]}


def fcam_train_eval(fcam_train, data, checkpoint, dataset_name, out, stage="classifier"):
    """fcam-train's test metrics of `checkpoint` (0 epochs: only evaluated). Stage "fcam" scores
    its F-CAM maps, "classifier" its CAMs."""
    json_path = out + ".json"
    r = run([fcam_train, stage, "--classifier", checkpoint, "--epochs", "0", "--data_root",
             os.path.join(data, "images"), "--metadata_root", os.path.join(data, "metadata"), "--mask_root",
             os.path.join(data, "masks"), "--dataset_name", dataset_name, "--resize_size", "144", "--crop_size",
             "128", "--out", out, "--json", json_path, "--quiet"])
    check(r.returncode == 0, f"fcam-train evaluates the classifier on {dataset_name}: {r.stderr.strip()[-300:]}")
    with open(json_path) as f:
        return json.load(f)["test_best"]


def downscale_reference(data, z):
    with open(os.path.join(data, "metadata/OpenImages/test/localization.txt")) as f:
        paths = [line.split(",")[1] for line in f.read().split()]
    masks = np.stack([cv2.imread(os.path.join(data, "masks/OpenImages", p), cv2.IMREAD_GRAYSCALE) > 0
                      for p in paths]).astype(np.float32)
    t = torch.from_numpy(masks)[:, None]
    low = F.avg_pool2d(t, z)
    scores = F.interpolate(low, size=masks.shape[1:], mode="bilinear", align_corners=False)[:, 0].numpy()
    return reference_pxap(scores, masks, np.zeros_like(masks), 0.001)


def main():
    demo, fcam_train, work, repo, infer = sys.argv[1:6]
    shutil.rmtree(work, ignore_errors=True)
    data, out = os.path.join(work, "data"), os.path.join(work, "run")
    r = run([demo, "--dataset", "cfmnist", "--tiny", "--data", data, "--out", out])
    check(r.returncode == 0, f"fcam-demo --tiny runs: {r.stderr.strip()[-500:]}")
    if r.returncode != 0:
        return
    check("== [4/4]" in r.stdout and "about" in r.stdout, "phase headers with an estimate of the time left")
    for name, (w, h) in {"overlays.png": (780, 830), "fig5_boxacc.png": (520, 360),
                         "fig5_precision_recall.png": (520, 360), "fig6_activations.png": (520, 360)}.items():
        image = cv2.imread(os.path.join(out, name))
        check(image is not None and image.shape[1] >= w - 10 and image.shape[0] >= h - 10,
              f"{name} is a PNG of about {w}x{h}: {None if image is None else image.shape}")
    with open(os.path.join(out, "report.md")) as f:
        report = f.read()
    for text in ("| CAM |", "| Smooth-GradCAM++ |", "| CAM + F-CAM |", "![overlays](overlays.png)",
                 "fig5_boxacc.png", "fig6_activations.png", "Downscale simulation"):
        check(text in report, f"report.md has {text}")
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    rows = rows_by_name(results)
    check([r["name"] for r in results["rows"] if r["group"] == "baselines"] ==
          ["CAM", "GradCAM", "GradCAM++", "Smooth-GradCAM++", "XGradCAM", "LayerCAM"], "the six baselines in order")
    check(all(0 <= r[k] <= 100 for r in results["rows"] for k in r if k not in ("group", "name")),
          "every metric is a percentage")

    # The merged evaluation against fcam-train's separate ones (same checkpoint, same test split).
    checkpoint = os.path.join(out, "classifier", "best.safetensors")
    boxes = fcam_train_eval(fcam_train, data, checkpoint, "CUB", os.path.join(work, "eval_cub"))
    masks = fcam_train_eval(fcam_train, data, checkpoint, "OpenImages", os.path.join(work, "eval_oi"))
    cam = rows["CAM"]
    for ours, theirs, what in ((cam["MaxBoxAcc (IoU 50)"], boxes["max_box_acc_30_50_70"][1], "MaxBoxAcc"),
                               (cam["MaxBoxAccV2"], boxes["max_box_acc_v2"], "MaxBoxAccV2"),
                               (cam["top-1 loc."], boxes["top1_localization"], "top-1 localization"),
                               (cam["accuracy"], boxes["accuracy"], "accuracy"),
                               (cam["PxAP"], masks["localization"], "PxAP")):
        check(abs(ours - theirs) < 1e-9, f"CAM {what}: demo {ours} == fcam-train {theirs}")
    # The same for the F-CAM row (fcam-train's numbers equal wsol_reference.py's: train_cli_test).
    fcam_checkpoint = os.path.join(out, "fcam-cam", "best.safetensors")
    boxes = fcam_train_eval(fcam_train, data, fcam_checkpoint, "CUB", os.path.join(work, "eval_fcam_cub"), "fcam")
    masks = fcam_train_eval(fcam_train, data, fcam_checkpoint, "OpenImages", os.path.join(work, "eval_fcam_oi"), "fcam")
    fcam = rows["CAM + F-CAM"]
    for ours, theirs, what in ((fcam["MaxBoxAcc (IoU 50)"], boxes["max_box_acc_30_50_70"][1], "MaxBoxAcc"),
                               (fcam["MaxBoxAccV2"], boxes["max_box_acc_v2"], "MaxBoxAccV2"),
                               (fcam["PxAP"], masks["localization"], "PxAP")):
        check(abs(ours - theirs) < 1e-9, f"CAM + F-CAM {what}: demo {ours} == fcam-train {theirs}")

    # The downscale simulation against torch + numpy.
    for z, pxap in results["downscale"]:
        ref = downscale_reference(data, int(z))
        check(abs(pxap - ref) < 1e-6, f"downscale z={int(z)}: PxAP {pxap:.6f} vs torch/numpy {ref:.6f}")
    check(results["downscale"][0] == [1, 100], "z = 1 is the mask itself: PxAP 100")

    # Resume: the same command again trains nothing and reproduces the numbers.
    r = run([demo, "--dataset", "cfmnist", "--tiny", "--data", data, "--out", out])
    check(r.returncode == 0 and r.stdout.count("resuming") == 2, "a second run resumes both stages")
    with open(os.path.join(out, "results.json")) as f:
        again = json.load(f)
    check(again["rows"] == results["rows"], "and reproduces every metric")

    # --collect: two copies of one run have zero spread.
    copy = os.path.join(work, "run_copy")
    shutil.copytree(out, copy)
    r = run([demo, "--collect", f"{out},{copy}", "--out", os.path.join(work, "seeds")])
    seeds = open(os.path.join(work, "seeds", "seeds.md")).read() if r.returncode == 0 else ""
    check(r.returncode == 0 and "| CAM + F-CAM | 2 |" in seeds and "± 0.0" in seeds and "± 0.1" not in seeds,
          "--collect: mean ± std over runs")
    r = run([demo, "--collect", os.path.join(work, "nothing"), "--out", os.path.join(work, "seeds")])
    check(r.returncode != 0 and "results.json is missing" in r.stderr, "--collect names a missing run")

    # A damaged results.json is named with what is wrong (it used to give std::map::at).
    broken = os.path.join(work, "run_broken")
    os.makedirs(broken, exist_ok=True)
    for content, message in [("", "invalid JSON"), ('{"seed": 1, "rows": []}', "results: missing 'downscale'"),
                             ('{"seed": 1, "rows": [{"group": "g"}], "downscale": []}', "row: missing 'name'")]:
        with open(os.path.join(broken, "results.json"), "w") as f:
            f.write(content)
        r = run([demo, "--collect", f"{out},{broken}", "--out", os.path.join(work, "seeds_broken")])
        check(r.returncode != 0 and "run_broken/results.json: not a results file of fcam-demo" in r.stderr
              and message in r.stderr, f"--collect names a damaged results.json ({message}): {r.stderr.strip()[-200:]}")

    # Errors.
    r = run([demo, "--dataset", "cfmnist", "--tiny", "--data", data, "--out", os.path.join(work, "bad"), "--fcam_on", "cam,bogus"])
    check(r.returncode != 0 and "unknown CAM method 'bogus'" in r.stderr, "an unknown baseline is an error")
    r = run([demo, "--dataset", "cfmnist", "--data", data, "--out", os.path.join(work, "bad")])
    check(r.returncode != 0 and "256/64/64" in r.stderr and "remove it or give another --data" in r.stderr,
          "a dataset of other sizes is an error naming both")
    # Without a GPU, --device cuda says why, before any work (with one, a CUDA build would train).
    refusals = [("gpu", ["--device must be auto, cpu or cuda, got 'gpu'"])]
    if not gpu_visible():
        refusals.append(("cuda", ["built without CUDA", "no CUDA device is visible"]))
    for value, reasons in refusals:
        r = run([demo, "--dataset", "cfmnist", "--tiny", "--data", data, "--out", os.path.join(work, "bad_device"),
                 "--device", value])
        check(r.returncode != 0 and any(reason in r.stderr for reason in reasons)
              and not os.path.exists(os.path.join(work, "bad_device")),
              f"--device {value} is refused with the reason: {r.stderr.strip()[-200:]}")
    r = run([demo, "--dataset", "cfmnist", "--tiny", "--data", data, "--out", os.path.join(work, "bad_precision"),
             "--precision", "bf16"])  # run() adds --device cpu
    check(r.returncode != 0 and "--precision bf16 needs --device cuda" in r.stderr
          and not os.path.exists(os.path.join(work, "bad_precision")),
          f"--precision bf16 on the CPU is refused with the reason: {r.stderr.strip()[-200:]}")

    pets_tiny(demo, infer, work, repo)


def pets_tiny(demo, infer, work, repo):
    """The real-photo demo, --tiny: pretrained MobileNetV2, the shipped pets photos. Its accuracy
    is fcam-infer's on the same photos with the same checkpoint (the demo must preprocess as the
    model was trained: MobileNetV2's (pixel - 128) / 128, not ImageNet's mean and std)."""
    data, weights = os.path.join(repo, "data", "oxford-pets-3"), os.path.join(repo, "data", "weights")
    out = os.path.join(work, "pets")
    r = run([demo, "--tiny", "--data", data, "--pretrained",
             os.path.join(weights, "mobilenet_v2_imagenet.f16.safetensors"), "--out", out])
    check(r.returncode == 0, f"fcam-demo --tiny (pets) runs: {r.stderr.strip()[-500:]}")
    if r.returncode != 0:
        return
    with open(os.path.join(out, "results.json")) as f:
        rows = rows_by_name(json.load(f))
    check(len(rows) == 7 and "CAM + F-CAM" in rows, f"six baselines and F-CAM: {sorted(rows)}")
    for name, row in rows.items():
        values = [row[k] for k in ("MaxBoxAcc (IoU 50)", "MaxBoxAccV2", "PxAP", "top-1 loc.", "accuracy")]
        check(all(0 <= v <= 100 for v in values), f"{name}: metrics in [0, 100]: {values}")
    with open(os.path.join(data, "metadata", "CUB", "test", "class_labels.txt")) as f:
        labelled = [line.split(",") for line in f.read().split()][::6]  # --tiny's test photos
    r = run([infer, "--weights", os.path.join(out, "classifier", "best.safetensors"), "--methods", "cam",
             "--out", os.path.join(work, "pets_infer"), "--json", os.path.join(work, "pets_infer.json")]
            + [os.path.join(data, "images", image_id) for image_id, _ in labelled])
    check(r.returncode == 0, f"fcam-infer on the tiny test photos: {r.stderr.strip()[-300:]}")
    if r.returncode == 0:
        with open(os.path.join(work, "pets_infer.json")) as f:
            top1 = [entry["top5"][0][0] for entry in json.load(f)["inputs"]]
        accuracy = 100 * np.mean([t == int(label) for t, (_, label) in zip(top1, labelled)])
        check(abs(accuracy - rows["CAM"]["accuracy"]) < 1e-9,
              f"the demo's accuracy {rows['CAM']['accuracy']} is fcam-infer's {accuracy} on the {len(top1)} photos")
    report = open(os.path.join(out, "report.md")).read()
    check("MobileNetV2" in report and "48 / 20 / 50 train / val / test images at 224×224" in report,
          "report.md names the pretrained network and the tiny split sizes")
    overlays = cv2.imread(os.path.join(out, "overlays.png"))
    check(overlays is not None and overlays.shape[0] > 300, "overlays.png of the photos")
    r = run([demo, "--tiny", "--data", data, "--pretrained", os.path.join(work, "missing.safetensors"), "--out", out])
    check(r.returncode != 0 and "missing.safetensors are missing" in r.stderr, "missing pretrained weights are named")
    r = run([demo, "--tiny", "--data", os.path.join(work, "nowhere"), "--out", out, "--pretrained",
             os.path.join(weights, "mobilenet_v2_imagenet.f16.safetensors")])
    check(r.returncode != 0 and "nowhere holds no dataset" in r.stderr, "a missing photo dataset is named")


if __name__ == "__main__":
    main()
    finish()

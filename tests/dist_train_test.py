#!/usr/bin/python3
"""fcam-train across processes with mpirun (docs/distributed.md), on the tiny generated dataset of
train_cli_test.py:

- data parallel equals one process: 2 ranks x 4 images per step train VGG16-WSOL (no BatchNorm)
  to the parameters of 1 process x 8 images (same seed: same order, crops and flips), within
  1e-5 relative after 2 epochs, and log the same epoch-0 validation score;
- sharded evaluation equals single-process evaluation exactly: a trained checkpoint evaluated
  (--epochs 0) by 1, 2 and 3 ranks gives the same validation and test metrics;
- BatchNorm models (ResNet18) train on 2 ranks, and so does stage 2 (the decoder);
- a killed rank stops the job within the timeout, mpirun names it, and the last finished epoch's
  state resumes with another world size (1 process) to the end.

Usage: /usr/bin/python3 tests/dist_train_test.py MPIEXEC FCAM_TRAIN WORK_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

from checks import check, finish
from safetensors_file import read_safetensors
from train_cli_test import make_dataset, read_log

MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1", "FCAM_NUM_THREADS": "1"}


def tensors(path):
    """The float32 tensors of a safetensors file, by name, in float64."""
    return {k: v.astype(np.float64) for k, v in read_safetensors(path).items() if v.dtype == np.float32}


def relative_difference(a, b):
    names = sorted(set(a) & set(b))
    diff = sum(float(np.sum((a[k] - b[k]) ** 2)) for k in names)
    norm = sum(float(np.sum(b[k] ** 2)) for k in names)
    return (diff / norm) ** 0.5, len(names)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **MPI_ENV), **kw)


def rank_pid(launcher_pid, rank):
    """The pid of the fcam-train process of `rank` started by mpirun `launcher_pid`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if parent == launcher_pid and f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return int(entry)
    return None


def main():
    mpiexec, train, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    make_dataset(work, {"train": 48, "val": 24, "test": 24})
    common = ["--data_root", os.path.join(work, "images"), "--metadata_root", os.path.join(work, "metadata"),
              "--dataset_name", "TOY", "--resize_size", "56", "--crop_size", "48", "--workers", "1", "--quiet",
              "--num_classes", "3", "--lr", "0.05", "--dist_timeout", "60"]
    vgg = [*common, "--arch", "vgg16", "--base_width", "8", "--epochs", "2"]

    # 1 process x 8 images vs 2 ranks x 4 images (small buckets: several all-reduces per step).
    one, two = os.path.join(work, "one"), os.path.join(work, "two")
    r1 = run([train, "classifier", *vgg, "--batch_size", "8", "--out", one])
    r2 = run([mpiexec, "-np", "2", train, "classifier", *vgg, "--batch_size", "4", "--bucket_mb", "0.05", "--out", two])
    check(r1.returncode == 0 and r2.returncode == 0,
          f"1 process and 2 ranks train: exit {r1.returncode}, {r2.returncode} {r2.stderr.strip()[-400:]}")
    if r1.returncode == 0 and r2.returncode == 0:
        check("data-parallel: 2 ranks (MPI), 4 images per rank and step" in r2.stdout, "rank 0 announces the world")
        rel, count = relative_difference(tensors(os.path.join(two, "last.safetensors")),
                                         tensors(os.path.join(one, "last.safetensors")))
        check(count > 20 and rel <= 1e-5, f"2 ranks x 4 == 1 process x 8 after 2 epochs: {count} tensors, "
                                          f"relative difference {rel:.2e}")
        log1, log2 = read_log(one), read_log(two)
        check(log1[0] == log2[0], f"the same epoch-0 validation row: {log1[0]} vs {log2[0]}")
        check(len(log2) == 3 and abs(float(log2[2]["loss"]) - float(log1[2]["loss"])) <= 1e-4 * abs(float(log1[2]["loss"])),
              f"epoch 2 loss, mean over the ranks: {log2[2]['loss']} vs {log1[2]['loss']}")

    # A trained checkpoint evaluated by 1, 2 and 3 ranks: the same numbers, exactly.
    cls = os.path.join(work, "cls")
    r = run([train, "classifier", *common, "--arch", "resnet18", "--base_width", "8", "--epochs", "3",
             "--batch_size", "8", "--out", cls])
    check(r.returncode == 0, f"a ResNet18 classifier for the evaluation checks: {r.stderr.strip()[-300:]}")
    results = {}
    for ranks in (1, 2, 3):
        out = os.path.join(work, f"eval{ranks}")
        launcher = [mpiexec, "-np", str(ranks)] if ranks > 1 else []
        r = run([*launcher, train, "classifier", *common, "--classifier", os.path.join(cls, "best.safetensors"),
                 "--epochs", "0", "--out", out, "--json", out + ".json"])
        check(r.returncode == 0, f"evaluation on {ranks} rank(s) runs: {r.stderr.strip()[-300:]}")
        if r.returncode == 0:
            results[ranks] = json.load(open(out + ".json"))
    if len(results) == 3:
        v = results[1]
        check(v["best_val"] > 0 and v["test_best"]["accuracy"] > 0, f"the checkpoint scores something: {v['best_val']}, "
                                                                     f"accuracy {v['test_best']['accuracy']}")
        for ranks in (2, 3):
            check(results[ranks]["best_val"] == v["best_val"] and results[ranks]["test_best"] == v["test_best"],
                  f"{ranks} ranks evaluate exactly like 1: val {results[ranks]['best_val']} vs {v['best_val']}, "
                  f"test {results[ranks]['test_best']} vs {v['test_best']}")

    # Stage 2 (the decoder, with BatchNorm) from that classifier on 2 ranks.
    fc = os.path.join(work, "fcam2")
    r = run([mpiexec, "-np", "2", train, "fcam", *common, "--classifier", os.path.join(cls, "best.safetensors"),
             "--epochs", "2", "--batch_size", "4", "--erosion", "5", "--lr", "0.1", "--out", fc])
    flog = read_log(fc) if r.returncode == 0 else []
    check(len(flog) == 3 and float(flog[2]["pce"]) < float(flog[1]["pce"]) and float(flog[1]["crf"]) < 0,
          f"stage 2 trains on 2 ranks, PCE decreasing: {[(row['pce'], row['crf']) for row in flog[1:]]} "
          f"{r.stderr.strip()[-300:]}")

    # BatchNorm in training mode: statistics per rank, rank 0's saved.
    r = run([mpiexec, "-np", "2", train, "classifier", *common, "--arch", "resnet18", "--base_width", "8", "--epochs", "1",
             "--batch_size", "4", "--out", os.path.join(work, "bn")])
    check(r.returncode == 0 and len(read_log(os.path.join(work, "bn"))) == 2,
          f"ResNet18 (BatchNorm) trains on 2 ranks: {r.stderr.strip()[-300:]}")

    # Kill rank 1 during epoch 2 of 4 (epochs of 0.5 s are slowed by a big validation interval).
    killed = os.path.join(work, "killed")
    args = ["classifier", *common, "--arch", "vgg16", "--base_width", "8", "--batch_size", "4", "--epochs", "4",
            "--val_interval", "0.0001", "--out", killed]
    p = subprocess.Popen([mpiexec, "-np", "2", train, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, env=dict(os.environ, **MPI_ENV))
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        if os.path.exists(os.path.join(killed, "log.csv")) and len(read_log(killed)) >= 2:
            break
        time.sleep(0.05)
    victim = rank_pid(p.pid, 1)
    check(victim is not None and p.poll() is None, "rank 1 found while epoch 2 runs")
    if victim is not None:
        os.kill(victim, signal.SIGKILL)
        start = time.time()
        try:
            output, _ = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            output = p.communicate()[0]
        seconds = time.time() - start
        check(p.returncode != 0 and seconds < 60, f"the job stops {seconds:.1f} s after rank 1 is killed, exit {p.returncode}")
        check("rank 1" in output, "mpirun names the killed rank: " + " ".join(l.strip() for l in output.splitlines()
                                                                             if "rank 1" in l)[:200])
        done = len(read_log(killed)) - 1
        check(done >= 1, f"epochs finished before the kill are kept: {done}")
        r = run([train, *args, "--resume"])
        log = read_log(killed)
        check(r.returncode == 0 and f"resuming classifier from epoch {done}" in r.stdout and len(log) == 5,
              f"the last finished epoch resumes on 1 process to epoch 4: {len(log) - 1} epochs "
              f"{r.stderr.strip()[-300:]}")
    else:
        p.kill()
        p.communicate()


if __name__ == "__main__":
    main()
    finish()

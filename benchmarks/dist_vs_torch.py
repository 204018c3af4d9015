#!/usr/bin/python3
"""Data-parallel communication on this machine: fcam's MPI all-reduce (fcam-bench-dist under
mpirun) against PyTorch's gloo all-reduce (torch.distributed, the CPU back end of DDP), 2 ranks,
same run, alternating for --rounds rounds (each side's best round kept); and one stage-1 step of
ResNet50-WSOL per rank (224², --batch images per rank, 1 thread per rank) with gradient averaging:
fcam with overlap off and on (its wait for communication per step) against PyTorch DDP (25 MB
buckets, overlapped) on the same architecture (tests/models_reference.py).

Usage: /usr/bin/python3 benchmarks/dist_vs_torch.py --bench build/bin/fcam-bench-dist [--mpiexec mpiexec]
           [--ranks 2] [--rounds 3] [--batch 4] [--no-step]
Prints markdown tables (docs/performance.md, docs/distributed.md). Ratio = fcam / torch.
"""
import argparse
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1", "FCAM_NUM_THREADS": "1"}
SIZES = [4 << 10 << (2 * k) for k in range(8)]  # 4 KB … 64 MB … 256 MB, as fcam-bench-dist


def iterations(size):
    return min(2000, max(4, (1 << 28) // size))


def fcam_run(args, bench_filter, batch):
    env = dict(os.environ, **MPI_ENV, FCAM_BENCH_BATCH=str(batch))
    r = subprocess.run([args.mpiexec, "-np", str(args.ranks), args.bench, "--benchmark_format=json",
                        f"--benchmark_filter={bench_filter}"], capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout)["benchmarks"]


def torch_worker(rank, world, init_file, batch, step, queue):
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank, world_size=world)
    out = {}
    if not step:
        for size in SIZES:
            x = torch.ones(size // 4)
            dist.all_reduce(x)
            dist.barrier()
            n, start = iterations(size), time.perf_counter()
            for _ in range(n):
                dist.all_reduce(x)
            out[size] = (time.perf_counter() - start) / n
    else:
        from models_reference import FcamResNet

        class Classifier(torch.nn.Module):
            def __init__(self):
                super().__init__()
                m = FcamResNet("resnet50", 200)
                self.m = m
                del m.decoder, m.segmentation_head

            def forward(self, x):
                return self.m.classification_head(self.m.stages(x)[-1])

        torch.manual_seed(0)
        model = torch.nn.parallel.DistributedDataParallel(Classifier().train(), bucket_cap_mb=25)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
        x = torch.randn(batch, 3, 224, 224)
        y = torch.arange(batch) % 200

        def one():
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        one()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            one()
            times.append(time.perf_counter() - start)
        out["step"] = sum(times) / len(times)
    dist.destroy_process_group()
    queue.put((rank, out))


def torch_run(ranks, batch, step):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    with tempfile.TemporaryDirectory() as d:
        init = os.path.join(d, "init")
        procs = [ctx.Process(target=torch_worker, args=(r, ranks, init, batch, step, queue)) for r in range(ranks)]
        for p in procs:
            p.start()
        results = dict(queue.get() for _ in procs)
        for p in procs:
            p.join()
    return results[0]


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", required=True)
    ap.add_argument("--mpiexec", default="mpiexec")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--no-step", action="store_true", help="the all-reduce table only")
    args = ap.parse_args()
    import torch
    print(f"{args.ranks} ranks on one machine ({cpu_model()}, {os.cpu_count()} cores), 1 thread per rank; "
          f"PyTorch {torch.__version__} gloo; {time.strftime('%Y-%m-%d')}\n")

    best_fcam, best_torch = {}, {}
    for _ in range(args.rounds):
        for b in fcam_run(args, "AllReduce", args.batch):
            size = int(b["name"].split("/")[1].split("/")[0])
            best_fcam[size] = min(best_fcam.get(size, 1e9), b["real_time"] / 1e3)
        for size, s in torch_run(args.ranks, args.batch, False).items():
            best_torch[size] = min(best_torch.get(size, 1e9), s)
    print("| message | fcam (MPI) ms | fcam GB/s | PyTorch gloo ms | gloo GB/s | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for size in SIZES:
        f, t = best_fcam[size], best_torch[size]
        label = f"{size >> 20} MB" if size >= 1 << 20 else f"{size >> 10} KB"
        print(f"| {label} | {f * 1e3:.3f} | {size / f / 1e9:.2f} | {t * 1e3:.3f} | {size / t / 1e9:.2f} | {f / t:.2f} |")
    print("\nGB/s = message bytes / time (algorithm bandwidth); each rank sends and receives about "
          f"2(n-1)/n = {2 * (args.ranks - 1) / args.ranks:.2f}x that.")
    if args.no_step:
        return
    steps = {b["name"]: b for b in fcam_run(args, "Stage1Step", args.batch)}
    torch_step = torch_run(args.ranks, args.batch, True)["step"]
    print(f"\nStage-1 step, ResNet50-WSOL, {args.batch} images per rank, 224x224, 200 classes:\n")
    print("| run | step ms | waiting for gradients ms | share of the step | ratio to DDP |")
    print("|---|---:|---:|---:|---:|")
    for overlap in (0, 1):
        b = steps[f"Stage1Step/overlap:{overlap}/iterations:3/manual_time"]
        print(f"| fcam, overlap {'on' if overlap else 'off'} ({int(b['buckets'])} buckets) | {b['real_time']:.0f} | "
              f"{b['wait_ms']:.1f} | {100 * b['wait_share']:.1f} % | {b['real_time'] / (torch_step * 1e3):.2f} |")
    print(f"| PyTorch DDP (gloo, 25 MB buckets) | {torch_step * 1e3:.0f} | | | 1.00 |")


if __name__ == "__main__":
    main()

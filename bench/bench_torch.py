#!/usr/bin/python3
"""The PyTorch half of `make bench`: the same models, batches, optimizer
(Adam), data path and thread count as bench/w2s_bench.c, timed the same way
(warm-up steps, then repetitions of a fixed number of steps; the median
repetition with min and max).  Prints `key=value` lines for bench/bench.py.

usage: bench_torch.py train MODEL [--warmup S] [--steps K] [--reps R] [--threads T]
       bench_torch.py ddp MODEL --nproc P [...]      # DistributedDataParallel, gloo
       bench_torch.py infer MODEL [--rows N] [--batch B] [--reps R]
       bench_torch.py probe                          # which BLAS torch runs on

Each rank is pinned to its own core, as mpirun pins w2s's ranks.  The
training loop is the one a researcher writes: index a batch from a shuffled
order, forward, cross-entropy, zero_grad(set_to_none=True), backward,
Adam.step(); it computes no accuracy and no gradient norm, which the w2s
loop does, so any doubt favours PyTorch.

Not here: the w2s side (bench/w2s_bench.c), the table (bench/bench.py).
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

MODELS = {  # widths, batch per rank
    "weak": ([64, 64, 2], 256),
    "strong": ([64, 1024, 1024, 1024, 2], 256),
    "wide": ([256, 4096, 4096, 10], 512),
}


def out(key, value):
    print(f"{key}={value}", flush=True)


def loaded_blas():
    """Shared libraries with BLAS in their name that this process mapped."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            name = os.path.basename(path)
            if any(s in name for s in ("blas", "blis", "mkl")) and path.startswith("/"):
                libs.add(os.path.realpath(path))
    return sorted(libs)


def blas_description(torch):
    libs = loaded_blas()
    names = [os.path.basename(p) for p in libs]
    kind = "unknown BLAS"
    if any("openblas" in n for n in names):
        kind = "OpenBLAS"
        try:
            import ctypes
            lib = ctypes.CDLL(next(p for p in libs if "openblas" in os.path.basename(p)))
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            kind = (f"OpenBLAS {lib.openblas_get_config().decode().split()[1]} "
                    f"({lib.openblas_get_corename().decode()} kernels)")
        except (OSError, AttributeError, StopIteration, IndexError):
            pass
    elif any("blis" in n for n in names) or any("blis" in p for p in libs):
        kind = "BLIS"
    elif any("mkl" in n for n in names):
        kind = "MKL"
    elif libs:
        kind = "reference BLAS (" + ", ".join(names) + ")"
    capability = "?"
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            capability = line.split(":")[-1].strip()
    return (f"{kind} via {', '.join(libs) or 'no libblas'}; torch {torch.__version__}, "
            f"ATen {capability}")


def make_model(torch, widths):
    import torch.nn as nn
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def pin(core):
    try:
        ncpu = len(os.sched_getaffinity(0))
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[core % ncpu]})
    except (AttributeError, OSError):
        pass


def train(args, rank=0, world=1):
    pin(rank)
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.threads)
    widths, batch = MODELS[args.model]
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    torch.manual_seed(1)
    model = make_model(torch, widths)
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{args.port}",
                                rank=rank, world_size=world)
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=args.foreach)
    nsteps = args.warmup + args.steps * args.reps
    n = batch * nsteps  # this rank's rows: each rank reads its own share of a batch
    g = torch.Generator().manual_seed(7 + rank)
    x = torch.randn(n, widths[0], generator=g)
    y = torch.randint(widths[-1], (n,), generator=g)
    perm = torch.randperm(n, generator=g)
    ends, cpus = [], []
    for s in range(nsteps):
        idx = perm[s * batch:(s + 1) * batch]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        ends.append(time.perf_counter())
        cpus.append(time.thread_time())
    rates, cpu_rates = [], []
    for r in range(args.reps):
        first = args.warmup + r * args.steps
        rates.append(args.steps * batch * world / (ends[first + args.steps - 1] - ends[first - 1]))
        cpu_rates.append(args.steps * batch * world / (cpus[first + args.steps - 1] - cpus[first - 1]))
    steps = [ends[i] - ends[i - 1] for i in range(args.warmup, nsteps)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if world > 1:
        import torch.distributed as dist
        t = torch.tensor([float(peak)])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        peak = int(t.item())
        dist.destroy_process_group()
    if rank == 0:
        out("blas", blas_description(torch))
        out("threads", torch.get_num_threads())
        out("adam", "foreach" if args.foreach else "for-loop")
        out("samples_per_s", f"{statistics.median(rates):.6g} {min(rates):.6g} {max(rates):.6g}")
        out("step_s", f"{statistics.median(steps):.6g}")
        out("cpu_samples_per_s", f"{statistics.median(cpu_rates):.6g}")
        out("mem_peak_bytes", peak)
        out("mem_base_bytes", rss0)


def ddp(args):
    """Starts args.nproc copies of this script as ranks and waits for them."""
    port = 29500 + os.getpid() % 1000
    procs = []
    for r in range(args.nproc):
        cmd = [sys.executable, os.path.abspath(__file__), "rank", args.model,
               "--rank", str(r), "--nproc", str(args.nproc), "--port", str(port),
               "--warmup", str(args.warmup), "--steps", str(args.steps),
               "--reps", str(args.reps), "--threads", str(args.threads)]
        if args.foreach:
            cmd.append("--foreach")
        env = dict(os.environ, GLOO_SOCKET_IFNAME=os.environ.get("GLOO_SOCKET_IFNAME", "lo"))
        procs.append(subprocess.Popen(cmd, env=env, stdout=None if r == 0 else subprocess.DEVNULL))
    rc = 0
    for p in procs:
        rc = rc or p.wait()
    return rc


def infer(args):
    pin(0)
    import torch
    torch.set_num_threads(args.threads)
    widths, _ = MODELS[args.model]
    model = make_model(torch, widths).eval()
    x = torch.randn(args.rows, widths[0])
    rates = []
    with torch.inference_mode():
        for r in range(args.reps + 1):
            t0 = time.perf_counter()
            for b in range(0, args.rows, args.batch):
                model(x[b:b + args.batch])
            if r > 0:
                rates.append(args.rows / (time.perf_counter() - t0))
    out("blas", blas_description(torch))
    out("infer_samples_per_s", f"{statistics.median(rates):.6g} {min(rates):.6g} {max(rates):.6g}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["train", "ddp", "rank", "infer", "probe"])
    p.add_argument("model", nargs="?", default="weak", choices=sorted(MODELS))
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--rank", type=int, default=0)
    p.add_argument("--port", type=int, default=29500)
    p.add_argument("--rows", type=int, default=8192)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--foreach", action="store_true", help="Adam's multi-tensor update")
    args = p.parse_args()
    if args.what == "probe":
        import torch
        out("blas", blas_description(torch))
        return 0
    if args.what == "train":
        train(args)
    elif args.what == "rank":
        train(args, args.rank, args.nproc)
    elif args.what == "ddp":
        return ddp(args)
    elif args.what == "infer":
        infer(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""`make bench`: w2s against PyTorch on the same CPUs, in one run.

Runs, side by side on this machine, fp32, the same models, batches, Adam
and thread counts:
  - training samples/s of three models at 1 rank x 1 thread and at 2 ranks
    x 1 thread (w2s through its real data-parallel loop; PyTorch in one
    process, then DistributedDataParallel over gloo), steady state after
    warm-up: the median of several repetitions, with min and max, in
    rounds that take turns between w2s and PyTorch;
  - what train.reduce exact (the same bits on any number of ranks) costs
    against the default reduction, `strong` at 1 and 2 ranks;
  - the training step's GFLOP/s against raw BLIS sgemm at the same shapes,
    and where the step's time goes;
  - the allreduce per step against the ring bound 2(p-1)/p * bytes / link
    bandwidth, the link measured by the same ranks;
  - inference samples/s of `strong` at batch 1024;
  - `w2s gen` (data generation + parallel HDF5 write, synced to the disk)
    MB/s against dd conv=fsync of the same size, and dd into the page cache;
  - the default experiment's wall time, `w2s run` against
    bench/default_torch.py on the same data.h5;
  - peak memory per rank (getrusage) against what the data, parameters,
    gradients, Adam moments and one batch of activations need.
and prints one table with each ratio beside its target.  Without PyTorch it
says so and prints the w2s rows alone.

usage: bench.py --w2s ./w2s --bench ./bench/w2s-bench [--quick] [--scratch DIR]
Environment: MPIRUN (mpirun), PYTHON3 for PyTorch (/usr/bin/python3).

Not here: the measuring itself (bench/w2s_bench.c, bench/bench_torch.py).
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

MODELS = [  # name, widths, batch per rank, steps: warm-up, per repetition, repetitions
    ("weak", "64 -> 64 -> 2", 256, (20, 40, 5)),
    ("strong", "64 -> 1024 -> 1024 -> 1024 -> 2", 256, (3, 6, 5)),
    ("wide", "256 -> 4096 -> 4096 -> 10", 512, (1, 2, 3)),
]
QUICK = {"weak": (10, 20, 3), "strong": (2, 3, 3), "wide": (1, 1, 3)}
# Each training row is measured in rounds, w2s and PyTorch in turns, so
# that a disturbed stretch of time (a 2-core machine, a busy host) spoils
# one round of each side rather than all of one side.
ROUNDS = 3

TARGET_1T = {"weak": 2.0, "strong": 1.3, "wide": 1.3}


def merge_rounds(runs):
    """Rounds of one measurement as one: the round whose median samples/s is
    the median of the rounds' (its phases and sums with it), with the
    median of the rounds' medians and the min and max of all repetitions."""
    runs = sorted(runs, key=lambda d: d["samples_per_s"][0])
    mid = dict(runs[len(runs) // 2])
    mid["samples_per_s"] = (statistics.median(d["samples_per_s"][0] for d in runs),
                            min(d["samples_per_s"][1] for d in runs),
                            max(d["samples_per_s"][2] for d in runs))
    return mid


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse(text):
    """key=value lines into a dict; samples/s triples into tuples."""
    d = {}
    for line in text.splitlines():
        if "=" not in line:
            continue
        k, v = line.split("=", 1)
        parts = v.split()
        try:
            nums = [float(p) for p in parts]
            d[k] = nums[0] if len(nums) == 1 else tuple(nums)
        except ValueError:
            d[k] = v
    return d


def run(cmd, env=None, timeout=600):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return p.stdout, wall


class Bench:
    def __init__(self, args):
        self.args = args
        self.env = dict(os.environ)
        # One BLAS thread per rank: the rows compare equal thread counts.
        self.env.update({
            "BLIS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
            "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
        })
        self.cores = len(os.sched_getaffinity(0))
        self.mpirun = os.environ.get("MPIRUN", "mpirun")
        self.python = os.environ.get("PYTHON3", "/usr/bin/python3")
        self.torch = None  # the torch probe's output, or None without PyTorch
        self.notes = []

    # ---- launching ----

    def mpi(self, ranks, argv):
        cmd = [self.mpirun, "-n", str(ranks), "--bind-to", "core"]
        if ranks > self.cores:
            cmd.append("--oversubscribe")
        return cmd + argv

    def w2s_bench(self, ranks, *argv):
        out, _ = run(self.mpi(ranks, [self.args.bench, *argv]), env=self.env)
        return parse(out)

    def torch_bench(self, *argv):
        out, _ = run([self.python, os.path.join(HERE, "bench_torch.py"), *argv],
                     env=self.torch_env)
        return parse(out)

    def probe_torch(self):
        """Whether PyTorch imports, and which BLAS it then runs on.  Debian's
        OpenBLAS picks its kernels by CPU model and picked Haswell (AVX2) on
        Zen 5, where OPENBLAS_CORETYPE=SKYLAKEX gives it AVX-512; that is set
        when the CPU has AVX-512 and OpenBLAS did not choose an AVX-512 core
        itself.  ATen's own AVX-512 kernels are switched on likewise."""
        self.torch_env = dict(self.env)
        try:
            out, _ = run([self.python, "-c", "import torch"], env=self.torch_env)
        except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired):
            return None
        avx512 = "avx512f" in open("/proc/cpuinfo").read()
        self.torch_env["ATEN_CPU_CAPABILITY"] = os.environ.get(
            "ATEN_CPU_CAPABILITY", "avx512" if avx512 else "default")
        probe = self.torch_bench("probe")
        core = probe.get("blas", "")
        avx512_cores = ("SkylakeX", "Cooperlake", "SapphireRapids")
        if (avx512 and "OpenBLAS" in core and not any(c in core for c in avx512_cores)
                and "OPENBLAS_CORETYPE" not in os.environ):
            self.torch_env["OPENBLAS_CORETYPE"] = "SKYLAKEX"
            probe = self.torch_bench("probe")
        return probe

    # ---- the measurements ----

    def training(self):
        rows = {}
        rounds = 1 if self.args.quick else ROUNDS
        for name, _, _, steps in MODELS:
            w, s, r = QUICK[name] if self.args.quick else steps
            sargs = ["--warmup", str(w), "--steps", str(s), "--reps", str(r)]
            for ranks in (1, 2):
                got = {"w2s": [], "torch": []}
                for k in range(rounds):
                    log(f"bench: {name}, w2s {ranks} rank(s), round {k + 1} of {rounds}")
                    got["w2s"].append(self.w2s_bench(ranks, "train", name, *sargs))
                    if self.torch:
                        log(f"bench: {name}, PyTorch {ranks} process(es), round {k + 1} "
                            f"of {rounds}")
                        what = ["train", name] if ranks == 1 else ["ddp", name, "--nproc", "2"]
                        got["torch"].append(self.torch_bench(*what, *sargs, "--foreach"))
                for side, runs in got.items():
                    if runs:
                        rows[name, side, ranks] = merge_rounds(runs)
            log(f"bench: {name}, raw sgemm")
            rows[name, "sgemm"] = self.w2s_bench(1, "sgemm", name, "--reps",
                                                 "3" if name == "wide" else "7")
        return rows

    def exact(self):
        """train.reduce exact against the default reduction, `strong` at 1
        and 2 ranks, in pairs run back to back so that both see the same
        load; the cost is the median of the pairs' ratios."""
        steps = next(m[3] for m in MODELS if m[0] == "strong")
        w, s, r = QUICK["strong"] if self.args.quick else steps
        sargs = ["--warmup", str(w), "--steps", str(s), "--reps", str(r)]
        # Micro-batches of the default size, and of the batch per rank (what
        # w2s's warning about idle ranks suggests): the fewest, largest
        # GEMMs that keep every rank busy.
        batch = next(m[2] for m in MODELS if m[0] == "strong")
        res = {}
        for ranks in (1, 2):
            for micro in (None, batch):
                pairs = []
                margs = [] if micro is None else ["--micro", str(micro)]
                for _ in range(1 if self.args.quick else 3):
                    log(f"bench: strong, w2s {ranks} rank(s), reduce default and exact")
                    d = self.w2s_bench(ranks, "train", "strong", *sargs, "--reduce", "default")
                    e = self.w2s_bench(ranks, "train", "strong", *sargs, "--reduce", "exact",
                                       *margs)
                    pairs.append((d["samples_per_s"][0], e["samples_per_s"][0], e["micro_batch"]))
                res[ranks, micro] = pairs
        return res

    def inference(self):
        a = ["infer", "strong", "--rows", "8192", "--batch", "1024", "--reps", "5"]
        log("bench: inference")
        res = {"w2s": self.w2s_bench(1, *a)}
        if self.torch:
            res["torch"] = self.torch_bench(*a)
        return res

    def gen(self, scratch):
        """w2s gen on 2 ranks of a file of ~500 MB, against dd writing as
        many bytes.  w2s syncs data.h5 to the disk before it gives it its
        name (a file named is whole, even after a crash), so the target is
        judged against dd with conv=fsync, which does the same; dd into the
        page cache alone (no sync: what the kernel's memory copy allows) is
        printed beside it.

        All get memory in the same state.  Each timed command is preceded,
        untimed, by the removal of its own previous ~500 MB file, so its
        page cache reuses pages freed a moment before.  That matters here:
        writing into pages that had been free for a few seconds ran 5-8x
        slower (dd 0.4-0.7 GB/s against 3-5; on this virtual machine the
        host seems to take idle pages back), so the command that came
        after a pause lost to the other.  A first round, untimed, leaves
        each such a file.

        A gen of a few thousand rows (into another folder), timed alike,
        gives the start-up (mpirun, MPI and HDF5 initialization, the syncs
        of a small file) that the whole command includes."""
        rows = 2000000 if not self.args.quick else 250000
        out = os.path.join(scratch, "gen")
        small = os.path.join(scratch, "gen-start")
        dd = {"sync": os.path.join(scratch, "dd-sync.bin"),
              "cache": os.path.join(scratch, "dd-cache.bin")}

        def gen(folder, n):
            cmd = self.mpi(2, [self.args.w2s, "gen", "--out", folder, "--force", "--quiet",
                               "--set", f"data.rows.test={n}"])
            return run(cmd, env=self.env)[1]

        def write(kind, mb):
            if os.path.exists(dd[kind]):
                os.unlink(dd[kind])
            cmd = ["dd", "if=/dev/zero", f"of={dd[kind]}", "bs=1M", f"count={mb}"]
            return run(cmd + (["conv=fsync"] if kind == "sync" else []), env=self.env)[1]

        walls, starts, dds = [], [], {"sync": [], "cache": []}
        size = 0
        for rep in range(6):
            log("bench: w2s gen" + (" (warm-up)" if rep == 0 else ""))
            shutil.rmtree(small, ignore_errors=True)
            start = gen(small, 1000)
            shutil.rmtree(out, ignore_errors=True)
            wall = gen(out, rows)
            size = os.path.getsize(os.path.join(out, "data.h5"))
            mb = max(1, size // (1 << 20))
            took = {kind: write(kind, mb) for kind in dd}
            if rep > 0:
                starts.append(start)
                walls.append(wall)
                for kind in dd:
                    dds[kind].append(mb * (1 << 20) / took[kind])
        for path in dd.values():
            os.unlink(path)
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(small, ignore_errors=True)
        start = statistics.median(starts)
        return {"bytes": size, "w2s": [size / w for w in walls], "dd": dds["sync"],
                "dd_cache": dds["cache"], "start": start,
                "net": [size / max(w - start, 1e-9) for w in walls]}

    def default(self, scratch):
        out = os.path.join(scratch, "default")
        w2s, tor = [], []
        text = ""
        for _ in range(3):
            log("bench: default experiment, w2s")
            _, wall = run([self.args.w2s, "run", "--out", out, "--force", "--quiet"],
                          env=self.env)
            w2s.append(wall)
            if self.torch:
                log("bench: default experiment, PyTorch")
                text, wall = run([self.python, os.path.join(HERE, "default_torch.py"),
                                  os.path.join(out, "data.h5")], env=self.torch_env)
                tor.append(wall)
        shutil.rmtree(out, ignore_errors=True)
        return {"w2s": w2s, "torch": tor, "torch_out": text}


# ---- the report ----

def fmt_rate(t):
    return f"{t[0]:,.0f} [{t[1]:,.0f}, {t[2]:,.0f}]"


def verdict(value, target, higher=True):
    if value is None:
        return "-"
    ok = value >= target if higher else value <= target
    return "yes" if ok else "NO"


def med(v):
    return statistics.median(v) if v else None


def report(b, rows, inf, gen, dflt, load0, load1, seconds):
    torch_on = b.torch is not None
    p = print
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    fam = {}
    for line in open("/proc/cpuinfo"):
        for key in ("cpu family", "model\t"):
            if line.startswith(key) and key not in fam:
                fam[key] = line.split(":", 1)[1].strip()
    w2s_blas = rows["strong", "w2s", 1].get("blas", "?")
    p("# w2s against PyTorch on the same CPUs")
    p()
    p(f"machine: {cpu} (family {fam.get('cpu family', '?')}, model {fam.get('model' + chr(9), '?')}), "
      f"{b.cores} cores, {platform.system()} {platform.release()}; "
      f"load average {load0:.2f} before, {load1:.2f} after ({seconds:.0f} s)")
    p(f"w2s BLAS: {w2s_blas}")
    if torch_on:
        p(f"PyTorch BLAS: {b.torch.get('blas', '?')}; environment "
          + " ".join(f"{k}={b.torch_env[k]}" for k in
                     ("OPENBLAS_CORETYPE", "ATEN_CPU_CAPABILITY", "OPENBLAS_NUM_THREADS")
                     if k in b.torch_env))
        p("PyTorch: Adam(foreach=True); DistributedDataParallel over gloo; ranks pinned "
          "one per core, as mpirun --bind-to core pins w2s's")
    else:
        p("PyTorch: not installed (./install-deps.sh bench installs python3-torch); "
          "w2s rows only")
    p("All fp32, Adam, 1 thread per rank; samples/s: median [min, max] over repetitions "
      f"after warm-up, in {ROUNDS if not b.args.quick else 1} rounds, w2s and PyTorch in "
      "turns (the median of the rounds' medians); a 2-rank row keeps the per-rank batch, so "
      "its global batch is 2x.  "
      "The targets are judged on medians; on a machine others are using, the ratio of the "
      "best repetitions is the one less disturbed by them.")
    p()

    p("## Training throughput")
    p()
    p("| config | model | batch/rank | ranks x threads | w2s samples/s | PyTorch samples/s "
      "| w2s/PyTorch (medians) | (best reps) | target | met |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    for name, widths, batch, _ in MODELS:
        for ranks in (1, 2):
            w = rows[name, "w2s", ranks]["samples_per_s"]
            t = rows.get((name, "torch", ranks), {}).get("samples_per_s")
            ratio = w[0] / t[0] if t else None
            best = w[2] / t[2] if t else None
            if ranks == 1:
                target = TARGET_1T[name]
            else:
                target = 1.5 if name == "strong" else None
            p(f"| {name} | {widths} | {batch} | {ranks} x 1 | {fmt_rate(w)} | "
              f"{fmt_rate(t) if t else '-'} | {f'{ratio:.2f}x' if ratio else '-'} | "
              f"{f'{best:.2f}x' if best else '-'} | "
              f"{f'>= {target}x' if target else '-'} | "
              f"{verdict(ratio, target) if target else '-'} |")
    p()
    p("Per CPU-second (1 rank x 1 thread; the thread's CPU time instead of the wall clock, "
      "so time slices taken by other processes on a shared machine do not count):")
    p()
    p("| config | w2s samples/CPU-s | PyTorch samples/CPU-s | w2s/PyTorch |")
    p("|---|---|---|---|")
    for name, _, _, _ in MODELS:
        w = rows[name, "w2s", 1].get("cpu_samples_per_s")
        t = rows.get((name, "torch", 1), {}).get("cpu_samples_per_s")
        p(f"| {name} | {w:,.0f} | {f'{t:,.0f}' if t else '-'} | "
          f"{f'{w / t:.2f}x' if t else '-'} |")
    p()

    p("## Scaling to 2 ranks (same batch per rank)")
    p()
    p("| config | w2s 2x1 / 1x1 | PyTorch DDP 2x1 / 1x1 | target (w2s) | met |")
    p("|---|---|---|---|---|")
    for name, _, _, _ in MODELS:
        w = rows[name, "w2s", 2]["samples_per_s"][0] / rows[name, "w2s", 1]["samples_per_s"][0]
        t = None
        if torch_on:
            t = (rows[name, "torch", 2]["samples_per_s"][0] /
                 rows[name, "torch", 1]["samples_per_s"][0])
        target = 1.8 if name == "strong" else None
        p(f"| {name} | {w:.2f}x | {f'{t:.2f}x' if t else '-'} | "
          f"{f'>= {target}x' if target else '-'} | {verdict(w, target) if target else '-'} |")
    p()

    p("## Training step against raw sgemm (w2s, 1 rank)")
    p()
    p("| config | GEMM GFLOP/step | step ms | step GFLOP/s | raw BLIS sgemm GFLOP/s, same shapes "
      "| step/raw | target | met |")
    p("|---|---|---|---|---|---|---|---|")
    for name, _, _, _ in MODELS:
        r = rows[name, "w2s", 1]
        fl, st = r["gemm_flops"], r["step_s"]
        raw = rows[name, "sgemm"]["sgemm_gflops"]
        eff = fl / st * 1e-9 / raw
        target = 0.7 if name != "weak" else None
        p(f"| {name} | {fl * 1e-9:.3f} | {st * 1e3:.3f} | {fl / st * 1e-9:.1f} | {raw:.1f} | "
          f"{eff * 100:.0f}% | {'>= 70%' if target else '-'} | "
          f"{verdict(eff, target) if target else '-'} |")
    p()
    p("Where a w2s step goes (1 rank, median ms per step):")
    p()
    p("| config | forward | loss | backward | allreduce | grad norm | Adam | other (batch gather, zeroing) |")
    p("|---|---|---|---|---|---|---|---|")
    for name, _, _, _ in MODELS:
        r = rows[name, "w2s", 1]
        p(f"| {name} | " + " | ".join(f"{r['phase_' + k + '_s'] * 1e3:.3f}" for k in
                                      ("fwd", "loss", "bwd", "allreduce", "norm", "adam", "other"))
          + " |")
    p()

    p("## Gradient allreduce, 2 ranks")
    p()
    p("| config | bytes | in the step, ms | same, last rank in, ms | alone, ms "
      "| MPI_Allreduce alone, ms | ring bound, ms | link GB/s | in step / bound "
      "| last rank in / bound | alone / bound | MPI_Allreduce / bound | target | met |")
    p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, _, _, _ in MODELS:
        r = rows[name, "w2s", 2]
        bound = r["ring_bound_s"]
        ratio = r["phase_allreduce_s"] / bound
        last = r.get("phase_allreduce_last_s")
        mpi = r.get("allreduce_mpi_alone_s")
        ms = lambda v: f"{v * 1e3:.3f}" if v else "-"
        rel = lambda v: f"{v / bound:.2f}x" if v else "-"
        p(f"| {name} | {r['allreduce_bytes']:,.0f} | {ms(r['phase_allreduce_s'])} | {ms(last)} | "
          f"{ms(r['allreduce_alone_s'])} | {ms(mpi)} | {ms(bound)} | "
          f"{r['link_bytes_per_s'] * 1e-9:.1f} | {ratio:.2f}x | {rel(last)} | "
          f"{rel(r['allreduce_alone_s'])} | {rel(mpi)} | "
          + ("<= 1.3x | " + verdict(ratio, 1.3, higher=False) if name == "strong" else "- | -")
          + " |")
    p()
    p("(In the step includes waiting for the slower rank; last rank in is the same on the "
      "rank that reached the sum last in each step, whom nobody kept waiting; alone is the "
      "same call after a barrier; MPI_Allreduce alone is a plain in-place MPI_Allreduce of "
      "the same buffer, timed in turns with it (w2s's sum before its own ring); bound = "
      "2(p-1)/p * bytes / the bandwidth of a bytes/p exchange between the ranks.  The target "
      "is set for `strong`, the 2-rank row of the targets; weak's few KB are all latency, and "
      "its bound, a measured exchange of half of them, is one too.)")
    p()

    p("## Inference, `strong`, batch 1024, 1 thread")
    p()
    w = inf["w2s"]["infer_samples_per_s"]
    t = inf.get("torch", {}).get("infer_samples_per_s")
    p("| w2s samples/s | PyTorch samples/s | w2s/PyTorch |")
    p("|---|---|---|")
    p(f"| {fmt_rate(w)} | {fmt_rate(t) if t else '-'} | {f'{w[0] / t[0]:.2f}x' if t else '-'} |")
    p()

    p("## Data generation + parallel HDF5 write, 2 ranks")
    p()
    wm, dm, nm, cm = med(gen["w2s"]), med(gen["dd"]), med(gen["net"]), med(gen["dd_cache"])

    def spread(v):
        return f"{med(v) / 1e6:,.0f} [{min(v) / 1e6:,.0f}, {max(v) / 1e6:,.0f}]"

    p("| bytes | w2s gen MB/s, whole command, synced | same, start-up subtracted "
      "| dd conv=fsync MB/s, same size | w2s/dd | target | met | dd to the page cache MB/s "
      "(no sync) | w2s/that |")
    p("|---|---|---|---|---|---|---|---|---|")
    p(f"| {gen['bytes']:,} | {spread(gen['w2s'])} | {nm / 1e6:,.0f} | {spread(gen['dd'])} "
      f"| {wm / dm * 100:.0f}% | >= 50% | {verdict(wm / dm, 0.5)} | {spread(gen['dd_cache'])} "
      f"| {wm / cm * 100:.0f}% |")
    p()
    p(f"(w2s syncs data.h5 to the disk before naming it, as dd conv=fsync syncs its file.  "
      f"Start-up: the median wall time of the same command for 1,000 test rows, "
      f"{gen['start']:.2f} s: mpirun, MPI and HDF5 initialization.  Each timed command, "
      f"gen and dd alike, writes into pages its previous file freed just before, after an "
      f"untimed first round.)")
    p()

    p("## Default experiment (`w2s run` with no config), wall time, 1 rank x 1 thread")
    p()
    wd, td = med(dflt["w2s"]), med(dflt["torch"])
    p("| w2s s | PyTorch s (bench/default_torch.py) | PyTorch/w2s | target | met |")
    p("|---|---|---|---|---|")
    ratio = td / wd if td else None
    p(f"| {wd:.2f} [{min(dflt['w2s']):.2f}, {max(dflt['w2s']):.2f}] | "
      + (f"{td:.2f} [{min(dflt['torch']):.2f}, {max(dflt['torch']):.2f}]" if td else "-")
      + f" | {f'{ratio:.2f}x' if ratio else '-'} | >= 3x | {verdict(ratio, 3.0)} |")
    p()
    p("(Whole processes, start-up and imports included.  w2s also generates data.h5 and writes "
      "run.h5, metrics.h5 and checkpoints; the PyTorch script only reads data.h5.)")
    if dflt["torch_out"]:
        p()
        for line in dflt["torch_out"].strip().splitlines():
            p(f"    PyTorch: {line}")
    p()

    p("## Peak memory per rank")
    p()
    p("| config | ranks | w2s peak RSS MB | process baseline MB | need MB (data + params, grads, "
      "2 moments + one batch of activations) | (peak - baseline)/need | target | met | "
      "PyTorch peak RSS MB |")
    p("|---|---|---|---|---|---|---|---|---|")
    for name, _, _, _ in MODELS:
        for ranks in (1, 2):
            r = rows[name, "w2s", ranks]
            peak, base, need = r["mem_peak_bytes"], r["mem_base_bytes"], r["mem_need_bytes"]
            ratio = (peak - base) / need
            t = rows.get((name, "torch", ranks), {}).get("mem_peak_bytes")
            p(f"| {name} | {ranks} | {peak / 1e6:.0f} | {base / 1e6:.0f} | {need / 1e6:.1f} | "
              f"{ratio:.2f} | <= 1.3 | {verdict(ratio, 1.3, higher=False)} | "
              f"{f'{t / 1e6:.0f}' if t else '-'} |")
    p()
    p("(Baseline: the process's peak RSS after MPI, HDF5 and BLIS started and before the model "
      "existed; a rank holds the whole training split, as w2s_train_model does.)")


def report_exact(ex):
    p = print
    p()
    p("## Exact reduction (`train.reduce: exact`), `strong`")
    p()
    p("Bit-identical parameters on any number of ranks, against the default float allreduce, "
      "same per-rank batch (256); pairs of runs back to back, samples/s medians over the pairs.  "
      "Micro-batches of the default size (train.micro_batch), and of the batch per rank.")
    p()
    p("| ranks x threads | micro-batch | default samples/s | exact samples/s | cost (default/exact, "
      "median of pairs) | target | met |")
    p("|---|---|---|---|---|---|---|")
    for (ranks, _), pairs in ex.items():
        d, e = med([x[0] for x in pairs]), med([x[1] for x in pairs])
        cost = med([x[0] / x[1] for x in pairs])
        p(f"| {ranks} x 1 | {pairs[0][2]:.0f} | {d:,.0f} | {e:,.0f} | {cost:.2f}x | <= 1.2x | "
          f"{verdict(cost, 1.2, higher=False)} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--w2s", required=True)
    p.add_argument("--bench", required=True)
    p.add_argument("--quick", action="store_true", help="fewer steps and rows (a smoke test)")
    p.add_argument("--scratch", help="folder for the files written (default: a temporary one)")
    args = p.parse_args()
    b = Bench(args)
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    b.torch = b.probe_torch()
    if b.torch is None:
        log("bench: PyTorch is not installed (./install-deps.sh bench); w2s rows only")
    scratch = args.scratch or tempfile.mkdtemp(prefix="w2s-bench.")
    try:
        rows = b.training()
        ex = b.exact()
        inf = b.inference()
        gen = b.gen(scratch)
        dflt = b.default(scratch)
    finally:
        if not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    report(b, rows, inf, gen, dflt, load0, os.getloadavg()[0], time.perf_counter() - t0)
    report_exact(ex)
    return 0


if __name__ == "__main__":
    sys.exit(main())

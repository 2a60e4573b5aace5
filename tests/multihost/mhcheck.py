#!/usr/bin/python3
"""Checks, from outside the program, what ranks on several hosts did.

  mhcheck.py writes FILE.h5 WORLD PREFIXES HOST...
      Every row-sharded dataset of FILE.h5 under PREFIXES (comma-separated,
      e.g. "views,target,splits") was written, byte for byte, by the host
      whose ranks own those rows: each host's part of the file came from a
      process on that host, and together the hosts wrote every byte.
  mhcheck.py params RUN_DIR WORLD HOST...
      The labels each host wrote equal the forward pass of the parameters
      stored in run.h5 (which rank 0 writes): the ranks on every host held
      the same parameters as rank 0.

HOST is NAME:FIRST_RANK:LAST_RANK[:STRACE_LOG]; the log is what rsh-agent
writes with W2S_MH_TRACE (strace -f -y of pwrite64/pwritev/pwritev2).  Rows
are sharded as w2s_shard() does: rank r of P owns rows [r*n/P, (r+1)*n/P),
the first n % P ranks one more.  Exits non-zero with a message on failure.
"""
import json
import os
import re
import sys

import h5py
import numpy as np


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def shard(n, rank, size):
    base, extra = divmod(n, size)
    begin = rank * base + min(rank, extra)
    return begin, begin + base + (1 if rank < extra else 0)


def parse_hosts(args, want_log):
    hosts = []
    for a in args:
        parts = a.split(":")
        if len(parts) != (4 if want_log else 3):
            fail(f"bad host spec {a}")
        hosts.append((parts[0], int(parts[1]), int(parts[2]), parts[3] if want_log else None))
    return hosts


CALL = re.compile(r"^(\d+) +(pwrite64|pwritev2?)\((\d+)<([^>]*)>, (.*)$")
TAIL = re.compile(r", (\d+), (\d+)(?:, [\w|]+)?\) += (-?\d+)")


def write_ranges(log, path):
    """The byte ranges [begin, end) that the processes logged in LOG wrote
    to PATH, from strace lines; calls split by another thread's call
    (<unfinished ...> / <... resumed>) are joined first."""
    ranges = []
    pending = {}
    with open(log, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            pid = line.split(" ", 1)[0]
            if line.endswith("<unfinished ...>"):
                pending[pid] = line[: -len("<unfinished ...>")]
                continue
            if "resumed>" in line and pid in pending:
                line = pending.pop(pid) + line.split("resumed>", 1)[1]
            m = CALL.match(line)
            # w2s writes a file under NAME.tmp and renames it when whole.
            if not m or m.group(4) not in (path, path + ".tmp"):
                continue
            t = TAIL.search(m.group(5))
            if not t:
                fail(f"cannot read the offset of: {line[:200]}")
            offset, ret = int(t.group(2)), int(t.group(3))
            if ret > 0:
                ranges.append((offset, offset + ret))
    return ranges


def covered(ranges, begin, end):
    """Bytes of [begin, end) inside the union of ranges."""
    cuts = sorted((max(b, begin), min(e, end)) for b, e in ranges if b < end and e > begin)
    total, reach = 0, begin
    for b, e in cuts:
        if e > reach:
            total += e - max(b, reach)
            reach = e
    return total


def check_writes(path, world, prefixes, hosts):
    real = os.path.realpath(path)
    ranges = {name: write_ranges(log, real) for name, _, _, log in hosts}
    for name, _, _, _ in hosts:
        if not ranges[name]:
            fail(f"{name} wrote nothing to {path}")
    datasets = []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            # An empty dataset (a pool of 0 rows) has nothing anyone wrote.
            if isinstance(obj, h5py.Dataset) and name.split("/")[0] in prefixes and obj.size > 0:
                datasets.append((name, obj.shape[0], obj.id.get_offset(), obj.id.get_storage_size()))
        f.visititems(visit)
    if not datasets:
        fail(f"no dataset under {','.join(prefixes)} in {path}")
    own = {name: 0 for name, _, _, _ in hosts}
    for ds, n, offset, size in datasets:
        if offset is None:
            fail(f"{path}:{ds} is not contiguous; cannot tell who wrote its rows")
        row = size // n
        every = [r for name, _, _, _ in hosts for r in ranges[name]]
        if covered(every, offset, offset + size) != size:
            fail(f"{path}:{ds}: the hosts together wrote {covered(every, offset, offset + size)} "
                 f"of its {size} bytes")
        for name, first, last, _ in hosts:
            b = shard(n, first, world)[0]
            e = shard(n, last, world)[1]
            part = (offset + b * row, offset + e * row)
            got = covered(ranges[name], *part)
            if got != part[1] - part[0]:
                fail(f"{path}:{ds}: {name} (ranks {first}-{last}, rows {b}-{e}) wrote {got} "
                     f"of the {part[1] - part[0]} bytes of its rows")
            own[name] += got
    total = {name: sum(e - b for b, e in ranges[name]) for name in ranges}
    for name, first, last, _ in hosts:
        print(f"{path}: {name} (ranks {first}-{last}) wrote its rows of {len(datasets)} datasets "
              f"({own[name]} bytes; {total[name]} bytes to the file in all)")


def forward(params, widths, act, x):
    """Logits of the MLP whose flat parameters are laid out as in mlp.h:
    per layer W (out, in) row-major, then b (out)."""
    at = 0
    h = x.astype(np.float64)
    for layer in range(len(widths) - 1):
        i, o = widths[layer], widths[layer + 1]
        w = params[at:at + o * i].reshape(o, i)
        at += o * i
        b = params[at:at + o]
        at += o
        h = h @ w.T + b
        if layer < len(widths) - 2:
            if act == "relu":
                h = np.maximum(h, 0)
            elif act == "tanh":
                h = np.tanh(h)
            elif act == "gelu":
                h = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h ** 3)))
            else:
                fail(f"unknown activation {act}")
    if at != len(params):
        fail(f"{len(params)} parameters, the shape {widths} takes {at}")
    return h


def check_params(d, world, hosts):
    data = h5py.File(f"{d}/data.h5", "r")
    run = h5py.File(f"{d}/run.h5", "r")
    cfg = json.loads(run.attrs["config"])
    worst = {name: 0.0 for name, _, _, _ in hosts}
    checked = 0
    for row in run["results"][()]:
        model, base, view, split = (row[k].decode() for k in ("model", "base", "view", "split"))
        key = f"labels/{model}/{split}/logit"
        if key not in run:
            continue
        spec = cfg["models"][base]
        x = data[f"views/{view}"][()][data[f"splits/{split}"][()]]
        logits = run[key][()]
        widths = [x.shape[1]] + list(spec.get("hidden", [])) + [logits.shape[1]]
        ref = forward(run[f"models/{model}/params"][()].astype(np.float64), widths,
                      spec.get("activation", "relu"), x)
        scale = 1 + np.abs(ref)
        for name, first, last, _ in hosts:
            b, e = shard(len(x), first, world)[0], shard(len(x), last, world)[1]
            diff = float(np.max(np.abs(logits[b:e] - ref[b:e]) / scale[b:e]))
            worst[name] = max(worst[name], diff)
        checked += 1
    if not checked:
        fail(f"no labels in {d}/run.h5")
    for name, first, last, _ in hosts:
        print(f"{name} (ranks {first}-{last}): its labels of {checked} model/split pairs match "
              f"rank 0's parameters to {worst[name]:.1e} (relative)")
        # Float32 forward passes in another summation order agree to ~1e-6.
        # Rounding-level differences in the parameters hide below that; one
        # optimizer step (each parameter moves by about the learning rate,
        # 1e-3 here) does not.
        if worst[name] > 1e-4:
            fail(f"{name}: labels differ from rank 0's parameters by {worst[name]:.1e}")


def main(argv):
    if len(argv) < 4 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2
    if argv[1] == "writes":
        check_writes(argv[2], int(argv[3]), argv[4].split(","), parse_hosts(argv[5:], True))
    elif argv[1] == "params":
        check_params(argv[2], int(argv[3]), parse_hosts(argv[4:], False))
    else:
        fail(f"unknown check {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

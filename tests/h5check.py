#!/usr/bin/python3
"""Reads w2s output files with Debian's h5py, as a researcher would, and
checks what a user relies on.  Exits non-zero with a message on failure.

  h5check.py data DATA.h5               views, target and splits agree
  h5check.py run DIR                    run.h5 tables, labels, parameters; metrics.h5 traces
  h5check.py same DIR_A DIR_B TOL       results of two runs agree within TOL (accuracy)
  h5check.py gap DIR MIN_GAP STRONG     for strong model STRONG: ceiling - weak >= MIN_GAP
                                        and the student beats its weak teacher
"""
import json
import sys

import h5py
import numpy as np


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check_data(path):
    with h5py.File(path, "r") as f:
        cfg = json.loads(f.attrs["config"])
        n = f["target"].shape[0]
        for name, ds in f["views"].items():
            if ds.shape[0] != n or ds.dtype != np.float32:
                fail(f"view {name} has shape {ds.shape} {ds.dtype}, expected ({n}, D) float32")
            if not np.all(np.isfinite(ds[()])):
                fail(f"view {name} holds non-finite values")
        rows = cfg["data"]["rows"]
        start = 0
        for split in ("weak_train", "transfer", "val", "test"):
            idx = f["splits"][split][()]
            if len(idx) != rows[split] or idx[0] != start:
                fail(f"split {split}: {len(idx)} rows from {idx[0]}, expected {rows[split]} from {start}")
            start += len(idx)
        classes = np.bincount(f["target"][()])
        print(f"{path}: {n} rows, views {list(f['views'])}, class counts {classes.tolist()}")


def results(d):
    with h5py.File(f"{d}/run.h5", "r") as f:
        return f["results"][()], f["pgr"][()]


def check_run(d):
    with h5py.File(f"{d}/run.h5", "r") as f:
        for key in ("config", "w2s_version", "git_rev", "libraries", "blis_arch", "world_size"):
            if key not in f.attrs:
                fail(f"run.h5 lacks attribute {key}")
        json.loads(f.attrs["config"])
        res = f["results"][()]
        names = {r.decode() for r in res["model"]}
        for group in f["labels"]:
            if group not in names:
                fail(f"labels of {group} but no result row")
        for row in res:
            model, split = row["model"].decode(), row["split"].decode()
            prob = f[f"labels/{model}/{split}/prob"][()]
            if prob.shape[0] != row["n"] or not np.allclose(prob.sum(axis=1), 1, atol=1e-4):
                fail(f"{model}/{split}: probabilities do not sum to one")
            params = f[f"models/{model}/params"]
            if not np.all(np.isfinite(params[()])):
                fail(f"{model}: non-finite parameters")
        pgr = f["pgr"][()]
        for p in pgr:
            print(f"{p['strong'].decode()}: P_weak {p['p_weak']:.4f} P_w2s {p['p_w2s']:.4f} "
                  f"P_ceiling {p['p_ceiling']:.4f} PGR {p['pgr']:.3f}")
    with h5py.File(f"{d}/metrics.h5", "r") as f:
        for name, g in f["trace"].items():
            step = g["step"][()]
            if len(step) == 0 or np.any(np.diff(step) <= 0):
                fail(f"trace {name}: steps missing or not increasing")
            if g["loss"].dims[0][0].name != g["step"].name:
                fail(f"trace {name}: step is not the dimension scale of loss")
            if not np.all(np.isfinite(g["loss"][()])):
                fail(f"trace {name}: non-finite loss")
    print(f"{d}: run.h5 and metrics.h5 read back in h5py")


def check_same(a, b, tol):
    ra, pa = results(a)
    rb, pb = results(b)
    if len(ra) != len(rb):
        fail("different numbers of result rows")
    worst = float(np.max(np.abs(ra["accuracy"] - rb["accuracy"])))
    print(f"largest accuracy difference {worst:.4f} (tolerance {tol})")
    if worst > tol:
        fail(f"results differ by {worst:.4f} > {tol}")


def check_gap(d, min_gap, strong):
    _, pgr = results(d)
    rows = [p for p in pgr if p["strong"].decode() == strong]
    if not rows:
        fail(f"no PGR row for {strong}")
    for p in rows:
        gap = p["p_ceiling"] - p["p_weak"]
        print(f"{p['strong'].decode()}: gap {gap:.4f}, student - weak {p['p_w2s'] - p['p_weak']:.4f}")
        if gap < min_gap:
            fail(f"gap {gap:.4f} below {min_gap}")
        if p["p_w2s"] <= p["p_weak"]:
            fail("the student does not beat its weak teacher")


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) > 1 else 2
    cmd = argv[1]
    if cmd == "data":
        check_data(argv[2])
    elif cmd == "run":
        check_run(argv[2])
    elif cmd == "same":
        check_same(argv[2], argv[3], float(argv[4]))
    elif cmd == "gap":
        check_gap(argv[2], float(argv[3]), argv[4])
    else:
        fail(f"unknown check {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/python3
"""The default experiment of `w2s run` written in PyTorch, for `make bench`.

usage: default_torch.py DATA.h5 [--threads T]

Reads the data file that `w2s run` wrote (its views, target and splits) and
the effective config stored in it, then runs the same pipeline: the weak
model trained on ground truth (weak_train), its soft labels on transfer,
for each strong model a student trained on those soft labels and a ceiling
on ground truth, everyone scored on test, and the PGR.  The same
architectures (Glorot-uniform weights, zero biases), optimizer (Adam with
decoupled weight decay), cosine schedule with linear warm-up, gradient
clipping, batch and epochs.  It writes nothing: w2s's time includes
generating data.h5 and writing run.h5, metrics.h5 and checkpoints, this
script's only reading data.h5, so any doubt favours PyTorch.  Prints the
accuracies, so a reader can see the two ran the same experiment (they
agree to a point or so; the shuffles and initial weights differ).

Not here: the timing (bench/bench.py times this whole process, imports
included, as it times the whole `w2s run` process).
"""
import argparse
import json
import math
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ACT = {"relu": nn.ReLU, "gelu": lambda: nn.GELU(approximate="tanh"), "tanh": nn.Tanh}


def make_model(spec, dim, classes):
    widths = [dim] + list(spec["hidden"]) + [classes]
    layers = []
    for i in range(len(widths) - 1):
        lin = nn.Linear(widths[i], widths[i + 1])
        nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(widths) - 2:
            layers.append(ACT[spec["activation"]]())
    return nn.Sequential(*layers)


def lr_factor(t, step, total):
    """w2s's schedule: linear warm-up reaching lr at its last step, then a
    cosine from lr to lr_min (as a fraction of lr)."""
    warm = int(t["warmup"] * total)
    if warm > 0 and step < warm:
        return (step + 1) / warm
    if t["schedule"] == "constant":
        return 1.0
    span = total - warm
    if span <= 0:
        return 1.0
    s = step - warm
    floor = t["lr_min"] / t["lr"]
    if s >= span:
        return floor
    return floor + 0.5 * (1 - floor) * (1 + math.cos(math.pi * s / span))


def train(spec, x, y, soft, seed):
    t = spec["train"]
    torch.manual_seed(seed)
    model = make_model(spec, x.shape[1], int(y.max()) + 1 if soft is None else soft.shape[1])
    n = x.shape[0]
    batch = min(t["batch"], n)
    per_epoch = (n + batch - 1) // batch
    total = per_epoch * t["epochs"]
    if t["optimizer"] == "adam":
        opt = torch.optim.AdamW(model.parameters(), lr=t["lr"], betas=(t["beta1"], t["beta2"]),
                                eps=t["eps"], weight_decay=t["weight_decay"])
    else:
        opt = torch.optim.SGD(model.parameters(), lr=t["lr"], momentum=t["momentum"],
                              weight_decay=t["weight_decay"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(t, s, total))
    for _ in range(t["epochs"]):
        perm = torch.randperm(n)
        for b in range(per_epoch):
            idx = perm[b * batch:(b + 1) * batch]
            logits = model(x[idx])
            if soft is None:
                loss = F.cross_entropy(logits, y[idx])
            else:
                loss = -(soft[idx] * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if t["clip"] > 0:
                nn.utils.clip_grad_norm_(model.parameters(), t["clip"])
            opt.step()
            sched.step()
    return model


def predict(model, x):
    with torch.inference_mode():
        logits = torch.cat([model(x[b:b + 1024]) for b in range(0, x.shape[0], 1024)])
    return F.softmax(logits, dim=1), logits.argmax(dim=1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with h5py.File(args.data, "r") as f:
        raw = f.attrs["config"]
        cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        views = {k: torch.from_numpy(f["views"][k][()]) for k in f["views"]}
        target = torch.from_numpy(f["target"][()].astype(np.int64))
        splits = {k: torch.from_numpy(f["splits"][k][()]) for k in f["splits"]}
    models, seed = cfg["models"], cfg["seed"]

    def rows(view, split):
        return views[view][splits[split]], target[splits[split]]

    def accuracy(model, view):
        x, y = rows(view, "test")
        return (predict(model, x)[1] == y).double().mean().item()

    wspec = models[cfg["w2s"]["weak"]]
    x, y = rows(wspec["view"], "weak_train")
    weak = train(wspec, x, y, None, seed)
    soft, weak_pred = predict(weak, rows(wspec["view"], "transfer")[0])
    p_weak = accuracy(weak, wspec["view"])
    print(f"weak      {cfg['w2s']['weak']:<8} test accuracy {p_weak:.4f}")
    for name in cfg["w2s"]["strong"]:
        spec = models[name]
        x, y = rows(spec["view"], "transfer")
        student = train(spec, x, weak_pred, soft, seed + 1)
        ceiling = train(spec, x, y, None, seed + 2)
        p_w2s, p_ceil = accuracy(student, spec["view"]), accuracy(ceiling, spec["view"])
        gap = p_ceil - p_weak
        pgr = (p_w2s - p_weak) / gap if gap > 0 else float("nan")
        print(f"strong    {name:<8} P_weak {p_weak:.4f}  P_w2s {p_w2s:.4f}  "
              f"P_ceiling {p_ceil:.4f}  PGR {pgr:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

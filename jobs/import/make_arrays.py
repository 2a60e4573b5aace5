#!/usr/bin/env python3
"""Arrays shaped like embeddings of the same texts from a small and a large
model, for trying `w2s import` (jobs/import/README.md).

A latent z ~ N(0, I_8) decides the class, 1[theta . z > 0].  The "large"
embedding (32 columns, float64) is a random linear image of z plus a little
noise: a linear probe finds the class.  The "small" one (8 columns, float32)
sees z[:7] only, through noise stronger than the signal: the weak model errs,
and its errors come from noise the large view does not share, so a student
on the large view recovers part of the gap (Burns et al., 2023).

Writes into OUT: small.npy, large.npy, labels.npy (int64) and the splits
splits/{weak_train,transfer,val,test}.npy (int64 row indices of a random
permutation; the test split also as splits/test.txt).

usage: make_arrays.py OUT [--rows N] [--seed S]
"""
import argparse
import os

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    n, k = a.rows, 8
    z = rng.standard_normal((n, k))
    theta = rng.standard_normal(k)
    labels = (z @ theta > 0).astype(np.int64)
    large = z @ rng.standard_normal((k, 32)) + 0.05 * rng.standard_normal((n, 32))
    seen = np.concatenate([z[:, :7] + 1.5 * rng.standard_normal((n, 7)),
                           rng.standard_normal((n, 1))], axis=1)
    small = (seen @ rng.standard_normal((8, 8))).astype(np.float32)
    os.makedirs(os.path.join(a.out, "splits"), exist_ok=True)
    np.save(os.path.join(a.out, "small.npy"), small)
    np.save(os.path.join(a.out, "large.npy"), large)
    np.save(os.path.join(a.out, "labels.npy"), labels)
    perm = rng.permutation(n)
    cuts = np.cumsum([0, n // 5, 3 * n // 10, n // 10])
    parts = dict(weak_train=perm[cuts[0]:cuts[1]], transfer=perm[cuts[1]:cuts[2]],
                 val=perm[cuts[2]:cuts[3]], test=perm[cuts[3]:])
    for name, idx in parts.items():
        np.save(os.path.join(a.out, "splits", name + ".npy"), idx.astype(np.int64))
    np.savetxt(os.path.join(a.out, "splits", "test.txt"), parts["test"], fmt="%d")


if __name__ == "__main__":
    main()

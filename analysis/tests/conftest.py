"""Shared by the analysis tests: two small real runs made by the w2s binary
(the one the build made, or $W2S), read by every test.

A run takes about half a second: a thousand rows per split, two strong
models (a linear probe and a one-layer MLP), the probe also distilled from
the weak model (kd), four epochs, a trace point every ten steps so the
curves have a dozen points to compare, an evaluation on val every twenty.
The first has the stages every run has by default (the cascade among
them); the second filters the weak labels, trains the probe on synthetic
data too, and has no cascade.
"""
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ANALYSIS = os.path.dirname(HERE)
SRCDIR = os.environ.get("W2S_SRCDIR", os.path.dirname(ANALYSIS))
sys.path.insert(0, ANALYSIS)

TINY = """\
seed: 3
data:
  rows: {weak_train: 1000, transfer: 1000, val: 100, test: 1000}
  latent:
    signal: 8
    nuisance: 8
    views:
      x: {z: all, u: all}
      weak: {z: 4, u: 4, noise: 1.0}
      strong: {z: all}
models:
  weak: {view: weak}
  strong: {view: strong}
  mlp: {view: x, hidden: [16]}
train: {epochs: 4, batch: 32, eval_every: 20}
w2s: {weak: weak, strong: [strong, mlp]}
kd: {models: [strong]}
log: {every: 10}
"""


def w2s_binary():
    for path in (os.environ.get("W2S"),
                 os.path.join(os.environ.get("W2S_BUILDDIR", SRCDIR), "w2s")):
        if path and os.access(path, os.X_OK):
            return path
    pytest.fail("no w2s binary: build it first, or set W2S to its path")


# The second run's stages, as --set overrides of TINY.
METHODS = ["w2s.filter.method=confidence", "w2s.filter.keep=0.8", "synth.models=[strong]",
           "synth.rows=500", "cascade.enabled=false"]


def make_run(base, sets):
    cfg = base / "tiny.yaml"
    cfg.write_text(TINY)
    out = base / "run"
    env = dict(os.environ, BLIS_NUM_THREADS="1")
    args = [w2s_binary(), "run", str(cfg), "--out", str(out), "--quiet"]
    for s in sets:
        args += ["--set", s]
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"w2s run failed ({proc.returncode}): {proc.stderr}"
    return str(out)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """A finished run folder, with a cascade; tests must not change it
    (copy it first)."""
    return make_run(tmp_path_factory.mktemp("w2s"), [])


@pytest.fixture(scope="session")
def methods_dir(tmp_path_factory):
    """A finished run folder with a filter and synthetic data but no
    cascade (METHODS); tests must not change it."""
    return make_run(tmp_path_factory.mktemp("w2s-methods"), METHODS)


@pytest.fixture
def run_copy(run_dir, tmp_path):
    """A copy of the run folder that a test may change."""
    dst = tmp_path / "run"
    shutil.copytree(run_dir, dst)
    return str(dst)

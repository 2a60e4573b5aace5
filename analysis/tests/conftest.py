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

# tests/configs/small.yaml, shrunk to run in about a second, with val
# scores in the traces and a kd model (as `w2s config --set` overrides).
TINY = ["data.rows.weak_train=1000", "data.rows.transfer=1000", "data.rows.val=100",
        "models.mlp.hidden=[16]", "train.epochs=4", "train.lr=0.01", "train.eval_every=20",
        "kd.models=[strong]", "log.every=10"]


def w2s_binary():
    for path in (os.environ.get("W2S"),
                 os.path.join(os.environ.get("W2S_BUILDDIR", SRCDIR), "w2s")):
        if path and os.access(path, os.X_OK):
            return path
    pytest.fail("no w2s binary: build it first, or set W2S to its path")


# The second run's stages, as --set overrides of TINY.
METHODS = ["w2s.filter.method=confidence", "w2s.filter.keep=0.8", "synth.models=[strong]",
           "synth.rows=500", "cascade.enabled=false"]


def small_config(path, sets):
    """Writes to path tests/configs/small.yaml with `--set` overrides, as
    `w2s config` prints it: every key given."""
    args = [w2s_binary(), "config", os.path.join(SRCDIR, "tests", "configs", "small.yaml")]
    for s in sets:
        args += ["--set", s]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, f"w2s config failed ({proc.returncode}): {proc.stderr}"
    path.write_text(proc.stdout)


def make_run(base, sets):
    cfg = base / "tiny.yaml"
    small_config(cfg, TINY)
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

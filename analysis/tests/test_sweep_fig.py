"""sweep.py on a small real sweep: `w2s sweep expand` makes eight trials
(the big network's width 8 or 32, the loss xent or confidence, seeds 1 and
2), six are run here without slurm, one is marked failed and one is never
started, and `w2s sweep collect` gathers them.  The table sweep.py writes
holds the medians and ranges of sweep.h5 recomputed here, its figures draw
those numbers and nothing of the trials not done, which both say, and
neither has text drawn over text."""
import csv
import math
import os
import shutil
import subprocess
import time

import h5py
import matplotlib.colors
import matplotlib.pyplot as plt
import numpy as np
import pytest

import report
import sweep
import w2sio
from conftest import w2s_binary
from test_report import md_tables

# About half a second a trial: two strong models, a linear probe on z and
# an MLP on (z, u) whose width the sweep varies.
CONFIG = """\
seed: 3
data:
  rows: {weak_train: 500, transfer: 500, val: 100, test: 500}
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
  big: {view: x, hidden: [16]}
train: {epochs: 3, batch: 32}
w2s: {weak: weak, strong: [strong, big]}
cascade: {enabled: false}
"""
SPEC = """\
config: tiny.yaml
grid:
  models.big.hidden: [[8], [32]]
  w2s.loss: [xent, confidence]
seeds: [1, 2]
"""
# Trials run width-major, then loss, seed fastest: trial 3 is width 8,
# confidence, seed 2; trial 6 width 32, confidence, seed 1.
MISSING, FAILED = 3, 6
KEYS = ("models.big.hidden", "w2s.loss")
TOL = 5e-5  # report.md shows four decimals


def w2s(*args, cwd=None):
    proc = subprocess.run([w2s_binary(), *args], capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ, BLIS_NUM_THREADS="1"))
    assert proc.returncode == 0, f"w2s {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def expanded(tmp_path_factory):
    """A sweep folder as `w2s sweep expand` leaves it: nothing run, nothing
    collected."""
    base = tmp_path_factory.mktemp("sweep")
    (base / "tiny.yaml").write_text(CONFIG)
    (base / "spec.yaml").write_text(SPEC)
    w2s("sweep", "expand", str(base / "spec.yaml"), "--out", str(base / "small"))
    return base / "small"


@pytest.fixture(scope="module")
def sweep_dir(expanded, tmp_path_factory):
    """The sweep with six trials done, trial FAILED failed (exit code 5)
    and trial MISSING never started, collected; tests must not change it."""
    out = tmp_path_factory.mktemp("done") / "small"
    shutil.copytree(expanded, out)
    env = dict(os.environ, BLIS_NUM_THREADS="1")
    # As the job array would: each trial in its own folder, side by side.
    procs = {i: subprocess.Popen([w2s_binary(), "run", f"{out}/trials/{i}/config.yaml", "--out",
                                  f"{out}/trials/{i}", "--resume", "--quiet"], env=env,
                                 stderr=subprocess.PIPE, text=True)
             for i in range(8) if i not in (MISSING, FAILED)}
    for i, p in procs.items():
        _, err = p.communicate()
        assert p.returncode == 0, f"trial {i} exited {p.returncode}: {err}"
    (out / "trials" / str(FAILED) / "exit_code").write_text("5\n")
    said = w2s("sweep", "collect", str(out))
    assert "8 trials: 6 done, 1 failed, 0 unfinished, 1 missing" in said, said
    return str(out)


def make(sweep_dir, out, *args):
    assert sweep.main([sweep_dir, "--out", str(out), "--dpi", "40", *args]) == 0
    return str(out)


@pytest.fixture(scope="module")
def md_out(sweep_dir, tmp_path_factory):
    return make(sweep_dir, tmp_path_factory.mktemp("md"))


def reference(sweep_dir):
    """{(strong, width, loss): {"rows": done rows, "not_done": trials}} from
    sweep.h5 with h5py alone; width as the number in the list."""
    with h5py.File(os.path.join(sweep_dir, "sweep.h5"), "r") as f:
        t = f["results"][()]
    out = {}
    for r in t:
        width = int(r["models.big.hidden"].decode().strip("[]"))
        point = out.setdefault((r["strong"].decode(), width, r["w2s.loss"].decode()),
                               {"rows": [], "not_done": []})
        if r["status"] == b"done":
            point["rows"].append(r)
        else:
            point["not_done"].append(int(r["trial"]))
    return out


def spread(rows, col):
    v = np.array([r[col] for r in rows], dtype=float)
    return float(np.median(v)), float(v.min()), float(v.max())


def parse_spread(cell):
    """"0.6240 [0.6190, 0.6290]" or "0.6190" as (median, min, max)."""
    parts = cell.replace("[", " ").replace("]", " ").replace(",", " ").split()
    v = [float(p) for p in parts]
    return (v[0], v[0], v[0]) if len(v) == 1 else tuple(v)


def test_the_table_holds_the_median_and_range_of_each_point(sweep_dir, md_out):
    ref = reference(sweep_dir)
    got = md_tables(open(os.path.join(md_out, "report.md")).read())["Results by point (test)"]
    assert len(got) == len(ref) == 8
    assert [(g["strong"], g["w2s.loss"], g["models.big.hidden"]) for g in got] == [
        (s, loss, w) for s in ("strong", "big") for loss in ("xent", "confidence") for w in ("8", "32")]
    worst = 0.0
    for g in got:
        want = ref[(g["strong"], int(g["models.big.hidden"]), g["w2s.loss"])]
        assert int(g["n"]) == len(want["rows"])
        assert g["not done"] == (", ".join(map(str, want["not_done"])) or "-")
        for col in sweep.METRICS:
            for a, b in zip(parse_spread(g[col]), spread(want["rows"], col)):
                worst = max(worst, abs(a - b))
    assert worst <= TOL, f"largest difference {worst}"
    # The points of the two trials not done pool one seed each.
    counts = {(g["strong"], g["w2s.loss"], g["models.big.hidden"]): (g["n"], g["not done"]) for g in got}
    assert counts["big", "confidence", "8"] == ("1", str(MISSING))
    assert counts["big", "confidence", "32"] == ("1", str(FAILED))
    assert counts["big", "xent", "32"] == ("2", "-")


def test_trials_not_done_are_listed_with_their_state(sweep_dir, md_out):
    text = open(os.path.join(md_out, "report.md")).read()
    rows = md_tables(text)["Trials not done"]
    assert [(r["trial"], r["status"], r["exit_code"], r["models.big.hidden"], r["w2s.loss"], r["seed"])
            for r in rows] == [(str(MISSING), "missing", "-", "8", "confidence", "2"),
                               (str(FAILED), "failed", "5", "32", "confidence", "1")]
    assert f"sbatch --array={MISSING},{FAILED} " in text
    assert "8 trials: 6 done, 1 failed, 0 unfinished, 1 missing." in text
    assert "![accuracy](accuracy.png)" in text and "![pgr](pgr.png)" in text
    for name in ("accuracy.png", "pgr.png"):
        assert os.path.getsize(os.path.join(md_out, name)) > 0


def drawn(sweep_dir, *args):
    """The sweep, its layout and points, as main() makes them from args."""
    s = w2sio.load_sweep(sweep_dir)
    layout = sweep.Layout(s, *args)
    return s, layout, sweep.aggregate(s, layout)


def role_lines(ax, role):
    style = sweep.ROLE_STYLE[role]
    return [line for line in ax.get_lines()
            if line.get_linestyle() == style["ls"] and line.get_marker() == style["marker"]]


def band_at(ax, color, x):
    """The (low, high) of the band of one colour above x; None when there
    is none (every point of the line pools one trial)."""
    for c in ax.collections:
        if np.allclose(c.get_facecolor()[0][:3], matplotlib.colors.to_rgb(color)):
            v = c.get_paths()[0].vertices
            y = v[np.isclose(v[:, 0], x), 1]
            return float(y.min()), float(y.max())
    return None


def figure_note(fig):
    return " ".join(t.get_text() for t in fig.texts).replace("\n", " ")


def test_accuracy_figure_draws_the_done_trials_of_big_per_loss(sweep_dir):
    s, layout, cells = drawn(sweep_dir)
    assert layout.x.key == "models.big.hidden" and layout.lines is None
    assert [a.key for a in layout.panels] == ["w2s.loss"] and layout.pooled == ["seed"]
    assert layout.strong == ["big"]
    ref = reference(sweep_dir)
    fig = sweep.figure_accuracy(s, layout, cells)
    try:
        assert report.text_overlaps(fig) == []
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert [ax.get_title() for ax in axes] == ["w2s.loss = xent", "w2s.loss = confidence"]
        worst = 0.0
        for ax, loss in zip(axes, ("xent", "confidence")):
            assert ax.get_xscale() == "log"
            assert [t.get_text() for t in ax.get_xticklabels()] == ["8", "32"]
            for role, col in sweep.ROLES:
                (line,) = role_lines(ax, role)
                np.testing.assert_array_equal(line.get_xdata(), [8, 32])
                for x, y in zip(line.get_xdata(), line.get_ydata()):
                    med, lo, hi = spread(ref["big", int(x), loss]["rows"], col)
                    worst = max(worst, abs(y - med))
                    band = band_at(ax, line.get_color(), x)
                    assert np.allclose(band or (lo, lo), (lo, hi), rtol=0, atol=1e-12), (role, x, band)
        assert worst <= 1e-12, f"largest difference {worst}"
        assert all(band_at(axes[0], report.ROLE_COLOR[r], 8) for r in ("weak", "student", "ceiling"))
        # Every point of the confidence panel lacks a trial: hollow markers
        # over both points of each role; none on xent.
        hollow = [[list(line.get_xdata()) for line in ax.get_lines()
                   if line.get_linestyle() == "None" and line.get_markerfacecolor() == "white"] for ax in axes]
        assert hollow == [[], [[8, 32]] * 3]
        assert "accuracy" in axes[0].get_ylabel() and "models.big.hidden" in axes[0].get_xlabel()
        assert "Sweep small" in fig._suptitle.get_text()
        note = figure_note(fig)
        assert f"trials {MISSING} (missing), {FAILED} (failed, exit code 5)" in note
        assert "strong model strong not drawn" in note.lower() and "median over seed (1, 2)" in note.lower()
    finally:
        plt.close(fig)


def test_pgr_figure_draws_the_median_pgr_with_its_range(sweep_dir):
    s, layout, cells = drawn(sweep_dir)
    ref = reference(sweep_dir)
    fig = sweep.figure_pgr(s, layout, cells)
    try:
        assert report.text_overlaps(fig) == []
        axes = [ax for ax in fig.axes if ax.get_visible()]
        for ax, loss in zip(axes, ("xent", "confidence")):
            (line,) = role_lines(ax, "student")
            want = [spread(ref["big", w, loss]["rows"], "pgr") for w in (8, 32)]
            np.testing.assert_allclose(line.get_ydata(), [w[0] for w in want], rtol=0, atol=1e-12)
            for x, (_, lo, hi) in zip((8, 32), want):
                band = band_at(ax, line.get_color(), x)
                assert np.allclose(band or (lo, lo), (lo, hi), rtol=0, atol=1e-12), (loss, x, band)
            levels = sorted(line.get_ydata()[0] for line in ax.get_lines() if len(set(line.get_ydata())) == 1
                            and list(line.get_xdata()) == [0, 1])
            assert levels == [0, 1]
            assert "PGR" in axes[0].get_ylabel()
    finally:
        plt.close(fig)


def test_lines_per_loss_draw_the_ceiling_once(sweep_dir):
    """--lines w2s.loss --panels none: the loss changes only students, so
    the weak model and the ceiling are drawn once, over the seeds done on
    either line (trial by trial, the missing trial's seed from the other)."""
    s, layout, cells = drawn(sweep_dir, None, "w2s.loss", "none", "all")
    assert layout.lines.key == "w2s.loss" and layout.panels == [] and layout.strong == ["strong", "big"]
    assert sweep.shared_role(s, layout, "p_ceiling") and sweep.shared_role(s, layout, "p_weak")
    assert not sweep.shared_role(s, layout, "p_w2s")
    ref = reference(sweep_dir)
    fig = sweep.figure_accuracy(s, layout, cells)
    try:
        assert report.text_overlaps(fig) == []
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert [ax.get_title() for ax in axes] == ["strong model strong", "strong model big"]
        for ax, strong in zip(axes, ("strong", "big")):
            (ceiling,) = role_lines(ax, "ceiling")
            assert matplotlib.colors.to_hex(ceiling.get_color()) == "#000000"
            for x, y in zip(ceiling.get_xdata(), ceiling.get_ydata()):
                rows = ref[strong, int(x), "xent"]["rows"] + ref[strong, int(x), "confidence"]["rows"]
                seeds = {}
                for r in rows:
                    seeds.setdefault(r["seed"], r["p_ceiling"])
                assert len(seeds) == 2
                assert y == pytest.approx(np.median(list(seeds.values())), abs=1e-12)
            assert len(role_lines(ax, "student")) == 2
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        assert "w2s.loss = xent" in labels and "w2s.loss = confidence" in labels
        assert any(t.startswith("ceiling") and "same on every line" in t for t in labels)
    finally:
        plt.close(fig)


def test_csv_holds_full_precision_and_every_trial(sweep_dir, tmp_path):
    out = make(sweep_dir, tmp_path / "csv", "--csv", "--pdf")
    assert sorted(os.listdir(out)) == ["accuracy.pdf", "pgr.pdf", "summary.csv", "trials.csv"]
    ref = reference(sweep_dir)
    with open(os.path.join(out, "summary.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    for r in rows:
        want = ref[(r["strong"], int(r["models.big.hidden"].strip("[]")), r["w2s.loss"])]
        assert int(r["n"]) == len(want["rows"])
        for col in sweep.METRICS:
            got = [float(r[f"{col}_{s}"]) for s in ("median", "min", "max")]
            assert got == list(spread(want["rows"], col)), (col, got)
    with open(os.path.join(out, "trials.csv")) as f:
        trials = list(csv.DictReader(f))
    assert len(trials) == 16
    status = {int(t["trial"]): t["status"] for t in trials}
    assert status[MISSING] == "missing" and status[FAILED] == "failed"
    assert all(status[i] == "done" for i in range(8) if i not in (MISSING, FAILED))
    assert {t["metric"] for t in trials if t["status"] == "done"} == {"accuracy"}
    assert all(math.isnan(float(t["pgr"])) for t in trials if t["status"] != "done")


def test_a_newer_result_than_the_table_asks_for_collect(sweep_dir, tmp_path, capsys):
    copy = tmp_path / "small"
    shutil.copytree(sweep_dir, copy)
    later = time.time() + 10
    os.utime(copy / "trials" / "5" / "run.h5", (later, later))
    assert w2sio.load_sweep(str(copy)).stale == [5]
    make(str(copy), tmp_path / "out")
    said = capsys.readouterr().out
    assert f"run `w2s sweep collect {copy}` again" in said
    assert "collect" in open(tmp_path / "out" / "report.md").read().split("## Notes")[1]


def test_a_sweep_not_collected_names_the_command(expanded, tmp_path, capsys):
    assert sweep.main([str(expanded), "--out", str(tmp_path / "out")]) == 4
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sweep.py: error: "), lines
    assert f"run `w2s sweep collect {expanded}` first" in lines[0]
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.parametrize("args, words", [
    (["--x", "train.lr"], "--x train.lr: not a swept key; the sweep varies models.big.hidden, w2s.loss, seed"),
    (["--lines", "models.big.hidden"], "--lines models.big.hidden: already the x axis"),
    (["--strong", "huge"], "--strong huge: not a strong model of the sweep; it has strong, big"),
])
def test_a_bad_choice_gives_one_line_and_exit_2(sweep_dir, tmp_path, capsys, args, words):
    assert sweep.main([sweep_dir, "--out", str(tmp_path / "out"), *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"sweep.py: error: {words}"]


def test_a_run_folder_is_not_a_sweep(run_dir, capsys):
    assert sweep.main([run_dir]) == 4
    assert "not a sweep folder" in capsys.readouterr().err


def test_help_names_the_outputs_and_the_choices(capsys):
    with pytest.raises(SystemExit) as e:
        sweep.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for word in ("DIR", "accuracy.png", "pgr.png", "report.md", "summary.csv", "trials.csv", "--x", "--lines",
                 "--panels", "--strong", "--pdf", "--csv", "w2s sweep collect", "Exit codes"):
        assert word in out, word

"""report.py on a real run: the tables it prints hold the numbers of the
HDF5 files (and those numbers agree with the labels and targets they came
from), every figure is written, shows the traces it claims to, and has no
text drawn over text; optional stages are drawn only when present."""
import csv
import math
import os

import h5py
import matplotlib.colors
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest

import report
import w2sio

def md_tables(text):
    """{section heading: [row dicts]} for every Markdown table in text."""
    out, heading, rows, head = {}, None, None, None
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            head = None
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if head is None:
                head, rows = cells, []
                out[heading] = rows
            elif not set("".join(cells)) <= set("-: "):
                rows.append(dict(zip(head, cells)))
        else:
            head = None
    return out


def hdf5_table(run_dir, path):
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        return w2sio.table(f, path)


def make_report(run_dir, out, *args):
    assert report.main([run_dir, "--out", str(out), *args]) == 0
    return str(out)


# A report takes most of a second (two figures drawn and saved): the tests
# share one per set of options.
@pytest.fixture(scope="session")
def md_report(run_dir, tmp_path_factory):
    return make_report(run_dir, tmp_path_factory.mktemp("md"))


@pytest.fixture(scope="session")
def csv_pdf_report(run_dir, tmp_path_factory):
    return make_report(run_dir, tmp_path_factory.mktemp("csv"), "--csv", "--pdf")


def close(a, b, tol):
    """Equal within tol, NaN equal to NaN (a PGR without a gap is NaN)."""
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


def number(cell):
    return math.nan if cell == "n/a" else float(cell)


def test_markdown_tables_hold_the_numbers_of_run_h5(run_dir, md_report):
    out = md_report
    tables = md_tables(open(os.path.join(out, "report.md")).read())
    results = tables["Results"]
    want = hdf5_table(run_dir, "results")
    assert len(results) == len(want) > 0
    worst = 0.0
    for got, row in zip(results, want):
        assert (got["model"], got["split"], int(got["n"])) == (row["model"], row["split"], row["n"])
        for key in ("accuracy", "loss"):
            worst = max(worst, abs(float(got[key]) - row[key]))
    # Four decimals are printed: half a unit in the last place.
    assert worst <= 5e-5, f"largest difference {worst}"

    pgr = tables["Performance gap recovered (test)"]
    want = hdf5_table(run_dir, "pgr")
    assert [p["strong"] for p in pgr] == [p["strong"] for p in want]
    for g, w in zip(pgr, want):
        for k in ("p_weak", "p_w2s", "p_ceiling", "pgr"):
            assert close(number(g[k]), w[k], 5e-5), f"{w['strong']} {k}: {g[k]} in report.md, {w[k]} in run.h5"


def test_accuracies_agree_with_labels_and_targets(run_dir):
    """The numbers the report shows, recomputed another way: from the
    predictions in run.h5 and the ground truth in data.h5."""
    run = w2sio.load_run(run_dir)
    with h5py.File(os.path.join(run_dir, "data.h5"), "r") as d, \
            h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        target = d["target"][()]
        for r in run.results:
            idx = d["splits"][r["split"]][()]
            pred = f[f"labels/{r['model']}/{r['split']}/pred"][()]
            acc = float(np.mean(pred == target[idx]))
            assert abs(acc - r["accuracy"]) < 1e-12, f"{r['model']}/{r['split']}: {acc} != {r['accuracy']}"
    for p in run.pgr:
        weak = run.result(f"weak.{p['weak']}")["accuracy"]
        w2s = run.result(f"student.{p['strong']}")["accuracy"]
        ceiling = run.result(f"ceiling.{p['strong']}")["accuracy"]
        assert (weak, w2s, ceiling) == (p["p_weak"], p["p_w2s"], p["p_ceiling"])
        pgr = (w2s - weak) / (ceiling - weak) if ceiling > weak else math.nan
        assert close(pgr, p["pgr"], 1e-12)


def test_csv_is_exact(run_dir, csv_pdf_report):
    out = csv_pdf_report
    assert not os.path.exists(os.path.join(out, "report.md"))
    for name in ("results", "pgr"):
        with open(os.path.join(out, f"{name}.csv")) as f:
            got = list(csv.DictReader(f))
        want = hdf5_table(run_dir, name)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            for k, v in w.items():
                if isinstance(v, float):
                    assert close(float(g[k]), v, 0), (name, k, g[k], v)
                else:
                    assert type(v)(g[k]) == v, (name, k)


def test_figures_are_written_as_png_or_pdf(md_report, csv_pdf_report):
    out = md_report
    for name in ("results", "curves"):
        img = matplotlib.image.imread(os.path.join(out, f"{name}.png"))
        h, w = img.shape[:2]
        assert 500 < w < 3000 and 300 < h < 2000, f"{name}.png is {w}x{h}"
        assert img[..., :3].std() > 0.05, f"{name}.png looks blank"
        assert os.path.getsize(os.path.join(out, f"{name}.png")) < 400_000
    assert not os.path.exists(os.path.join(out, "cascade.png"))
    md = open(os.path.join(out, "report.md")).read()
    assert "![results](results.png)" in md and "![curves](curves.png)" in md

    out = csv_pdf_report
    for name in ("results", "curves"):
        with open(os.path.join(out, f"{name}.pdf"), "rb") as f:
            assert f.read(5) == b"%PDF-"
        assert not os.path.exists(os.path.join(out, f"{name}.png"))


@pytest.mark.parametrize("strong", ["both", "one"])
@pytest.mark.parametrize("name", [n for n, _ in report.FIGURES if n != "cascade"])
def test_figures_have_no_text_over_text(run_dir, name, strong):
    run = w2sio.load_run(run_dir)
    if strong == "one":
        # A run with one strong model: one column of curves, one group of bars.
        run.config["w2s"]["strong"] = ["strong"]
        run.pgr = run.pgr[:1]
    else:
        # As if mlp learned from strong (a chain): a third line under its name.
        run.pgr[1]["teacher"] = "strong"
    fig = dict(report.FIGURES)[name](run)
    try:
        assert report.text_overlaps(fig) == []
        texts = [t.get_text() for t, _ in report._texts(fig)]
        assert any("latent task, seed 3" in t for t in texts), "title does not name the config"
        # Panels in a grid share labels: each column is labelled along x
        # somewhere, each row along y.
        for ax in fig.axes:
            ss = ax.get_subplotspec()
            col = [a for a in fig.axes if a.get_subplotspec().colspan == ss.colspan]
            row = [a for a in fig.axes if a.get_subplotspec().rowspan == ss.rowspan]
            assert any(a.get_xlabel() for a in col), f"{ax.get_title()}: no x label in its column"
            assert any(a.get_ylabel() for a in row), f"{ax.get_title()}: no y label in its row"
    finally:
        plt.close(fig)


def test_kd_models_get_their_own_bars(run_dir):
    run = w2sio.load_run(run_dir)
    fig = report.figure_results(run)
    try:
        kd = [p for p in fig.axes[0].patches if p.get_facecolor()[:3] == matplotlib.colors.to_rgb(report.ROLE_COLOR["kd"])]
        # One bar per strong model; only `strong` has a kd twin, the other is NaN.
        assert len(kd) == 2
        assert kd[0].get_height() == run.result("kd.strong")["accuracy"]
    finally:
        plt.close(fig)


def test_overlap_check_sees_text_over_text():
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "one label")
    ax.text(0.5, 0.5, "another label")
    try:
        assert report.text_overlaps(fig) == [("one label", "another label")]
    finally:
        plt.close(fig)


def test_curves_show_every_trace_of_metrics_h5(run_dir):
    run = w2sio.load_run(run_dir)
    fig = report.figure_curves(run)
    try:
        # One column per strong model: loss on top, accuracy below, each with
        # the weak teacher, the student and the ceiling, from the file as is.
        axes = np.array(fig.axes).reshape(2, -1)
        with h5py.File(os.path.join(run_dir, "metrics.h5"), "r") as f:
            for j, s in enumerate(run.strong_models()):
                for row, col in enumerate(("loss", "acc")):
                    solid = [l for l in axes[row][j].get_lines() if l.get_linestyle() == "-"]
                    dashed = [l for l in axes[row][j].get_lines() if l.get_linestyle() == "--"]
                    names = ["weak.weak", f"student.{s}", f"ceiling.{s}"] + (["kd.strong"] if s == "strong" else [])
                    assert len(solid) == len(names)
                    for line, name in zip(solid, names):
                        g = f[f"trace/{name}"]
                        np.testing.assert_array_equal(line.get_xdata(), g["step"][()])
                        np.testing.assert_array_equal(line.get_ydata(), g[col][()])
                    # Accuracy on val, dashed, for every model that was evaluated.
                    want = names if col == "acc" else []
                    assert len(dashed) == len(want)
                    for line, name in zip(dashed, want):
                        np.testing.assert_array_equal(line.get_ydata(), f[f"trace/{name}/val_acc"][()])
            assert set(f["trace"]) == {"weak.weak", "kd.strong"} | {f"{r}.{s}" for s in run.strong_models()
                                                                     for r in ("student", "ceiling")}
    finally:
        plt.close(fig)


def test_absent_cascade_is_said_not_drawn(run_dir, md_report):
    md = open(os.path.join(md_report, "report.md")).read()
    assert "## Not in this run" in md and "/cascade/curve" in md
    assert report.figure_cascade(w2sio.load_run(run_dir)) is None


def add_cascade(run_dir, layout):
    """Adds /cascade/curve to run.h5, in the columns the issue names or in
    those of struct w2s_cascade_point; returns the rows."""
    thr = np.array([0.0, 0.6, 0.7, 0.8, 0.9, 1.0, 2.0])
    if layout == "issue":
        dt = [("strong", "S16"), ("threshold", "f8"), ("deferral", "f8"), ("accuracy", "f8"), ("cost", "f8")]
        rows = [(s, t, min(t, 1.0), 0.7 + 0.2 * min(t, 1.0), 1 + 4 * min(t, 1.0))
                for s in (b"strong", b"mlp") for t in thr]
    else:
        dt = [("threshold", "f8"), ("deferred", "i8"), ("correct", "i8"), ("defer_rate", "f8"),
              ("accuracy", "f8"), ("flops", "f8"), ("seconds", "f8"), ("flops_saving", "f8"),
              ("seconds_saving", "f8")]
        rows = [(t, int(1000 * min(t, 1.0)), int(700 + 200 * min(t, 1.0)), min(t, 1.0),
                 0.7 + 0.2 * min(t, 1.0), 10 + 500 * min(t, 1.0), 1e-6 * (1 + min(t, 1.0)),
                 1 - (10 + 500 * min(t, 1.0)) / 500, 0.0) for t in thr]
    rows = np.array(rows, dtype=dt)
    with h5py.File(os.path.join(run_dir, "run.h5"), "a") as f:
        f["cascade/curve"] = rows
        if layout == "issue":
            f["cascade/curve"].attrs["cost_unit"] = "strong-model evaluations"
    return rows


# The cascade stage does not write its table yet: these tests add one in
# each of the layouts it may take, with the columns report.py reads.
@pytest.mark.parametrize("layout", ["issue", "struct"])
def test_cascade_curve_is_drawn_when_run_h5_holds_one(run_copy, tmp_path, layout):
    rows = add_cascade(run_copy, layout)
    run = w2sio.load_run(run_copy)
    fig = report.figure_cascade(run)
    cost = "cost" if layout == "issue" else "flops"
    deferral = "deferral" if layout == "issue" else "defer_rate"
    first = rows[: 7]  # the first line: the first strong model, or the only curve
    try:
        assert report.text_overlaps(fig) == []
        ax, bx = fig.axes[:2]
        assert ("strong-model evaluations" if layout == "issue" else "FLOPs") in ax.get_xlabel()
        np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.sort(first[cost]))
        np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), first["accuracy"][np.argsort(first[cost], kind="stable")])
        # The threshold axis shows [0, 1]; 2.0 (defer everything) is left to the cost axis.
        np.testing.assert_allclose(bx.get_lines()[0].get_xdata(), first["threshold"][:-1])
        np.testing.assert_allclose(bx.get_lines()[0].get_ydata(), first[deferral][:-1])
    finally:
        plt.close(fig)
    got = md_tables(report.markdown(run, []))["cascade/curve"]
    assert [float(r["accuracy"]) for r in got] == pytest.approx(rows["accuracy"].tolist(), abs=5e-5)
    assert "Not in this run" not in report.markdown(run, [])
    if layout == "issue":
        # Low resolution: only the files' presence is checked here.
        out = make_report(run_copy, tmp_path / "csv", "--csv", "--dpi", "40")
        assert os.path.exists(os.path.join(out, "cascade.png"))
        with open(os.path.join(out, "cascade_curve.csv")) as f:
            assert [float(r["cost"]) for r in csv.DictReader(f)] == rows["cost"].tolist()


def test_a_cascade_without_its_columns_is_refused_by_name(run_copy):
    with h5py.File(os.path.join(run_copy, "run.h5"), "a") as f:
        f["cascade/curve"] = np.array([(0.5, 0.9)], dtype=[("threshold", "f8"), ("accuracy", "f8")])
    with pytest.raises(ValueError, match="lacks the columns deferral or defer_rate, cost, flops or seconds"):
        report.figure_cascade(w2sio.load_run(run_copy))


def test_without_metrics_h5_the_tables_still_come(run_copy, tmp_path):
    os.remove(os.path.join(run_copy, "metrics.h5"))
    out = make_report(run_copy, tmp_path, "--dpi", "40")
    assert os.path.exists(os.path.join(out, "results.png"))
    assert not os.path.exists(os.path.join(out, "curves.png"))
    assert "training curves: no metrics.h5" in open(os.path.join(out, "report.md")).read()


def test_help_names_the_outputs(capsys):
    with pytest.raises(SystemExit) as e:
        report.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for word in ("RUN_DIR", "results.png", "curves.png", "cascade.png", "--pdf", "--csv", "Exit codes"):
        assert word in out


@pytest.mark.parametrize("what", ["missing", "not_hdf5", "data_file"])
def test_bad_input_gives_one_line_and_exit_4(run_dir, tmp_path, capsys, what):
    if what == "missing":
        arg = str(tmp_path / "nowhere")
    elif what == "not_hdf5":
        (tmp_path / "run.h5").write_text("not HDF5\n")
        arg = str(tmp_path)
    else:  # a data file where run.h5 should be
        os.symlink(os.path.join(run_dir, "data.h5"), tmp_path / "run.h5")
        arg = str(tmp_path)
    assert report.main([arg, "--out", str(tmp_path / "out")]) == 4
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("report.py: error: "), lines
    assert not os.path.exists(tmp_path / "out")

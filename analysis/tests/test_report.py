"""report.py on real runs: the tables it prints hold the numbers of the
HDF5 files (and those numbers agree with the labels and targets they came
from), every figure is written, shows the traces and tables it claims to,
and has no text drawn over text; optional stages (the cascade, the filter,
synthetic data) are drawn only when present, and said absent otherwise."""
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


@pytest.fixture(scope="session")
def methods_report(methods_dir, tmp_path_factory):
    return make_report(methods_dir, tmp_path_factory.mktemp("methods"), "--dpi", "60")


@pytest.fixture(params=["default", "methods"])
def any_run(request):
    """Each of the two runs in turn: the default stages, and the filter
    with synthetic data."""
    return request.getfixturevalue("run_dir" if request.param == "default" else "methods_dir")


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


def test_accuracies_agree_with_labels_and_targets(any_run):
    """The numbers the report shows, recomputed another way: from the
    predictions in run.h5 and the ground truth in data.h5.  A filtered run's
    row with filter none is that of unfiltered.<strong>."""
    run = w2sio.load_run(any_run)
    filtered = {p["strong"] for p in run.pgr if p["filter"] != "none"}
    with h5py.File(os.path.join(any_run, "data.h5"), "r") as d, \
            h5py.File(os.path.join(any_run, "run.h5"), "r") as f:
        target = d["target"][()]
        for r in run.results:
            idx = d["splits"][r["split"]][()]
            pred = f[f"labels/{r['model']}/{r['split']}/pred"][()]
            acc = float(np.mean(pred == target[idx]))
            assert abs(acc - r["accuracy"]) < 1e-12, f"{r['model']}/{r['split']}: {acc} != {r['accuracy']}"
    assert len(run.pgr) == len(run.strong_models()) * (2 if filtered else 1)
    for p in run.pgr:
        weak = run.result(f"weak.{p['weak']}")["accuracy"]
        student = "unfiltered" if p["filter"] == "none" and p["strong"] in filtered else "student"
        w2s = run.result(f"{student}.{p['strong']}")["accuracy"]
        ceiling = run.result(f"ceiling.{p['strong']}")["accuracy"]
        assert (weak, w2s, ceiling) == (p["p_weak"], p["p_w2s"], p["p_ceiling"])
        pgr = (w2s - weak) / (ceiling - weak) if ceiling > weak else math.nan
        assert close(pgr, p["pgr"], 1e-12)


def test_csv_is_exact(run_dir, csv_pdf_report):
    out = csv_pdf_report
    assert not os.path.exists(os.path.join(out, "report.md"))
    for name in ("results", "pgr", "cascade/curve", "cascade/val_curve"):
        with open(os.path.join(out, name.replace("/", "_") + ".csv")) as f:
            got = list(csv.DictReader(f))
        want = hdf5_table(run_dir, name)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            for k, v in w.items():
                if isinstance(v, float):
                    assert close(float(g[k]), v, 0), (name, k, g[k], v)
                else:
                    assert type(v)(g[k]) == v, (name, k)


def test_figures_are_written_as_png_or_pdf(md_report, csv_pdf_report, methods_report):
    out = md_report
    for name in ("results", "curves", "cascade"):
        img = matplotlib.image.imread(os.path.join(out, f"{name}.png"))
        h, w = img.shape[:2]
        assert 500 < w < 3000 and 300 < h < 2000, f"{name}.png is {w}x{h}"
        assert img[..., :3].std() > 0.05, f"{name}.png looks blank"
        assert os.path.getsize(os.path.join(out, f"{name}.png")) < 400_000
    assert not os.path.exists(os.path.join(out, "filter.png"))
    md = open(os.path.join(out, "report.md")).read()
    assert "![results](results.png)" in md and "![curves](curves.png)" in md and "![cascade](cascade.png)" in md
    assert "![filter]" not in md

    out = methods_report
    assert os.path.exists(os.path.join(out, "filter.png")) and not os.path.exists(os.path.join(out, "cascade.png"))
    md = open(os.path.join(out, "report.md")).read()
    assert "![filter](filter.png)" in md and "![cascade]" not in md

    out = csv_pdf_report
    for name in ("results", "curves", "cascade"):
        with open(os.path.join(out, f"{name}.pdf"), "rb") as f:
            assert f.read(5) == b"%PDF-"
        assert not os.path.exists(os.path.join(out, f"{name}.png"))


@pytest.mark.parametrize("strong", ["both", "one"])
@pytest.mark.parametrize("name", ["results", "curves"])
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


def test_absent_stages_are_said_not_drawn(run_dir, methods_dir, md_report, methods_report):
    """The default run has a cascade but no filter or synthetic data; the
    other run (cascade.enabled=false) the reverse."""
    md = open(os.path.join(md_report, "report.md")).read()
    notes = md.split("## Not in this run")[1]
    assert "/filter" in notes and "/synth" in notes and "/cascade" not in notes
    assert "## Filter" not in md and "## Synthetic data" not in md and "## Cascade" in md
    assert report.figure_filter(w2sio.load_run(run_dir)) is None

    md = open(os.path.join(methods_report, "report.md")).read()
    notes = md.split("## Not in this run")[1]
    assert "/cascade/curve" in notes and "cascade.enabled false" in notes
    assert "/filter" not in notes and "/synth" not in notes
    assert "## Cascade" not in md and "## Filter" in md and "## Synthetic data" in md
    assert report.figure_cascade(w2sio.load_run(methods_dir)) is None


def test_chosen_threshold_is_the_cheapest_within_tolerance_on_val(run_dir):
    """The threshold the figure and the tables mark, recomputed from the
    val curve: the fewest deferred queries whose accuracy is within the
    tolerance of the large model alone (the last row, which defers all)."""
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        a = f["cascade/curve"].attrs
        val = f["cascade/val_curve"][()]
        tolerance, chosen = a["tolerance"], a["chosen_threshold"]
    assert val["threshold"][-1] > 1 and val["defer_rate"][-1] == 1
    ok = val[val["accuracy"] >= val["accuracy"][-1] - tolerance]
    fewest = ok[ok["deferred"] == ok["deferred"].min()]
    assert chosen == fewest["threshold"].min(), (chosen, fewest["threshold"])


def test_cascade_figure_shows_the_curves_of_run_h5(run_dir):
    run = w2sio.load_run(run_dir)
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        test, val = f["cascade/curve"][()], f["cascade/val_curve"][()]
        a = w2sio.attrs(f["cascade/curve"])
    fig = report.figure_cascade(run)
    try:
        assert report.text_overlaps(fig) == []
        ax, bx = fig.axes[:2]
        lines = {l.get_label(): l for l in ax.get_lines()}
        for name, rows in (("test", test), ("val", val)):
            # Cost relative to the large model alone: FLOPs over its FLOPs,
            # which are the last row's less the small model's (the first).
            cost = rows["flops"] / (rows["flops"][-1] - rows["flops"][0])
            order = np.argsort(cost, kind="stable")
            np.testing.assert_allclose(lines[name].get_xdata(), cost[order], rtol=1e-12)
            np.testing.assert_array_equal(lines[name].get_ydata(), rows["accuracy"][order])
        assert lines["test"].get_linestyle() == "-" and lines["val"].get_linestyle() == "--"
        # The chosen threshold: a marker on the test curve, a vertical line
        # on the threshold axis.
        chosen = test[test["threshold"] == a["chosen_threshold"]]
        assert len(chosen) == 1
        marker = [l for l in ax.get_lines() if l.get_marker() == "D"]
        assert len(marker) == 1
        assert marker[0].get_xdata()[0] == pytest.approx(chosen["flops"][0] / (test["flops"][-1] - test["flops"][0]), rel=1e-12)
        assert marker[0].get_ydata()[0] == chosen["accuracy"][0]
        vertical = [l for l in bx.get_lines() if list(l.get_xdata()) == [a["chosen_threshold"]] * 2]
        assert len(vertical) == 1
        # The threshold axis shows [0, 1]; the one above 1 (defer everything)
        # is left to the cost axis.
        inside = test[test["threshold"] <= 1]
        solid = [l for l in bx.get_lines() if l.get_label() == "test"][0]
        np.testing.assert_array_equal(solid.get_xdata(), inside["threshold"])
        np.testing.assert_array_equal(solid.get_ydata(), inside["defer_rate"])
        assert a["large"] in bx.get_ylabel() and a["small"] in bx.get_xlabel()
    finally:
        plt.close(fig)


def test_cascade_table_shows_some_thresholds_with_the_chosen_one(run_dir, md_report):
    tables = md_tables(open(os.path.join(md_report, "report.md")).read())
    got = tables["Cascade"]
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        rows = f["cascade/curve"][()]
        chosen = f["cascade/curve"].attrs["chosen_threshold"]
    by_threshold = {round(float(t), 4): r for t, r in zip(rows["threshold"], rows)}
    assert 3 <= len(got) < len(rows)
    worst = 0.0
    for g in got:
        want = by_threshold[float(g["threshold"])]
        assert int(g["deferred"]) == want["deferred"] and int(g["correct"]) == want["correct"]
        for k in ("defer_rate", "accuracy", "flops", "flops_saving"):
            worst = max(worst, abs(float(g[k]) - want[k]))
    assert worst <= 5e-5, f"largest difference {worst}"
    assert [g["note"] for g in got if g["note"]] == [
        "defers none: the small model alone", "chosen on val", "defers all: the large model's accuracy"]
    assert float([g for g in got if g["note"] == "chosen on val"][0]["threshold"]) == round(chosen, 4)


def test_a_cascade_without_its_columns_is_refused_by_name(run_copy):
    with h5py.File(os.path.join(run_copy, "run.h5"), "a") as f:
        del f["cascade/curve"]
        f["cascade/curve"] = np.array([(0.5, 0.9)], dtype=[("threshold", "f8"), ("accuracy", "f8")])
    with pytest.raises(ValueError, match="lacks the columns defer_rate, flops_saving"):
        report.figure_cascade(w2sio.load_run(run_copy))


def pgr_by_filter(run_dir):
    """{strong: {filter: /pgr row}} read with h5py."""
    out = {}
    for p in hdf5_table(run_dir, "pgr"):
        out.setdefault(p["strong"], {})[p["filter"]] = p
    return out


def test_filter_figure_compares_pgr_with_and_without_it(methods_dir):
    run = w2sio.load_run(methods_dir)
    pgr = pgr_by_filter(methods_dir)
    filt = hdf5_table(methods_dir, "filter")
    names = [f["strong"] for f in filt]
    assert names == ["strong", "mlp"] and all(f["method"] == "confidence" for f in filt)
    fig = report.figure_filter(run)
    try:
        assert report.text_overlaps(fig) == []
        ax, bx = fig.axes[:2]
        heights = [p.get_height() for p in ax.patches]
        assert heights == [pgr[n]["confidence"]["pgr"] for n in names] + [pgr[n]["none"]["pgr"] for n in names]
        heights = [p.get_height() for p in bx.patches]
        assert heights == [f["precision"] for f in filt] + [f["recall"] for f in filt]
        # A random filter's precision, the weak labels' error rate, as a line.
        levels = sorted({float(seg[0][1]) for c in bx.collections for seg in c.get_segments()})
        assert levels == sorted({f["error_before"] for f in filt})
    finally:
        plt.close(fig)


def test_a_filtered_run_draws_each_strong_model_once(methods_dir):
    """Its results and curves show the filtered student of each strong
    model, one group and one column each, not one per /pgr row."""
    run = w2sio.load_run(methods_dir)
    fig = report.figure_results(run)
    try:
        students = [p for p in fig.axes[0].patches
                    if p.get_facecolor()[:3] == matplotlib.colors.to_rgb(report.ROLE_COLOR["student"])]
        assert [p.get_height() for p in students] == [run.result(f"student.{s}")["accuracy"] for s in ("strong", "mlp")]
        pgr = pgr_by_filter(methods_dir)
        assert [p.get_height() for p in fig.axes[1].patches] == [pgr[s]["confidence"]["pgr"] for s in ("strong", "mlp")]
        assert any("filter: confidence" in t.get_text() for t in fig.axes[0].get_xticklabels())
    finally:
        plt.close(fig)
    fig = report.figure_curves(run)
    try:
        assert len(fig.axes) == 4
    finally:
        plt.close(fig)


def test_filter_and_synth_tables_hold_the_numbers_of_run_h5(methods_dir, methods_report):
    tables = md_tables(open(os.path.join(methods_report, "report.md")).read())
    want = hdf5_table(methods_dir, "filter")
    got = tables["Filter"]
    assert len(got) == len(want) == 2
    for g, w in zip(got, want):
        assert (g["strong"], g["method"], int(g["rows"]), int(g["kept"]), int(g["errors_removed"])) == \
            (w["strong"], w["method"], w["rows"], w["kept"], w["errors_removed"])
        for k in ("precision", "recall", "error_before", "error_after"):
            assert close(number(g[k]), w[k], 5e-5), (k, g[k], w[k])
    pgr = tables["Performance gap recovered (test)"]
    assert [(p["strong"], p["filter"]) for p in pgr] == [
        ("strong", "confidence"), ("strong", "none"), ("mlp", "confidence"), ("mlp", "none")]

    run = w2sio.load_run(methods_dir)
    with h5py.File(os.path.join(methods_dir, "run.h5"), "r") as f:
        assert f["synth/strong/x"].shape == (500, 8) and f["synth/strong/y"].shape == (500,)
    (row,) = tables["Synthetic data"]
    assert row["model"] == "strong" and int(row["synthetic rows"]) == 500
    for kind in ("synthetic", "real", "mix"):
        assert close(float(row[kind]), run.result(f"synth_{kind}.strong")["accuracy"], 5e-5), kind


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
    for word in ("RUN_DIR", "results.png", "curves.png", "cascade.png", "filter.png", "--pdf", "--csv",
                 "Exit codes"):
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

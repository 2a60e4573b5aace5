#!/usr/bin/python3
"""Figures and tables of one w2s run.

usage: report.py RUN_DIR [--out DIR] [--pdf] [--csv] [--dpi N]

Reads RUN_DIR/run.h5 (results, PGR, optional stage tables), RUN_DIR/metrics.h5
(training traces) and RUN_DIR/data.h5 (split sizes; for imported data the
file run.h5 names), and writes into --out
(default RUN_DIR/report):

  results.png   test accuracy of the weak model, each weak-to-strong student
                (the filtered one, when the run filtered) and each strong
                ceiling (and kd model, if any), beside the PGR of each strong
                model (a chain's students included)
  curves.png    training loss and accuracy against step of every model, one
                column per strong model (its student, ceiling and kd model,
                and the weak teacher for reference); accuracy on val dashed
                when the run evaluated it
  cascade.png   accuracy against cost and deferral against threshold of the
                cascade on test (val dashed), the threshold chosen on val
                marked; only when run.h5 holds /cascade/curve
  filter.png    PGR of each strong model with and without the filter, and
                the filter's precision and recall at finding wrong weak
                labels; only when run.h5 holds /filter
  report.md     the results and PGR tables, the config in words, the filter
                and synthetic-data tables and the cascade at a few thresholds
                when present, the figures (with --csv instead: results.csv,
                pgr.csv, and one CSV per optional table, numbers at full
                precision)

--pdf writes the figures as PDF rather than PNG.  Nothing is drawn for a
stage the run did not have; report.md says what was absent.
Exit codes: 0 done, 2 bad command line, 4 a file missing or unreadable.
"""
import argparse
import csv
import math
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import w2sio  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.lines  # noqa: E402
import matplotlib.text  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# One colour per role, the same in every figure: the weak teacher grey, the
# student (what the paper is about) a strong colour, the ceiling a third;
# a model distilled from the weak one (kd.models) a fourth, when there is one.
ROLE_COLOR = {"weak": "#7f7f7f", "student": "#d62728", "ceiling": "#1f77b4", "kd": "#9467bd"}
ROLE_WORDS = {
    "weak": "weak (ground truth, weak_train)",
    "student": "student (its teacher's labels, transfer)",
    "ceiling": "ceiling (ground truth, transfer)",
    "kd": "kd (ground truth + distillation from weak)",
}
RESULT_COLUMNS = ["model", "role", "base", "view", "split", "n", "accuracy", "loss", "train_seconds", "step"]
PGR_COLUMNS = ["strong", "weak", "teacher", "filter", "p_weak", "p_w2s", "p_ceiling", "pgr"]


def classes(run):
    if "classes" in run.data:
        return int(run.data["classes"])
    data = run.config.get("data", {})
    return int(data.get(data.get("task", "latent"), {}).get("classes", 2))


SPLIT_ORDER = ["weak_train", "transfer", "val", "test"]


def split_rows(run):
    """(split, rows) in pipeline order, then any other split by name."""
    rows = run.config.get("data", {}).get("rows", {})
    order = [s for s in SPLIT_ORDER if s in rows] + sorted(s for s in rows if s not in SPLIT_ORDER)
    return [(s, rows[s]) for s in order]


def model_order(run):
    """The weak model, the strong models in config order, then the rest."""
    names = [run.weak_model()] + run.strong_models()
    names += sorted(m for m in run.config.get("models", {}) if m not in names)
    return [m for m in names if m in run.config.get("models", {})]


def student_pgr(run):
    """One /pgr row per strong model, in file order: that of student.<strong>.
    A filtered run has a second row per model, filter "none", which is that
    of unfiltered.<strong>, the same student on every transfer row."""
    rows = {}
    for p in run.pgr:
        if p["strong"] not in rows or p.get("filter", "none") != "none":
            rows[p["strong"]] = p
    return list(rows.values())


def strong_models(run):
    """The models that have a student and a ceiling: the rows of /pgr (a
    chain's intermediate students included), else the config's list."""
    return [p["strong"] for p in student_pgr(run)] or run.strong_models()


def teacher_of(run, strong):
    """The model whose labels the student of `strong` learned from."""
    for p in run.pgr:
        if p["strong"] == strong:
            return p.get("teacher", p.get("weak"))
    return run.weak_model()


def subtitle(run):
    """Rows per split and the classes, for under the title."""
    parts = [f"{k} {v}" for k, v in split_rows(run)]
    return f"rows: {', '.join(parts)}; {classes(run)} classes"


def fmt(v, digits=4):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float) and v != 0 and abs(v) < 10 ** -digits:
        return f"{v:.{digits - 2}e}"  # seconds per query: 8.82e-08, not 0.0000
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


# ---- overlap check, used by the tests and by --check

def _shown_ticks(axis):
    """Tick labels an axis actually draws: matplotlib keeps Text objects for
    ticks outside the view limits, visible but not drawn."""
    lo, hi = sorted(axis.get_view_interval())
    span = (hi - lo) * 1e-9
    out = []
    for tick in axis.get_major_ticks() + axis.get_minor_ticks():
        if lo - span <= tick.get_loc() <= hi + span:
            out += [t for t in (tick.label1, tick.label2) if tick.get_visible() and t.get_visible()]
    return out


def _texts(fig):
    """Visible, non-empty text a reader sees in a drawn figure, with boxes."""
    renderer = fig.canvas.get_renderer()
    texts = list(fig.texts)  # the suptitle is one of them
    for legend in fig.legends:
        texts += legend.get_texts()
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label,
                  ax.xaxis.get_offset_text(), ax.yaxis.get_offset_text()]
        texts += list(ax.texts)
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts()
        texts += _shown_ticks(ax.xaxis) + _shown_ticks(ax.yaxis)
    seen, out = set(), []
    for t in texts:
        if id(t) not in seen and t.get_visible() and t.get_text().strip():
            seen.add(id(t))
            out.append((t, t.get_window_extent(renderer)))
    return out


def text_overlaps(fig):
    """Pairs of text strings in `fig` whose boxes overlap (by more than a
    pixel each way): what a reader would see as text written over text."""
    fig.canvas.draw()
    items = _texts(fig)
    pairs = []
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            a, b = items[i][1], items[j][1]
            w = min(a.x1, b.x1) - max(a.x0, b.x0)
            h = min(a.y1, b.y1) - max(a.y0, b.y0)
            if w > 1 and h > 1:
                pairs.append((items[i][0].get_text(), items[j][0].get_text()))
    return pairs


# ---- figures

def _title(fig, run, what):
    title = run.title().replace(" -> ", " \u2192 ")
    fig.suptitle(f"{what}: {title}\n{subtitle(run)}", fontsize=11)


def figure_results(run):
    """Grouped bars of test accuracy (weak, student, ceiling) per strong
    model, and the PGR of each; None when the run has no PGR rows."""
    pgr_rows = student_pgr(run)
    if not pgr_rows:
        return None
    names = [p["strong"] for p in pgr_rows]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(max(9.0, 2.4 * len(names) + 5.5), 4.6),
                                 gridspec_kw={"width_ratios": [max(2, len(names)) * 1.1, max(1.4, len(names) * 0.8)]})
    x = np.arange(len(names))
    series = [("weak", [p["p_weak"] for p in pgr_rows]), ("student", [p["p_w2s"] for p in pgr_rows]),
              ("ceiling", [p["p_ceiling"] for p in pgr_rows])]
    # A model also trained with distillation from the weak one (kd.models)
    # gets a fourth bar beside its student and ceiling.
    kd = [(run.result(f"kd.{n}") or {}).get("accuracy", math.nan) for n in names]
    if not all(math.isnan(v) for v in kd):
        series.append(("kd", kd))
    width = 0.78 / len(series)
    values = []
    for k, (role, v) in enumerate(series):
        v = np.array(v, dtype=float)
        values.append(v)
        bars = ax.bar(x + (k - (len(series) - 1) / 2) * width, v, width, color=ROLE_COLOR[role],
                      label=ROLE_WORDS[role])
        if len(names) * len(series) <= 18:
            ax.bar_label(bars, labels=["" if math.isnan(a) else fmt(a, 3) for a in v],
                         fontsize=7.5 if len(series) < 4 else 6.5, padding=2)
    chance = 1.0 / classes(run)
    low = min(chance, float(np.nanmin(np.concatenate(values))))
    ticks = []
    for n, p in zip(names, pgr_rows):
        teacher = teacher_of(run, n)
        ticks.append(f"{n}\n({run.model_words(n)})"
                     + (f"\nteacher: {teacher}" if teacher != run.weak_model() else "")
                     + (f"\nfilter: {p['filter']}" if p.get("filter", "none") != "none" else ""))
    ax.set_ylim(max(0.0, math.floor((low - 0.05) * 10) / 10), 1.08)
    ax.axhline(chance, color="black", lw=0.8, ls=":", label=f"chance (1/{classes(run)})")
    ax.set_xticks(x, ticks, fontsize=8.5)
    ax.set_ylabel("test accuracy (fraction correct)")
    ax.set_xlabel("strong model")
    ax.set_title("accuracy on test", fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    order = [labels.index(ROLE_WORDS[r]) for r, _ in series]
    order += [i for i in range(len(labels)) if i not in order]
    ax.grid(axis="y", alpha=0.3)

    pgr = np.array([p["pgr"] for p in pgr_rows], dtype=float)
    shown = np.nan_to_num(pgr, nan=0.0)
    bars = bx.bar(x, shown, 0.55, color=ROLE_COLOR["student"])
    bx.bar_label(bars, labels=[fmt(v, 3) for v in pgr], fontsize=8, padding=2)
    top = max(1.0, float(np.nanmax(shown)) if len(shown) else 1.0) + 0.12
    bottom = min(0.0, float(np.nanmin(shown))) - (0.12 if np.nanmin(shown) < 0 else 0.0)
    bx.set_ylim(bottom, top)
    bx.axhline(0, color="black", lw=0.8)
    bx.axhline(1, color="black", lw=0.8, ls="--")
    bx.set_xticks(x, names, fontsize=8.5)
    bx.set_xlim(-0.6, len(names) - 0.4)
    bx.set_xlabel("strong model")
    bx.set_ylabel("PGR (fraction of the gap recovered)")
    bx.set_title("performance gap recovered\n(P_w2s - P_weak) / (P_ceiling - P_weak)", fontsize=10)
    bx.grid(axis="y", alpha=0.3)
    _title(fig, run, "Weak-to-strong results")
    # The legend goes under both panels, clear of tick labels of any height.
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8,
               loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False)
    return fig


def _use_log(values):
    """A log axis only when the values span more than a decade: a loss
    that falls from 1 to 1e-3 needs it, one that moves from 0.7 to 0.6
    would show a single tick label."""
    v = np.concatenate([np.asarray(x, float) for x in values]) if values else np.array([])
    v = v[np.isfinite(v) & (v > 0)]
    return len(v) > 1 and v.max() / v.min() > 10


def figure_curves(run):
    """Training loss and accuracy against step: one column per strong model
    with its student, its ceiling and the weak teacher; None without traces."""
    if not run.traces:
        return None
    weak = f"weak.{run.weak_model()}"
    strong = strong_models(run) or [None]
    ncol = len(strong)
    fig, axes = plt.subplots(2, ncol, figsize=(4.6 * ncol + 1.0, 6.8), squeeze=False, sharex="col")
    has_val = False
    for j, s in enumerate(strong):
        lines = [(weak, "weak")]
        if s is not None:
            lines += [(f"student.{s}", "student"), (f"ceiling.{s}", "ceiling"), (f"kd.{s}", "kd")]
        for row, (col, label) in enumerate((("loss", "training loss (cross-entropy, nats)"),
                                           ("acc", "training accuracy (fraction)"))):
            ax = axes[row][j]
            drawn = []
            for name, role in lines:
                t = run.traces.get(name)
                if t is None or len(t.get("step", [])) == 0:
                    continue
                ax.plot(t["step"], t[col], color=ROLE_COLOR[role], lw=1.6,
                        marker="o" if len(t["step"]) < 30 else None, ms=3)
                drawn.append(t[col])
                val = t.get("val_acc")
                if col == "acc" and val is not None and np.isfinite(val).any():
                    # The newest evaluation holds until the next: a step line.
                    ax.plot(t["step"], val, color=ROLE_COLOR[role], lw=1.2, ls="--",
                            drawstyle="steps-post")
                    has_val = True
            if col == "loss":
                if _use_log(drawn):
                    ax.set_yscale("log")
                teacher = teacher_of(run, s) if s else None
                ax.set_title((f"{s}: {run.model_words(s)}" if s else "weak model")
                             + (f"\nstudent of {teacher}" if s and teacher != run.weak_model() else ""),
                             fontsize=10)
            else:
                ax.set_xlabel("step (optimizer updates)")
            if j == 0:
                ax.set_ylabel(label, fontsize=9)
            ax.grid(alpha=0.3)
    if has_val:
        axes[1][0].set_ylabel("accuracy (fraction; val dashed)", fontsize=9)
    names = {"weak": weak, "student": "student.<strong>", "ceiling": "ceiling.<strong>", "kd": "kd.<strong>"}
    roles = [r for r in ROLE_COLOR if r != "kd" or any(f"kd.{s}" in run.traces for s in strong)]
    handles = [matplotlib.lines.Line2D([], [], color=ROLE_COLOR[r], lw=1.6, marker="o", ms=3)
               for r in roles]
    labels = [f"{names[r]}: {ROLE_WORDS[r]}" for r in roles]
    if has_val:
        roles = roles + ["val"]
        handles.append(matplotlib.lines.Line2D([], [], color="black", lw=1.2, ls="--"))
        labels.append("dashed: accuracy on val at the newest evaluation (train.eval_every)")
    _title(fig, run, "Training curves")
    # Room under the panels for the legend: about 12 points per row of it.
    legend_cols = min(len(roles), 2 * ncol - 1) if ncol > 1 else 1
    legend_rows = math.ceil(len(roles) / legend_cols)
    fig.tight_layout(rect=(0, (14 + 12 * legend_rows) / 72 / fig.get_figheight(), 1, 1))
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0),
               ncol=legend_cols, fontsize=8, frameon=False)
    notes = ("loss: mean over the batches since the previous point; students against their teacher's "
             "outputs (it cannot fall below their entropy), the others against ground truth.",
             "accuracy: fraction of those training rows predicted as the target the model trains on; "
             "for students, agreement with their teacher's labels."
             + ("  Accuracy on val is against ground truth, or the teacher's labels when "
                "train.stop_on is teacher." if has_val else ""))
    # About 17 characters of 7.5 pt text to the inch: wrap to the figure.
    width = int(fig.get_figwidth() * 17)
    note = "\n".join(textwrap.fill(n, width) for n in notes)
    fig.text(0.5, -0.01, note, ha="center", va="top", fontsize=7.5, color="#444444")
    return fig


CASCADE_COLUMNS = ("threshold", "defer_rate", "accuracy", "flops_saving")


def cascade_rows(run):
    """The test curve's rows that a table shows: every tenth of [0, 1], the
    threshold chosen on val and any above 1 (which defer every query), with
    a note on the ends and on the chosen one.  A curve of 16 rows or fewer
    is shown whole."""
    rows = run.tables.get("cascade/curve", [])
    chosen = run.table_attrs.get("cascade/curve", {}).get("chosen_threshold", math.nan)
    out = []
    for r in rows:
        t = r["threshold"]
        tenth = t <= 1 and abs(10 * t - round(10 * t)) < 1e-9
        if len(rows) > 16 and not tenth and t != chosen and t <= 1:
            continue
        note = ("chosen on val" if t == chosen else "defers all: the large model's accuracy" if t > 1
                else "defers none: the small model alone" if t == 0 else "")
        out.append(dict(r, note=note))
    return out


def cascade_cost(cols):
    """FLOPs per query as a fraction of the large model's alone: the cost
    axis.  Relative, so that it reads the same for models of any size (and
    its ticks stay short): 1 - flops_saving."""
    return 1 - np.asarray(cols["flops_saving"], dtype=float)


def figure_cascade(run):
    """The cascade on test (val dashed): accuracy against relative FLOPs
    per query, and the share of queries deferred against the threshold,
    with the threshold chosen on val marked; None when the run has no
    cascade."""
    rows = run.tables.get("cascade/curve")
    if not rows:
        return None
    cols = w2sio.columns(rows)
    missing = [c for c in CASCADE_COLUMNS if c not in cols]
    if missing:
        raise ValueError(f"/cascade/curve lacks the columns {', '.join(missing)}")
    a = run.table_attrs.get("cascade/curve", {})
    small, large = a.get("small", "the small model"), a.get("large", "the large model")
    chosen = a.get("chosen_threshold", math.nan)
    val = w2sio.columns(run.tables.get("cascade/val_curve", []))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10.0, 4.6))
    color = ROLE_COLOR["student"]
    for c, split, ls in ((cols, "test", "-"), (val, "val", "--")):
        if not c or any(k not in c for k in CASCADE_COLUMNS):
            continue
        cost = cascade_cost(c)
        order = np.argsort(cost, kind="stable")
        ax.plot(cost[order], c["accuracy"][order], color=color, ls=ls, lw=1.4,
                marker="o" if ls == "-" else None, ms=2.5, label=split)
        # A threshold above 1 defers every query: it belongs on the cost
        # axis, not on the threshold axis of [0, 1].
        inside = c["threshold"] <= 1
        order = np.argsort(c["threshold"][inside], kind="stable")
        bx.plot(c["threshold"][inside][order], c["defer_rate"][inside][order], color=color, ls=ls,
                lw=1.4, label=split)
    for r in rows[:1] + rows[-1:]:
        ax.axhline(r["accuracy"], color=ROLE_COLOR["weak" if r is rows[0] else "ceiling"], lw=0.8, ls=":")
    at = np.flatnonzero(cols["threshold"] == chosen)
    if len(at):
        r = rows[at[0]]
        label = f"chosen on val: {r['accuracy']:.3f},\n{100 * r['defer_rate']:.0f}% deferred"
        ax.plot(cascade_cost(cols)[at[:1]], [r["accuracy"]], "D", color="black", ms=6, label=label)
        bx.axvline(chosen, color="black", lw=1.0, ls="-.", label=f"chosen: {chosen:.2f}")
    ax.set_xlabel(f"FLOPs per query, as a fraction of {large}'s\n(small model, plus the large one when deferred)")
    ax.set_ylabel("accuracy of the cascade (fraction correct)")
    ax.set_title(f"accuracy against cost\n(dotted: {small} alone, {large} alone)", fontsize=10)
    bx.set_xlabel(f"confidence threshold ({a.get('score', 'score')} of {small}; defer below it)")
    bx.set_ylabel(f"fraction of queries deferred to {large}")
    bx.set_title("deferral against threshold", fontsize=10)
    for axis in (ax, bx):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="lower right" if axis is ax else "upper left")
    _title(fig, run, "Cascade")
    fig.tight_layout()
    return fig


def filter_pairs(run):
    """[(strong, filtered /pgr row, unfiltered /pgr row, /filter row)] for
    each strong model the filter ran for."""
    out = []
    for f in run.tables.get("filter", []):
        rows = [p for p in run.pgr if p["strong"] == f["strong"]]
        kept = next((p for p in rows if p.get("filter", "none") != "none"), None)
        full = next((p for p in rows if p.get("filter", "none") == "none"), None)
        if kept and full:
            out.append((f["strong"], kept, full, f))
    return out


def figure_filter(run):
    """PGR of each strong model's student with the filter and without it
    (unfiltered.<strong>), beside the filter's precision and recall at
    removing wrong weak labels; None when the run had no filter."""
    pairs = filter_pairs(run)
    if not pairs:
        return None
    names = [n for n, _, _, _ in pairs]
    x = np.arange(len(names))
    f0 = pairs[0][3]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(max(9.0, 2.2 * len(names) + 6.0), 4.6))
    width = 0.38
    for k, (label, color, values) in enumerate((
            (f"filtered ({f0['method']}, keep {f0['keep']:.2f}): student.<strong>", ROLE_COLOR["student"],
             [kept["pgr"] for _, kept, _, _ in pairs]),
            ("every transfer row: unfiltered.<strong>", ROLE_COLOR["weak"],
             [full["pgr"] for _, _, full, _ in pairs]))):
        v = np.array(values, dtype=float)
        bars = ax.bar(x + (k - 0.5) * width, np.nan_to_num(v, nan=0.0), width, color=color, label=label)
        ax.bar_label(bars, labels=[fmt(a, 3) for a in v], fontsize=7.5, padding=2)
    ax.axhline(0, color="black", lw=0.8)
    ax.axhline(1, color="black", lw=0.8, ls="--")
    ax.set_xticks(x, names, fontsize=8.5)
    ax.set_xlabel("strong model")
    ax.set_ylabel("PGR on test (fraction of the gap recovered)")
    ax.set_title("weak-to-strong with and without the filter", fontsize=10)
    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, 0.0), max(hi, 1.0) + 0.15)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")

    for k, (col, color) in enumerate((("precision", "#2ca02c"), ("recall", "#ff7f0e"))):
        v = np.array([f[col] for _, _, _, f in pairs], dtype=float)
        bars = bx.bar(x + (k - 0.5) * width, np.nan_to_num(v, nan=0.0), width, color=color,
                      label=col + (": wrong weak labels among the rows removed" if col == "precision"
                                   else ": share of the wrong weak labels removed"))
        bx.bar_label(bars, labels=[fmt(a, 3) for a in v], fontsize=7.5, padding=2)
    # Removing rows at random finds wrong labels at their base rate: a
    # filter is worth its cost only where its precision clears that line.
    for i, (_, _, _, f) in enumerate(pairs):
        bx.hlines(f["error_before"], i - 0.45, i + 0.45, color="black", lw=1.2, ls="--",
                  label="error of the weak labels (a random filter's precision)" if i == 0 else None)
    bx.set_ylim(0, 1.3)
    bx.set_xticks(x, names, fontsize=8.5)
    bx.set_xlim(-0.6, len(names) - 0.4)
    bx.set_xlabel("strong model")
    bx.set_ylabel("fraction")
    bx.set_title(f"what the filter removed: {f0['rows'] - f0['kept']} of {f0['rows']} transfer rows",
                 fontsize=10)
    bx.grid(axis="y", alpha=0.3)
    bx.legend(fontsize=7.5, loc="upper left")
    _title(fig, run, "Filtering the weak labels")
    fig.tight_layout()
    return fig


FIGURES = [("results", figure_results), ("curves", figure_curves), ("cascade", figure_cascade),
           ("filter", figure_filter)]


# ---- tables

def present(rows, preferred):
    """Columns to show: the preferred ones the table has, in that order,
    then any others it has (a newer w2s may add columns)."""
    have = list(rows[0]) if rows else list(preferred)
    return [c for c in preferred if c in have] + [c for c in have if c not in preferred]


def markdown_table(rows, cols, digits=4):
    head = "| " + " | ".join(cols) + " |"
    rule = "| " + " | ".join("---:" if isinstance(rows[0][c], (int, float)) else "---" for c in cols) + " |" if rows else ""
    body = ["| " + " | ".join(fmt(r[c], digits) for c in cols) + " |" for r in rows]
    return "\n".join([head, rule] + body)


def write_csv(path, rows, cols):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow([repr(r[c]) if isinstance(r[c], float) else r[c] for c in cols])


def absent_notes(run):
    notes = []
    if "cascade/curve" not in run.tables:
        notes.append("cascade curve (/cascade/curve in run.h5): the run had no cascade stage "
                     "(cascade.enabled false)")
    if "filter" not in run.tables:
        notes.append("filter comparison (/filter in run.h5): the run filtered no weak labels "
                     "(w2s.filter.method none)")
    if not run.synth:
        notes.append("synthetic data (/synth in run.h5): synth.models was empty")
    if not run.traces:
        notes.append("training curves: no metrics.h5 beside run.h5")
    for m in run.missing:
        if m != "metrics.h5":
            notes.append(f"{m}: not in the folder")
    return notes


def markdown_stages(run):
    """The sections of the optional stages the run had: filter, synthetic
    data, cascade, then any other optional table whole."""
    lines = []
    if run.tables.get("filter"):
        lines += ["", "## Filter", "",
                  "What the filter removed from the transfer split before each student learned it. "
                  "errors: rows whose weak label is wrong; precision: the share of removed rows that "
                  "were errors (removing at random gives error_before); recall: the share of errors "
                  "removed; error_before and error_after: the weak labels' error rate on all rows and "
                  "on the rows kept.", "", markdown_table(run.tables["filter"], list(run.tables["filter"][0]))]
    if run.synth:
        rows = []
        for m, n in run.synth.items():
            row = {"model": m, "synthetic rows": n}
            for kind in ("synthetic", "real", "mix"):
                r = run.result(f"synth_{kind}.{m}")
                row[kind] = r["accuracy"] if r else math.nan
            rows.append(row)
        lines += ["", "## Synthetic data", "",
                  "Test accuracy of each model trained on ground truth of the synthetic rows (drawn from "
                  "Gaussian mixtures fitted per class on weak_train), of weak_train itself (real), and "
                  "of both (mix): the instances synth_<kind>.<model>.", "",
                  markdown_table(rows, list(rows[0]))]
    if run.tables.get("cascade/curve"):
        a = run.table_attrs.get("cascade/curve", {})
        chosen = a.get("chosen_threshold", math.nan)
        rows = cascade_rows(run)
        lines += ["", "## Cascade", "",
                  f"{a.get('small', '?')} answers every query and defers it to {a.get('large', '?')} when its "
                  f"{a.get('score', '?')} score is below the threshold; "
                  + (f"threshold {chosen:.4f} was chosen on val, the cheapest within "
                     f"{a.get('tolerance', math.nan):g} of {a.get('large', '?')} alone."
                     if not math.isnan(chosen) else "no threshold came within the tolerance on val.")
                  + f"  On test, {len(rows)} of its {len(run.tables['cascade/curve'])} thresholds "
                  "(all of them: --csv); flops and seconds per query, savings against the large model alone.",
                  "", markdown_table(rows, list(rows[0]))]
    for path, rows in run.tables.items():
        if path not in ("filter", "cascade/curve", "cascade/val_curve") and rows:
            lines += ["", f"## {path}", "", markdown_table(rows, list(rows[0]))]
    return lines


def markdown(run, figures):
    lines = [f"# w2s run: {run.title()}", ""]
    wall = run.attrs.get("wall_seconds")
    lines.append(f"{run.provenance()}; folder `{run.dir}`"
                 + (f"; {wall:.1f} s wall" if isinstance(wall, float) else "") + ".")
    lines.append("")
    lines.append(f"Data: {run.task()} task; {subtitle(run)}.  ")
    lines.append("Models: " + "; ".join(f"{m}: {run.model_words(m)}" for m in model_order(run)) + ".  ")
    w2s = run.config.get("w2s", {})
    lines.append(f"Students learn from {w2s.get('weak', '?')} with loss {w2s.get('loss', '?')}.")
    lines += ["", "## Results", "",
              "Accuracy is the fraction of rows of the split predicted correctly; loss the mean "
              "cross-entropy (nats) against ground truth; train_seconds the training wall time.", ""]
    if run.results:
        lines.append(markdown_table(run.results, present(run.results, RESULT_COLUMNS)))
    else:
        lines.append("(no /results table in run.h5)")
    lines += ["", "## Performance gap recovered (test)", ""]
    if run.pgr:
        lines.append(markdown_table(run.pgr, present(run.pgr, PGR_COLUMNS)))
        lines += ["", "PGR = (P_w2s - P_weak) / (P_ceiling - P_weak): 1 when the student reaches "
                  "its ceiling, 0 when it only matches its weak teacher."]
        if len(student_pgr(run)) < len(run.pgr):
            lines += ["", "With a filter, each strong model has two rows: its student on the rows "
                      "the filter kept, and (filter none) unfiltered.<strong> on every transfer row."]
    else:
        lines.append("(no /pgr table in run.h5)")
    lines += markdown_stages(run)
    if figures:
        lines += ["", "## Figures", ""]
        for name, file in figures:
            lines += [f"![{name}]({file})", ""]
    notes = absent_notes(run)
    if notes:
        lines += ["", "## Not in this run", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="report.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n", 2)[2].split("\n--pdf")[0].rstrip(),
        epilog="Nothing is drawn for a stage the run did not have; report.md says what was absent.\n"
               "Exit codes: 0 done, 2 bad command line, 4 a file missing or unreadable.")
    ap.add_argument("run", metavar="RUN_DIR", help="the --out folder of `w2s run` (or its run.h5)")
    ap.add_argument("--out", metavar="DIR", help="where to write (default: RUN_DIR/report)")
    w2sio.add_figure_options(ap)
    args = ap.parse_args(argv)

    try:
        run = w2sio.load_run(args.run)
    except (OSError, ValueError, KeyError) as e:
        print(f"report.py: error: {e}", file=sys.stderr)
        return 4
    out = args.out or os.path.join(run.dir, "report")
    os.makedirs(out, exist_ok=True)
    ext = "pdf" if args.pdf else "png"
    written, figures = [], []
    for name, make in FIGURES:
        try:
            fig = make(run)
        except ValueError as e:  # a table in a layout this version does not know
            print(f"report.py: warning: {name} not drawn: {e}", file=sys.stderr)
            continue
        if fig is None:
            continue
        file = f"{name}.{ext}"
        fig.savefig(os.path.join(out, file), dpi=args.dpi, bbox_inches="tight",
                    metadata={"Software": None} if ext == "png" else {"Creator": None})
        plt.close(fig)
        figures.append((name, file))
        written.append(file)
    if args.csv:
        write_csv(os.path.join(out, "results.csv"), run.results, present(run.results, RESULT_COLUMNS))
        write_csv(os.path.join(out, "pgr.csv"), run.pgr, present(run.pgr, PGR_COLUMNS))
        written += ["results.csv", "pgr.csv"]
        for path, rows in run.tables.items():
            file = path.replace("/", "_") + ".csv"
            write_csv(os.path.join(out, file), rows, list(rows[0]))
            written.append(file)
    else:
        with open(os.path.join(out, "report.md"), "w") as f:
            f.write(markdown(run, figures))
        written.append("report.md")
    print(f"report.py: wrote {', '.join(written)} in {out}")
    for n in absent_notes(run):
        print(f"report.py: not drawn: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

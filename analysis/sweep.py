#!/usr/bin/python3
"""Figures and a table of a w2s sweep: how the weak, the student and the
ceiling fare, and how much of the gap is recovered, as one swept key grows.

usage: sweep.py DIR [--x KEY] [--lines KEY] [--panels KEY,...] [--strong NAME,...]
                [--out DIR] [--pdf] [--csv] [--dpi N]

Reads DIR/sweep.h5, the table `w2s sweep collect DIR` writes (one row per
trial and strong model), and writes into --out (default DIR/report):

  accuracy.png  test accuracy of the weak model, the weak-to-strong student
                and the strong ceiling against --x, one line per value of
                --lines, the median over seeds with a band from the lowest
                to the highest (drawn as in Burns et al., 2023)
  pgr.png       the performance gap recovered against --x, drawn alike
  report.md     the numbers of every point (median, min and max over seeds,
                how many trials are done), the trials not done, the figures
                (with --csv instead: summary.csv, the same numbers at full
                precision, and trials.csv, every row of sweep.h5)

Both figures have one panel per value of --panels (every categorical swept
key, such as w2s.loss) and strong model drawn: a row per strong model when
there are several of each.  The choices, when not given:

  --x       the first swept key that is numeric: a number such as train.lr,
            or a list of widths such as models.big.hidden (seed excluded)
  --lines   the next swept key with at most 8 values that is neither --x,
            --panels nor seed ('none': one line)
  --panels  the swept keys whose values are names, w2s.loss say ('none': one)
  --strong  the strong model that --x configures (x = models.big.hidden
            draws big only), else every one ('all': every one)

Keys in none of these (the seed, and any left over) are pooled into the
median and the band.  Trials not done (failed, unfinished, missing) are left
out of the figures, said so under them, and listed in report.md.
--pdf writes the figures as PDF rather than PNG.
Exit codes: 0 done, 2 bad command line (a key that was not swept), 4 no
sweep.h5 (run `w2s sweep collect DIR` first) or a file unreadable.
"""
import argparse
import math
import os
import re
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (its colours, number format, tables and overlap check)
import w2sio  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.lines  # noqa: E402
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

METRICS = w2sio.SWEEP_METRICS
# The roles of the accuracy figure and the column that holds each.  Colour
# tells the --lines value apart, so the role is told by the line's dash and
# marker: the student (what the figure is about) solid.
ROLES = (("weak", "p_weak"), ("student", "p_w2s"), ("ceiling", "p_ceiling"))
ROLE_STYLE = {"weak": {"ls": ":", "marker": "v"}, "student": {"ls": "-", "marker": "o"},
              "ceiling": {"ls": "--", "marker": "s"}}
# A role that is the same on every line (the ceiling when --lines is the
# weak model's size) is drawn once, in these colours: Burns et al. draw the
# strong ceiling black and dashed.
SHARED_COLOR = {"weak": report.ROLE_COLOR["weak"], "ceiling": "black", "student": report.ROLE_COLOR["student"]}
ROLE_LABEL = {"weak": "weak model (trained on ground truth)",
              "student": "student: strong model on the weak labels",
              "ceiling": "ceiling: strong model on ground truth"}
MAX_LINES = 8
MAX_PANELS = 12
MAX_TICKS = 8

# Words for the keys a sweep is likely to vary, for axis labels; any other
# key is shown by its name alone.
KEY_WORDS = [
    (r"models\.([^.]+)\.hidden", "hidden widths of {0} (units)"),
    (r"(?:models\.[^.]+\.)?train\.lr", "peak learning rate"),
    (r"(?:models\.[^.]+\.)?train\.epochs", "epochs (passes over the training rows)"),
    (r"(?:models\.[^.]+\.)?train\.batch", "batch size (rows)"),
    (r"(?:models\.[^.]+\.)?train\.weight_decay", "weight decay"),
    (r"(?:models\.[^.]+\.)?train\.warmup", "warm-up (fraction of the steps)"),
    (r"data\.rows\.(\w+)", "{0} rows"),
    (r"data\.latent\.views\.([^.]+)\.noise", "noise of view {0} (times u added to z)"),
    (r"data\.latent\.views\.([^.]+)\.z", "columns of z seen by view {0}"),
    (r"data\.latent\.(signal|nuisance)", "dimension of the {0}"),
    (r"data\.latent\.label_noise", "label noise (probability)"),
    (r"w2s\.confidence\.alpha", "weight of the student's own predictions"),
    (r"w2s\.filter\.keep", "fraction of transfer rows kept"),
    (r"kd\.weight", "weight of the distillation term"),
    (r"kd\.temperature", "distillation temperature"),
]


class UsageError(Exception):
    """A command-line choice the sweep cannot honour: exit 2."""


def key_words(key):
    for pattern, words in KEY_WORDS:
        m = re.fullmatch(pattern, key)
        if m:
            return words.format(*m.groups())
    return ""


# ---- the values of a key: how they are shown, ordered and placed

def show(value, kind):
    """A swept value as a short label: 0.003, 256x256, xent."""
    if kind == "number":
        return f"{value:g}"
    if kind == "widths":
        widths = w2sio.parse_widths(value)
        return "x".join(f"{w:g}" for w in widths) if widths else "linear"
    return str(value)


class Axis:
    """The values of one swept key in order, and where each sits on a plot
    axis: numbers at their value (log when they span a factor of 4 or
    more), widths of one hidden layer at the width, anything else evenly
    spaced in order (several layers by total units, names as first met)."""

    def __init__(self, sweep, key):
        self.key, self.kind = key, sweep.kind(key)
        values = sweep.values(key)
        if self.kind == "number":
            self.values = sorted(values)
            self.pos = {v: float(v) for v in values}
        elif self.kind == "widths":
            widths = {v: w2sio.parse_widths(v) for v in values}
            self.values = sorted(values, key=lambda v: (sum(widths[v]), len(widths[v]), widths[v]))
            if all(len(w) == 1 for w in widths.values()):
                self.pos = {v: float(widths[v][0]) for v in values}
            else:
                self.pos = {v: float(i) for i, v in enumerate(self.values)}
        else:
            self.values = values
            self.pos = {v: float(i) for i, v in enumerate(values)}
        self.ordinal = self.kind == "text" or (self.kind == "widths" and any(
            len(w2sio.parse_widths(v)) != 1 for v in values))
        p = np.array(list(self.pos.values()))
        self.log = (not self.ordinal and len(p) > 1 and (p > 0).all() and p.max() / p.min() >= 4)

    def label(self, v):
        return show(v, self.kind)

    def ticks_fit(self):
        """Whether a tick at every value leaves room for its label: few
        values, far enough apart on the axis (a grid, not random draws)."""
        p = np.array(sorted(self.pos.values()))
        if self.log:
            p = np.log10(p)
        if len(p) > MAX_TICKS:
            return False
        if len(p) < 2:
            return True
        gap = np.diff(p).min() / (p[-1] - p[0])
        width = max(len(self.label(v)) for v in self.values)
        return gap * MAX_TICKS >= 1 and gap * 60 >= width

    def words(self):
        """The axis label: the key, what it is, and how the values are placed."""
        words = key_words(self.key)
        if self.ordinal:
            words += (", " if words else "") + ("evenly spaced, by total units" if self.kind == "widths"
                                                else "in the order swept")
        return f"{self.key}" + (f": {words}" if words else "")


# ---- what goes where

class Layout:
    """Which swept key is the x axis, which one the lines, which the panels,
    which are pooled into each point's spread, and which strong models are
    drawn (and which left out, and why)."""

    def __init__(self, sweep, x=None, lines=None, panels=None, strong=None):
        keys = sweep.keys
        for opt, value in (("x", x), ("lines", lines)):
            if value not in (None, "none") and value not in keys:
                raise UsageError(f"--{opt} {value}: not a swept key; the sweep varies "
                                 f"{', '.join(keys) or 'nothing'}")
        if x is None:
            numeric = [k for k in keys if k != "seed" and sweep.kind(k) != "text"]
            others = [k for k in keys if k != "seed"]
            x = (numeric or others or keys or [None])[0]
        if x is None or x == "none":
            raise UsageError("the sweep varies no key: there is nothing to draw against")
        self.x = Axis(sweep, x)
        used = {x}
        if panels == "none":
            panel_keys = []
        elif panels is not None:
            panel_keys = [k for k in panels.split(",") if k]
            for k in panel_keys:
                if k not in keys:
                    raise UsageError(f"--panels {k}: not a swept key; the sweep varies {', '.join(keys)}")
                if k in used or k == lines:
                    raise UsageError(f"--panels {k}: already the {'x axis' if k == x else 'lines'}")
        else:
            panel_keys = [k for k in keys if k not in used and k != lines and k != "seed"
                          and sweep.kind(k) == "text"]
        # Too many panels read as none: keep the first key's, pool the rest.
        self.pooled_panels = []
        while len(panel_keys) > 1 and math.prod(len(sweep.values(k)) for k in panel_keys) > MAX_PANELS:
            self.pooled_panels.insert(0, panel_keys.pop())
        used |= set(panel_keys)
        if lines is None:
            free = [k for k in keys if k not in used and k != "seed" and len(sweep.values(k)) <= MAX_LINES]
            free.sort(key=lambda k: sweep.kind(k) == "text")  # numbers and widths first
            lines = free[0] if free else None
        elif lines == "none":
            lines = None
        elif lines in used:
            raise UsageError(f"--lines {lines}: already the {'x axis' if lines == x else 'panels'}")
        self.lines = Axis(sweep, lines) if lines else None
        used |= {lines} if lines else set()
        self.panels = [Axis(sweep, k) for k in panel_keys]
        self.combos = [()]
        for a in self.panels:
            self.combos = [c + (v,) for c in self.combos for v in a.values]
        self.pooled = [k for k in keys if k not in used]

        names = sweep.strong()
        self.strong_note = ""
        if strong in (None, "all"):
            m = re.match(r"models\.([^.]+)\.", x)
            if strong is None and m and m.group(1) in names and len(names) > 1:
                self.strong = [m.group(1)]
                rest = [n for n in names if n != m.group(1)]
                self.strong_note = (f"strong model{'s' if len(rest) > 1 else ''} {', '.join(rest)} not drawn: "
                                    f"{x} configures {m.group(1)} alone (--strong all draws every one; "
                                    "report.md has them all)")
            else:
                self.strong = names
        else:
            self.strong = [n for n in strong.split(",") if n]
            bad = [n for n in self.strong if n not in names]
            if bad:
                raise UsageError(f"--strong {', '.join(bad)}: not a strong model of the sweep; "
                                 f"it has {', '.join(names)}")

    def point(self, row):
        """The point a /results row belongs to: (strong, panel values, line value, x value)."""
        return (row["strong"], tuple(row[a.key] for a in self.panels),
                row[self.lines.key] if self.lines else None, row[self.x.key])

    def spread_words(self, sweep):
        """What each point's median and band are taken over."""
        if not self.pooled:
            return "one trial per point: no spread"
        parts = []
        for k in self.pooled:
            a = Axis(sweep, k)
            vals = ", ".join(a.label(v) for v in a.values)
            parts.append(f"{k} ({vals})" if len(a.values) <= 5 else f"{k} ({len(a.values)} values)")
        return "median over " + " and ".join(parts) + "; band: lowest to highest"


# ---- the numbers

def stats(values):
    """(median, min, max) of the finite values, NaN for none."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return (math.nan, math.nan, math.nan)
    return (float(np.median(v)), float(v.min()), float(v.max()))


def aggregate(sweep, layout):
    """One dict per point of every strong model (drawn or not), in the order
    strong, panels, line, x: the point's values, n (done trials), not_done
    (its other trials) with their numbers, and median, min and max of each
    metric over the done trials."""
    groups = {}
    for r in sweep.rows:
        groups.setdefault(layout.point(r), []).append(r)
    strong = sweep.strong()
    axes = layout.panels + ([layout.lines] if layout.lines else []) + [layout.x]
    rank = [{v: i for i, v in enumerate(a.values)} for a in axes]

    def order(point):
        s, panels, line, x = point
        vals = list(panels) + ([line] if layout.lines else []) + [x]
        return (strong.index(s),) + tuple(r[v] for r, v in zip(rank, vals))

    cells = []
    for point in sorted(groups, key=order):
        rows = groups[point]
        done = [r for r in rows if r["status"] == "done"]
        cell = {"strong": point[0], "panels": point[1], "line": point[2], "x": point[3],
                "n": len(done), "not_done": sorted(r["trial"] for r in rows if r["status"] != "done"),
                "metric": sorted({r["metric"] for r in done if r["metric"]})}
        for m in METRICS:
            cell[m] = stats([r[m] for r in done])
        cells.append(cell)
    return cells


def _same_but_line(sweep, layout, col, done=True):
    """{(strong, panels, x): {values of the pooled keys: [col of each line]}}
    over the done rows (all rows: done False) of the strong models drawn:
    the rows that differ only in the --lines key, side by side."""
    out = {}
    for r in sweep.rows:
        if (r["status"] == "done" or not done) and r["strong"] in layout.strong:
            s, panels, _, x = layout.point(r)
            out.setdefault((s, panels, x), {}).setdefault(tuple(r[k] for k in layout.pooled), []).append(r[col])
    return out


def shared_role(sweep, layout, col):
    """True when a role's numbers do not depend on the --lines key: every
    two done trials that differ only in it agree (the ceiling, when --lines
    changes only the weak model).  Compared trial by trial, so that a trial
    not done on one line does not hide it."""
    if not layout.lines or len(layout.lines.values) < 2:
        return False
    groups = [v for by in _same_but_line(sweep, layout, col).values() for v in by.values()]
    if not any(len(v) > 1 for v in groups):
        return False
    return all(np.allclose(v, v[0], rtol=0, atol=1e-12, equal_nan=True) for v in groups)


def shared_stats(sweep, layout, col):
    """{(strong, panels, x): ((median, min, max), partial)} of a shared
    role, over the pooled keys' values once each, whichever line's trial is
    done; partial when some of those values have no trial done."""
    every = _same_but_line(sweep, layout, col, done=False)
    return {point: (stats([v[0] for v in by.values()]), len(by) < len(every[point]))
            for point, by in _same_but_line(sweep, layout, col).items()}


def metric_words(metrics):
    if metrics == ["accuracy"]:
        return "test accuracy (fraction correct)"
    if metrics == ["mse"]:
        return "test mean squared error (lower is better)"
    return "test accuracy, or mean squared error for a regression target"


# ---- notes said under the figures and in report.md

def not_done_words(sweep, listed):
    trials = {t: r for t, r in sweep.trials().items() if r["status"] != "done"}
    if not trials:
        return ""
    if len(trials) <= 6:
        parts = [f"{t} ({r['status']}" + (f", exit code {r['exit_code']}" if r["exit_code"] >= 0 else "") + ")"
                 for t, r in sorted(trials.items())]
        which = f"trial{'s' if len(trials) > 1 else ''} " + ", ".join(parts)
    else:
        counts = sweep.counts()
        which = f"{len(trials)} trials (" + ", ".join(f"{n} {s}" for s, n in counts.items()
                                                        if s != "done" and n) + ")"
    return f"left out, not done: {which}; {listed}"


def stale_words(sweep):
    if not sweep.stale:
        return ""
    t = sweep.stale
    which = ", ".join(map(str, t[:6])) + (f" and {len(t) - 6} more" if len(t) > 6 else "")
    return (f"sweep.h5 is older than the results of trial{'s' if len(t) > 1 else ''} {which}: "
            f"run `w2s sweep collect {sweep.dir}` again for them")


def notes(sweep, layout, listed):
    """What a reader of the figures should know, first what each point's
    line and band are taken over; `listed` says where the trials not done
    are named."""
    out = [layout.spread_words(sweep)]
    if layout.pooled_panels:
        out.append(f"{', '.join(layout.pooled_panels)} pooled too: more than {MAX_PANELS} panels "
                   "otherwise (--panels chooses)")
    for w in (not_done_words(sweep, listed), layout.strong_note, stale_words(sweep)):
        if w:
            out.append(w)
    return out


# ---- figures

def subtitle(sweep, layout):
    counts = sweep.counts()
    states = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    base = os.path.basename(sweep.manifest.get("base") or "") or "the built-in default"
    strong = f"; strong model{'s' if len(layout.strong) > 1 else ''} {', '.join(layout.strong)}"
    return f"base config {base}; {sum(counts.values())} trials: {states}{strong}"


def _panel_grid(layout):
    """(axes grid shape, [(row, col, strong, combo)]): a row per strong
    model and a column per panel value when both are several, else every
    panel in a row, wrapped after three."""
    if len(layout.strong) > 1 and len(layout.combos) > 1:
        places = [(i, j, s, c) for i, s in enumerate(layout.strong) for j, c in enumerate(layout.combos)]
        return (len(layout.strong), len(layout.combos)), places
    panels = [(s, c) for s in layout.strong for c in layout.combos]
    ncol = min(len(panels), 3)
    places = [(k // ncol, k % ncol, s, c) for k, (s, c) in enumerate(panels)]
    return (math.ceil(len(panels) / ncol), ncol), places


def _line_colors(layout):
    """One colour per --lines value: a sequence from dark to light for
    ordered values (sizes, rates), distinct hues for names."""
    if not layout.lines:
        return {None: None}
    vals = layout.lines.values
    if layout.lines.kind == "text":
        # tab10 without its blue and grey, which the roles use.
        palette = [c for i, c in enumerate(plt.cm.tab10.colors) if i not in (0, 7)]
        return {v: palette[i % len(palette)] for i, v in enumerate(vals)}
    return {v: plt.cm.plasma(f) for v, f in zip(vals, np.linspace(0.0, 0.8, len(vals)))}


def _set_x(ax, layout):
    a = layout.x
    if a.log:
        ax.set_xscale("log")
    pos = [a.pos[v] for v in a.values]
    if a.ordinal or a.ticks_fit():
        ax.set_xticks(pos, [a.label(v) for v in a.values], fontsize=8.5)
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    if len(pos) > 1:
        lo, hi = min(pos), max(pos)
        if a.log:
            pad = (hi / lo) ** 0.06
            ax.set_xlim(lo / pad, hi * pad)
        else:
            pad = 0.06 * (hi - lo)
            ax.set_xlim(lo - pad, hi + pad)


def _series(layout, cells, strong, combo, line, col, shared=None):
    """(x positions, medians, mins, maxes, partial) of one line in one
    panel, over the points with a done trial; of a role shared by every
    line when `shared` holds its numbers (shared_stats).  partial: the
    points that lack trials not done."""
    if shared is not None:
        by_x = {x: v for (s, c, x), v in shared.items() if s == strong and c == combo}
    else:
        by_x = {c["x"]: (c[col], bool(c["not_done"])) for c in cells
                if c["strong"] == strong and c["panels"] == combo and c["line"] == line and c["n"]}
    pts = [(layout.x.pos[v],) + by_x[v][0] + (by_x[v][1],) for v in layout.x.values
           if v in by_x and math.isfinite(by_x[v][0][0])]
    if not pts:
        return None
    return tuple(np.array(z) for z in zip(*pts))


def _panel_title(layout, strong, combo):
    parts = []
    if len(layout.strong) > 1:
        parts.append(f"strong model {strong}")
    parts += [f"{a.key} = {a.label(v)}" for a, v in zip(layout.panels, combo)]
    return "\n".join(textwrap.fill(p, 44) for p in parts)


def figure(sweep, layout, cells, what, listed="report.md lists them"):
    """The accuracy (what "accuracy") or PGR (what "pgr") figure; None when
    no trial of the strong models drawn is done.  `listed`: where the
    trials not done are named, for the note under it."""
    drawn = [c for c in cells if c["strong"] in layout.strong and c["n"]]
    if not drawn:
        return None
    roles = ROLES if what == "accuracy" else (("student", "pgr"),)
    shared = {r: shared_stats(sweep, layout, col) for r, col in roles
              if what == "accuracy" and shared_role(sweep, layout, col)}
    colors = _line_colors(layout)
    (nrow, ncol), places = _panel_grid(layout)
    metrics = sorted({m for c in drawn for m in c["metric"]})
    # Wide enough for the title and the legend under a single panel.
    fig, axes = plt.subplots(nrow, ncol, figsize=(max(8.0, 1.2 + 3.9 * ncol), 1.2 + 3.1 * nrow), squeeze=False,
                             sharey=len(metrics) <= 1)
    used = set()
    banded = hollow = False
    for i, j, strong, combo in places:
        ax = axes[i][j]
        used.add((i, j))
        any_line = False
        for k, line in enumerate(colors):
            for role, col in roles:
                if role in shared and k > 0:
                    continue
                s = _series(layout, cells, strong, combo, line, col, shared.get(role))
                if s is None:
                    continue
                x, med, lo, hi, partial = s
                if line is None:
                    color = report.ROLE_COLOR[role]
                else:
                    color = SHARED_COLOR[role] if role in shared else colors[line]
                ax.plot(x, med, color=color, lw=1.6, ms=4, **ROLE_STYLE[role])
                if partial.any():
                    ax.plot(x[partial], med[partial], ls="none", marker=ROLE_STYLE[role]["marker"], ms=5,
                            mfc="white", mec=color, mew=1.2)
                    hollow = True
                if (hi > lo).any():
                    ax.fill_between(x, lo, hi, color=color, alpha=0.14, lw=0)
                    banded = True
                any_line = True
        if not any_line:
            ax.text(0.5, 0.5, "no trial done", transform=ax.transAxes, ha="center", va="center",
                    color="#666666")
        if what == "pgr":
            ax.axhline(0, color="black", lw=0.8)
            ax.axhline(1, color="black", lw=0.8, ls="--")
        _set_x(ax, layout)
        title = _panel_title(layout, strong, combo)
        if title:
            ax.set_title(title, fontsize=9.5)
        ax.grid(alpha=0.3)
    for i in range(nrow):
        for j in range(ncol):
            if (i, j) not in used:
                axes[i][j].set_visible(False)
                continue
            below = (i + 1, j) in used
            if not below:
                axes[i][j].set_xlabel(textwrap.fill(layout.x.words(), 50), fontsize=9)
            if j == 0:
                axes[i][j].set_ylabel("PGR (fraction of the gap recovered)" if what == "pgr"
                                      else metric_words(metrics), fontsize=9)
            elif len(metrics) <= 1:
                axes[i][j].tick_params(labelleft=False)
    if what == "pgr":  # 0 and 1 in view, whatever the data
        for i, j in used:
            lo, hi = axes[i][j].get_ylim()
            axes[i][j].set_ylim(min(lo, -0.05), max(hi, 1.05))

    handles, labels = [], []
    if what == "accuracy":
        for role, _ in roles:
            color = (SHARED_COLOR[role] if role in shared else "#333333") if layout.lines else report.ROLE_COLOR[role]
            handles.append(matplotlib.lines.Line2D([], [], color=color, lw=1.6, ms=4, **ROLE_STYLE[role]))
            labels.append(ROLE_LABEL[role] + (" (the same on every line)" if role in shared else ""))
    elif not layout.lines:
        handles.append(matplotlib.lines.Line2D([], [], color=report.ROLE_COLOR["student"], lw=1.6, ms=4,
                                               **ROLE_STYLE["student"]))
        labels.append("PGR = (P_w2s - P_weak) / (P_ceiling - P_weak); dashed: 1, the ceiling")
    if layout.lines:
        for v, color in colors.items():
            handles.append(matplotlib.lines.Line2D([], [], color=color, lw=3))
            labels.append(f"{layout.lines.key} = {layout.lines.label(v)}")
    if banded:
        handles.append(matplotlib.patches.Patch(color="#888888", alpha=0.3, lw=0))
        labels.append(f"band: lowest to highest over {', '.join(layout.pooled)}")
    if hollow:
        handles.append(matplotlib.lines.Line2D([], [], ls="none", marker="o", ms=5, mfc="white", mec="#333333"))
        labels.append("hollow marker: some of the point's trials are not done")
    what_words = ("Test accuracy of weak, student and ceiling" if what == "accuracy"
                  else "Performance gap recovered")
    fig.suptitle(f"Sweep {sweep.name()}: {what_words} against {layout.x.key}\n{subtitle(sweep, layout)}",
                 fontsize=11)
    legend_cols = min(len(handles), 3 if fig.get_figwidth() > 9 else 2)
    legend_rows = math.ceil(len(handles) / legend_cols)
    fig.tight_layout(rect=(0, (14 + 12 * legend_rows) / 72 / fig.get_figheight(), 1, 1))
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=legend_cols,
               fontsize=8, frameon=False)
    said = notes(sweep, layout, listed)
    if what == "pgr" and layout.lines:
        said.insert(0, "PGR = (P_w2s - P_weak) / (P_ceiling - P_weak): 0 at the weak model, "
                    "1 (dashed) at the ceiling")
    # About 17 characters of 7.5 pt text to the inch: wrap to the figure.
    width = int(fig.get_figwidth() * 17)
    fig.text(0.5, -0.01, "\n".join(textwrap.fill(n[0].upper() + n[1:] + ".", width) for n in said),
             ha="center", va="top", fontsize=7.5, color="#444444")
    return fig


def figure_accuracy(sweep, layout, cells, listed="report.md lists them"):
    return figure(sweep, layout, cells, "accuracy", listed)


def figure_pgr(sweep, layout, cells, listed="report.md lists them"):
    return figure(sweep, layout, cells, "pgr", listed)


FIGURES = [("accuracy", figure_accuracy), ("pgr", figure_pgr)]


# ---- tables

def key_columns(layout):
    return [a.key for a in layout.panels] + ([layout.lines.key] if layout.lines else []) + [layout.x.key]


def cell_values(layout, c):
    """The key values of a point, shown as labels, by column."""
    axes = layout.panels + ([layout.lines] if layout.lines else []) + [layout.x]
    vals = list(c["panels"]) + ([c["line"]] if layout.lines else []) + [c["x"]]
    return {a.key: a.label(v) for a, v in zip(axes, vals)}


def spread_cell(c, m, digits=4):
    med, lo, hi = c[m]
    if math.isnan(med):
        return "n/a"
    if c["n"] == 1 or lo == hi:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def summary_rows(layout, cells):
    """The table of points: key values, n, not done, median [min, max]."""
    rows = []
    for c in cells:
        row = {"strong": c["strong"]}
        row.update(cell_values(layout, c))
        row["n"] = c["n"]
        row["not done"] = ", ".join(map(str, c["not_done"])) or "-"
        for m in METRICS:
            row[m] = spread_cell(c, m)
        rows.append(row)
    return rows


def summary_csv_rows(layout, cells):
    """The same at full precision, one column per statistic; key values as
    sweep.h5 holds them."""
    rows = []
    for c in cells:
        row = {"strong": c["strong"]}
        for a, v in zip(layout.panels, c["panels"]):
            row[a.key] = v
        if layout.lines:
            row[layout.lines.key] = c["line"]
        row[layout.x.key] = c["x"]
        row.update(n=c["n"], not_done=" ".join(map(str, c["not_done"])))
        for m in METRICS:
            for stat, v in zip(("median", "min", "max"), c[m]):
                row[f"{m}_{stat}"] = v
        rows.append(row)
    return rows


def plain_table(rows, cols):
    """A Markdown table of already formatted cells, numbers right-aligned."""
    def numeric(c):
        return all(re.fullmatch(r"-?[\d.]+( \[.*\])?|n/a|-", str(r[c])) for r in rows)
    lines = ["| " + " | ".join(cols) + " |",
             "| " + " | ".join("---:" if rows and numeric(c) else "---" for c in cols) + " |"]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def not_done_rows(sweep):
    rows = []
    for t, r in sorted(sweep.trials().items()):
        if r["status"] == "done":
            continue
        row = {"trial": t, "status": r["status"], "exit_code": r["exit_code"] if r["exit_code"] >= 0 else "-"}
        row.update({k: show(r[k], sweep.kind(k)) for k in sweep.keys})
        rows.append(row)
    return rows


def markdown(sweep, layout, cells, figures):
    counts = sweep.counts()
    lines = [f"# w2s sweep: {sweep.name()}", ""]
    spec = sweep.manifest.get("spec")
    if spec and not os.path.relpath(spec).startswith(".."):
        spec = os.path.relpath(spec)
    lines.append(f"Folder `{sweep.dir}`" + (f"; spec `{spec}`" if spec else "")
                 + f"; base config {os.path.normpath(sweep.manifest.get('base') or 'the built-in default')}; "
                 f"collected by w2s {sweep.attrs.get('w2s_version', '?')} (git {sweep.attrs.get('git_rev', '?')}).  ")
    lines.append(f"{sum(counts.values())} trials: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + ".  ")
    swept = []
    for k in sweep.keys:
        a = Axis(sweep, k)
        swept.append(f"{k} ({', '.join(a.label(v) for v in a.values)})" if len(a.values) <= 8
                     else f"{k} ({len(a.values)} values)")
    lines.append("Swept: " + "; ".join(swept) + ".")
    lines += ["", "## Results by point (test)", "",
              f"One row per strong model and point: {', '.join(key_columns(layout))}.  Each pools the done "
              f"trials that differ only in {', '.join(layout.pooled) or 'nothing'}; n counts them, and "
              "`not done` names the point's other trials, whose numbers are not in it.  Cells: median "
              "[lowest, highest] over those trials; p_weak, p_w2s and p_ceiling are "
              + metric_words(sorted({m for c in cells for m in c["metric"]})).replace("test ", "", 1)
              + " on test; pgr = (p_w2s - p_weak) / (p_ceiling - p_weak).", ""]
    rows = summary_rows(layout, cells)
    lines.append(plain_table(rows, ["strong"] + key_columns(layout) + ["n", "not done"] + list(METRICS)))
    nd = not_done_rows(sweep)
    lines += ["", "## Trials not done", ""]
    if nd:
        trials = ",".join(str(r["trial"]) for r in nd)
        lines += ["Left out of the numbers above and of the figures.  failed: its last attempt exited "
                  "with the code shown; unfinished: started, with no results yet (running, waiting to be "
                  "requeued, or killed); missing: never started.", "",
                  plain_table(nd, ["trial", "status", "exit_code"] + sweep.keys), "",
                  f"Run them with `sbatch --array={trials} {os.path.join(sweep.dir, 'sweep.sbatch')}`, or "
                  f"one by one with `w2s run trials/I/config.yaml --out trials/I --resume` in the sweep "
                  f"folder; then `w2s sweep collect {sweep.dir}` and this script again."]
    else:
        lines.append("None: every trial is done.")
    if figures:
        lines += ["", "## Figures", "",
                  f"Against {layout.x.key}"
                  + (f", one line per {layout.lines.key}" if layout.lines else "")
                  + (f", one panel per {' and '.join(a.key for a in layout.panels)}" if layout.panels else "")
                  + (", one row per strong model" if len(layout.strong) > 1 else "")
                  + f"; {layout.spread_words(sweep)}.", ""]
        for name, file in figures:
            lines += [f"![{name}]({file})", ""]
    said = notes(sweep, layout, "listed above")[1:]
    if not figures:
        said.insert(0, "no figures: no trial of the strong models drawn is done yet")
    if said:
        while lines[-1] == "":
            lines.pop()
        lines += ["", "## Notes", ""] + [f"- {n[0].upper() + n[1:]}." for n in said]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    doc = __doc__.split("\n\n")
    ap = argparse.ArgumentParser(
        prog="sweep.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="\n\n".join([doc[0]] + doc[2:4]).rstrip(),
        epilog="\n\n".join(doc[4:]).rstrip())
    ap.add_argument("dir", metavar="DIR", help="the folder of `w2s sweep expand` (or its sweep.h5)")
    ap.add_argument("--x", metavar="KEY", help="the swept key along the x axis")
    ap.add_argument("--lines", metavar="KEY", help="one line per value of this swept key ('none': one)")
    ap.add_argument("--panels", metavar="KEY,...", help="one panel per value of these swept keys ('none': one)")
    ap.add_argument("--strong", metavar="NAME,...", help="the strong models drawn ('all': every one)")
    ap.add_argument("--out", metavar="DIR", help="where to write (default: DIR/report)")
    w2sio.add_figure_options(ap)
    args = ap.parse_args(argv)

    try:
        sweep = w2sio.load_sweep(args.dir)
    except (OSError, ValueError, KeyError) as e:
        print(f"sweep.py: error: {e}", file=sys.stderr)
        return 4
    try:
        layout = Layout(sweep, args.x, args.lines, args.panels, args.strong)
    except UsageError as e:
        print(f"sweep.py: error: {e}", file=sys.stderr)
        return 2
    cells = aggregate(sweep, layout)
    out = args.out or os.path.join(sweep.dir, "report")
    os.makedirs(out, exist_ok=True)
    ext = "pdf" if args.pdf else "png"
    written, figures = [], []
    listed = "trials.csv lists them" if args.csv else "report.md lists them"
    for name, make in FIGURES:
        fig = make(sweep, layout, cells, listed)
        if fig is None:
            continue
        file = f"{name}.{ext}"
        fig.savefig(os.path.join(out, file), dpi=args.dpi, bbox_inches="tight",
                    metadata={"Software": None} if ext == "png" else {"Creator": None})
        plt.close(fig)
        figures.append((name, file))
        written.append(file)
    if args.csv:
        rows = summary_csv_rows(layout, cells)
        report.write_csv(os.path.join(out, "summary.csv"), rows, list(rows[0]) if rows else [])
        cols = ["trial", "exit_code", "status"] + sweep.keys + ["strong"] + list(METRICS) + ["metric"]
        report.write_csv(os.path.join(out, "trials.csv"), sweep.rows, cols)
        written += ["summary.csv", "trials.csv"]
    else:
        with open(os.path.join(out, "report.md"), "w") as f:
            f.write(markdown(sweep, layout, cells, figures))
        written.append("report.md")
    print(f"sweep.py: wrote {', '.join(written)} in {out}")
    for n in notes(sweep, layout, listed)[1:]:
        print(f"sweep.py: {n}")
    if not figures:
        print("sweep.py: no figures: no trial of the strong models drawn is done yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())

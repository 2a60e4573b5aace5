"""w2sio: read the files a `w2s run` or a sweep writes, for the analysis scripts.

One run folder holds config.yaml, data.h5, run.h5 and metrics.h5 (see
doc/outputs.md).  This module turns them into plain Python and numpy: tables
become lists of dicts with str (not bytes) fields, traces become dicts of
numpy arrays keyed by column, attributes become str / int / float.  It needs
h5py and numpy only; pandas and xarray are optional for callers.

It deliberately does not plot or aggregate: report.py draws one run,
sweep.py a sweep (the folder of `w2s sweep expand`, with the table that
`w2s sweep collect` wrote into it).

    run = load_run("w2s-out")
    run.results          # [{"model": "weak.weak", "split": "test", "accuracy": ...}, ...]
    run.pgr              # [{"strong": "strong", "filter": "none", "p_weak": ..., "pgr": ...}, ...]
    run.traces["student.strong"]["acc"]   # numpy array, one value per logged step
    run.tables["cascade/curve"]           # only when the run wrote one
    run.table_attrs["cascade/curve"]["chosen_threshold"]
    run.title()          # "latent task, seed 1: weak -> strong, big"

    sweep = load_sweep("runs/noise-width")
    sweep.keys           # ["data.latent.views.weak.noise", "models.big.hidden", "seed", "train.lr"]
    sweep.rows           # [{"trial": 0, "status": "done", "seed": 1.0, "strong": "big", "pgr": ...}, ...]
    sweep.counts()       # {"done": 35, "failed": 0, "unfinished": 0, "missing": 1}
"""
import json
import os

import h5py
import numpy as np

# The compound tables of optional stages, when run.h5 holds them: the
# cascade (cascade.enabled) and the filter (w2s.filter.method).  Stages that
# are not run leave them out; absence is normal, not an error.
OPTIONAL_TABLES = ("cascade/curve", "cascade/val_curve", "filter")


def text(value):
    """An HDF5 attribute or table cell as str/int/float/list (h5py gives
    bytes for fixed-length strings and numpy scalars for numbers)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [text(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def attrs(obj):
    """The attributes of an h5py object as a dict of plain values."""
    return {k: text(v) for k, v in obj.attrs.items()}


def table(f, path):
    """The compound dataset `path` of an open h5py file as a list of dicts
    (one per row, columns in file order, strings decoded), or None when the
    file has no such dataset."""
    if path not in f:
        return None
    ds = f[path]
    if ds.dtype.names is None:
        raise ValueError(f"{f.filename}: /{path} is not a table (no named columns)")
    rows = ds[()]
    return [{name: text(row[name]) for name in ds.dtype.names} for row in rows]


def columns(rows):
    """A table (list of dicts) as {column: numpy array}; empty for no rows."""
    if not rows:
        return {}
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def open_metrics(path):
    """metrics.h5 opened for reading, also while a run is still writing it
    (the writer uses SWMR; a reader must ask for it)."""
    try:
        return h5py.File(path, "r", swmr=True)
    except OSError:
        return h5py.File(path, "r")


def load_traces(path):
    """{instance: {column: numpy array}} from a metrics.h5; each column has
    one value per logged step, `step` included."""
    out = {}
    with open_metrics(path) as f:
        for name, group in f.get("trace", {}).items():
            out[name] = {col: ds[()] for col, ds in group.items()}
    return out


def find_dir(path):
    """A run folder from a folder or from a file inside it."""
    if os.path.isdir(path):
        return path
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file or folder")
    return os.path.dirname(os.path.abspath(path))


def open_h5(path):
    """An h5py file opened read-only, with an error that names the file and
    says what is wrong with it."""
    try:
        return h5py.File(path, "r")
    except OSError as e:
        why = "not an HDF5 file, or a truncated one" if "signature" in str(e) else str(e)
        raise OSError(f"{path}: {why}") from None


class Run:
    """Everything a finished (or running) `w2s run` left in one folder.

    dir       the folder
    attrs     run.h5 root attributes (kind, w2s_version, git_rev, world_size, ...)
    config    the effective config as a dict
    results   /results rows: model, role, base, view, split, n, accuracy, loss,
              train_seconds, step
    pgr       /pgr rows: strong, weak, teacher, filter, p_weak, p_w2s, p_ceiling, pgr;
              with a filter, two per strong model: student.<strong> (filter named)
              and unfiltered.<strong> (filter "none")
    models    {instance: attributes of /models/<instance> plus "params": count}
    tables    optional tables present in run.h5, keyed by path (see OPTIONAL_TABLES)
    table_attrs  their attributes (the cascade's small, large, score, tolerance,
              chosen_threshold), keyed alike
    synth     {model: synthetic rows drawn} from /synth/<model>/x ({} without synth)
    traces    {instance: {column: array}} from metrics.h5 ({} when it is absent)
    data      data.h5 root attributes plus "splits": {name: rows} ({} when absent);
              for imported data, the file run.h5's `data` attribute names
    missing   names of expected files that were not there
    """

    def __init__(self, path):
        self.dir = find_dir(path)
        self.missing = []
        run_path = os.path.join(self.dir, "run.h5")
        if not os.path.exists(run_path) and os.path.exists(os.path.join(self.dir, "summary.h5")):
            seeds = sorted(d for d in os.listdir(self.dir) if d.startswith("seed-"))
            raise FileNotFoundError(f"{self.dir} holds a run over seeds (summary.h5): name one seed's "
                                    f"folder, e.g. {os.path.join(self.dir, seeds[0] if seeds else 'seed-S')}")
        if not os.path.exists(run_path):
            raise FileNotFoundError(f"{self.dir}: no run.h5: the run has not finished (w2s run "
                                    "--resume completes it), or this is not its --out folder")
        with open_h5(run_path) as f:
            self.attrs = attrs(f)
            if self.attrs.get("kind") not in (None, "run"):
                raise ValueError(f"{run_path} is a '{self.attrs['kind']}' file, not a run file")
            self.config = json.loads(self.attrs.get("config", "{}"))
            self.results = table(f, "results") or []
            self.pgr = table(f, "pgr") or []
            self.models = {}
            for name, group in f.get("models", {}).items():
                info = attrs(group)
                if "params" in group:
                    info["params"] = int(group["params"].shape[0])
                self.models[name] = info
            self.tables, self.table_attrs = {}, {}
            for path_ in OPTIONAL_TABLES:
                rows = table(f, path_)
                if rows is not None:
                    self.tables[path_] = rows
                    self.table_attrs[path_] = attrs(f[path_])
            self.synth = {name: int(group["x"].shape[0]) for name, group in f.get("synth", {}).items()}
        metrics = os.path.join(self.dir, "metrics.h5")
        if os.path.exists(metrics):
            self.traces = load_traces(metrics)
        else:
            self.traces = {}
            self.missing.append("metrics.h5")
        # An imported run reads its data where `w2s import` wrote them and
        # names that file in run.h5's `data` attribute.
        data = os.path.join(self.dir, "data.h5")
        if not os.path.exists(data) and self.attrs.get("data"):
            data = self.attrs["data"]
        self.data = {}
        if os.path.exists(data):
            with open_h5(data) as f:
                self.data = {k: v for k, v in attrs(f).items() if k != "config"}
                self.data["splits"] = {k: int(v.shape[0]) for k, v in f.get("splits", {}).items()}
        else:
            self.missing.append("data.h5")

    # ---- what the config says, in words

    def task(self):
        return self.config.get("data", {}).get("task", "?")

    def weak_model(self):
        return self.config.get("w2s", {}).get("weak", "?")

    def strong_models(self):
        return list(self.config.get("w2s", {}).get("strong", []))

    def model_words(self, name):
        """'linear on view weak' or 'MLP 256x256 relu on view x'."""
        spec = self.config.get("models", {}).get(name, {})
        hidden = spec.get("hidden", [])
        arch = "linear" if not hidden else "MLP " + "x".join(str(h) for h in hidden) + " " + spec.get("activation", "")
        return f"{arch.strip()} on view {spec.get('view', '?')}"

    def chain(self):
        """Intermediate students between the weak and the strong models."""
        return list(self.config.get("w2s", {}).get("chain", []))

    def title(self):
        """One line naming the experiment: task, seed, weak -> [chain ->]
        strong models."""
        steps = [self.weak_model()] + self.chain() + [", ".join(self.strong_models()) or "?"]
        return f"{self.task()} task, seed {self.config.get('seed', '?')}: " + " -> ".join(steps)

    def provenance(self):
        a = self.attrs
        ranks = a.get("world_size")
        return (f"w2s {a.get('w2s_version', '?')} (git {a.get('git_rev', '?')}), "
                f"{ranks if ranks is not None else '?'} rank{'s' if ranks != 1 else ''}, "
                f"BLIS {a.get('blis_arch', '?')}")

    def result(self, model, split="test"):
        """The /results row of one instance on one split, or None."""
        for r in self.results:
            if r["model"] == model and r["split"] == split:
                return r
        return None


def load_run(path):
    """A Run from a run folder (or a file inside it)."""
    return Run(path)


# ---- sweeps: the folder of `w2s sweep expand` and the table of `collect`

SWEEP_METRICS = ("p_weak", "p_w2s", "p_ceiling", "pgr")
# Columns of /results that are not swept keys: before them the trial and
# its state, after them the strong model and its numbers.
SWEEP_FIXED = ("trial", "exit_code", "status", "strong") + SWEEP_METRICS


def parse_widths(value):
    """A swept list of numbers as written in sweep.h5 ("[256, 256]") as a
    tuple of numbers, or None when it is not one (a name, a map)."""
    if not isinstance(value, str) or not value.startswith("["):
        return None
    try:
        items = json.loads(value)
    except ValueError:
        return None
    if not isinstance(items, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                              for v in items):
        return None
    return tuple(items)


class Sweep:
    """What `w2s sweep collect DIR` gathered, with the folder's manifest.

    dir       the sweep folder
    path      DIR/sweep.h5
    attrs     sweep.h5 root attributes (kind "sweep", w2s_version, git_rev, status, ...)
    rows      /results rows: trial, exit_code, status, one value per swept key,
              strong, p_weak, p_w2s, p_ceiling, pgr (NaN where not done), and
              metric: what the p_* measure, from the trial's run.h5 /pgr
              ("accuracy", or "mse" for a regression target; "" when not done)
    keys      the swept keys in the table's order (seed among them when swept)
    manifest  sweep.json as a dict ({} when absent): spec, base, keys, trials
    stale     trials whose run.h5 is newer than sweep.h5, or that hold one
              the table calls not done: `w2s sweep collect` again sees them
    """

    def __init__(self, path):
        if os.path.isfile(path):
            self.dir, self.path = os.path.dirname(os.path.abspath(path)), path
        elif os.path.isdir(path):
            self.dir, self.path = path, os.path.join(path, "sweep.h5")
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
        if not os.path.exists(self.path):
            if os.path.exists(os.path.join(self.dir, "sweep.json")):
                raise FileNotFoundError(f"{self.dir}: no sweep.h5 yet: run `w2s sweep collect {self.dir}` "
                                        "first (safe while trials still run)")
            raise FileNotFoundError(f"{self.dir}: not a sweep folder (no sweep.json or sweep.h5): "
                                    "name the --out folder of `w2s sweep expand`")
        with open_h5(self.path) as f:
            self.attrs = attrs(f)
            if self.attrs.get("kind") != "sweep":
                raise ValueError(f"{self.path} is a '{self.attrs.get('kind', '?')}' file, not a sweep file "
                                 "(written by `w2s sweep collect`)")
            self.rows = table(f, "results")
            if self.rows is None:
                raise ValueError(f"{self.path}: no /results table")
            names = f["results"].dtype.names
        missing = [c for c in SWEEP_FIXED if c not in names]
        if missing:
            raise ValueError(f"{self.path}: /results lacks the columns {', '.join(missing)}")
        self.keys = [n for n in names if n not in SWEEP_FIXED]
        manifest = os.path.join(self.dir, "sweep.json")
        self.manifest = {}
        if os.path.exists(manifest):
            with open(manifest) as m:
                self.manifest = json.load(m)
        self._read_trials()

    def _read_trials(self):
        """Each done trial's metric, and trials the table has not caught up with."""
        made = os.path.getmtime(self.path)
        metric, self.stale = {}, []
        for t in sorted({r["trial"] for r in self.rows}):
            run = os.path.join(self.dir, "trials", str(t), "run.h5")
            done = any(r["trial"] == t and r["status"] == "done" for r in self.rows)
            if not os.path.exists(run):
                metric[t] = ""  # a done trial whose folder went away: unknown
                continue
            if os.path.getmtime(run) > made or not done:
                self.stale.append(t)
            metric[t] = ""
            if done:
                try:
                    with h5py.File(run, "r") as f:
                        pgr = f["pgr"]
                        names = pgr.dtype.names or ()
                        metric[t] = text(pgr["metric"][0]) if "metric" in names and len(pgr) else "accuracy"
                except (OSError, KeyError):
                    metric[t] = "accuracy"
        for r in self.rows:
            r["metric"] = metric.get(r["trial"], "") if r["status"] == "done" else ""

    def name(self):
        """The sweep's name: its folder's."""
        return os.path.basename(os.path.normpath(os.path.abspath(self.dir)))

    def kind(self, key):
        """How a swept key's values read: "number" (a float column),
        "widths" (lists of numbers, such as models.NAME.hidden) or "text"."""
        values = [r[key] for r in self.rows]
        if all(isinstance(v, (int, float)) for v in values):
            return "number"
        if all(parse_widths(v) is not None for v in values):
            return "widths"
        return "text"

    def values(self, key):
        """A key's distinct values, in the order trials first take them."""
        out = []
        for r in self.rows:
            if r[key] not in out:
                out.append(r[key])
        return out

    def strong(self):
        """The strong models, in the order of the table."""
        out = []
        for r in self.rows:
            if r["strong"] not in out:
                out.append(r["strong"])
        return out

    def trials(self):
        """{trial: its first row}: status, exit code and swept values of each."""
        out = {}
        for r in self.rows:
            out.setdefault(r["trial"], r)
        return out

    def counts(self):
        """{status: trials} over the four states, in their order."""
        out = {s: 0 for s in ("done", "failed", "unfinished", "missing")}
        for r in self.trials().values():
            out[r["status"]] = out.get(r["status"], 0) + 1
        return out


def load_sweep(path):
    """A Sweep from a sweep folder (or its sweep.h5)."""
    return Sweep(path)


def add_figure_options(ap):
    """The options report.py and sweep.py share: --pdf, --csv, --dpi."""
    ap.add_argument("--pdf", action="store_true", help="figures as PDF instead of PNG")
    ap.add_argument("--csv", action="store_true",
                    help="tables as CSV files (full precision) instead of report.md")
    ap.add_argument("--dpi", type=int, default=150, help="resolution of PNG figures (default 150)")

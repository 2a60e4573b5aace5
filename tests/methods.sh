#!/bin/sh
# The ways a small model helps a large one, each on a tiny config under
# mpirun -n 2: every student loss runs and reports; confidence with a = 0
# and kd with weight 0 reduce exactly to plain training; a chain reports
# every link with its teacher; a probe trains its last layer only.
. "$(dirname "$0")/common.sh"
small_config "$TMP/small.yaml"

run() { # OUT ARGS...: a run on 2 ranks that must succeed
	out=$1
	shift
	mpi 2 "$W2S" run "$TMP/small.yaml" --out "$TMP/$out" --quiet "$@" || fail "w2s run $*"
}

py() { "$PYTHON3" - "$@"; }

for loss in xent xent_hard kl confidence product; do
	run "loss-$loss" --set w2s.loss="$loss"
done
py "$TMP" <<'PY' || fail "loss kinds"
import sys, h5py, numpy as np
d = sys.argv[1]
for loss in ("xent", "xent_hard", "kl", "confidence", "product"):
    with h5py.File(f"{d}/loss-{loss}/run.h5", "r") as f:
        pgr = f["pgr"][()]
        models = sorted(p["strong"].decode() for p in pgr)
        if models != ["mlp", "strong"] or not np.all(np.isfinite(pgr["p_w2s"])):
            sys.exit(f"{loss}: pgr rows {models}")
        line = ", ".join(f"{p['strong'].decode()} PGR {p['pgr']:.3f}" for p in pgr)
        print(f"loss {loss}: {line}")
# kl has the gradient of soft xent: the same parameters.
a = h5py.File(f"{d}/loss-xent/run.h5", "r")
b = h5py.File(f"{d}/loss-kl/run.h5", "r")
if not np.array_equal(a["models/student.strong/params"][()], b["models/student.strong/params"][()]):
    sys.exit("kl and xent students differ; their gradients are the same")
PY

# confidence with a = 0 is soft xent, bit for bit.
run conf0 --set w2s.loss=confidence --set w2s.confidence.alpha=0
# kd with weight 0 is ground-truth training: the ceiling, bit for bit.
run kd0 --set 'kd.models=[mlp]' --set kd.weight=0
run kd --set 'kd.models=[mlp]' --set kd.weight=0.7 --set kd.temperature=3
# A chain weak -> medium -> strong students.
run chain --set 'models.medium={view: x, hidden: [16]}' --set 'w2s.chain=[medium]'
# A probe on the mlp: its hidden layer stays as initialized.
run probe --set models.mlp.probe=true
py "$TMP" <<'PY' || fail "reductions, chain or probe"
import sys, h5py, numpy as np
d = sys.argv[1]
def params(run, model):
    with h5py.File(f"{d}/{run}/run.h5", "r") as f:
        return f[f"models/{model}/params"][()]
for m in ("student.strong", "student.mlp"):
    if not np.array_equal(params("conf0", m), params("loss-xent", m)):
        sys.exit(f"confidence with alpha 0 differs from xent for {m}")
print("confidence, alpha 0: bit-identical to xent")
if not np.array_equal(params("kd0", "kd.mlp"), params("kd0", "ceiling.mlp")):
    sys.exit("kd with weight 0 differs from the ceiling")
if np.array_equal(params("kd", "kd.mlp"), params("kd", "ceiling.mlp")):
    sys.exit("kd with weight 0.7 is the ceiling: the distillation term did nothing")
print("kd, weight 0: bit-identical to the ceiling; weight 0.7 differs")
with h5py.File(f"{d}/chain/run.h5", "r") as f:
    rows = {p["strong"].decode(): p["teacher"].decode() for p in f["pgr"][()]}
    if rows != {"medium": "weak", "strong": "medium", "mlp": "medium"}:
        sys.exit(f"chain rows: {rows}")
    if "labels/student.medium/transfer/prob" not in f:
        sys.exit("the chain link did not label the transfer split")
print(f"chain: teachers {rows}")
# The mlp on view x (16 columns): hidden layer 16 -> 32 = 512 + 32 parameters.
hidden = 16 * 32 + 32
s, c = params("probe", "student.mlp"), params("probe", "ceiling.mlp")
full = params("loss-xent", "ceiling.mlp")
if not np.array_equal(s[:hidden], c[:hidden]):
    sys.exit("a probe's frozen layer differs between student and ceiling")
if np.array_equal(s[hidden:], c[hidden:]):
    sys.exit("a probe's last layer did not train differently")
if np.array_equal(c[:hidden], full[:hidden]):
    sys.exit("the full model's hidden layer did not train")
print("probe: hidden layer frozen at its initialization, last layer trained")
PY
# Seeds: one run per seed and a summary of their spread.
mpi 2 "$W2S" run "$TMP/small.yaml" --out "$TMP/seeds" --quiet --seeds 3 || fail "--seeds 3"
# Early stopping on val against the teacher's labels.
run early --set train.eval_every=5 --set train.patience=2 --set train.epochs=20 \
	--set train.stop_on=teacher
py "$TMP" <<'PY' || fail "seeds or early stopping"
import sys, h5py, numpy as np
d = sys.argv[1]
with h5py.File(f"{d}/seeds/summary.h5", "r") as f:
    rows, summary = f["pgr"][()], f["summary"][()]
for seed in (3, 4, 5):
    with h5py.File(f"{d}/seeds/seed-{seed}/run.h5", "r") as f:
        mine = f["pgr"][()]
    got = rows[rows["seed"] == seed]
    if not np.array_equal(got["pgr"], mine["pgr"], equal_nan=True):
        sys.exit(f"summary rows of seed {seed} differ from its run")
for r in summary:
    vals = rows[(rows["strong"] == r["strong"]) & (rows["filter"] == r["filter"])][r["metric"].decode()]
    vals = vals[np.isfinite(vals)]
    if r["n"] != len(vals) or not np.isclose(r["median"], np.median(vals)) \
            or r["min"] != vals.min() or r["max"] != vals.max():
        sys.exit(f"summary of {r['strong']} {r['metric']} is not that of the seeds")
print(f"seeds: {len(rows)} rows over 3 seeds; medians and extremes match the runs")
with h5py.File(f"{d}/early/run.h5", "r") as f:
    stopped = 0
    for model, g in f["models"].items():
        chosen = g.attrs["chosen_step"]
        # 800 rows / 32 = 25 steps an epoch, 20 epochs
        if chosen <= 0 or chosen > 500 or (chosen % 5 and chosen != 500):
            sys.exit(f"{model}: chosen step {chosen}")
        stopped += chosen < 500
    res = f["results"][()]
    if not np.all(res["step"] > 0):
        sys.exit("results lack the step of the kept parameters")
with h5py.File(f"{d}/early/metrics.h5", "r") as f:
    val = f["trace/student.strong/val_acc"][()]
    if not np.any(np.isfinite(val)):
        sys.exit("no validation score in the trace")
print(f"early stopping: {stopped} of {len(res) - 1} models stopped before the last step")
if stopped == 0:
    sys.exit("no model stopped early with patience 2 over 20 epochs")
PY
# Filters: keep 1 is an exact no-op; knn reports its precision.
run keepall --set w2s.filter.method=confidence --set w2s.filter.keep=1
run knn --set w2s.filter.method=knn --set w2s.filter.keep=0.75 --set w2s.filter.k=8
# Synthetic rows from mixtures fitted in the weak view, relabelled by the
# weak model; "real" is the weak model's own training, so it must equal it.
run synth --set 'synth.models=[weak]' --set synth.label=weak --set synth.rows=500
# Selection from a pool by the weak model's loss: with fraction 1 every band
# keeps every row in order, so all four train the same model.
run selall --set data.rows.pool=300 --set 'select.models=[mlp]' --set select.fraction=1
run select --set data.rows.pool=600 --set 'select.models=[mlp]' --set select.fraction=0.5
# Regression: squared error, PGR on error and the misfit to the teacher.
run regression --set data.latent.target=regression
py "$TMP" <<'PY' || fail "regression"
import sys, h5py, numpy as np
d = sys.argv[1]
with h5py.File(f"{d}/regression/run.h5", "r") as f, h5py.File(f"{d}/regression/data.h5", "r") as g:
    truth = g["target"][()][g["splits/test"][()]]
    if truth.dtype != np.float32:
        sys.exit(f"regression target stored as {truth.dtype}")
    weak = f["labels/weak.weak/test/pred"][()]
    for p in f["pgr"][()]:
        m = p["strong"].decode()
        student = f[f"labels/student.{m}/test/pred"][()]
        ceiling = f[f"labels/ceiling.{m}/test/pred"][()]
        mse = lambda y: float(np.mean((y.astype(np.float64) - truth) ** 2))
        want = (mse(weak) - mse(student)) / (mse(weak) - mse(ceiling))
        misfit = float(np.mean((student.astype(np.float64) - weak) ** 2))
        if p["metric"] != b"mse" or not np.isclose(p["p_w2s"], mse(student), rtol=1e-5) \
                or not np.isclose(p["pgr"], want, rtol=1e-4, atol=1e-6) \
                or not np.isclose(p["misfit"], misfit, rtol=1e-4, atol=1e-9):
            sys.exit(f"{m}: pgr row {p} against mse {mse(student)}, pgr {want}, misfit {misfit}")
        print(f"regression {m}: MSE weak {mse(weak):.4f} student {mse(student):.4f} "
              f"ceiling {mse(ceiling):.4f}, PGR {p['pgr']:.3f}, misfit {misfit:.4f}")
PY
py "$TMP" <<'PY' || fail "filter, synth or cascade"
import sys, h5py, numpy as np
d = sys.argv[1]
with h5py.File(f"{d}/keepall/run.h5", "r") as f:
    for m in ("strong", "mlp"):
        a, b = f[f"models/student.{m}/params"][()], f[f"models/unfiltered.{m}/params"][()]
        if not np.array_equal(a, b):
            sys.exit(f"keeping every row changed the student of {m}")
    pgr = f["pgr"][()]
    if sorted(set(p["filter"].decode() for p in pgr)) != ["confidence", "none"]:
        sys.exit("pgr rows with and without the filter missing")
print("filter keep 1: bit-identical to no filter")
with h5py.File(f"{d}/knn/run.h5", "r") as f:
    for r in f["filter"][()]:
        if r["kept"] != 600 or not 0 <= r["precision"] <= 1 or r["errors_removed"] + r["errors_kept"] != r["errors"]:
            sys.exit(f"filter row {r}")
        print(f"knn filter for {r['strong'].decode()}: precision {r['precision']:.3f}, "
              f"weak-label error {r['error_before']:.3f} -> {r['error_after']:.3f}")
with h5py.File(f"{d}/synth/run.h5", "r") as f:
    if f["synth/weak/x"].shape != (500, 4) or f["synth/weak/y"].shape != (500,):
        sys.exit(f"synthetic rows stored as {f['synth/weak/x'].shape}")
    if not np.array_equal(f["models/synth_real.weak/params"][()], f["models/weak.weak/params"][()]):
        sys.exit("synth 'real' is not the weak model's own training")
    res = {r["model"].decode(): r["accuracy"] for r in f["results"][()] if r["split"] == b"test"}
    for k in ("synth_synthetic.weak", "synth_mix.weak"):
        if not 0.5 <= res[k] <= 1:
            sys.exit(f"{k}: accuracy {res[k]}")
    print("synth: real/synthetic/mix test accuracy "
          f"{res['synth_real.weak']:.3f}/{res['synth_synthetic.weak']:.3f}/{res['synth_mix.weak']:.3f}")
    # The cascade (on by default): exact endpoints on test.
    cv = f["cascade/curve"]
    c = cv[()]
    small, large = cv.attrs["small"], cv.attrs["large"]
    res = {r["model"].decode(): r["accuracy"] for r in f["results"][()] if r["split"] == b"test"}
    if c["threshold"][0] != 0 or c["defer_rate"][0] != 0 or c["accuracy"][0] != res[small]:
        sys.exit(f"threshold 0 is not the small model: {c[0]}")
    if c["defer_rate"][-1] != 1 or c["accuracy"][-1] != res[large]:
        sys.exit(f"the last threshold is not the large model: {c[-1]}")
    # Deferring everything costs both models: its saving is -small/large.
    small_flops = c["flops"][0]
    large_flops = small_flops / -c["flops_saving"][-1]
    if not np.isclose(c["flops"][-1], small_flops + large_flops, rtol=1e-12):
        sys.exit("the cost of deferring everything is not both models' cost")
    print(f"cascade {small} -> {large}: endpoints exact; chosen threshold {cv.attrs['chosen_threshold']:.3f}")
bands = ("low", "middle", "high", "random")
with h5py.File(f"{d}/selall/run.h5", "r") as f:
    p = [f[f"models/select_{b}.mlp/params"][()] for b in bands]
    if not all(np.array_equal(p[0], q) for q in p[1:]):
        sys.exit("with fraction 1 the bands trained different models")
with h5py.File(f"{d}/select/run.h5", "r") as f:
    res = {r["model"].decode(): r["accuracy"] for r in f["results"][()] if r["split"] == b"test"}
    line = ", ".join(f"{b} {res['select_' + b + '.mlp']:.3f}" for b in bands)
print(f"select: fraction 1 is the same model in every band; half the pool: {line}")
PY
echo "methods: ok"

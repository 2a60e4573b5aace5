#!/bin/sh
# w2s import and a run on what it wrote: the example of jobs/import (two
# embedding-like views of one latent, labels, index files of every kind)
# imported and run on 2 ranks, with run.h5 checked by h5py; the same arrays
# as CSV, HDF5 and float16 with fraction splits, checked row by row against
# the sources through /source_row; and every bad input refused with one
# line and a non-zero exit.
. "$(dirname "$0")/common.sh"
cp "$W2S_SRCDIR/jobs/import/spec.yaml" "$TMP/spec.yaml"
"$PYTHON3" "$W2S_SRCDIR/jobs/import/make_arrays.py" "$TMP/arrays" --rows 3000 ||
	fail "make_arrays.py"
"$W2S" import "$TMP/spec.yaml" --out "$TMP/data" --quiet || fail "w2s import of the example"

# The example, end to end, on 2 ranks.
mpi 2 "$W2S" run "$W2S_SRCDIR/jobs/import/config.yaml" --set data.import.path="$TMP/data/data.h5" \
	--set train.epochs=4 --out "$TMP/run" --quiet || fail "w2s run on imported data"
[ ! -e "$TMP/run/data.h5" ] || fail "the run copied the imported data"
"$PYTHON3" - "$TMP" <<'PY' || fail "run.h5 of the imported data"
import sys, h5py, numpy as np
t = sys.argv[1]
run = h5py.File(t + "/run/run.h5", "r")
assert run.attrs["data"].endswith("/data/data.h5"), run.attrs["data"]
pgr = run["pgr"][()]
assert len(pgr) == 2 and np.all(np.isfinite(pgr["pgr"])), pgr
assert np.all(pgr["p_ceiling"] > pgr["p_weak"] + 0.1), pgr
res = run["results"][()]
test = res[res["split"] == b"test"]
assert np.all(test["n"] == 1200), test  # make_arrays.py: 40% of the rows
views = {m.decode(): v.decode() for m, v in zip(res["model"], res["view"])}
assert views["weak.weak"] == "small" and views["ceiling.strong"] == "large", views

# The file: the standard layout, rows reordered split after split.
d = h5py.File(t + "/data/data.h5", "r")
src = d["source_row"][()]
begin = 0
for s in ["weak_train", "transfer", "val", "test", "pool"]:
    idx = d["splits/" + s][()]
    assert idx.dtype == np.int64 and np.array_equal(idx, np.arange(begin, begin + len(idx))), s
    if s != "pool":
        want = np.load(t + "/arrays/splits/" + s + ".npy")
        assert np.array_equal(src[begin:begin + len(idx)], want), s
    begin += len(idx)
assert d["views/large"].dtype == np.float32 and d["views/large"].shape == (3000, 32)
large = np.load(t + "/arrays/large.npy")
assert np.array_equal(d["views/large"][()], large[src].astype(np.float32))
assert np.array_equal(d["target"][()], np.load(t + "/arrays/labels.npy")[src])
assert d.attrs["task"] == "import" and d.attrs["classes"] == 2 and d.attrs["kind"] == "data"
assert '"views"' in d.attrs["config"]
PY

# The same arrays as CSV (with a header), an HDF5 dataset and float16, with
# fraction splits, from options alone.
"$PYTHON3" - "$TMP" <<'PY' || fail "writing CSV and HDF5 sources"
import sys, h5py, numpy as np
t = sys.argv[1] + "/arrays/"
small = np.load(t + "small.npy")
np.savetxt(t + "small.csv", small, delimiter=",", header=",".join("c%d" % i for i in range(8)),
           comments="", fmt="%.9g")
with h5py.File(t + "emb.h5", "w") as f:
    f["large"] = np.load(t + "large.npy").astype(np.float16)
np.savetxt(t + "labels.csv", np.load(t + "labels.npy"), fmt="%d", header="label", comments="")
PY
A="$TMP/arrays"
"$W2S" import --view small="$A/small.csv" --view large="$A/emb.h5:/large" --labels "$A/labels.csv" \
	--split weak_train=0.2 --split transfer=0.3 --split val=0.1 --split test=0.3 --seed 5 \
	--out "$TMP/frac" --quiet || fail "w2s import from options"
"$PYTHON3" - "$TMP" <<'PY' || fail "the imported CSV, HDF5 and float16 rows"
import sys, h5py, numpy as np
t = sys.argv[1]
d = h5py.File(t + "/frac/data.h5", "r")
src = d["source_row"][()]
n = {s: len(d["splits/" + s]) for s in ["weak_train", "transfer", "val", "test", "pool"]}
assert n == {"weak_train": 600, "transfer": 900, "val": 300, "test": 900, "pool": 0}, n
assert len(np.unique(src)) == len(src) == 2700
small = np.load(t + "/arrays/small.npy")
assert np.abs(d["views/small"][()] - small[src]).max() < 1e-6
large = np.load(t + "/arrays/large.npy").astype(np.float16).astype(np.float32)
assert np.array_equal(d["views/large"][()], large[src])
assert d.attrs["seed"] == 5
PY
mpi 2 "$W2S" run "$W2S_SRCDIR/jobs/import/config.yaml" --set data.import.path="$TMP/frac/data.h5" \
	--set train.epochs=1 --set 'w2s.strong=[strong]' --out "$TMP/run-frac" --quiet ||
	fail "w2s run on fraction splits"

# Bad inputs: one line each, naming the problem, and a non-zero exit.
"$PYTHON3" - "$TMP" <<'PY' || fail "writing bad arrays"
import sys, numpy as np
t = sys.argv[1] + "/bad/"
import os; os.makedirs(t)
a = np.load(sys.argv[1] + "/arrays/small.npy")
np.save(t + "short.npy", a[:-1])
nan = a.copy(); nan[17, 3] = np.nan; np.save(t + "nan.npy", nan)
y = np.load(sys.argv[1] + "/arrays/labels.npy"); y[5] = 2; np.save(t + "label2.npy", y)
np.save(t + "fortran.npy", np.asfortranarray(a))
np.save(t + "big.npy", a.astype(">f4"))
test = np.load(sys.argv[1] + "/arrays/splits/test.npy")
wt = np.load(sys.argv[1] + "/arrays/splits/weak_train.npy")
np.save(t + "far.npy", np.append(test[:-1], 3000))
np.save(t + "twice.npy", np.append(test, test[7]).astype(np.int32))
np.save(t + "overlap.npy", np.append(test, wt[0]))
open(t + "row7", "w").write(str(test[7]))
open(t + "wt0", "w").write(str(wt[0]))
PY
B="$TMP/bad"
S="$TMP/arrays/splits"
base="--labels $A/labels.npy --split weak_train=$S/weak_train.npy --split transfer=$S/transfer.npy --split val=$S/val.npy --split test=$S/test.txt"
# bad NAME EXPECTED ARGS...: w2s ARGS must fail with one error line holding EXPECTED.
bad() {
	name=$1 want=$2
	shift 2
	set +e
	"$W2S" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
	code=$?
	set -e
	[ "$code" -ne 0 ] || fail "$name: exit code 0"
	grep -qF -- "$want" "$TMP/$name.err" || fail "$name: no '$want' in: $(cat "$TMP/$name.err")"
	[ "$(grep -c 'error:' "$TMP/$name.err")" -eq 1 ] || fail "$name: not one line: $(cat "$TMP/$name.err")"
}
# shellcheck disable=SC2086
{
bad rows "2999 rows, but the labels" import --view x="$B/short.npy" $base --out "$TMP/o1"
bad nan "row 17, column 3 is nan; features must be finite" import --view x="$B/nan.npy" $base --out "$TMP/o2"
bad label "row 5 has label 2, outside the classes [0, 2)" import --view x="$A/small.npy" --classes 2 \
	--labels "$B/label2.npy" --split weak_train=0.5 --split transfer=0.2 --split val=0.1 --split test=0.1 --out "$TMP/o3"
bad range "row index 3000 is out of range [0, 3000)" import --view x="$A/small.npy" $base \
	--split test="$B/far.npy" --out "$TMP/o4"
bad repeated "row $(cat "$B/row7") is repeated" import --view x="$A/small.npy" $base \
	--split test="$B/twice.npy" --out "$TMP/o5"
bad overlap "row $(cat "$B/wt0") is also in weak_train" import --view x="$A/small.npy" $base \
	--split test="$B/overlap.npy" --out "$TMP/o5b"
bad fractions "the fractions add up to 1.1" import --view x="$A/small.npy" --labels "$A/labels.npy" \
	--split weak_train=0.5 --split transfer=0.4 --split val=0.1 --split test=0.1 --out "$TMP/o6"
bad mixed "not both" import --view x="$A/small.npy" $base --split pool=0.1 --out "$TMP/o7"
bad fortran "Fortran order" import --view x="$B/fortran.npy" $base --out "$TMP/o8"
bad bigendian "big-endian" import --view x="$B/big.npy" $base --out "$TMP/o9"
bad missing "cannot read '$B/none.npy'" import --view x="$B/none.npy" $base --out "$TMP/o10"
bad nosplit "splits.val: missing" import --view x="$A/small.npy" --labels "$A/labels.npy" \
	--split weak_train="$S/weak_train.npy" --split transfer="$S/transfer.npy" --split test="$S/test.txt" --out "$TMP/o11"
bad dataset "has no dataset '/nothing'" import --view x="$A/emb.h5:/nothing" $base --out "$TMP/o12"
bad exists "already exists" import "$TMP/spec.yaml" --out "$TMP/data"
printf 'views: {small: arrays/small.npy}\nlabel: arrays/labels.npy\n' >"$TMP/typo.yaml"
bad speckey "typo.yaml:2: unknown key 'label'" import "$TMP/typo.yaml" --out "$TMP/o13"
}
# A run's config that contradicts the file, or names views it lacks.
C="$W2S_SRCDIR/jobs/import/config.yaml"
bad rowsconfig "data.rows.test: 10, but" run "$C" --set data.import.path="$TMP/data/data.h5" \
	--set data.rows.test=10 --out "$TMP/o14"
bad viewconfig "unknown view 'weak' (views: large, small)" run "$C" \
	--set data.import.path="$TMP/data/data.h5" --set 'models={weak: {view: weak}}' --out "$TMP/o15"
bad nofile "data.import.path: cannot read '$TMP/none.h5'" run "$C" \
	--set data.import.path="$TMP/none.h5" --out "$TMP/o16"
bad notdata "is not a w2s data file" run "$C" --set data.import.path="$TMP/arrays/emb.h5" --out "$TMP/o17"
[ ! -e "$TMP/o1/data.h5" ] && [ ! -e "$TMP/o1/data.h5.tmp" ] || fail "a failed import left a file"
# In words: the data file shows its import spec, the run where its data are;
# the report finds the data file through run.h5.
"$W2S" inspect "$TMP/data/data.h5" >"$TMP/inspect.txt" || fail "w2s inspect of imported data"
grep -q "imported by .w2s import. from 3000 source rows" "$TMP/inspect.txt" &&
	grep -q "views: large = .*large.npy; small = .*small.npy" "$TMP/inspect.txt" &&
	! grep -q "^config:" "$TMP/inspect.txt" || fail "inspect of imported data: $(cat "$TMP/inspect.txt")"
"$W2S" inspect "$TMP/run/run.h5" | grep -q "config: import task, data from $TMP/data/data.h5" ||
	fail "inspect of a run on imported data does not say where its data are"
"$PYTHON3" "$W2S_SRCDIR/analysis/report.py" "$TMP/run" --out "$TMP/report" >"$TMP/report.log" 2>&1 ||
	fail "report.py on a run of imported data: $(cat "$TMP/report.log")"
! grep -q "data.h5" "$TMP/report.log" || fail "report.py did not find the imported data: $(cat "$TMP/report.log")"
echo "import: ok"

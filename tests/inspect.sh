#!/bin/sh
# w2s inspect on the files of a small run: the words name what each file
# holds, --json carries the same numbers as the files (checked with h5py),
# one rank prints under mpirun, and files that are missing, empty, not
# HDF5 or truncated give exit code 4 and one line that says which.
. "$(dirname "$0")/common.sh"
small_config "$TMP/small.yaml"
"$W2S" run "$TMP/small.yaml" --set train.epochs=1 --out "$TMP/run" --quiet || fail "w2s run"

# expect_out FILE PATTERN...: each PATTERN (grep -E) is in FILE.
expect_out() {
	f=$1
	shift
	for p in "$@"; do
		grep -qE -- "$p" "$f" || { cat "$f"; fail "'$p' not in the output above"; }
	done
}

"$W2S" inspect "$TMP/run/data.h5" >"$TMP/data.txt" || fail "inspect data.h5"
expect_out "$TMP/data.txt" "a w2s data file" "config: latent task, seed 3, 2 classes" \
	"weak +2600 x 4 +float32 +z\[:4\] \+ 1 \* u\[:4\]" "target \(/target\): 2600 rows, int32, 2 classes" \
	"weak_train +600 rows +\(rows 0\.\.599\)" "test +1000 rows +\(rows 1600\.\.2599\)"
"$W2S" inspect "$TMP/run/run.h5" >"$TMP/run.txt" || fail "inspect run.h5"
expect_out "$TMP/run.txt" "a w2s run file" "on 1 rank in [0-9.]+ s" \
	"weak-to-strong: weak teaches strong, mlp with loss xent" \
	"ceiling\.mlp +view x +widths 16-32-2 +relu +610 parameters" \
	"weak\.weak +test \(1000 rows\), transfer \(800 rows\)" \
	"^/results \(6 rows\)" "^/pgr \(2 rows\)" "^  strong +weak +0\.[0-9]{4}"
"$W2S" inspect "$TMP/run/metrics.h5" >"$TMP/metrics.txt" || fail "inspect metrics.h5"
expect_out "$TMP/metrics.txt" "a w2s metrics file" "last point of each" \
	"^  student\.mlp +[0-9]+ +25 +1\.00 "

# --json holds what h5py reads from the files.
for f in data run metrics; do
	"$W2S" inspect "$TMP/run/$f.h5" --json >"$TMP/$f.json" || fail "inspect $f.h5 --json"
done
"$PYTHON3" - "$TMP/run" <<'PY' || fail "inspect --json disagrees with h5py"
import json, math, sys
import h5py, numpy as np
d = sys.argv[1]
def load(name):
    return json.load(open(f"{d}/../{name}.json"))
def same(a, b):
    return (a is None and isinstance(b, float) and math.isnan(b)) or a == b
for name in ("data", "run", "metrics"):
    doc = load(name)
    with h5py.File(f"{d}/{name}.h5", "r") as f:
        assert doc["kind"] == name == f.attrs["kind"], doc["kind"]
        assert doc["config"] == json.loads(f.attrs["config"])
        for k, v in f.attrs.items():
            if k != "config":
                assert doc["attributes"][k] == (v.item() if hasattr(v, "item") else v), k
        paths = []
        f.visit(lambda p: paths.append("/" + p))
        assert sorted(o["path"] for o in doc["objects"]) == sorted(paths)
        for o in doc["objects"]:
            if o["type"] == "dataset":
                assert tuple(o["shape"]) == f[o["path"]].shape, o
        for path, rows in doc["tables"].items():
            table = f[path][()]
            assert len(rows) == len(table)
            for row, want in zip(rows, table):
                for col in table.dtype.names:
                    w = want[col].decode() if isinstance(want[col], bytes) else want[col].item()
                    assert same(row[col], w), (path, col, row[col], w)
        if name == "data":
            assert doc["target"]["class_counts"] == np.bincount(f["target"][()]).tolist()
            for s, info in doc["splits"].items():
                idx = f["splits"][s][()]
                assert (info["rows"], info["first"], info["last"]) == (len(idx), idx[0], idx[-1]), s
            for v, info in doc["views"].items():
                assert [info["rows"], info["cols"]] == list(f["views"][v].shape)
        if name == "run":
            assert set(doc["tables"]) == {"results", "pgr"}
            for m, info in doc["models"].items():
                assert info["params"] == f[f"models/{m}/params"].shape[0]
                assert " ".join(map(str, info["widths"])) == f[f"models/{m}"].attrs["widths"]
            for m, splits in doc["labels"].items():
                for s, rows in splits.items():
                    assert rows == f[f"labels/{m}/{s}/pred"].shape[0]
        if name == "metrics":
            for m, t in doc["traces"].items():
                g = f[f"trace/{m}"]
                assert t["points"] == len(g["step"])
                for col in ("step", "epoch", "loss", "acc", "lr", "seconds"):
                    assert same(t[col], g[col][-1].item()), (m, col)
print("inspect --json agrees with h5py on data, run and metrics")
PY

# Under mpirun, rank 0 alone reads and prints.
mpi 2 "$W2S" inspect "$TMP/run/run.h5" >"$TMP/two.txt" || fail "inspect on 2 ranks"
[ "$(grep -c "a w2s run file" "$TMP/two.txt")" -eq 1 ] || fail "inspect on 2 ranks printed $(grep -c "a w2s run file" "$TMP/two.txt") headers"

# A file w2s did not write is listed object by object.
"$PYTHON3" -c "
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    f['group/values'] = np.arange(5.0)
    f.attrs['origin'] = 'elsewhere'
" "$TMP/other.h5"
"$W2S" inspect "$TMP/other.h5" >"$TMP/other.txt" || fail "inspect a foreign HDF5 file"
expect_out "$TMP/other.txt" "without a w2s 'kind' attribute" "origin +elsewhere" \
	"/group/values +dataset float64 \(5\)"

# expect CODE SUBSTRING ARGS...: w2s ARGS exits CODE, prints one w2s line on
# stderr that contains SUBSTRING, and nothing on stdout.
expect() {
	want=$1 needle=$2
	shift 2
	set +e
	"$W2S" "$@" >"$TMP/out" 2>"$TMP/err"
	code=$?
	set -e
	[ "$code" -eq "$want" ] || fail "w2s $*: exit $code, expected $want; stderr: $(cat "$TMP/err")"
	[ "$(grep -c "^w2s" "$TMP/err")" -eq 1 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] ||
		fail "w2s $*: expected one line on stderr, got: $(cat "$TMP/err")"
	grep -qF -- "$needle" "$TMP/err" || fail "w2s $*: '$needle' not in: $(cat "$TMP/err")"
	[ ! -s "$TMP/out" ] || fail "w2s $*: printed on stdout: $(cat "$TMP/out")"
}
: >"$TMP/empty.h5"
echo "not HDF5" >"$TMP/text.h5"
head -c 4096 "$TMP/run/run.h5" >"$TMP/truncated.h5"
expect 4 "No such file or directory" inspect "$TMP/nowhere.h5"
expect 4 "is a folder" inspect "$TMP/run"
expect 4 "is empty" inspect "$TMP/empty.h5"
expect 4 "is not an HDF5 file" inspect "$TMP/text.h5"
expect 4 "is truncated: 4096 bytes of the" inspect "$TMP/truncated.h5" --json
expect 2 "needs a file" inspect
expect 2 "takes one file" inspect "$TMP/run/run.h5" "$TMP/run/data.h5"
expect 2 "unknown option '--yaml'" inspect "$TMP/run/run.h5" --yaml

"$W2S" inspect --help >"$TMP/help.txt" || fail "inspect --help"
expect_out "$TMP/help.txt" "usage: w2s inspect FILE.h5 \[--json\]" "--json" "exit codes: 0 done"
"$W2S" --help | grep -q "inspect FILE.h5" || fail "w2s --help does not list inspect"
echo "inspect: ok"

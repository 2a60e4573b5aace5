#!/bin/sh
# w2s inspect on the files of a small run (checkpoints included) and of one
# with a filter and synthetic data but no cascade: the words name what each
# file holds, --json carries the same numbers as the files (checked with h5py),
# one rank prints under mpirun, and files that are missing, empty, not
# HDF5 or truncated give exit code 4 and one line that says which.
. "$(dirname "$0")/common.sh"
small_config "$TMP/small.yaml"
"$W2S" run "$TMP/small.yaml" --set train.epochs=1 --out "$TMP/run" --quiet || fail "w2s run"
"$W2S" run "$TMP/small.yaml" --set train.epochs=1 --set w2s.filter.method=confidence \
	--set 'synth.models=[strong]' --set synth.rows=300 --set cascade.enabled=false \
	--out "$TMP/methods" --quiet || fail "w2s run with a filter and synth"

# Each start of w2s spends a fraction of a second in MPI start-up, mostly
# waiting: the independent commands below run side by side.
# bg NAME ARGS...: w2s ARGS in the background, into $TMP/NAME.{out,err,code}.
bg() {
	name=$1
	shift
	(
		set +e
		"$W2S" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
		echo $? >"$TMP/$name.code"
	) &
}
: >"$TMP/empty.h5"
echo "not HDF5" >"$TMP/text.h5"
head -c 4096 "$TMP/run/run.h5" >"$TMP/truncated.h5"
"$PYTHON3" -c "
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    f['group/values'] = np.arange(5.0)
    f.attrs['origin'] = 'elsewhere'
" "$TMP/other.h5"
for f in data run metrics; do
	bg "$f" inspect "$TMP/run/$f.h5"
	bg "$f-json" inspect "$TMP/run/$f.h5" --json
done
bg methods inspect "$TMP/methods/run.h5"
bg methods-json inspect "$TMP/methods/run.h5" --json
bg other inspect "$TMP/other.h5"
ckpt=$(ls "$TMP/run/ckpt/"weak.weak-*.h5 | tail -n 1)
bg ckpt inspect "$ckpt"
bg missing inspect "$TMP/nowhere.h5"
bg folder inspect "$TMP/run"
bg empty inspect "$TMP/empty.h5"
bg text inspect "$TMP/text.h5"
bg truncated inspect "$TMP/truncated.h5" --json
bg nofile inspect
bg twofiles inspect "$TMP/run/run.h5" "$TMP/run/data.h5"
bg badopt inspect "$TMP/run/run.h5" --yaml
bg help inspect --help
bg mainhelp --help
mpi 2 "$W2S" inspect "$TMP/run/run.h5" >"$TMP/two.txt" || fail "inspect on 2 ranks"
wait

# ok NAME: the command NAME exited 0.
ok() {
	[ "$(cat "$TMP/$1.code")" -eq 0 ] || fail "$1: exit $(cat "$TMP/$1.code"): $(cat "$TMP/$1.err")"
}

# expect_out FILE PATTERN...: each PATTERN (grep -E) is in FILE.
expect_out() {
	f=$1
	shift
	for p in "$@"; do
		grep -qE -- "$p" "$f" || { cat "$f"; fail "'$p' not in the output above"; }
	done
}

ok data
expect_out "$TMP/data.out" "a w2s data file" "config: latent task, seed 3, 2 classes" \
	"weak +2600 x 4 +float32 +z\[:4\] \+ 1 \* u\[:4\]" "target \(/target\): 2600 rows, int32, 2 classes" \
	"weak_train +600 rows +\(rows 0\.\.599\)" "test +1000 rows +\(rows 1600\.\.2599\)"
ok run
expect_out "$TMP/run.out" "a w2s run file" "on 1 rank in [0-9.]+ s" \
	"weak-to-strong: weak teaches strong, mlp with loss xent" \
	"ceiling\.mlp +view x +widths 16-32-2 +relu +610 parameters" \
	"weak\.weak +test \(1000 rows\), transfer \(800 rows\)" \
	"^/results \([0-9]+ rows\)" "^/pgr \(2 rows\)" \
	"^  strong +weak +teacher +filter +metric +p_weak +p_w2s +p_ceiling +pgr +misfit$" \
	"^  strong +weak +weak +none +accuracy +0\.[0-9]{4} +0\.[0-9]{4} +0\.[0-9]{4} " \
	"^/cascade/curve \(101 rows, test\) and /cascade/val_curve \(101 rows, val\)" \
	"weak\.weak answers every query and defers it to ceiling\.mlp when its maxprob score" \
	"threshold 0\.[0-9]{4} chosen on val, the cheapest within 0\.005 of ceiling\.mlp alone" \
	"^ +0\.0000 +0 .*<- defers none" "<- chosen$" "^ +2\.0000 +1000 .*<- defers all" \
	"\(12 of 101 thresholds"
! grep -E "^/filter|^synthetic rows|^/cascade/val_curve" "$TMP/run.out" ||
	fail "inspect words a filter, synthetic rows or a second cascade table the run did not have"
ok methods
expect_out "$TMP/methods.out" "^/pgr \(4 rows\)" \
	"^  strong +weak +weak +confidence +accuracy +0\.[0-9]{4}" "^  strong +weak +weak +none +accuracy +0\.[0-9]{4}" \
	"filter none beside a filtered row: unfiltered\.<strong>" \
	"^/filter \(2 rows\): what w2s\.filter removed" "^  mlp +confidence +0\.8000 +800 +640 " \
	"^synthetic rows \(/synth/<model>/\{x,y\}\)" "^  strong +300 rows x 8 columns" \
	"^  synth_synthetic\.strong +view strong" "^  unfiltered\.mlp +view x"
! grep -q "cascade" "$TMP/methods.out" || fail "inspect words a cascade that cascade.enabled=false left out"
ok metrics
expect_out "$TMP/metrics.out" "a w2s metrics file" "last point of each" \
	"^  student\.mlp +[0-9]+ +25 +1\.00 "

# --json holds what h5py reads from the files.
for f in data run metrics methods; do
	ok "$f-json"
done
"$PYTHON3" - "$TMP/run" <<'PY' || fail "inspect --json disagrees with h5py"
import json, math, sys
import h5py, numpy as np
d = sys.argv[1]
def same(a, b):
    return (a is None and isinstance(b, float) and math.isnan(b)) or a == b
# (the output of `inspect --json`, the folder of the file, its kind)
for out, folder, name in (("data", d, "data"), ("run", d, "run"), ("metrics", d, "metrics"),
                          ("methods", f"{d}/../methods", "run")):
    doc = json.load(open(f"{d}/../{out}-json.out"))
    with h5py.File(f"{folder}/{name}.h5", "r") as f:
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
                assert info["rows"] == len(idx), s
                if len(idx):  # an empty split (the pool, unless select is used) has no ends
                    assert (info["first"], info["last"]) == (idx[0], idx[-1]), s
            for v, info in doc["views"].items():
                assert [info["rows"], info["cols"]] == list(f["views"][v].shape)
        if name == "run":
            cascade = "cascade" in f
            assert set(doc["tables"]) == {"results", "pgr"} | (
                {"cascade/curve", "cascade/val_curve"} if cascade else {"filter"}), set(doc["tables"])
            if cascade:
                want = {k: (v.item() if hasattr(v, "item") else v) for k, v in f["cascade/curve"].attrs.items()}
                assert doc["cascade"] == want, (doc["cascade"], want)
            else:
                assert "cascade" not in doc
            assert doc["synth"] == {m: {"rows": g["x"].shape[0], "cols": g["x"].shape[1]}
                                    for m, g in f.get("synth", {}).items()}
            assert cascade or doc["synth"] == {"strong": {"rows": 300, "cols": 8}}
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
                for col in ("step", "epoch", "loss", "acc", "val_acc", "lr", "seconds"):
                    assert same(t[col], g[col][-1].item()), (m, col)
print("inspect --json agrees with h5py on data, run (with and without a filter) and metrics")
PY

# Under mpirun, rank 0 alone reads and prints.
[ "$(grep -c "a w2s run file" "$TMP/two.txt")" -eq 1 ] || fail "inspect on 2 ranks printed $(grep -c "a w2s run file" "$TMP/two.txt") headers"

ok ckpt
expect_out "$TMP/ckpt.out" "a w2s checkpoint" \
	"checkpoint of weak\.weak after step 19 \(1 epochs and 0 batches\): training had finished" \
	"^/trace \(1 row\): every trace row"

# A file w2s did not write is listed object by object.
ok other
expect_out "$TMP/other.out" "without a w2s 'kind' attribute" "origin +elsewhere" \
	"/group/values +dataset float64 \(5\)"

# expect NAME CODE SUBSTRING: command NAME exited CODE, printed one w2s
# line on stderr that contains SUBSTRING, and nothing on stdout.
expect() {
	name=$1 want=$2 needle=$3
	code=$(cat "$TMP/$name.code")
	[ "$code" -eq "$want" ] || fail "$name: exit $code, expected $want; stderr: $(cat "$TMP/$name.err")"
	[ "$(grep -c "^w2s" "$TMP/$name.err")" -eq 1 ] && [ "$(wc -l <"$TMP/$name.err")" -eq 1 ] ||
		fail "$name: expected one line on stderr, got: $(cat "$TMP/$name.err")"
	grep -qF -- "$needle" "$TMP/$name.err" || fail "$name: '$needle' not in: $(cat "$TMP/$name.err")"
	[ ! -s "$TMP/$name.out" ] || fail "$name: printed on stdout: $(cat "$TMP/$name.out")"
}
expect missing 4 "No such file or directory"
expect folder 4 "is a folder"
expect empty 4 "is empty"
expect text 4 "is not an HDF5 file"
expect truncated 4 "is truncated: 4096 bytes of the"
expect nofile 2 "needs a file"
expect twofiles 2 "takes one file"
expect badopt 2 "unknown option '--yaml'"

ok help
expect_out "$TMP/help.out" "usage: w2s inspect FILE.h5 \[--json\]" "--json" "exit codes: 0 done"
ok mainhelp
expect_out "$TMP/mainhelp.out" "inspect FILE.h5"
echo "inspect: ok"

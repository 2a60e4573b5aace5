#!/bin/sh
# A small `w2s run` under mpirun -n 2 writes every file, h5py reads them, a
# plain one-rank run ends within tolerance of it, results are never
# overwritten without --force, and the written config.yaml runs again to the
# same config.
. "$(dirname "$0")/common.sh"
small_config "$TMP/small.yaml"
mpi 2 "$W2S" run "$TMP/small.yaml" --out "$TMP/two" >"$TMP/two.log" 2>&1 ||
	{ cat "$TMP/two.log"; fail "w2s run on 2 ranks"; }
cat "$TMP/two.log"
for f in config.yaml data.h5 run.h5 metrics.h5; do
	[ -s "$TMP/two/$f" ] || fail "missing $f"
done
grep -q "PGR" "$TMP/two.log" || fail "no PGR in the printed table"
"$PYTHON3" "$W2S_SRCDIR/tests/h5check.py" run "$TMP/two" || fail "h5py check of the run"
h5dump -d /results "$TMP/two/run.h5" >/dev/null || fail "h5dump cannot read /results"

"$W2S" run "$TMP/small.yaml" --out "$TMP/one" --quiet || fail "w2s run without mpirun"
# Tolerance: 1 and 2 ranks differ only in the order of the gradient sum;
# over a few hundred steps that moves test accuracy by well under a point.
"$PYTHON3" "$W2S_SRCDIR/tests/h5check.py" same "$TMP/one" "$TMP/two" 0.01 ||
	fail "1-rank and 2-rank results differ"

# A second run into the same folder is refused and leaves the first intact.
before=$(md5sum <"$TMP/two/run.h5")
set +e
mpi 2 "$W2S" run "$TMP/small.yaml" --out "$TMP/two" --quiet 2>"$TMP/refused.log"
code=$?
set -e
[ "$code" -eq 7 ] || fail "second run into the same folder exited $code, expected 7"
grep -q -- "--force" "$TMP/refused.log" || fail "refusal does not mention --force"
[ "$(md5sum <"$TMP/two/run.h5")" = "$before" ] || fail "refused run changed run.h5"

# --force replaces the run, but only once the new data are whole: until
# then the folder holds the old run whole (a new run that cannot even make
# its data changes nothing); after, none of the old run's files (run.h5,
# checkpoints) stays beside the new config, even when the new run fails.
cp -r "$TMP/two" "$TMP/replaced"
mkdir "$TMP/replaced/data.h5.tmp" # where the new data would be written
set +e
"$W2S" run "$TMP/small.yaml" --out "$TMP/replaced" --force --quiet \
	--set train.lr=1e30 2>"$TMP/force-bad.log"
code=$?
set -e
[ "$code" -eq 4 ] || fail "a --force run that cannot write its data exited $code, expected 4: $(cat "$TMP/force-bad.log")"
rmdir "$TMP/replaced/data.h5.tmp"
cmp "$TMP/two/config.yaml" "$TMP/replaced/config.yaml" ||
	fail "a --force run that failed before its data were whole replaced config.yaml"
[ "$(md5sum <"$TMP/replaced/run.h5")" = "$before" ] ||
	fail "a --force run that failed before its data were whole changed run.h5"
set +e
"$W2S" run "$TMP/small.yaml" --out "$TMP/replaced" --force --quiet --set train.lr=1e30 \
	--set train.clip=0 2>"$TMP/force.log"
code=$?
set -e
[ "$code" -eq 5 ] || fail "a diverging --force run exited $code, expected 5: $(cat "$TMP/force.log")"
grep -q "lr: 1.0e+30" "$TMP/replaced/config.yaml" || fail "the --force run did not write its config.yaml"
[ ! -e "$TMP/replaced/run.h5" ] || fail "the old run.h5 stayed beside the --force run's config"
for f in "$TMP/two/ckpt/"*.h5; do
	! cmp -s "$f" "$TMP/replaced/ckpt/$(basename "$f")" ||
		fail "the old checkpoint $(basename "$f") stayed beside the --force run's config"
done
echo "--force: the old run stays whole until the new data are, then goes"

# The effective config, run again, is the same config.
"$W2S" config "$TMP/two/config.yaml" --json >"$TMP/again.json" || fail "reloading config.yaml"
"$PYTHON3" - "$TMP/two/run.h5" "$TMP/again.json" <<'PY' || fail "config.yaml does not reload to the run's config"
import sys, h5py
stored = h5py.File(sys.argv[1], "r").attrs["config"]
again = open(sys.argv[2]).read().strip()
sys.exit(0 if stored == again else 1)
PY
# jobs/configs/default.yaml is the built-in default written out.
"$W2S" config --json >"$TMP/builtin.json"
"$W2S" config "$W2S_SRCDIR/jobs/configs/default.yaml" --json >"$TMP/shipped.json"
cmp "$TMP/builtin.json" "$TMP/shipped.json" || fail "jobs/configs/default.yaml differs from the built-in default"
# --log-format json: every line of the output is one JSON object, and the
# progress lines carry the model, step and loss.
"$W2S" run "$TMP/small.yaml" --out "$TMP/json" --log-format json >"$TMP/json.log" ||
	fail "w2s run --log-format json"
"$PYTHON3" - "$TMP/json.log" <<'PY' || fail "--log-format json output"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
progress = [r for r in rows if "step" in r]
if not progress or not all({"model", "step", "loss", "lr", "rank", "time"} <= set(r) for r in progress):
    sys.exit("progress objects lack their fields")
print(f"--log-format json: {len(rows)} lines, {len(progress)} progress objects")
PY
# Errors too, also those that one rank alone saw (a file it could not write).
touch "$TMP/plain"
if mpi 2 "$W2S" run "$TMP/small.yaml" --out "$TMP/plain/x" --log-format json 2>"$TMP/json.err"; then
	fail "a run into a file's path succeeded"
fi
"$PYTHON3" - "$TMP/json.err" <<'PY' || fail "--log-format json errors: $(cat "$TMP/json.err")"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
assert len(rows) == 1 and rows[0]["level"] == "error" and "plain" in rows[0]["msg"], rows
PY
echo "run_e2e: ok"

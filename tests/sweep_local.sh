#!/bin/sh
# w2s sweep without slurm: a grid of learning rates and seeds expands to one
# checked config per trial, a manifest and a job array script; a bad key or
# value in a sweep is refused with the message `w2s run --set` gives, before
# anything is written; collect lists every trial, done, failed, unfinished
# or missing, in one table that h5py reads, with each done trial's results
# equal to its own run.h5.
. "$(dirname "$0")/common.sh"
small_config "$TMP/small.yaml"
cat >"$TMP/spec.yaml" <<'YAML'
config: small.yaml     # relative to this file
grid:
  train.lr: [0.003, 0.01]
seeds: [1, 2, 3]
YAML
out=$TMP/sweep
"$W2S" sweep expand "$TMP/spec.yaml" --out "$out" --parallel 2 >"$TMP/expand.log" 2>&1 ||
	{ cat "$TMP/expand.log"; fail "sweep expand"; }
cat "$TMP/expand.log"
grep -q "^6 trials" "$TMP/expand.log" || fail "expand did not report 6 trials"
for f in sweep.json sweep.sbatch sweep.yaml; do
	[ -s "$out/$f" ] || fail "no $f in the sweep folder"
done
for i in 0 1 2 3 4 5; do
	[ -s "$out/trials/$i/config.yaml" ] || fail "no trials/$i/config.yaml"
done
# Trial 4 is lr 0.01, seed 2: its config is the base with those two set.
"$W2S" config "$TMP/small.yaml" --set train.lr=0.01 --set seed=2 --json >"$TMP/want.json"
"$W2S" config "$out/trials/4/config.yaml" --json >"$TMP/got.json"
cmp -s "$TMP/want.json" "$TMP/got.json" || fail "trials/4/config.yaml is not small.yaml with lr 0.01, seed 2"

# The job script: an array of every trial, two at a time, requeued on
# preemption and warned before its time limit.
bash -n "$out/sweep.sbatch" || fail "sweep.sbatch is not valid bash"
for want in "--array=0-5%2 " "--requeue " "--signal=B:USR1@60 " "--chdir=$out " \
	"--output=trials/%a/slurm.log "; do
	grep -q -- "^#SBATCH $want" "$out/sweep.sbatch" || fail "sweep.sbatch lacks #SBATCH $want"
done
! grep '^#SBATCH' "$out/sweep.sbatch" | grep -v ' # ' || fail "an #SBATCH line without its comment"

# A folder that holds a sweep is not overwritten without --force.
set +e
"$W2S" sweep expand "$TMP/spec.yaml" --out "$out" 2>"$TMP/again.log"
code=$?
set -e
[ "$code" -eq 7 ] || fail "a second expand into the same folder exited $code, expected 7"
grep -q -- "--force" "$TMP/again.log" || fail "the refusal does not mention --force"

# A bad key or value in the sweep: the message of w2s run, and no sweep.
while IFS='|' read -r key list value; do
	printf 'config: small.yaml\ngrid:\n  %s: %s\n' "$key" "$list" >"$TMP/bad.yaml"
	set +e
	"$W2S" sweep expand "$TMP/bad.yaml" --out "$TMP/bad" 2>"$TMP/bad.log"
	code=$?
	"$W2S" run "$TMP/small.yaml" --set "$key=$value" --out "$TMP/never" 2>"$TMP/run.log"
	set -e
	[ "$code" -eq 3 ] || { cat "$TMP/bad.log"; fail "sweep of $key over $list exited $code, expected 3"; }
	[ "$(cat "$TMP/bad.log")" = "$(cat "$TMP/run.log")" ] || {
		cat "$TMP/bad.log" "$TMP/run.log"
		fail "sweep of $key over $list: not the message of w2s run --set $key=$value"
	}
	[ ! -e "$TMP/bad/sweep.json" ] && [ ! -e "$TMP/bad/trials/0" ] ||
		fail "a refused sweep wrote trials"
	cat "$TMP/bad.log"
done <<'EOF'
train.lr|[0.003, -1]|-1
train.lrr|[0.1]|0.1
models.strong.hidden|[[8], [0]]|[0]
EOF
# A base config that repeats over seeds is not one run per trial.
printf 'base: {seeds: [1, 2]}\n' >"$TMP/bad.yaml"
set +e
"$W2S" sweep expand "$TMP/bad.yaml" --out "$TMP/bad" 2>"$TMP/bad.log"
code=$?
set -e
[ "$code" -eq 3 ] && grep -q "list the seeds in the sweep spec instead" "$TMP/bad.log" ||
	{ cat "$TMP/bad.log"; fail "a base with seeds: [...] was not refused"; }
printf 'grid:\n  train.lr: 0.1\n' >"$TMP/bad.yaml"
set +e
"$W2S" sweep expand "$TMP/bad.yaml" --out "$TMP/bad" 2>"$TMP/bad.log"
code=$?
set -e
[ "$code" -eq 3 ] || fail "a spec with a scalar grid exited $code, expected 3"
grep -q "bad.yaml:2: grid.train.lr: expected a list of values" "$TMP/bad.log" ||
	{ cat "$TMP/bad.log"; fail "no file:line message for a bad spec"; }

# Trials in every state, made by hand: 0 and 1 done; 2 failed (exit 5);
# 3 started (data.h5 only); 4 stopped after a checkpoint (exit 8); 5 never.
for i in 0 1; do
	"$W2S" run "$out/trials/$i/config.yaml" --out "$out/trials/$i" --resume --quiet ||
		fail "running trial $i"
done
echo 5 >"$out/trials/2/exit_code"
"$W2S" gen "$out/trials/3/config.yaml" --out "$out/trials/3" --quiet
echo 8 >"$out/trials/4/exit_code"
"$W2S" sweep collect "$out" >"$TMP/collect.log" 2>&1 || { cat "$TMP/collect.log"; fail "collect"; }
cat "$TMP/collect.log"
grep -q "6 trials: 2 done, 1 failed, 2 unfinished, 1 missing" "$TMP/collect.log" ||
	fail "collect's summary does not count the states"

"$PYTHON3" - "$out" <<'PY' || fail "the collected table"
import sys, h5py, numpy as np
d = sys.argv[1]
t = h5py.File(f"{d}/sweep.h5", "r")["results"][()]
names = t.dtype.names
want = ("trial", "exit_code", "status", "train.lr", "seed", "strong", "p_weak", "p_w2s", "p_ceiling", "pgr")
assert names == want, names
assert t["train.lr"].dtype == np.float64 and t["seed"].dtype == np.float64
assert len(t) == 12, len(t)           # 6 trials x 2 strong models, none dropped
status = {0: b"done", 1: b"done", 2: b"failed", 3: b"unfinished", 4: b"unfinished", 5: b"missing"}
codes = {2: 5, 4: 8}
for r in t:
    i = int(r["trial"])
    assert r["status"] == status[i], (i, r["status"])
    assert r["exit_code"] == codes.get(i, -1), (i, r["exit_code"])
    assert r["train.lr"] == (0.003 if i < 3 else 0.01) and r["seed"] == 1 + i % 3, r
    assert r["strong"] in (b"strong", b"mlp"), r["strong"]
    m = np.array([r["p_weak"], r["p_w2s"], r["p_ceiling"]])
    if i < 2:
        pgr = h5py.File(f"{d}/trials/{i}/run.h5", "r")["pgr"][()]
        p = pgr[pgr["strong"] == r["strong"]][0]
        assert np.array_equal(m, [p["p_weak"], p["p_w2s"], p["p_ceiling"]]), (m, p)
        assert np.array_equal(r["pgr"], p["pgr"], equal_nan=True)
    else:
        assert np.all(np.isnan(m)) and np.isnan(r["pgr"]), r
print(f"{d}/sweep.h5: {len(t)} rows, columns {', '.join(names)}")
PY
# The example spec that ships in jobs/ expands.
"$W2S" sweep expand "$W2S_SRCDIR/jobs/sweep.yaml" --out "$TMP/example" >"$TMP/example.log" 2>&1 ||
	{ cat "$TMP/example.log"; fail "jobs/sweep.yaml does not expand"; }
grep -q "^36 trials" "$TMP/example.log" || fail "jobs/sweep.yaml is not 36 trials"
echo "sweep_local: ok"

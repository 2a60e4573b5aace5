#!/bin/sh
# Checkpoints and exact resume.  A run killed with SIGKILL at several
# points (during generation, between models, inside training) and then
# finished with --resume ends with parameters, labels and results that are
# bit-identical to a run never interrupted (same number of ranks).  SIGUSR1
# and SIGTERM stop every rank after a checkpoint with exit code 8.  A
# different config is refused on resume; a damaged newest checkpoint is
# skipped for the one before it; a diverging run names its last checkpoint.
. "$(dirname "$0")/common.sh"

cat >"$TMP/cfg.yaml" <<'YAML'
seed: 5
data:
  rows: {weak_train: 3000, transfer: 3000, val: 200, test: 2000}
models:
  weak: {view: weak}
  strong: {view: strong}
  big: {view: x, hidden: [64, 64]}
train: {epochs: 6, batch: 32}
log: {every: 40}
checkpoint: {every: 37, keep: 1000}
YAML
mpi 2 "$W2S" run "$TMP/cfg.yaml" --out "$TMP/ref" --quiet || fail "reference run"

# Same parameters, labels and results, bit for bit.
same() {
	"$PYTHON3" - "$TMP/ref/run.h5" "$1/run.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
for n in names:
    x, y = a[n][()], b[n][()]
    if x.dtype.names:
        # Tables: every column but the measured times.
        for col in x.dtype.names:
            nan = x[col].dtype.kind == "f"  # NaN (a misfit of classes) equals NaN
            if "seconds" not in col and not np.array_equal(x[col], y[col], equal_nan=nan):
                sys.exit(f"{n}.{col} differs")
    elif not np.array_equal(x, y):
        sys.exit(f"{n} differs")
print(f"{len(names)} datasets bit-identical")
PY
}

# start OUT: a run in the background.
start() {
	"$MPIRUN" -n 2 --bind-to none "$W2S" run "$TMP/cfg.yaml" --out "$1" \
		>"$1.log" 2>&1 &
	pid=$!
}

# kill_job: SIGKILL to the ranks and to mpirun.  mpirun puts each rank in a
# process group of its own, so killing mpirun's group alone would leave
# them running.
kill_job() {
	pkill -KILL -P "$pid" 2>/dev/null || true
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# wait_for OUT K: until K checkpoint files exist (K = 0: until the data
# file is being or has been written), the run ended, or 60 s passed.
wait_for() {
	i=0
	while [ "$i" -lt 1200 ] && kill -0 "$pid" 2>/dev/null; do
		if [ "$2" -eq 0 ]; then
			{ [ -e "$1/data.h5.tmp" ] || [ -e "$1/data.h5" ]; } && return 0
		elif [ "$(ls "$1/ckpt" 2>/dev/null | grep -c '\.h5$')" -ge "$2" ]; then
			return 0
		fi
		sleep 0.02
		i=$((i + 1))
	done
}

# Kill points: while the data are written, then after the K-th checkpoint
# of the run (the five models write about 80 in all).
points=0
for k in 0 1 9 17 30 45 62 78; do
	out="$TMP/kill-$k"
	mkdir -p "$out"
	start "$out"
	wait_for "$out" "$k"
	kill_job
	if [ -f "$out/run.h5" ]; then
		echo "kill point $k: the run had already finished"
	else
		points=$((points + 1))
		echo "kill point $k: killed with $(ls "$out/ckpt" 2>/dev/null | grep -c '\.h5$') checkpoints written"
	fi
	mpi 2 "$W2S" run "$TMP/cfg.yaml" --out "$out" --resume --quiet || fail "resume after kill point $k"
	same "$out" || fail "resumed run after kill point $k differs from the uninterrupted one"
done
echo "$points kill points interrupted the run; every resumed run is bit-identical"
[ "$points" -ge 5 ] || fail "only $points kill points hit a running job"

# A stop signal: every rank checkpoints and exits 8; --resume finishes.
# mpirun forwards SIGUSR1 to the ranks; SIGTERM goes to the ranks
# themselves, as slurm delivers it (mpirun ends the job on its own SIGTERM).
for sig in USR1 TERM; do
	out="$TMP/sig-$sig"
	mkdir -p "$out"
	start "$out"
	wait_for "$out" 20
	if [ "$sig" = USR1 ]; then
		kill -USR1 "$pid" 2>/dev/null || true
	else
		pkill -TERM -P "$pid" 2>/dev/null || true
	fi
	set +e
	wait "$pid"
	code=$?
	set -e
	if [ -f "$out/run.h5" ]; then
		echo "SIG$sig came after the end; not counted"
		continue
	fi
	[ "$code" -eq 8 ] || { cat "$out.log"; fail "SIG$sig: exit $code, expected 8"; }
	grep -q "resume" "$out.log" || fail "SIG$sig: no hint to resume"
	mpi 2 "$W2S" run "$TMP/cfg.yaml" --out "$out" --resume --quiet || fail "resume after SIG$sig"
	same "$out" || fail "resumed run after SIG$sig differs"
	echo "SIG$sig: stopped with exit 8 and resumed bit-identical"
done

# Another config is refused, naming the key that differs.
set +e
mpi 2 "$W2S" run "$TMP/cfg.yaml" --out "$TMP/ref" --resume --set train.lr=0.02 2>"$TMP/err"
code=$?
set -e
[ "$code" -eq 3 ] || fail "resume with another config exited $code, expected 3"
grep -q "train.lr" "$TMP/err" || fail "the refusal does not name train.lr: $(cat "$TMP/err")"

# A damaged newest checkpoint is skipped for the one before it.
out="$TMP/damaged"
mkdir -p "$out"
start "$out"
wait_for "$out" 25
kill_job
if [ ! -f "$out/run.h5" ]; then
	newest=$(ls "$out/ckpt"/*.h5 | sort | tail -n 1)
	head -c 3000 "$newest" >"$newest.cut" && mv "$newest.cut" "$newest"
	mpi 2 "$W2S" run "$TMP/cfg.yaml" --out "$out" --resume >"$TMP/damaged.log" 2>&1 ||
		{ cat "$TMP/damaged.log"; fail "resume past a damaged checkpoint"; }
	grep -q "^w2s: warning.*$newest.*skipping it for the one before it" "$TMP/damaged.log" ||
		fail "no warning about the damaged checkpoint: $(cat "$TMP/damaged.log")"
	! grep -q "^w2s: error" "$TMP/damaged.log" || fail "an error for a damaged checkpoint"
	same "$out" || fail "resume past a damaged checkpoint differs"
	echo "damaged newest checkpoint skipped; result bit-identical"
fi

# Divergence: one message naming the model, the step and the last checkpoint.
set +e
mpi 2 "$W2S" run "$TMP/cfg.yaml" --out "$TMP/nan" --set train.lr=1e30 --set train.clip=0 \
	--quiet 2>"$TMP/err"
code=$?
set -e
[ "$code" -eq 5 ] || fail "a diverging run exited $code, expected 5: $(cat "$TMP/err")"
grep -q "not finite at step" "$TMP/err" || fail "no step in: $(cat "$TMP/err")"
grep -q "last good checkpoint" "$TMP/err" || fail "no checkpoint named in: $(cat "$TMP/err")"
# The checkpoint named is the diverging model's own, not another model's.
model=$(sed -n 's/^w2s: error: \([^ :]*\): the loss is not finite.*/\1/p' "$TMP/err" | head -1)
grep -Eq "last good checkpoint is (.*/ckpt/$model-[0-9]+\.h5|\(none yet\))" "$TMP/err" ||
	fail "the checkpoint named is not $model's: $(cat "$TMP/err")"
echo "resume: ok"

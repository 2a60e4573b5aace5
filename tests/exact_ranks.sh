#!/bin/sh
# train.reduce exact: the same bits on 1, 2, 3 and 4 ranks.  The default
# experiment, shrunk to run in seconds, ends with parameters, labels,
# results and traces that are bit-identical on every rank count; a
# regression run likewise (its loss, misfit and early-stopping scores are
# sums of reals), and one with distillation, selection, the knn filter,
# the confidence loss and synthetic data; with the default reduction the parameters do differ
# between 1 and 2 ranks, so the comparison can tell.  A run killed with
# SIGKILL, or stopped with SIGUSR1, and resumed on another number of ranks
# still ends on the same bits.  (tests/mpi_train.c checks every loss, kd,
# probes and a refitted grid in one process.)
. "$(dirname "$0")/common.sh"

# The shrunk default experiment: run N OUT [--set ...] runs it on N ranks.
shrunk="--set data.rows.weak_train=1200 --set data.rows.transfer=1200
	--set data.rows.val=300 --set data.rows.test=2000 --set models.big.hidden=[64,64]
	--set train.epochs=3 --set train.eval_every=10 --set log.every=10"
exact="--set train.reduce=exact --set train.micro_batch=16"
run() {
	n=$1
	out=$2
	shift 2
	# shellcheck disable=SC2086
	mpi "$n" "$W2S" run --out "$out" --quiet $shrunk "$@"
}

# compare A B same|differ: every dataset of run.h5 and metrics.h5 (table
# columns but the measured times) the same bits, or some parameters not.
compare() {
	"$PYTHON3" - "$1" "$2" "$3" <<'PY'
import sys, h5py, numpy as np
a_dir, b_dir, want = sys.argv[1:]
if want == "differ":
    a, b = h5py.File(f"{a_dir}/run.h5", "r"), h5py.File(f"{b_dir}/run.h5", "r")
    differ = {m: int(np.sum(a[f"models/{m}/params"][()] != b[f"models/{m}/params"][()]))
              for m in a["models"]}
    print("default reduction, parameters that differ per model:", differ)
    sys.exit(0 if any(differ.values()) else "the default reduction gave the same bits")
count, bad = 0, []
for name in ("run.h5", "metrics.h5"):
    a, b = h5py.File(f"{a_dir}/{name}", "r"), h5py.File(f"{b_dir}/{name}", "r")
    names = []
    a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
    for n in names:
        if n.endswith(("seconds", "samples_per_s")):
            continue
        x, y = a[n][()], b[n][()]
        cols = x.dtype.names or [None]
        for col in cols:
            if col and ("seconds" in col or "samples_per_s" in col):
                continue
            u, v = (x[col], y[col]) if col else (x, y)
            count += 1
            if u.dtype.kind == "f":
                same = u.shape == v.shape and np.array_equal(u.view(f"u{u.itemsize}"),
                                                             v.view(f"u{v.itemsize}"))
            else:
                same = np.array_equal(u, v)
            if not same:
                bad.append(f"{name}:{n}" + (f".{col}" if col else ""))
if bad:
    sys.exit(f"{b_dir} differs from {a_dir}: {', '.join(bad[:8])}")
print(f"{b_dir}: {count} datasets and columns bit-identical")
PY
}

# Exact: 1, 2, 3 and 4 ranks (batch 64 = 4 micro-batches of 16: 3 ranks
# share them unevenly, 4 take one each).
for n in 1 2 3 4; do
	# shellcheck disable=SC2086
	run "$n" "$TMP/exact-$n" $exact 2>"$TMP/exact-$n.err" || fail "exact run on $n ranks"
	! grep -q "^w2s: warning" "$TMP/exact-$n.err" ||
		fail "exact, $n ranks, a warning: $(cat "$TMP/exact-$n.err")"
done
for n in 2 3 4; do
	compare "$TMP/exact-1" "$TMP/exact-$n" same || fail "exact, $n ranks against 1"
done

# The same where BLIS sends small products to other kernels (its zen3
# sub-configuration, what it picks on AMD Zen 2 and 3; Intel's AVX2 CPUs
# get haswell, alike), so that a row's bits depend on the rows beside it in
# a call: predictions too are then cut on each set's own grid.  Any CPU
# with AVX2 and FMA runs those kernels.
if grep -q ' avx2' /proc/cpuinfo && grep -q ' fma' /proc/cpuinfo; then
	for n in 1 3; do
		# shellcheck disable=SC2086
		(export BLIS_ARCH_TYPE=6 && run "$n" "$TMP/zen3-$n" $exact) ||
			fail "exact run on $n ranks with BLIS's zen3 kernels"
	done
	for n in 1 3; do
		"$PYTHON3" -c "import h5py, sys; sys.exit(h5py.File(sys.argv[1]).attrs['blis_arch'] != 'zen3')" \
			"$TMP/zen3-$n/run.h5" || fail "the run on $n ranks did not run BLIS's zen3 kernels"
	done
	compare "$TMP/zen3-1" "$TMP/zen3-3" same || fail "exact with zen3 kernels, 3 ranks against 1"
fi

# Default: 1 and 2 ranks differ (by rounding), which is what exact is for.
run 1 "$TMP/default-1" || fail "default run on 1 rank"
run 2 "$TMP/default-2" || fail "default run on 2 ranks"
compare "$TMP/default-1" "$TMP/default-2" differ || fail "default reduction"

# Fewer micro-batches than ranks: one warning for the run, saying what to set.
run 4 "$TMP/idle" --set train.reduce=exact --set train.micro_batch=32 --set train.epochs=1 \
	2>"$TMP/idle.err" || fail "exact run with idle ranks"
[ "$(grep -c '^w2s: warning' "$TMP/idle.err")" -eq 1 ] &&
	grep -q "2 of the 4 ranks wait at every step; a train.micro_batch of 16 or less" "$TMP/idle.err" ||
	fail "idle ranks in exact mode: $(cat "$TMP/idle.err")"

# Regression: reals summed for the loss, misfit and early stopping.
for n in 1 3; do
	# shellcheck disable=SC2086
	run "$n" "$TMP/reg-$n" $exact --set data.latent.target=regression \
		--set train.patience=3 || fail "exact regression on $n ranks"
done
compare "$TMP/reg-1" "$TMP/reg-3" same || fail "exact regression, 3 ranks against 1"

# The other methods: distillation, selection from a pool, the knn filter,
# the confidence loss (its hardening looks at one micro-batch) and
# synthetic data (each rank fits the mixture on all of weak_train).
methods="--set kd.models=[big] --set select.models=[strong] --set data.rows.pool=1000
	--set select.bands=[low,random] --set w2s.filter.method=knn --set w2s.loss=confidence
	--set synth.models=[strong] --set synth.rows=600"
for n in 1 4; do
	# shellcheck disable=SC2086
	run "$n" "$TMP/methods-$n" $exact $methods || fail "exact methods on $n ranks"
done
compare "$TMP/methods-1" "$TMP/methods-4" same || fail "exact methods, 4 ranks against 1"

# Resume: killed on 2 ranks, or stopped on 3, and finished on another
# number of ranks; the result is the 1-rank run's.
start() {
	n=$1
	out=$2
	mkdir -p "$out"
	# mpirun itself in the background, so that its pid takes the signals.
	# shellcheck disable=SC2086
	"$MPIRUN" -n "$n" --bind-to none "$W2S" run --out "$out" --quiet $shrunk $exact \
		--set checkpoint.every=4 --set checkpoint.keep=1000 >"$out.log" 2>&1 &
	pid=$!
}
# wait_for OUT K: until K checkpoints exist, the run ended, or 30 s passed.
wait_for() {
	i=0
	while [ "$i" -lt 1500 ] && kill -0 "$pid" 2>/dev/null; do
		[ "$(ls "$1/ckpt" 2>/dev/null | grep -c '\.h5$')" -ge "$2" ] && return 0
		sleep 0.02
		i=$((i + 1))
	done
}
interrupted=0
out="$TMP/killed"
start 2 "$out"
wait_for "$out" 12
pkill -KILL -P "$pid" 2>/dev/null || true
kill -KILL "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
if [ -f "$out/run.h5" ]; then
	echo "the 2-rank run finished before SIGKILL"
else
	interrupted=$((interrupted + 1))
	echo "killed on 2 ranks with $(ls "$out/ckpt" | grep -c '\.h5$') checkpoints; resuming on 3"
fi
# shellcheck disable=SC2086
run 3 "$out" $exact --set checkpoint.every=4 --set checkpoint.keep=1000 --resume ||
	fail "resume on 3 ranks after SIGKILL"
compare "$TMP/exact-1" "$out" same || fail "killed on 2 ranks, resumed on 3"

out="$TMP/stopped"
start 3 "$out"
wait_for "$out" 20
kill -USR1 "$pid" 2>/dev/null || true
set +e
wait "$pid"
code=$?
set -e
if [ -f "$out/run.h5" ]; then
	echo "the 3-rank run finished before SIGUSR1"
else
	[ "$code" -eq 8 ] || { cat "$out.log"; fail "SIGUSR1: exit $code, expected 8"; }
	interrupted=$((interrupted + 1))
	echo "stopped on 3 ranks with exit 8; resuming on 4"
fi
# shellcheck disable=SC2086
run 4 "$out" $exact --set checkpoint.every=4 --set checkpoint.keep=1000 --resume ||
	fail "resume on 4 ranks after SIGUSR1"
compare "$TMP/exact-1" "$out" same || fail "stopped on 3 ranks, resumed on 4"
[ "$interrupted" -ge 1 ] || fail "neither run was interrupted"
echo "exact_ranks: ok"

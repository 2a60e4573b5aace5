#!/bin/sh
# The job scripts under a real slurm cluster (tests/slurm/cluster.sh, one
# node, 2 CPUs): jobs/run.sbatch on 2 tasks ends with the results of
# `mpirun -n 2`; a sweep's job array runs every trial and collect finds them
# done; a trial stopped by the time-limit signal while it trains checkpoints,
# exits 8, is requeued and resumes to the results of a run never stopped,
# while a cancelled one stays cancelled.  The cluster is stopped whatever happens.  Skipped (77), with
# the reason, where slurm cannot start.
. "$(dirname "$0")/common.sh"
cluster="$W2S_SRCDIR/tests/slurm/cluster.sh"
# The cluster's folder must be reachable by the munge user: not under $TMP.
SC=$(mktemp -d "${TMPDIR:-/tmp}/w2s-slurm.XXXXXX")
trap 'sh "$cluster" stop "$SC"; rm -rf "$SC" "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
started=$(date +%s)

set +e
sh "$cluster" start "$SC" >"$TMP/start.log" 2>&1
code=$?
set -e
cat "$TMP/start.log"
[ "$code" -eq 77 ] && exit 77
[ "$code" -eq 0 ] || fail "the slurm cluster did not start"
export SLURM_CONF="$SC/slurm.conf"
PATH=$PATH:/usr/sbin

# wait_gone JOB SECONDS: until every task of JOB has left the queue.
wait_gone() {
	i=0
	while [ -n "$(squeue -h -j "$1" -o %i 2>/dev/null)" ]; do
		i=$((i + 1))
		if [ $i -gt $(($2 * 10)) ]; then
			squeue
			fail "job $1 still queued after $2 s"
		fi
		sleep 0.1
	done
}

# wait_file PATH SECONDS
wait_file() {
	i=0
	until [ -e "$1" ]; do
		i=$((i + 1))
		[ $i -le $(($2 * 10)) ] || { squeue; fail "no $1 after $2 s"; }
		sleep 0.1
	done
}

# state JOB: its JobState and Restarts, e.g. "PENDING 1".
state() {
	scontrol show job "$1" 2>/dev/null |
		sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p; s/.*Restarts=\([0-9]*\).*/\1/p' | tr '\n' ' '
}

# ---- one experiment: jobs/run.sbatch on 2 tasks against mpirun -n 2
small_config "$TMP/small.yaml"
job=$(W2S="$W2S" sbatch --parsable --chdir="$TMP" --output="$TMP/run-%j.log" \
	"$W2S_SRCDIR/jobs/run.sbatch" "$TMP/small.yaml" --out "$TMP/slurm")
mpi 2 "$W2S" run "$TMP/small.yaml" --out "$TMP/mpirun" --quiet || fail "mpirun -n 2"
wait_gone "$job" 60
cat "$TMP/run-$job.log"
grep -q "on 2 ranks" "$TMP/run-$job.log" || fail "the slurm job did not run on 2 ranks"
"$PYTHON3" "$W2S_SRCDIR/tests/h5check.py" run "$TMP/slurm" || fail "h5py check of the slurm run"
# The same ranks and data: only the launcher differs, so results agree.
"$PYTHON3" "$W2S_SRCDIR/tests/h5check.py" same "$TMP/slurm" "$TMP/mpirun" 0.01 ||
	fail "the slurm run and the mpirun run differ"

# ---- a sweep as a job array: 2 learning rates x 2 seeds
cat >"$TMP/spec.yaml" <<'YAML'
config: small.yaml
grid:
  train.lr: [0.003, 0.01]
seeds: [1, 2]
YAML
"$W2S" sweep expand "$TMP/spec.yaml" --out "$TMP/sweep" --parallel 2 --quiet ||
	fail "sweep expand"
job=$(sbatch --parsable "$TMP/sweep/sweep.sbatch")
wait_gone "$job" 60
"$W2S" sweep collect "$TMP/sweep" >"$TMP/collect.log" 2>&1 || { cat "$TMP/collect.log"; fail "collect"; }
cat "$TMP/collect.log"
"$PYTHON3" - "$TMP/sweep" <<'PY' || fail "the collected table of the sweep"
import sys, h5py, numpy as np
d = sys.argv[1]
t = h5py.File(f"{d}/sweep.h5", "r")["results"][()]
assert len(t) == 8, len(t)  # 4 trials x 2 strong models
assert set(t["status"]) == {b"done"}, set(t["status"])
assert np.all(t["exit_code"] == 0), t["exit_code"]
assert sorted(set(zip(t["train.lr"], t["seed"]))) == [(0.003, 1), (0.003, 2), (0.01, 1), (0.01, 2)]
assert np.all(np.isfinite(t["p_weak"])) and np.all(np.isfinite(t["p_ceiling"]))
for r in t:
    f = h5py.File(f"{d}/trials/{r['trial']}/run.h5", "r")
    p = f["pgr"][()]
    p = p[p["strong"] == r["strong"]][0]
    assert p["p_w2s"] == r["p_w2s"], (r, p)
print(f"{d}/sweep.h5: 8 rows, every trial done")
PY
for i in 0 1 2 3; do
	grep -q "wrote trials/$i/" "$TMP/sweep/trials/$i/slurm.log" || fail "trials/$i/slurm.log"
done

# ---- the signals, to w2s itself while it trains: a trial sent USR1 (what
# --signal=B:USR1@60 sends a minute before the time limit) checkpoints, exits
# 8, is requeued and resumes to the results of a run never stopped; a
# cancelled trial stops alike but stays cancelled.
"$W2S" config "$W2S_SRCDIR/tests/configs/small.yaml" --set data.rows.weak_train=4000 \
	--set data.rows.transfer=4000 --set 'models.mlp.hidden=[64]' --set train.epochs=16 \
	--set train.lr=0.003 --set log.every=50 --set checkpoint.every=100 >"$TMP/long.yaml"
printf 'config: long.yaml\nseeds: [3]\n' >"$TMP/one.yaml"
"$W2S" sweep expand "$TMP/one.yaml" --out "$TMP/requeue" --quiet
"$W2S" sweep expand "$TMP/one.yaml" --out "$TMP/cancel" --quiet
rq=$(sbatch --parsable "$TMP/requeue/sweep.sbatch")
cn=$(sbatch --parsable "$TMP/cancel/sweep.sbatch")
# wait_ckpt DIR: until the trial has written its first checkpoint.
wait_ckpt() {
	i=0
	until ls "$1/trials/0/ckpt" 2>/dev/null | grep -q '\.h5$'; do
		i=$((i + 1))
		[ $i -le 300 ] || { cat "$1/trials/0/slurm.log"; fail "no checkpoint in $1 after 30 s"; }
		sleep 0.1
	done
}
wait_ckpt "$TMP/requeue"
scancel --batch --signal=USR1 "${rq}_0"
wait_ckpt "$TMP/cancel"
scancel "${cn}_0"
i=0
until [ "$(state "${rq}_0")" = "PENDING 1 " ]; do
	i=$((i + 1))
	[ $i -le 300 ] || { cat "$TMP/requeue/trials/0/slurm.log"; fail "the stopped trial was not requeued: $(state "${rq}_0")"; }
	sleep 0.1
done
[ "$(cat "$TMP/requeue/trials/0/exit_code")" = 8 ] ||
	{ cat "$TMP/requeue/trials/0/slurm.log"; fail "the stopped trial did not exit with 8"; }
[ ! -e "$TMP/requeue/trials/0/run.h5" ] || fail "the stopped trial has a run.h5"
"$W2S" sweep collect "$TMP/requeue" --quiet
"$PYTHON3" -c "import h5py,sys; s=set(h5py.File(sys.argv[1])['results']['status']); sys.exit(s != {b'unfinished'})" \
	"$TMP/requeue/sweep.h5" || fail "a trial waiting for its requeue is not 'unfinished'"
# slurm holds a requeued job for two minutes; the test has no time for that.
# But not within the second of the requeue: slurmd refuses a job whose new
# credential bears the same second as the revocation of its old one ("Job
# credential revoked"), and the job then ends without running.
sleep 1.5
scontrol update JobId="${rq}_0" StartTime=now
# Meanwhile, the same run never stopped, on one rank as the trial.
"$W2S" run "$TMP/requeue/trials/0/config.yaml" --out "$TMP/unstopped" --quiet || fail "the unstopped run"
wait_gone "$rq" 60
cat "$TMP/requeue/trials/0/slurm.log"
grep -q "requeueing job" "$TMP/requeue/trials/0/slurm.log" || fail "no requeue in the trial's log"
grep -q "resuming the run" "$TMP/requeue/trials/0/slurm.log" || fail "the requeued trial did not resume"
"$W2S" sweep collect "$TMP/requeue" | grep -q "1 trial: 1 done" || fail "the resumed trial is not done"
"$PYTHON3" - "$TMP/requeue/trials/0/run.h5" "$TMP/unstopped/run.h5" <<'PY' || fail "resumed and unstopped runs differ"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for col in a["pgr"].dtype.names:
    x, y = a["pgr"][col], b["pgr"][col]
    if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
        sys.exit(f"pgr.{col} differs")
for name in ("models/student.mlp/params", "labels/student.mlp/test/prob"):
    if not np.array_equal(a[name][()], b[name][()]):
        sys.exit(f"{name} differs")
print("the requeued trial ends bit-identical to the run never stopped")
PY

wait_gone "$cn" 30
case $(state "${cn}_0") in
"CANCELLED 0 ") ;;
*) cat "$TMP/cancel/trials/0/slurm.log"; fail "the cancelled trial is $(state "${cn}_0"), expected CANCELLED with no restart" ;;
esac
[ ! -e "$TMP/cancel/trials/0/run.h5" ] || fail "the cancelled trial ran to its end"
echo "slurm_jobs: ok in $(($(date +%s) - started)) s"

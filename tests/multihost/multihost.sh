#!/bin/sh
# w2s across hosts over TCP: two hosts made of network namespaces on this
# machine (hosts.sh), Open MPI's daemons started on them through an rsh agent,
# the ranks talking over a veth link.  Checks that
#   - `w2s gen` on 2 hosts x 1 rank and 2 hosts x 2 ranks writes the same
#     data.h5 bytes as one rank on one host;
#   - ranks on two hosts keep Open MPI's own choice of pml;
#   - a small `w2s run` on 2 hosts x 1 rank ends within tolerance of the
#     one-host run, each host's ranks holding rank 0's parameters;
#   - data.h5 and run.h5 are written collectively by both hosts: strace on
#     each host records which bytes its processes wrote, and each host wrote
#     the rows its ranks own;
#   - a run that loses host2 is finished by --resume on host1 alone, bit-identical
#     to an uninterrupted run with the same number of ranks;
#   - killing the ranks of one host, or the whole host, ends the job on the
#     other, with a non-zero exit, within a bounded time;
# and measures a 16 MiB float allreduce between hosts and within one host.
# Skips (exit 77) with the reason where namespaces cannot be made.
: "${W2S_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$W2S_SRCDIR/tests/common.sh"
. "$W2S_SRCDIR/tests/multihost/hosts.sh"
# Whatever ends this script, a failure, a timeout or a signal, the hosts go.
trap 'mh_teardown; rm -rf "$TMP"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
start=$(now)

mh_setup 2
H1=$(mh_ip 1)
H2=$(mh_ip 2)
echo "hosts: host1 $H1, host2 $H2 (each: own network, hostname, loopback);" \
	"mpirun on $MH_LAUNCH_IP; bridge in its own namespace; subnet $MH_SUBNET" \
	"($(since "$start") s to set up)"
small_config "$TMP/small.yaml"

# ---- the same data bytes on 1 host x 1, 2 hosts x 1 and 2 hosts x 2 ranks
t=$(now)
"$W2S" gen "$TMP/small.yaml" --out "$TMP/gen-1" --quiet || fail "w2s gen on one rank"
mh_mpirun "$H1:1,$H2:1" -n 2 "$W2S" gen "$TMP/small.yaml" --out "$TMP/gen-2x1" --quiet ||
	fail "w2s gen on 2 hosts x 1 rank"
mh_mpirun "$H1:2,$H2:2" -n 4 "$W2S" gen "$TMP/small.yaml" --out "$TMP/gen-2x2" --quiet ||
	fail "w2s gen on 2 hosts x 2 ranks"
cmp "$TMP/gen-1/data.h5" "$TMP/gen-2x1/data.h5" || fail "data.h5: 2 hosts x 1 rank differs from 1 rank"
cmp "$TMP/gen-1/data.h5" "$TMP/gen-2x2/data.h5" || fail "data.h5: 2 hosts x 2 ranks differs from 1 rank"
echo "gen: data.h5 identical on 1 rank, 2 hosts x 1 and 2 hosts x 2 ranks" \
	"($(wc -c <"$TMP/gen-1/data.h5") bytes, $(since "$t") s)"

# ---- ranks on two hosts keep Open MPI's own pml (w2s picks ob1 only for
# ranks on one node: tests/launch.sh)
mh_mpirun "$H1:1,$H2:1" -n 2 --mca pml_base_verbose 10 "$W2S" --version >"$TMP/pml.out" 2>&1 ||
	{ cat "$TMP/pml.out"; fail "w2s --version on 2 hosts x 1 rank"; }
grep -q 'component cm' "$TMP/pml.out" || { cat "$TMP/pml.out"; fail "no pml selection was printed"; }
! grep -q 'component cm not in the include list' "$TMP/pml.out" ||
	fail "w2s chose the pml for ranks on two hosts"
echo "pml: the site's choice on 2 hosts"

# ---- a small run on 2 hosts x 1 rank, every file write traced per host
t=$(now)
W2S_MH_TRACE=$TMP/writes mh_mpirun "$H1:1,$H2:1" -n 2 "$W2S" run "$TMP/small.yaml" \
	--out "$TMP/run-2x1" >"$TMP/run-2x1.log" 2>&1 ||
	{ cat "$TMP/run-2x1.log"; fail "w2s run on 2 hosts x 1 rank"; }
grep -q "PGR" "$TMP/run-2x1.log" || { cat "$TMP/run-2x1.log"; fail "no PGR in the printed table"; }
"$W2S" run "$TMP/small.yaml" --out "$TMP/run-1" --quiet || fail "w2s run on one rank"
echo "run: 2 hosts x 1 rank in $(since "$t") s (with strace on both hosts and the 1-rank run)"
"$PYTHON3" "$W2S_SRCDIR/tests/h5check.py" run "$TMP/run-2x1" >/dev/null || fail "h5py check of the run"
# Tolerance as in run_e2e.sh: the runs differ only in the order of the
# gradient sum.
"$PYTHON3" "$W2S_SRCDIR/tests/h5check.py" same "$TMP/run-1" "$TMP/run-2x1" 0.01 ||
	fail "2 hosts and 1 host give different results"
"$PYTHON3" "$W2S_SRCDIR/tests/multihost/mhcheck.py" params "$TMP/run-2x1" 2 host1:0:0 host2:1:1 ||
	fail "the ranks on the two hosts hold different parameters"
# Rank r runs on host r+1: --host fills the slots in the order given.
for f in data.h5:views,target,splits run.h5:labels; do
	"$PYTHON3" "$W2S_SRCDIR/tests/multihost/mhcheck.py" writes "$TMP/run-2x1/${f%%:*}" 2 "${f#*:}" \
		"host1:0:0:$TMP/writes.$H1" "host2:1:1:$TMP/writes.$H2" ||
		fail "${f%%:*} was not written by both hosts"
done

# ---- host2 fails mid-training: the job ends on host1, non-zero, in
# bounded time, and leaves nothing behind.  WHAT is "ranks" (host2's rank
# processes are killed) or "host" (its daemon too, as when a node dies).
kill_host2() {
	what=$1
	t=$(now)
	log=$TMP/killed-$what.log
	MH_TIMEOUT=60 mh_mpirun "$H1:1,$H2:1" -n 2 "$W2S" run "$TMP/small.yaml" \
		--set train.epochs=100000 --out "$TMP/killed-$what" --quiet </dev/null >"$log" 2>&1 &
	job=$!
	i=0
	until [ -n "$(mh_pids_of 1 w2s)" ] && [ -n "$(mh_pids_of 2 w2s)" ] &&
		[ -s "$TMP/killed-$what/metrics.h5" ]; do
		i=$((i + 1))
		[ $i -le 300 ] || { cat "$log"; fail "$what: the run did not start training within 30 s"; }
		kill -0 "$job" 2>/dev/null || { cat "$log"; fail "$what: the run ended before it was killed"; }
		sleep 0.1
	done
	sleep 0.5
	case $what in
	ranks) victims=$(mh_pids_of 2 w2s) ;;
	host) victims=$(ip netns pids "$(mh_ns 2)") ;;
	esac
	kill -KILL $victims
	killed=$(now)
	i=0
	while kill -0 "$job" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 300 ] || { cat "$log"; fail "$what: the job still runs 30 s after host2's processes were killed"; }
		sleep 0.1
	done
	code=0
	wait "$job" || code=$?
	took=$(since "$killed")
	[ "$code" -ne 0 ] || fail "$what: the job exited 0 after host2's processes were killed"
	# mpirun says why; the loop above has bounded the time well inside
	# mpirun's own timeout, so the code is not the timeout's.
	case $what in
	ranks) why="on node $H2 exited on signal 9" ;;
	host) why="lost communication with a remote daemon" ;;
	esac
	grep -q "$why" "$log" || { cat "$log"; fail "$what: mpirun does not say \"$why\""; }
	sleep 0.5
	left="$(mh_pids_of 1 w2s)$(mh_pids_of 1 orted)$(mh_pids_of 2 w2s)$(mh_pids_of 2 orted)"
	[ -z "$left" ] || fail "$what: processes left on the hosts after the job ended: $left"
	echo "kill $what: SIGKILL to host2's $(echo $victims | wc -w) process(es) ended the job in $took s," \
		"mpirun exit $code, nothing left on either host ($(since "$t") s in all)"
}
kill_host2 ranks
kill_host2 host

# ---- a run that loses host2 mid-training is finished with --resume on
# host1 alone, with the same number of ranks: its parameters and labels are
# bit-identical to a run never interrupted.
t=$(now)
set -- --set train.epochs=40 --set checkpoint.every=20 --quiet
MH_TIMEOUT=120 mh_mpirun "$H1:1,$H2:1" -n 2 "$W2S" run "$TMP/small.yaml" "$@" \
	--out "$TMP/lost" </dev/null >"$TMP/lost.log" 2>&1 &
job=$!
i=0
until [ "$(ls "$TMP/lost/ckpt" 2>/dev/null | grep -c '\.h5$')" -ge 4 ]; do
	i=$((i + 1))
	[ $i -le 600 ] || { cat "$TMP/lost.log"; fail "resume: no checkpoints within 60 s"; }
	kill -0 "$job" 2>/dev/null || { cat "$TMP/lost.log"; fail "resume: the run ended before host2 was lost"; }
	sleep 0.1
done
kill -KILL $(ip netns pids "$(mh_ns 2)")
wait "$job" 2>/dev/null && fail "resume: the job exited 0 after host2 was lost"
MH_TIMEOUT=120 mh_mpirun "$H1:2" -n 2 "$W2S" run "$TMP/small.yaml" "$@" --out "$TMP/lost" \
	--resume </dev/null >"$TMP/resumed.log" 2>&1 || { cat "$TMP/resumed.log"; fail "resume on host1"; }
MH_TIMEOUT=120 mh_mpirun "$H1:2" -n 2 "$W2S" run "$TMP/small.yaml" "$@" --out "$TMP/whole" \
	</dev/null >"$TMP/whole.log" 2>&1 || { cat "$TMP/whole.log"; fail "uninterrupted run on host1"; }
"$PYTHON3" - "$TMP/lost/run.h5" "$TMP/whole/run.h5" <<'PY' || fail "the resumed run differs from an uninterrupted one"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) and n.startswith(("models", "labels")) else None)
for n in names:
    if not np.array_equal(a[n][()], b[n][()]):
        sys.exit(f"{n} differs")
print(f"resume on host1 after losing host2: {len(names)} parameter and label datasets bit-identical")
PY
echo "lost host2 after $(ls "$TMP/lost/ckpt" | wc -l) checkpoint files; finished on host1 ($(since "$t") s)"

# ---- allreduce of 16 MiB floats: between the hosts, then within one
t=$(now)
"${MPICC:-mpicc}" -std=c11 -O2 -o "$TMP/allreduce_bench" "$W2S_SRCDIR/tests/multihost/allreduce_bench.c" ||
	fail "compiling allreduce_bench.c"
before=$(mh_bytes 2)
between=$(mh_mpirun "$H1:1,$H2:1" -n 2 "$TMP/allreduce_bench" 16 20 2>"$TMP/bench.err") ||
	{ cat "$TMP/bench.err"; fail "allreduce between hosts"; }
after=$(mh_bytes 2)
within=$(mh_mpirun "$H1:2" -n 2 "$TMP/allreduce_bench" 16 20 2>"$TMP/bench.err") ||
	{ cat "$TMP/bench.err"; fail "allreduce within a host"; }
again=$(mh_bytes 2)
echo "between 2 hosts: $between"
echo "within 1 host:   $within"
# 22 allreduces of 16 MiB: each rank sends at least 16 MiB per allreduce.
crossed=$(echo "$before $after" | awk '{ printf "%d", ($3 + $4 - $1 - $2) / 1048576 }')
stray=$(echo "$after $again" | awk '{ printf "%d", ($3 + $4 - $1 - $2) / 1048576 }')
echo "host2's link carried $crossed MiB between hosts and $stray MiB while host1 ran alone" \
	"($(since "$t") s)"
[ "$crossed" -ge 352 ] || fail "the allreduce between hosts did not cross the link ($crossed MiB)"
[ "$stray" -le 1 ] || fail "ranks within one host sent $stray MiB over the link"

echo "multihost: ok in $(since "$start") s"

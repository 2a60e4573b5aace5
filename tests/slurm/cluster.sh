#!/bin/sh
# A real one-node slurm cluster (munge, slurmctld, slurmd from the Debian
# packages: ./install-deps.sh slurm) in a scratch folder, for the tests and
# for trying the job scripts by hand.
#
#   tests/slurm/cluster.sh start DIR   # DIR is created; prints the SLURM_CONF to export
#   export SLURM_CONF=DIR/slurm.conf   # then sbatch, squeue, scontrol talk to it
#   tests/slurm/cluster.sh stop DIR    # cancels its jobs, stops its daemons
#
# Everything the cluster writes (config, state, spool, logs, its own munge
# socket) stays in DIR, and it listens on two free ports of 127.0.0.1, so it
# neither needs nor disturbs a cluster or munged already on the machine.
# The node has CPUs=2 whatever the machine has.  Daemons are stopped by the
# PIDs in their pid files, never by name.
#
# start exits 0 when the node is idle, 77 (with the reason) when slurm cannot
# run here: not root, packages missing, no cgroup file system, or a daemon
# that does not come up (its log's last lines are printed).
set -eu

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

skip() {
	echo "slurm cannot start here: $*" >&2
	exit 77
}

# pid_of FILE: the PID a pid file names, if that process still runs.
pid_of() {
	[ -s "$1" ] || return 1
	p=$(cat "$1")
	case $p in '' | *[!0-9]*) return 1 ;; esac
	kill -0 "$p" 2>/dev/null || return 1
	echo "$p"
}

# stop_pids FILE...: TERM to every PID the files name, up to 10 s for them
# to exit (each takes a second or two, so they go together), then KILL.
stop_pids() {
	pids=
	for f in "$@"; do
		p=$(pid_of "$f") && kill "$p" 2>/dev/null && pids="$pids $p"
	done
	i=0
	while [ $i -lt 100 ]; do
		alive=
		for p in $pids; do
			kill -0 "$p" 2>/dev/null && alive="$alive $p"
		done
		[ -n "$alive" ] || return 0
		sleep 0.1
		i=$((i + 1))
	done
	for p in $alive; do
		kill -9 "$p" 2>/dev/null || true
	done
}

# port_free N: no TCP socket on this machine has N as its local port, in
# any state: one left in TIME_WAIT by a cluster just stopped keeps slurmctld
# from binding it ("Address already in use").
port_free() {
	hex=$(printf '%04X' "$1")
	! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk 'NR > 1 {print $2}' |
		grep -qi ":$hex\$"
}

show_log() {
	[ -f "$1" ] && tail -n 5 "$1" | sed 's/^/    /' >&2
	return 0
}

stop() {
	if [ -f "$dir/slurm.conf" ] && pid_of "$dir/slurmctld.pid" >/dev/null; then
		export SLURM_CONF="$dir/slurm.conf"
		jobs=$(squeue -h -o %i 2>/dev/null || true)
		if [ -n "$jobs" ]; then
			# shellcheck disable=SC2086
			scancel $jobs 2>/dev/null || true
			# Up to 15 s for the steps to end while slurmd still runs to reap them.
			i=0
			while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $i -lt 150 ]; do
				sleep 0.1
				i=$((i + 1))
			done
		fi
	fi
	stop_pids "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"
}

start() {
	[ "$(id -u)" -eq 0 ] || skip "slurmd must run as root (this is uid $(id -u))"
	for b in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
		command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] ||
			skip "'$b' is not installed (./install-deps.sh slurm)"
	done
	[ -r /etc/munge/munge.key ] || skip "no /etc/munge/munge.key (reinstall the munge package)"
	# slurmd 22.05 reads /sys/fs/cgroup at start even with proctrack/linuxproc.
	grep -q ' /sys/fs/cgroup' /proc/mounts || skip "/sys/fs/cgroup is not mounted"
	[ -e /usr/lib/x86_64-linux-gnu/slurm-wlm/mpi_pmix.so ] ||
		ls /usr/lib/*/slurm-wlm/mpi_pmix.so >/dev/null 2>&1 ||
		skip "slurm's PMIx plugin is missing (Open MPI under srun needs it)"
	PATH=$PATH:/usr/sbin

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	# munged runs as munge and refuses a socket folder others can write to.
	chmod 0755 "$dir"
	runuser -u munge -- test -x "$dir" ||
		skip "the munge user cannot reach $dir (a parent folder is private): choose another DIR"
	install -d -o munge -g munge -m 0755 "$dir/munge"
	install -d -m 0755 "$dir/state" "$dir/spool" "$dir/tmp"

	runuser -u munge -- munged --force --socket="$dir/munge/socket" \
		--pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
		--seed-file="$dir/munge/munged.seed" ||
		{ show_log "$dir/munge/munged.log"; skip "munged did not start"; }
	munge -S "$dir/munge/socket" -n </dev/null | unmunge -S "$dir/munge/socket" >/dev/null ||
		{ stop; skip "munge credentials do not round-trip"; }

	# Two free ports, next to each other, away from slurm's defaults so that
	# a system cluster and several of these can run side by side.
	port=$((20000 + ($$ * 7) % 20000))
	tries=0
	until port_free $port && port_free $((port + 1)); do
		port=$((20000 + (port + 2 - 20000) % 20000))
		tries=$((tries + 1))
		[ $tries -lt 100 ] || { stop; skip "no two free TCP ports found"; }
	done
	host=$(hostname -s)
	mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
	mem=$(((${mem:-2000}) * 95 / 100))
	cat >"$dir/slurm.conf" <<EOF
# A one-node test cluster written by tests/slurm/cluster.sh.
ClusterName=w2stest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
# Job ids away from 1, so that two test clusters rarely share a PMIx folder name.
FirstJobId=$((1000 + ($$ % 100000) * 10))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# Open MPI under srun needs PMIx; pmi2 and none fail.
MpiDefault=pmix
ReturnToService=2
# The node is what this file says, even on a machine with fewer cores.
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
	slurmctld -c -f "$dir/slurm.conf" ||
		{ show_log "$dir/slurmctld.log"; stop; skip "slurmctld did not start"; }
	slurmd -c -f "$dir/slurm.conf" ||
		{ show_log "$dir/slurmd.log"; stop; skip "slurmd did not start"; }
	export SLURM_CONF="$dir/slurm.conf"
	# Each sinfo is bounded: with no controller to answer it retries for
	# minutes.  A controller that died (its log says why) ends the wait.
	i=0
	until [ "$(timeout 2 sinfo -h -o %T 2>/dev/null)" = idle ]; do
		i=$((i + 1))
		if [ $i -gt 150 ] || ! pid_of "$dir/slurmctld.pid" >/dev/null; then
			echo "the node is not idle after $((i / 10)) s: $(timeout 2 sinfo -h -o '%T %E' 2>&1)" >&2
			show_log "$dir/slurmctld.log"
			show_log "$dir/slurmd.log"
			stop
			skip "the slurm node did not come up"
		fi
		sleep 0.1
	done
	echo "SLURM_CONF=$dir/slurm.conf"
}

case $cmd in
start) start ;;
stop) stop ;;
*) usage ;;
esac

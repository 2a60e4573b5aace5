# Several hosts on one machine, for the multi-host tests.  Sourced, not run.
#
# Each host is a network namespace with its own hostname (a UTS namespace
# entered per command), one veth interface on a private test subnet and its
# own loopback, and no default route.  The hosts hang on a bridge that lives
# in a namespace of its own, so nothing of the test network appears in the
# machine's namespace and no packet can leave the subnet:
#
#   launch 10.77.0.10 --+
#   host1  10.77.0.1  --+-- bridge (namespace "sw")
#   host2  10.77.0.2  --+
#
# mpirun runs on the launch host, which holds no ranks (a login node), and
# starts Open MPI's daemon on each host through rsh-agent, which stands in
# for ssh.  Hosts are named by IP address so that nothing asks DNS.  Every
# namespace is named w2s-mh<PID>-..., PID being the shell that made it:
# parallel runs do not clash, and a run killed before its cleanup is found
# and removed by the next one.
#
# Not here: what is tested (multihost.sh).

MH_SUBNET=10.77.0.0/24
MH_LAUNCH_IP=10.77.0.10
MH_PREFIX=w2s-mh$$
MH_MADE=""

# mh_skip REASON: these tests cannot run on this machine (automake SKIP).
mh_skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# mh_ip N: the address of host N.
mh_ip() {
	echo "10.77.0.$1"
}

# mh_kill_ns NS: ends every process in namespace NS (ours: only this harness
# starts processes there), then deletes the namespace and its /run/netns
# mount.  Deleting the namespace also deletes the veth ends inside it, and
# with them their peers.
mh_kill_ns() {
	pids=$(ip netns pids "$1" 2>/dev/null || true)
	if [ -n "$pids" ]; then
		kill -TERM $pids 2>/dev/null || true
		i=0
		while [ $i -lt 20 ] && [ -n "$(ip netns pids "$1" 2>/dev/null)" ]; do
			sleep 0.1
			i=$((i + 1))
		done
		pids=$(ip netns pids "$1" 2>/dev/null || true)
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
	fi
	ip netns del "$1" 2>/dev/null || true
}

# mh_reap_leftovers: removes the namespaces of earlier runs whose shell is
# gone (killed before it could clean up).
mh_reap_leftovers() {
	for ns in $(ip netns list 2>/dev/null | sed -n 's/^\(w2s-mh[0-9][0-9]*-[a-z0-9]*\).*/\1/p'); do
		owner=${ns#w2s-mh}
		owner=${owner%%-*}
		if ! kill -0 "$owner" 2>/dev/null; then
			echo "removing namespace $ns left by an earlier run (pid $owner is gone)"
			mh_kill_ns "$ns"
		fi
	done
}

# mh_teardown: ends every process on the test hosts and deletes what
# mh_setup made.  Safe to call twice and after a partial setup.
mh_teardown() {
	for ns in $MH_MADE; do
		mh_kill_ns "$ns"
	done
	MH_MADE=""
}

# mh_add_host NAME IP: a namespace with loopback and one veth on the bridge.
mh_add_host() {
	ns=$MH_PREFIX-$1
	ip netns add "$ns" || return 1
	MH_MADE="$ns $MH_MADE"
	ip -n "$MH_PREFIX-sw" link add "p-$1" type veth peer name eth0 netns "$ns" &&
		ip -n "$MH_PREFIX-sw" link set "p-$1" master br0 up &&
		ip -n "$ns" link set lo up &&
		ip -n "$ns" addr add "$2/24" dev eth0 &&
		ip -n "$ns" link set eth0 up
}

# mh_setup NHOSTS: the launch host and NHOSTS compute hosts.  Skips the test
# (exit 77) with the reason when this machine cannot make namespaces.
mh_setup() {
	for tool in ip unshare strace timeout; do
		command -v "$tool" >/dev/null 2>&1 ||
			mh_skip "multi-host tests need $tool (iproute2, util-linux, strace, coreutils: ./install-deps.sh test)"
	done
	mh_reap_leftovers
	err=$(ip netns add "$MH_PREFIX-sw" 2>&1) ||
		mh_skip "cannot make network namespaces here (ip netns add: $err); the multi-host tests need root or CAP_SYS_ADMIN and CAP_NET_ADMIN"
	MH_MADE="$MH_PREFIX-sw"
	err=$( (ip -n "$MH_PREFIX-sw" link add br0 type bridge &&
		ip -n "$MH_PREFIX-sw" link set br0 up) 2>&1) ||
		mh_skip "cannot make a bridge in a network namespace ($err)"
	# Not in $(...): mh_add_host records what it made for the teardown.
	mh_add_host launch "$MH_LAUNCH_IP" 2>"$TMP/veth.err" ||
		mh_skip "cannot make a veth link into a network namespace ($(cat "$TMP/veth.err"))"
	i=1
	while [ $i -le "$1" ]; do
		mh_add_host "host$i" "$(mh_ip $i)" || fail "setting up host$i"
		i=$((i + 1))
	done
	err=$(ip netns exec "$MH_PREFIX-launch" unshare --uts true 2>&1) ||
		mh_skip "cannot give a namespace its own hostname (unshare --uts: $err)"
	err=$(strace -f -qq --seccomp-bpf -e trace=pwrite64 -o /dev/null true 2>&1) ||
		mh_skip "strace cannot trace processes here ($err)"

	# The hosts reach each other and nothing else: one route, to the subnet.
	for ns in $MH_MADE; do
		[ "$ns" = "$MH_PREFIX-sw" ] && continue
		other=$(ip -n "$ns" route show | grep -v "^$MH_SUBNET dev eth0 " || true)
		[ -z "$other" ] || fail "$ns has routes beyond the test subnet: $other"
		! ip -n "$ns" route get 192.0.2.1 >/dev/null 2>&1 || fail "$ns can route off the test subnet"
	done
	MH_AGENT=$TMP/rsh-agent
	cp "$W2S_SRCDIR/tests/multihost/rsh-agent" "$MH_AGENT"
	chmod 755 "$MH_AGENT"
	W2S_MH_HOSTS=""
	i=1
	while [ $i -le "$1" ]; do
		W2S_MH_HOSTS="$W2S_MH_HOSTS $(mh_ip $i)=$MH_PREFIX-host$i"
		i=$((i + 1))
	done
	export W2S_MH_HOSTS
}

# mh_ns N: the namespace of host N.
mh_ns() {
	echo "$MH_PREFIX-host$1"
}

# mh_pids_of N COMM: the processes named COMM running on host N.
mh_pids_of() {
	for p in $(ip netns pids "$(mh_ns "$1")" 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && echo "$p"
	done
	true
}

# mh_mpirun HOSTS ARGS...: mpirun on the launch host, with the ranks on
# HOSTS (Open MPI's --host list: IP:slots,...), Open MPI held to the test
# subnet.  Ends after MH_TIMEOUT seconds (default 60) whatever happens.
mh_mpirun() {
	hosts=$1
	shift
	ip netns exec "$MH_PREFIX-launch" unshare --uts sh -c 'hostname "$1"; shift; exec "$@"' sh \
		"$MH_PREFIX-launch" timeout -k 5 "${MH_TIMEOUT:-60}" "$MPIRUN" --host "$hosts" \
		--bind-to none --mca plm_rsh_agent "$MH_AGENT" --mca plm_rsh_no_tree_spawn 1 \
		--mca btl vader,tcp,self --mca btl_tcp_if_include "$MH_SUBNET" \
		--mca oob_tcp_if_include "$MH_SUBNET" --mca mpi_yield_when_idle 1 \
		-x BLIS_NUM_THREADS=1 "$@"
}

# mh_bytes N: bytes received and sent on host N's link (rx tx).
mh_bytes() {
	ip netns exec "$(mh_ns "$1")" sh -c \
		'echo $(cat /sys/class/net/eth0/statistics/rx_bytes) $(cat /sys/class/net/eth0/statistics/tx_bytes)'
}

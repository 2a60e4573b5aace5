#!/bin/sh
# Started without a launcher, w2s runs as an isolated Open MPI singleton:
# no daemon (orted) is started, and a user's own setting of
# OMPI_MCA_ess_singleton_isolated still wins.  The processes started are
# seen through strace.
. "$(dirname "$0")/common.sh"
command -v strace >/dev/null || { echo "strace not installed: processes not traced"; exit 77; }
# The launchers' variables would keep w2s from choosing for itself.
unset OMPI_COMM_WORLD_SIZE PMIX_RANK PMI_RANK SLURM_STEP_ID OMPI_MCA_ess_singleton_isolated

strace -f -qq -e trace=execve -o "$TMP/alone.trace" "$W2S" --version >"$TMP/alone.out" ||
	fail "w2s --version without a launcher: $(cat "$TMP/alone.out")"
grep -q "w2s" "$TMP/alone.out" || fail "w2s --version printed no version"
! grep -q 'execve("[^"]*orted"' "$TMP/alone.trace" ||
	fail "w2s started an Open MPI daemon: $(grep orted "$TMP/alone.trace")"

# The user's choice: a daemon when asked for.  Open MPI without a daemon
# binary (another MPI) has nothing to show here.
OMPI_MCA_ess_singleton_isolated=0 strace -f -qq -e trace=execve -o "$TMP/daemon.trace" \
	"$W2S" --version >/dev/null || fail "w2s --version with OMPI_MCA_ess_singleton_isolated=0"
if command -v orted >/dev/null; then
	grep -q 'execve("[^"]*orted"' "$TMP/daemon.trace" ||
		fail "OMPI_MCA_ess_singleton_isolated=0 was overridden: no daemon started"
fi
echo "ok: no Open MPI daemon without a launcher; the user's setting wins"

#!/bin/sh
# Started without a launcher, w2s runs as a lean Open MPI singleton: no
# daemon (orted) is started and no fabric library (an MTL of the pml "cm")
# is opened, and a user's own setting of either parameter still wins.  The
# processes started and the files opened are seen through strace.
. "$(dirname "$0")/common.sh"
command -v strace >/dev/null || { echo "strace not installed: processes not traced"; exit 77; }
# The launchers' variables would keep w2s from choosing for itself.
unset OMPI_COMM_WORLD_SIZE PMIX_RANK PMI_RANK SLURM_STEP_ID \
	OMPI_MCA_ess_singleton_isolated OMPI_MCA_pml

trace() {
	out=$1
	shift
	strace -f -qq -e trace=execve,openat -o "$out" "$@"
}

trace "$TMP/alone.trace" "$W2S" --version >"$TMP/alone.out" ||
	fail "w2s --version without a launcher: $(cat "$TMP/alone.out")"
grep -q "w2s" "$TMP/alone.out" || fail "w2s --version printed no version"
! grep -q 'execve("[^"]*orted"' "$TMP/alone.trace" ||
	fail "w2s started an Open MPI daemon: $(grep orted "$TMP/alone.trace")"
! grep -q 'openat([^"]*"[^"]*mca_mtl_[a-z0-9]*\.so", [^)]*) = [0-9]' "$TMP/alone.trace" ||
	fail "w2s opened a fabric library: $(grep 'mca_mtl_' "$TMP/alone.trace" | head -1)"

# The user's choice: a daemon and the pml cm when asked for (cm finds no
# fabric here and MPI_Init fails: only what was opened counts).  An MPI
# other than Open MPI has neither to show.
OMPI_MCA_ess_singleton_isolated=0 OMPI_MCA_pml=cm trace "$TMP/user.trace" \
	"$W2S" --version >/dev/null 2>&1 || true
if command -v orted >/dev/null; then
	grep -q 'execve("[^"]*orted"' "$TMP/user.trace" ||
		fail "OMPI_MCA_ess_singleton_isolated=0 was overridden: no daemon started"
	grep -q 'mca_pml_cm\.so", [^)]*) = [0-9]' "$TMP/user.trace" ||
		fail "OMPI_MCA_pml=cm was overridden: the pml cm was not opened"
fi
echo "ok: no Open MPI daemon and no fabric library without a launcher; the user's settings win"

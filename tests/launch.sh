#!/bin/sh
# How w2s starts Open MPI.  Without a launcher, and under mpirun with every
# rank on this node, no fabric library (an MTL of the pml "cm") is opened,
# and a user's own setting still wins (seen through strace).  Several
# launcher-less runs side by side each keep their own Open MPI session: one
# that ends first takes nothing from the others (an isolated singleton
# would share, and remove, it).  (Ranks on several hosts keep Open MPI's
# own choice: tests/multihost/multihost.sh.)
. "$(dirname "$0")/common.sh"
command -v strace >/dev/null || { echo "strace not installed: processes not traced"; exit 77; }
# The launchers' variables would keep w2s from choosing for itself.
unset OMPI_COMM_WORLD_SIZE PMIX_RANK PMI_RANK SLURM_STEP_ID OMPI_MCA_pml

trace() {
	out=$1
	shift
	strace -f -qq -e trace=execve,openat -o "$out" "$@"
}

trace "$TMP/alone.trace" "$W2S" --version >"$TMP/alone.out" ||
	fail "w2s --version without a launcher: $(cat "$TMP/alone.out")"
grep -q "w2s" "$TMP/alone.out" || fail "w2s --version printed no version"
! grep -q 'openat([^"]*"[^"]*mca_mtl_[a-z0-9]*\.so", [^)]*) = [0-9]' "$TMP/alone.trace" ||
	fail "w2s opened a fabric library: $(grep 'mca_mtl_' "$TMP/alone.trace" | head -1)"

# The user's choice: a daemon and the pml cm when asked for (cm finds no
# fabric here and MPI_Init fails: only what was opened counts).  An MPI
# other than Open MPI has neither to show.
OMPI_MCA_pml=cm trace "$TMP/user.trace" "$W2S" --version >/dev/null 2>&1 || true
if command -v orted >/dev/null; then
	grep -q 'mca_pml_cm\.so", [^)]*) = [0-9]' "$TMP/user.trace" ||
		fail "OMPI_MCA_pml=cm was overridden: the pml cm was not opened"
fi

# Under mpirun, all ranks on this node: the same, and the same choice for
# the user.
trace "$TMP/mpirun.trace" "$MPIRUN" -n 2 "$W2S" --version >"$TMP/mpirun.out" 2>&1 ||
	fail "mpirun -n 2 w2s --version: $(cat "$TMP/mpirun.out")"
grep -q '^w2s [0-9]' "$TMP/mpirun.out" ||
	fail "mpirun -n 2 w2s --version printed: $(cat "$TMP/mpirun.out")"
! grep -q 'openat([^"]*"[^"]*mca_mtl_[a-z0-9]*\.so", [^)]*) = [0-9]' "$TMP/mpirun.trace" ||
	fail "2 ranks on one node opened a fabric library: $(grep 'mca_mtl_' "$TMP/mpirun.trace" | head -1)"
trace "$TMP/mpirun-cm.trace" "$MPIRUN" -n 2 -x OMPI_MCA_pml=cm "$W2S" --version >/dev/null 2>&1 || true
grep -q 'mca_pml_cm\.so", [^)]*) = [0-9]' "$TMP/mpirun-cm.trace" ||
	fail "under mpirun, OMPI_MCA_pml=cm was overridden: the pml cm was not opened"

# Side by side: short runs start and end while a longer one writes its
# checkpoints; nobody prints anything but its own lines.
small_config "$TMP/small.yaml"
printf 'checkpoint: {every: 5}\n' >>"$TMP/small.yaml"
"$W2S" run "$TMP/small.yaml" --out "$TMP/long" --quiet --set train.epochs=30 2>"$TMP/long.err" &
long=$!
for i in 1 2 3 4; do
	"$W2S" gen "$TMP/small.yaml" --out "$TMP/short$i" --quiet 2>>"$TMP/short.err" ||
		fail "a short run beside a long one: $(cat "$TMP/short.err")"
done
wait "$long" || fail "the long run beside short ones: $(cat "$TMP/long.err")"
! grep -v '^w2s' "$TMP/long.err" "$TMP/short.err" ||
	fail "runs side by side disturbed each other (above)"
echo "ok: no fabric library without a launcher or on one node, the user's setting wins, runs side by side keep apart"

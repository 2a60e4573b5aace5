# Shared by the shell tests: where things are, how to launch ranks, and how
# to fail with a message.  Sourced, not run.
set -eu

: "${W2S:=$PWD/w2s}"
: "${W2S_SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${MPIRUN:=mpirun}"
: "${PYTHON3:=/usr/bin/python3}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# One BLIS thread per rank: two ranks share two cores.
export BLIS_NUM_THREADS=1

TMP=$(mktemp -d "${TMPDIR:-/tmp}/w2s-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# mpi N ARGS...: run ARGS on N ranks.
mpi() {
	n=$1
	shift
	"$MPIRUN" -n "$n" --bind-to none "$@"
}

# A small experiment that runs in seconds (tests/configs/small.yaml).
small_config() {
	cp "$W2S_SRCDIR/tests/configs/small.yaml" "$1"
}

#!/bin/sh
# Data-parallel training under mpirun on 1, 2 and 3 ranks (tests/mpi_train.c).
. "$(dirname "$0")/common.sh"
for n in 1 2 3; do
	echo "== $n rank(s)"
	mpi "$n" "$W2S_BUILDDIR/tests/mpi_train" || fail "mpi_train on $n ranks"
done

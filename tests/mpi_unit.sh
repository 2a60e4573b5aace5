#!/bin/sh
# The MPI test programs on 1, 2 and 3 ranks: data-parallel training
# (tests/mpi_train.c), parallel HDF5 (tests/mpi_h5io.c), and the kNN filter
# and cascade curve (tests/mpi_filter.c).
. "$(dirname "$0")/common.sh"
for n in 1 2 3; do
	echo "== $n rank(s)"
	for t in mpi_train mpi_h5io mpi_filter; do
		mpi "$n" "$W2S_BUILDDIR/tests/$t" || fail "$t on $n ranks"
	done
done

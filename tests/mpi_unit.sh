#!/bin/sh
# The MPI test programs on 1, 2 and 3 ranks: data-parallel training
# (tests/mpi_train.c), parallel HDF5 (tests/mpi_h5io.c), the kNN filter and
# cascade curve (tests/mpi_filter.c), and the fit and sampling of the
# Gaussian mixtures (tests/mpi_gmm.c).
. "$(dirname "$0")/common.sh"
for n in 1 2 3; do
	echo "== $n rank(s)"
	for t in mpi_train mpi_h5io mpi_filter mpi_gmm; do
		mpi "$n" "$W2S_BUILDDIR/tests/$t" || fail "$t on $n ranks"
	done
done

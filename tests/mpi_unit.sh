#!/bin/sh
# The MPI test programs on 1, 2 and 3 ranks: data-parallel training
# (tests/mpi_train.c), parallel HDF5 (tests/mpi_h5io.c), the kNN filter and
# cascade curve (tests/mpi_filter.c), the fit and sampling of the Gaussian
# mixtures (tests/mpi_gmm.c) and the float sum's ring (tests/mpi_comm.c,
# on 4 ranks too: an even count above 2).
. "$(dirname "$0")/common.sh"
for n in 1 2 3; do
	echo "== $n rank(s)"
	for t in mpi_train mpi_h5io mpi_filter mpi_gmm mpi_comm; do
		mpi "$n" "$W2S_BUILDDIR/tests/$t" || fail "$t on $n ranks"
	done
done
echo "== 4 ranks"
mpi 4 "$W2S_BUILDDIR/tests/mpi_comm" || fail "mpi_comm on 4 ranks"

/*
 * main.c: initializes MPI, hands the command line to the cli module, and
 * finalizes.  Nothing else lives here.
 */
#include <mpi.h>
#include <stdio.h>
#include <unistd.h>

#include "w2s/cli.h"
#include "w2s/comm.h"
#include "w2s/h5io.h"

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	struct w2s_comm comm = {.comm = MPI_COMM_NULL};
	w2s_comm_init(&comm, MPI_COMM_WORLD);
	int code = w2s_cli_main(&comm, argc, argv);
	if (w2s_h5_abandoned() > 0) {
		/* A file that could not be written (a full disk) is left open:
		 * MPI_Finalize would have HDF5 close it, which crashes or waits
		 * for ever.  The code is already agreed by every rank. */
		fflush(NULL);
		_exit(code ? code : 4);
	}
	w2s_comm_free(&comm);
	MPI_Finalize();
	return code;
}

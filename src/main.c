/*
 * main.c: initializes MPI, hands the command line to the cli module, and
 * finalizes.  Nothing else lives here.
 */
#include <mpi.h>

#include "w2s/cli.h"
#include "w2s/comm.h"

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	struct w2s_comm comm = {.comm = MPI_COMM_NULL};
	w2s_comm_init(&comm, MPI_COMM_WORLD);
	int code = w2s_cli_main(&comm, argc, argv);
	w2s_comm_free(&comm);
	MPI_Finalize();
	return code;
}

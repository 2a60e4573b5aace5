/*
 * main.c: initializes MPI, hands the command line to the cli module, and
 * finalizes.  Nothing else lives here.
 */
#include <stdlib.h>

#include <mpi.h>
#include <stdio.h>
#include <unistd.h>

#include "w2s/cli.h"
#include "w2s/comm.h"
#include "w2s/h5io.h"

/* Started without a launcher, the process is an Open MPI singleton: one
 * rank that talks only to itself.  One of Open MPI's defaults then costs
 * time and serves nothing, and is changed unless the user has set it: the
 * pml "cm" is tried, which opens the fabric libraries (PSM calibrates the
 * CPU clock for 0.2 s in its start-up, fabric or not); ob1, whose "self"
 * transport is all one rank needs, is chosen instead.
 * Not changed: the daemon (orted) a singleton starts.  Without it
 * (ess_singleton_isolated, ~0.1 s less) every such process on a machine
 * shares one session folder, which the first to finish removes under the
 * others: their MPI-IO then fails to open its files, with a message per
 * file.
 * Under a launcher (mpirun, srun) ranks talk to each other over whatever
 * the site chose, so nothing is changed there. */
static void mpi_singleton_defaults(void)
{
	static const char *const launched[] = {
		"OMPI_COMM_WORLD_SIZE", /* mpirun */
		"PMIX_RANK",            /* srun --mpi=pmix, and any PMIx launcher */
		"PMI_RANK",             /* PMI-1/2 launchers */
		"SLURM_STEP_ID",        /* inside a slurm step */
	};
	for (size_t i = 0; i < sizeof launched / sizeof launched[0]; i++)
		if (getenv(launched[i]) != NULL)
			return;
	setenv("OMPI_MCA_pml", "ob1", 0);
}

int main(int argc, char **argv)
{
	mpi_singleton_defaults();
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

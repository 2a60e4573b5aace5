/*
 * main.c: initializes MPI, hands the command line to the cli module, and
 * finalizes.  Nothing else lives here.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#include <stdio.h>
#include <unistd.h>

#include "w2s/cli.h"
#include "w2s/comm.h"
#include "w2s/h5io.h"

/* Ranks that all run on one node talk through shared memory, whatever
 * fabric the node has.  Open MPI's default pml ("cm" tried first) opens
 * the fabric libraries all the same, and PSM's start-up alone calibrates
 * the CPU clock for 0.2 s, fabric or not; ob1, whose shared-memory and
 * "self" transports are all such a job uses, is chosen instead unless the
 * user set a pml.  That holds for a process started without a launcher
 * (an Open MPI singleton: one rank that talks only to itself) and for a
 * launch whose ranks are all on one node: mpirun says so in
 * OMPI_COMM_WORLD_SIZE and _LOCAL_SIZE, srun in SLURM_STEP_NUM_NODES.
 * Every rank of a job reads the same answer, so all pick the same pml, as
 * Open MPI requires.  Ranks on several nodes keep the site's choice.
 * Not changed: the daemon (orted) a singleton starts.  Without it
 * (ess_singleton_isolated, ~0.1 s less) every such process on a machine
 * shares one session folder, which the first to finish removes under the
 * others: their MPI-IO then fails to open its files, with a message per
 * file. */
static bool on_one_node(void)
{
	const char *size = getenv("OMPI_COMM_WORLD_SIZE");
	const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
	if (size != NULL) /* mpirun */
		return local != NULL && strcmp(size, local) == 0;
	if (getenv("SLURM_STEP_ID") != NULL) { /* srun */
		const char *nodes = getenv("SLURM_STEP_NUM_NODES");
		return nodes != NULL && strcmp(nodes, "1") == 0;
	}
	/* Another launcher (PMIx, PMI-1/2): its placement is not known. */
	return getenv("PMIX_RANK") == NULL && getenv("PMI_RANK") == NULL;
}

int main(int argc, char **argv)
{
	if (on_one_node())
		setenv("OMPI_MCA_pml", "ob1", 0);
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

/*
 * main.c: initializes MPI, hands the command line to the cli module, and
 * finalizes.  Nothing else lives here.
 */
#include <stdlib.h>

#include <mpi.h>

#include "w2s/cli.h"
#include "w2s/comm.h"

/* Started without a launcher, Open MPI makes the process a singleton that
 * forks a daemon (orted) and connects to it, ~0.15 s of every such run.
 * The daemon serves MPI_Comm_spawn and connect/accept, which w2s never
 * calls, so the singleton is made isolated (no daemon).  Under a launcher
 * (mpirun, srun) the parameter is not read; the check on the launchers'
 * variables only keeps it out of their jobs' environment.  A user's own
 * setting of the variable wins. */
static void mpi_skip_singleton_daemon(void)
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
	setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
}

int main(int argc, char **argv)
{
	mpi_skip_singleton_daemon();
	MPI_Init(&argc, &argv);
	struct w2s_comm comm = {.comm = MPI_COMM_NULL};
	w2s_comm_init(&comm, MPI_COMM_WORLD);
	int code = w2s_cli_main(&comm, argc, argv);
	w2s_comm_free(&comm);
	MPI_Finalize();
	return code;
}

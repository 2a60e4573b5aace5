/*
 * cli_sweep.h: the `w2s sweep` command line (expand, collect) and its help.
 * Part of the cli module; the work is sweep.h's.
 */
#ifndef W2S_CLI_SWEEP_H
#define W2S_CLI_SWEEP_H

#include "w2s/comm.h"

/* Collective: runs `w2s sweep ARGS...` (argv[1] is "sweep") and returns the
 * process exit code.  Logging and HDF5 are set up by the caller. */
int w2s_cli_sweep(const struct w2s_comm *c, int argc, char **argv);

#endif

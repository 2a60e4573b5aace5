/*
 * cli.h: the command line of w2s: subcommands, help, and the start-up that
 * every subcommand shares (BLIS sub-configuration, logging, HDF5 errors).
 *
 * Every rank parses the same arguments the same way; only rank 0 prints;
 * every rank returns the same exit code.
 */
#ifndef W2S_CLI_H
#define W2S_CLI_H

#include "w2s/comm.h"

/* Collective: runs `w2s ARGS...` and returns the process exit code. */
int w2s_cli_main(const struct w2s_comm *c, int argc, char **argv);

#endif

/*
 * inspect.h: `w2s inspect FILE.h5 [--json]`: what a file w2s wrote holds,
 * in words for a person or as one JSON object for a script.
 *
 * The facts are gathered once into a JSON document (kind, provenance,
 * config, every object with its shape, every compound table, and by kind:
 * views, target and splits; models, labels, synthetic rows and the
 * cascade's setting; traces); the words are printed from that document,
 * so both forms always say the same.  HDF5 is read through h5io_inspect.h;
 * this module only chooses and words.
 *
 * Not a place for numbers the run did not store: inspect reports, it does
 * not recompute.
 */
#ifndef W2S_INSPECT_H
#define W2S_INSPECT_H

#include <stdbool.h>
#include <stdio.h>

#include "w2s/comm.h"
#include "w2s/common.h"

struct w2s_inspect_opts {
	bool json;  /* one JSON object instead of words */
	FILE *out;  /* where to print; NULL: stdout */
};

/* Not collective: describes the file at `path` on opts->out.  A file that
 * is missing, not HDF5, truncated or damaged gives W2S_STATUS_IO after one
 * error line on stderr, and nothing on opts->out. */
enum w2s_status w2s_inspect_file(const char *path, const struct w2s_inspect_opts *opts);

/* Collective: `w2s inspect ARGS...` (argv[0] is "inspect"); rank 0 reads
 * and prints, every rank returns the same exit code: 0, 2 (usage) or 4. */
int w2s_inspect_main(const struct w2s_comm *c, int argc, char **argv);

#endif

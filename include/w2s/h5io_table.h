/*
 * h5io_table.h: opening a run's file on one process, to read its tables
 * (w2s_h5_read_table in h5io.h) one file at a time.  Part of the h5io
 * module, the only one that calls HDF5.
 *
 * For tools that look into many finished or running runs (w2s sweep
 * collect): a file is opened by this process alone, without MPI-IO, so no
 * other rank has to take part, and a file that cannot be read (still being
 * written, cut short by a crash) is a quiet status, not a message: the
 * caller decides whether that is an error.
 */
#ifndef W2S_H5IO_TABLE_H
#define W2S_H5IO_TABLE_H

#include <stdbool.h>

#include "w2s/h5io.h"

/* Not collective: opens an existing file read-only on this process alone.
 * Prints nothing; returns W2S_STATUS_IO when the file is missing, not HDF5,
 * truncated or otherwise unreadable.  Close with w2s_h5_close. */
enum w2s_status w2s_h5_open_local(struct w2s_h5 *f, const char *path);

/* Not collective: whether `path` ("/pgr", "/a/b") names an object in f. */
bool w2s_h5_has(struct w2s_h5 *f, const char *path);

#endif

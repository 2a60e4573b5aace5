/*
 * h5io.h: every file w2s writes or reads, through HDF5.  The only module
 * that calls HDF5.
 *
 * Data, labels and run files are opened by all ranks with MPI-IO; object
 * creation and attributes are collective with identical arguments, data go
 * by hyperslab, and a rank with nothing to write still takes part with an
 * empty selection.  Traces (metrics.h5) are written by rank 0 alone in SWMR
 * mode so that they can be read while the run goes on.
 *
 * Nothing records modification times, so the same content gives the same
 * bytes whatever the number of ranks.
 *
 * Errors: every function that can fail returns a status and, on failure,
 * has printed one line (the rank that saw it) naming the file and object.
 */
#ifndef W2S_H5IO_H
#define W2S_H5IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "w2s/comm.h"
#include "w2s/common.h"

struct w2s_h5 {
	hid_t file; /* H5I_INVALID_HID when closed */
	char path[4096];
	bool broken; /* a write to it failed on this rank: it is never closed */
	bool tmp;    /* made by w2s_h5_create_tmp: path is NAME.tmp */
	bool has_fd; /* fd is open */
	int fd;      /* path opened beside HDF5, to sync it */
};

enum w2s_h5_type {
	W2S_H5_F32 = 0,
	W2S_H5_I32,
	W2S_H5_I64,
};

/* Silences HDF5's own error printing (w2s reports errors itself).  Call once
 * at start-up. */
void w2s_h5_init(void);
/* "1.10.8" */
const char *w2s_h5_library_version(void);

/* Collective: creates path (replacing a file of that name) with MPI-IO. */
enum w2s_status w2s_h5_create(struct w2s_h5 *f, const struct w2s_comm *c, const char *path);
/* Collective: creates path.tmp, for a file that takes the name path only
 * when whole (w2s_h5_commit): whoever finds path finds it complete. */
enum w2s_status w2s_h5_create_tmp(struct w2s_h5 *f, const struct w2s_comm *c, const char *path);
/* Asks the system to start writing what this rank wrote to f so far to the
 * disk, without waiting for it: the final sync (w2s_h5_commit) then has
 * little left to wait for.  For files made by w2s_h5_create_tmp and
 * written in many blocks (data.h5); nothing where the system has no such
 * call. */
void w2s_h5_start_writeback(struct w2s_h5 *f);
/* Collective: finishes a file made by w2s_h5_create_tmp.  st is how writing
 * it went (agreed).  When st is W2S_STATUS_OK, the file closes on every
 * rank, every rank syncs it to the disk (what its node wrote; an error
 * the system reports only now, such as a full disk on a network file
 * system, fails the file like a failed write), rank 0 renames it to its
 * name and syncs the folder: a file that has its name survives a crash of
 * the node or of the machine.  Otherwise, or when any rank
 * failed a write to it or finds under 1 MiB left on its file system, the
 * file is abandoned: not closed (the ranks may then be in different states
 * inside HDF5, where a close waits for ever or crashes), and rank 0 removes
 * it, so a full disk is left as it was.  Returns the agreed status. */
enum w2s_status w2s_h5_commit(struct w2s_h5 *f, const struct w2s_comm *c, enum w2s_status st);
/* How many files this process abandoned.  When any, it must end without
 * MPI_Finalize: HDF5 would close them there, and crash or wait for ever. */
int w2s_h5_abandoned(void);
/* Collective: opens an existing file read-only with MPI-IO.  A file that is
 * missing, not HDF5, or truncated gives W2S_STATUS_IO on every rank. */
enum w2s_status w2s_h5_open(struct w2s_h5 *f, const struct w2s_comm *c, const char *path);
/* Collective: closes, flushing what is buffered; safe on a closed or zeroed
 * handle.  Returns W2S_STATUS_IO (message kept for w2s_comm_agree) when the
 * flush fails, e.g. on a full disk; the caller agrees on it. */
enum w2s_status w2s_h5_close(struct w2s_h5 *f);

/* Collective: creates dataset `path` (and its groups) of shape (rows, cols),
 * or (rows) when cols == 0, and writes rows [begin, begin + count) from
 * data (count, cols) of this rank. */
enum w2s_status w2s_h5_write_rows(struct w2s_h5 *f, const struct w2s_comm *c, const char *path,
				  enum w2s_h5_type t, int64_t rows, int64_t cols, int64_t begin,
				  int64_t count, const void *data);

/* A dataset of shape (rows, cols), or (rows) when cols == 0, written block
 * by block: for data that one rank makes in pieces (data.h5's views), so
 * that no rank holds its whole share at once. */
struct w2s_h5_rows {
	hid_t dset; /* H5I_INVALID_HID when closed */
	enum w2s_h5_type type;
	int64_t rows, cols;
	char path[256];
};
/* Collective: creates dataset `path` (and its groups), its storage
 * allocated now and never filled: every row must then be written. */
enum w2s_status w2s_h5_rows_create(struct w2s_h5 *f, const struct w2s_comm *c, const char *path,
				   enum w2s_h5_type t, int64_t rows, int64_t cols,
				   struct w2s_h5_rows *d);
/* Not collective: writes rows [begin, begin + count) from data (count,
 * cols), with the rank's own I/O calls; ranks call it any number of times.
 * On failure, has printed one line; the caller agrees with the others. */
enum w2s_status w2s_h5_rows_write(struct w2s_h5 *f, struct w2s_h5_rows *d, int64_t begin,
				  int64_t count, const void *data);
/* Collective: closes the dataset; safe on a closed one. */
void w2s_h5_rows_close(struct w2s_h5_rows *d);

/* Not collective: reads rows [begin, begin + count) of `path` into data
 * (count, cols).  The dataset must be 2-D with `cols` columns (1-D when
 * cols == 0) and at least begin + count rows; otherwise W2S_STATUS_IO with a
 * message naming what was expected and found. */
enum w2s_status w2s_h5_read_rows(struct w2s_h5 *f, const char *path, enum w2s_h5_type t,
				 int64_t cols, int64_t begin, int64_t count, void *data);

/* Not collective: the shape of dataset `path` (cols 0 for 1-D). */
enum w2s_status w2s_h5_shape(struct w2s_h5 *f, const char *path, int64_t *rows, int64_t *cols);

/* Collective: attributes on object `obj` ("/" for the file).  Strings are
 * variable-length UTF-8 (h5py returns str). */
enum w2s_status w2s_h5_attr_string(struct w2s_h5 *f, const char *obj, const char *name,
				   const char *value);
enum w2s_status w2s_h5_attr_int64(struct w2s_h5 *f, const char *obj, const char *name,
				  int64_t value);
enum w2s_status w2s_h5_attr_double(struct w2s_h5 *f, const char *obj, const char *name,
				   double value);
/* Not collective: reads a string attribute into a new string (caller frees). */
enum w2s_status w2s_h5_attr_read_string(struct w2s_h5 *f, const char *obj, const char *name,
					char **value);

/* Not collective: read a numeric attribute (converted to the type asked). */
enum w2s_status w2s_h5_attr_read_int64(struct w2s_h5 *f, const char *obj, const char *name,
				       int64_t *value);
enum w2s_status w2s_h5_attr_read_double(struct w2s_h5 *f, const char *obj, const char *name,
					double *value);

/* Where a file came from, stored as attributes of its root group. */
struct w2s_provenance {
	const char *kind;        /* "data", "run", "metrics" */
	const char *config_json; /* canonical JSON of the effective config */
	const char *version;     /* w2s version */
	const char *git_rev;
	const char *libraries;   /* versions of MPI, HDF5, BLIS, ... one line */
	const char *blis_arch;
	int world_size;          /* < 0: not recorded (data files do not depend on it) */
};
/* Collective. */
enum w2s_status w2s_h5_write_provenance(struct w2s_h5 *f, const struct w2s_provenance *p);

/* A compound table: one row per element of a C array of structs. */
enum w2s_h5_col_type {
	W2S_H5_COL_STR = 0, /* char[size], NUL-terminated */
	W2S_H5_COL_F64,
	W2S_H5_COL_I64,
};
struct w2s_h5_column {
	const char *name;
	enum w2s_h5_col_type type;
	size_t offset; /* offsetof(struct, field) */
	size_t size;   /* bytes of a STR field */
};
/* Collective: writes `rows` (n rows of row_size bytes, rank 0's copy) as the
 * compound dataset `path`.  Every rank passes the same n and columns. */
enum w2s_status w2s_h5_write_table(struct w2s_h5 *f, const struct w2s_comm *c, const char *path,
				   const struct w2s_h5_column *cols, int ncols, size_t row_size,
				   const void *rows, int64_t n);

/* Not collective: reads the whole compound dataset `path` into rows (n
 * rows of row_size bytes, allocated; caller frees), matching columns by
 * name.  A missing column is an error. */
enum w2s_status w2s_h5_read_table(struct w2s_h5 *f, const char *path,
				  const struct w2s_h5_column *cols, int ncols, size_t row_size,
				  void **rows, int64_t *n);

/* ---- traces: rank 0 only ---- */

#define W2S_TRACE_MAX 512

/* One row of a training trace: loss and acc average the training batches
 * since the previous row; val_acc is the newest evaluation on the val split
 * (NaN before the first, or without train.eval_every). */
#define W2S_TRACE_FIELDS 9
struct w2s_trace_row {
	int64_t step;
	double epoch, loss, acc, lr, grad_norm, seconds, samples_per_s, val_acc;
};
/* The columns of a trace row, for storing traces as tables (checkpoints). */
extern const struct w2s_h5_column w2s_trace_columns[W2S_TRACE_FIELDS];

struct w2s_trace {
	hid_t file;
	int n;
	char name[W2S_TRACE_MAX][64];
	hid_t dset[W2S_TRACE_MAX][W2S_TRACE_FIELDS]; /* one per field of struct w2s_trace_row */
	int64_t len[W2S_TRACE_MAX];
};

/* Rank 0 only: creates path with groups /trace/<name> for each of the n
 * names, each holding extendible 1-D datasets whose dimension scale is
 * `step` (so xarray opens a group as a data set), stores the provenance,
 * then starts SWMR writing. */
enum w2s_status w2s_trace_create(struct w2s_trace *t, const char *path,
				 const char *const *names, int n, const struct w2s_provenance *p);
/* Rank 0 only: appends one row to trace `index` and flushes it. */
enum w2s_status w2s_trace_append(struct w2s_trace *t, int index, const struct w2s_trace_row *r);
/* Safe on a zeroed or closed trace. */
void w2s_trace_close(struct w2s_trace *t);

#endif

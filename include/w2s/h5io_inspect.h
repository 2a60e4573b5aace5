/*
 * h5io_inspect.h: reading an HDF5 file whose layout is not known in
 * advance (any file w2s wrote, or any HDF5 file at all), for `w2s inspect`.
 * Part of the h5io module, the only one that calls HDF5; the wording of
 * what a file holds lives in inspect.c.
 *
 * Not collective: one process opens the file read-only with the default
 * (POSIX) driver, so it works without mpirun and on a metrics.h5 that a
 * run is still writing (SWMR).  Nothing here writes.
 *
 * Errors: every function that can fail returns W2S_STATUS_IO after one
 * line that names the file, the object and the reason.  Arrays and strings
 * handed out are new; each kind has its free function, safe on zeroed
 * values and twice.
 */
#ifndef W2S_H5IO_INSPECT_H
#define W2S_H5IO_INSPECT_H

#include <stdbool.h>
#include <stdint.h>

#include "w2s/common.h"
#include "w2s/h5io.h"

/* Opens path read-only, also while a writer holds it in SWMR mode.  The one
 * line on failure says which: missing or unreadable, a folder, empty, not
 * HDF5, truncated, or left open for writing by a crash (h5clear -s). */
enum w2s_status w2s_h5_open_read(struct w2s_h5 *f, const char *path);

/* What sits at a path (absolute, "/" for the root). */
enum w2s_h5_object {
	W2S_H5_OBJECT_NONE = 0, /* nothing there */
	W2S_H5_OBJECT_GROUP,
	W2S_H5_OBJECT_DATASET,
	W2S_H5_OBJECT_OTHER,    /* a named type, a dangling link */
};
enum w2s_h5_object w2s_h5_object_at(struct w2s_h5 *f, const char *path);

/* Every object under group `path`, recursively, as absolute paths in name
 * order ("/labels", "/labels/weak.weak", ...).  *paths is a new array of n
 * new strings. */
enum w2s_status w2s_h5_walk(struct w2s_h5 *f, const char *path, char ***paths, int *n);
/* Members directly under group `path`, as names, in name order. */
enum w2s_status w2s_h5_members(struct w2s_h5 *f, const char *path, char ***names, int *n);
void w2s_h5_strings_free(char ***strings, int *n);

/* The shape and element type of a dataset. */
#define W2S_H5_MAX_RANK 8
struct w2s_h5_dataset_info {
	int rank;                       /* 0 for a scalar */
	int64_t dims[W2S_H5_MAX_RANK];  /* current extent */
	bool extendible;                /* some maximum extent is unlimited */
	char type[32];                  /* "float32", "int64", "uint8", "string", "compound", ... */
	int members;                    /* compound: number of columns; else 0 */
	bool scale;                     /* a dimension scale (e.g. a trace's step) */
};
enum w2s_status w2s_h5_dataset_info(struct w2s_h5 *f, const char *path,
				    struct w2s_h5_dataset_info *info);

/* A value read from an attribute or a table cell. */
enum w2s_h5_value_type {
	W2S_H5_VALUE_OTHER = 0, /* arrays, references, ...: not read */
	W2S_H5_VALUE_STRING,
	W2S_H5_VALUE_INT,
	W2S_H5_VALUE_FLOAT,
};
struct w2s_h5_value {
	enum w2s_h5_value_type type;
	char *s;   /* STRING: a new NUL-terminated string; else NULL */
	int64_t i; /* INT */
	double d;  /* FLOAT; also INT as a double */
};

/* The scalar attributes of object `obj`, in name order: names[k] and
 * values[k] for k < n, both new arrays. */
struct w2s_h5_attrs {
	int n;
	char **names;
	struct w2s_h5_value *values;
};
enum w2s_status w2s_h5_read_attrs(struct w2s_h5 *f, const char *obj, struct w2s_h5_attrs *a);
/* The attribute called `name`, or NULL. */
const struct w2s_h5_value *w2s_h5_attrs_get(const struct w2s_h5_attrs *a, const char *name);
void w2s_h5_attrs_free(struct w2s_h5_attrs *a);

/* A 1-D compound dataset of any layout (a table such as /results) read
 * whole: column names, and cells (rows, cols) row-major.  Columns of
 * string, integer and floating-point members are read; any other member
 * reads as OTHER.  (w2s_h5_read_table in h5io.h reads a table whose
 * columns the caller knows into its own structs.) */
struct w2s_h5_anytable {
	int ncols;
	int64_t nrows;
	char **names;                /* (ncols) */
	struct w2s_h5_value *cells;  /* (nrows, ncols) */
};
/* Refuses (W2S_STATUS_IO) a dataset that is not a 1-D compound or has more
 * than max_rows rows, naming what it found. */
enum w2s_status w2s_h5_read_anytable(struct w2s_h5 *f, const char *path, int64_t max_rows,
				     struct w2s_h5_anytable *t);
void w2s_h5_anytable_free(struct w2s_h5_anytable *t);

/* Elements [begin, begin + count) of a 1-D numeric dataset, converted to
 * double, into out (count). */
enum w2s_status w2s_h5_read_doubles(struct w2s_h5 *f, const char *path, int64_t begin,
				    int64_t count, double *out);

/* The whole numeric dataset `path`, of any rank and element type, converted
 * to float32 by HDF5 into out (every element, row-major). */
enum w2s_status w2s_h5_read_floats(struct w2s_h5 *f, const char *path, float *out);

#endif

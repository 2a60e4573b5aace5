/*
 * import.h: the user's own arrays (features in views, labels, splits) into
 * a data file that `w2s run` reads like a generated one (data.task import).
 *
 * Dimension legend: N rows of the sources, M <= N rows kept (those in some
 * split), D_v columns of view v.
 *
 * Sources, each a path:
 *   NAME.npy          NumPy array: little-endian, C order; features 2-D
 *                     (N, D) of <f4, <f8 or <f2; labels and indices 1-D (or
 *                     (N, 1)) of any integer or float type
 *   NAME.csv          numbers separated by commas, one row a line; a first
 *                     line that is not all numbers is a header and skipped
 *   FILE.h5:/DATASET  a dataset of an HDF5 file (converted by HDF5)
 *   anything else     split indices only: whitespace-separated integers,
 *                     '#' starts a comment
 *
 * The written file has the layout of w2s_stage_gen's (stages.h): rows
 * reordered so that each split is contiguous in the order of enum w2s_split,
 * /views/<view> float32 (M, D), /target int32 (M) or float32 (M) for a real
 * target, /splits/<split> int64, plus /source_row int64 (M): the row of the
 * sources each row came from.  Root attributes: kind "data", task "import",
 * seed, classes, config (the spec as canonical JSON).
 *
 * Not here: YAML (the spec is read by the config module, config_import.c,
 * the only one that calls libyaml and jansson) or the training that follows.
 */
#ifndef W2S_IMPORT_H
#define W2S_IMPORT_H

#include <stdint.h>

#include "w2s/comm.h"
#include "w2s/common.h"
#include "w2s/config.h"
#include "w2s/h5io.h"

enum w2s_import_split_kind {
	W2S_IMPORT_SPLITS_NONE = 0,  /* not given yet */
	W2S_IMPORT_SPLITS_FILES,     /* an index file per split */
	W2S_IMPORT_SPLITS_FRACTIONS, /* fractions of a random permutation of the rows */
};

/* What to import.  Relative paths in a spec file are taken from the spec's
 * folder and stored so resolved; those of options from the working folder. */
struct w2s_import_spec {
	int nviews;
	struct {
		char name[W2S_NAME_MAX];
		char source[W2S_PATH_MAX];
	} views[W2S_MAX_VIEWS];
	char labels[W2S_PATH_MAX];
	enum w2s_target_kind target;
	int classes; /* 0: the largest label + 1 (at least 2) */
	enum w2s_import_split_kind splits;
	char split_file[W2S_NSPLITS][W2S_PATH_MAX]; /* FILES: "" = absent (pool only) */
	double fraction[W2S_NSPLITS];               /* FRACTIONS */
	uint64_t seed;                              /* FRACTIONS: of the permutation */
};

/* Not collective (config_import.c): reads the spec file at path into s
 * (zeroed first).  Unknown keys and bad values give W2S_STATUS_CONFIG after
 * one line "FILE:LINE: KEY: ..."; an unreadable file W2S_STATUS_IO. */
enum w2s_status w2s_import_spec_load(struct w2s_import_spec *s, const char *path);

/* Applies one command-line setting to s: "view" NAME=SOURCE, "labels"
 * SOURCE, "split" NAME=SOURCE|FRACTION, "seed" N, "target" class|regression,
 * "classes" K.  W2S_STATUS_USAGE after one line on a bad value. */
enum w2s_status w2s_import_spec_set(struct w2s_import_spec *s, const char *what,
				    const char *value);

/* The spec as canonical JSON (a new string), stored in the data file. */
char *w2s_import_spec_json(const struct w2s_import_spec *s);

/* Collective: reads the sources (rank 0), checks them against each other
 * and writes the data file at path (under path.tmp, renamed when whole).
 * Every problem with the user's data is one line naming the file and what
 * was expected and found, and W2S_STATUS_CONFIG (bad content) or
 * W2S_STATUS_IO (unreadable) on every rank. */
enum w2s_status w2s_import_write(const struct w2s_comm *c, const struct w2s_import_spec *s,
				 const char *path, const struct w2s_provenance *prov);

/* Not collective: what the data file at path holds (views, classes, rows
 * of each split), for the config of a run.  The splits must be contiguous
 * in the standard order, as w2s import and w2s gen write them.  On failure
 * W2S_STATUS_IO and a reason in why (nothing printed). */
enum w2s_status w2s_import_describe(const char *path, struct w2s_import_info *info, char *why,
				    size_t size);

/* Collective: `w2s import ARGS...` (argv[0] is "import"); the exit code. */
int w2s_import_main(const struct w2s_comm *c, int argc, char **argv);

#endif

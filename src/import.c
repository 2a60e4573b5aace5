/*
 * import.c: `w2s import`: the user's arrays into a data file that `w2s run`
 * reads like a generated one; see import.h.
 *
 * Rank 0 reads the sources and checks them; every rank takes part in the
 * collective writes (the others with empty selections).  A view is read,
 * checked, reordered and written before the next is read, so memory holds
 * one view twice at most.  NumPy's format is parsed here rather than through
 * a library: its header is one Python dict literal of three keys.
 *
 * Not here: YAML (config_import.c) or anything a run does with the file.
 */
#include "w2s/import.h"
#include "import_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buildconf.h"
#include "gitrev.h"
#include "w2s/blas.h"
#include "w2s/h5io_inspect.h"
#include "w2s/log.h"
#include "w2s/rng.h"

/* The stream of the split permutation: rng.h's scheme (purpose in the top 8
 * bits), a purpose no other module draws from. */
#define IMPORT_STREAM_SPLITS (0x49u << 24)

/* ---- checks and the row order */

/* The labels: class ids in [0, classes) (classes 0: the largest + 1), or
 * real values.  Fills target (n) or value (n). */
static enum w2s_status read_labels(const struct w2s_import_spec *s, int64_t *n, int *classes,
				   int32_t **target, float **value)
{
	struct raw r;
	enum w2s_status st = imp_read_source(s->labels, false, &r);
	if (st != W2S_STATUS_OK)
		return st;
	if (r.cols > 1) {
		w2s_log_error_local("labels '%s': %lld x %lld; expected one label per row (1-D, or "
				    "one column)",
				    s->labels, (long long)r.rows, (long long)r.cols);
		imp_raw_free(&r);
		return W2S_STATUS_CONFIG;
	}
	*n = r.rows;
	const bool regression = s->target == W2S_TARGET_REGRESSION;
	*target = regression ? NULL : w2s_xmalloc((size_t)r.rows * sizeof **target + 1);
	*value = regression ? w2s_xmalloc((size_t)r.rows * sizeof **value + 1) : NULL;
	double top = 0;
	for (int64_t i = 0; i < r.rows && st == W2S_STATUS_OK; i++) {
		double y = imp_raw_get(&r, i);
		if (!isfinite(y)) {
			w2s_log_error_local("labels '%s': row %lld is %g; labels must be finite numbers",
					    s->labels, (long long)i, y);
			st = W2S_STATUS_CONFIG;
		} else if (regression) {
			(*value)[i] = (float)y;
		} else if (y != floor(y) || y < 0 || (s->classes > 0 && y >= s->classes) || y > 999) {
			char range[64];
			snprintf(range, sizeof range, s->classes > 0 ? "[0, %d)" : "[0, 1000)",
				 s->classes);
			w2s_log_error_local("labels '%s': row %lld has label %g, outside the classes "
					    "%s (class ids are integers 0, 1, ...; a real target "
					    "needs target: regression)",
					    s->labels, (long long)i, y, range);
			st = W2S_STATUS_CONFIG;
		} else {
			(*target)[i] = (int32_t)y;
			top = y > top ? y : top;
		}
	}
	*classes = regression ? 1 : s->classes > 0 ? s->classes : (int)top + 1 < 2 ? 2 : (int)top + 1;
	imp_raw_free(&r);
	return st;
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The source rows of every split, one after the other: order (M) and
 * rows[s].  n: rows of the sources. */
static enum w2s_status split_rows(const struct w2s_import_spec *s, int64_t n, int64_t **order,
				  int64_t rows[W2S_NSPLITS])
{
	int64_t *out = w2s_xmalloc((size_t)n * sizeof *out + 8);
	int64_t m = 0;
	enum w2s_status st = W2S_STATUS_OK;
	if (s->splits == W2S_IMPORT_SPLITS_FRACTIONS) {
		double sum = 0;
		for (int k = 0; k < W2S_NSPLITS; k++)
			sum += s->fraction[k];
		if (sum > 1 + 1e-9) {
			w2s_log_error_local("splits: the fractions add up to %g; at most 1 (the rest of "
					    "the rows are left out)",
					    sum);
			st = W2S_STATUS_CONFIG;
		}
		int64_t *perm = w2s_xmalloc((size_t)n * sizeof *perm + 8);
		w2s_rng_permutation(s->seed, IMPORT_STREAM_SPLITS, 0, perm, (size_t)n);
		for (int k = 0; k < W2S_NSPLITS && st == W2S_STATUS_OK; k++) {
			/* The small slack keeps 0.29 * 100 at 29 rows. */
			int64_t want = (int64_t)floor(s->fraction[k] * (double)n + 1e-6);
			if (want > n - m)
				want = n - m;
			if (want < 1 && k != W2S_SPLIT_POOL) {
				w2s_log_error_local("splits.%s: %g of %lld rows is no row; every split "
						    "but pool needs at least one",
						    w2s_split_name((enum w2s_split)k), s->fraction[k],
						    (long long)n);
				st = W2S_STATUS_CONFIG;
				break;
			}
			/* Within a split the rows keep their order in the sources. */
			memcpy(out + m, perm + m, (size_t)want * sizeof *out);
			qsort(out + m, (size_t)want, sizeof *out, cmp_int64);
			rows[k] = want;
			m += want;
		}
		free(perm);
	} else {
		signed char *owner = w2s_xmalloc((size_t)n + 1);
		memset(owner, -1, (size_t)n);
		for (int k = 0; k < W2S_NSPLITS && st == W2S_STATUS_OK; k++) {
			const char *name = w2s_split_name((enum w2s_split)k), *src = s->split_file[k];
			rows[k] = 0;
			if (src[0] == '\0') {
				if (k == W2S_SPLIT_POOL)
					continue;
				w2s_log_error_local("splits.%s: missing; give an index file for each of "
						    "weak_train, transfer, val and test",
						    name);
				st = W2S_STATUS_CONFIG;
				break;
			}
			struct raw r;
			st = imp_read_source(src, true, &r);
			if (st != W2S_STATUS_OK)
				break;
			if (r.cols > 1) {
				w2s_log_error_local("splits.%s '%s': %lld x %lld; expected a list of row "
						    "indices",
						    name, src, (long long)r.rows, (long long)r.cols);
				st = W2S_STATUS_CONFIG;
			}
			if (st == W2S_STATUS_OK && r.rows == 0) {
				w2s_log_error_local("splits.%s '%s': no rows", name, src);
				st = W2S_STATUS_CONFIG;
			}
			for (int64_t i = 0; i < r.rows && st == W2S_STATUS_OK; i++) {
				double d = imp_raw_get(&r, i);
				int64_t row = r.kind == 'i' && r.size == 8 ? ((int64_t *)r.data)[i]
									   : (int64_t)d;
				if (r.kind == 'f' && d != floor(d)) {
					w2s_log_error_local("splits.%s '%s': entry %lld is %g, not a row "
							    "index",
							    name, src, (long long)i, d);
					st = W2S_STATUS_CONFIG;
				} else if (row < 0 || row >= n) {
					w2s_log_error_local("splits.%s '%s': row index %lld is out of "
							    "range [0, %lld) (the labels have %lld rows)",
							    name, src, (long long)row, (long long)n,
							    (long long)n);
					st = W2S_STATUS_CONFIG;
				} else if (owner[row] >= 0) {
					if (owner[row] == k)
						w2s_log_error_local("splits.%s '%s': row %lld is repeated",
								    name, src, (long long)row);
					else
						w2s_log_error_local("splits.%s '%s': row %lld is also in %s",
								    name, src, (long long)row,
								    w2s_split_name((enum w2s_split)owner[row]));
					st = W2S_STATUS_CONFIG;
				} else {
					owner[row] = (signed char)k;
					out[m + rows[k]++] = row;
				}
			}
			m += rows[k];
			imp_raw_free(&r);
		}
		free(owner);
	}
	if (st != W2S_STATUS_OK) {
		free(out);
		return st;
	}
	*order = out;
	return W2S_STATUS_OK;
}

/* One view: read, checked against the labels' rows, every value finite,
 * rows taken in `order` (m) into x (m, D) float32. */
static enum w2s_status read_view(const struct w2s_import_spec *s, int v, int64_t n,
				 const int64_t *order, int64_t m, int64_t *width, float **x)
{
	const char *name = s->views[v].name, *src = s->views[v].source;
	struct raw r;
	enum w2s_status st = imp_read_source(src, false, &r);
	if (st != W2S_STATUS_OK)
		return st;
	if (r.cols == 0) {
		w2s_log_error_local("views.%s '%s': 1-D (%lld); features are 2-D (rows, columns)",
				    name, src, (long long)r.rows);
		st = W2S_STATUS_CONFIG;
	} else if (r.rows != n) {
		w2s_log_error_local("views.%s '%s': %lld rows, but the labels '%s' have %lld; every "
				    "view has one row per label",
				    name, src, (long long)r.rows, s->labels, (long long)n);
		st = W2S_STATUS_CONFIG;
	}
	const int64_t D = r.cols;
	size_t cells;
	if (st == W2S_STATUS_OK && (w2s_mul_size((size_t)m, (size_t)D, &cells) != 0 ||
				    !(*x = malloc(cells * sizeof **x + 1)))) {
		w2s_log_error_local("views.%s: not enough memory for %lld x %lld floats", name,
				    (long long)m, (long long)D);
		st = W2S_STATUS_NOMEM;
	}
	for (int64_t i = 0; i < m && st == W2S_STATUS_OK; i++)
		for (int64_t j = 0; j < D; j++) {
			double d = imp_raw_get(&r, order[i] * D + j);
			if (!isfinite(d) || !isfinite((float)d)) {
				w2s_log_error_local("views.%s '%s': row %lld, column %lld is %g; "
						    "features must be finite%s",
						    name, src, (long long)order[i], (long long)j, d,
						    isfinite(d) ? " in float32" : "");
				st = W2S_STATUS_CONFIG;
				break;
			}
			(*x)[i * D + j] = (float)d;
		}
	imp_raw_free(&r);
	if (st != W2S_STATUS_OK) {
		free(*x);
		*x = NULL;
	}
	*width = D;
	return st;
}

/* ---- the file */

static enum w2s_status agree(const struct w2s_comm *c, enum w2s_status st)
{
	return (enum w2s_status)w2s_comm_agree(c, (int)st);
}

enum w2s_status w2s_import_write(const struct w2s_comm *c, const struct w2s_import_spec *s,
				 const char *path, const struct w2s_provenance *prov)
{
	const bool root = c->rank == 0;
	/* What every rank needs for the collective calls, from rank 0. */
	struct {
		int64_t n, m, rows[W2S_NSPLITS];
		int classes;
	} shape = {0};
	int32_t *target = NULL;
	float *value = NULL;
	int64_t *order = NULL;
	enum w2s_status st = W2S_STATUS_OK;
	if (root)
		st = read_labels(s, &shape.n, &shape.classes, &target, &value);
	if (root && st == W2S_STATUS_OK)
		st = split_rows(s, shape.n, &order, shape.rows);
	for (int k = 0; k < W2S_NSPLITS; k++)
		shape.m += shape.rows[k];
	st = agree(c, st);
	if (st != W2S_STATUS_OK)
		goto cleanup;
	w2s_comm_bcast(c, &shape, sizeof shape, 0);
	const int64_t m = shape.m, mine = root ? m : 0;

	struct w2s_h5 f = {.file = -1};
	st = w2s_h5_create_tmp(&f, c, path);
	if (st == W2S_STATUS_OK) {
		struct w2s_provenance p = *prov;
		p.kind = "data";
		p.world_size = -1;
		st = w2s_h5_write_provenance(&f, &p);
	}
	for (int v = 0; v < s->nviews && st == W2S_STATUS_OK; v++) {
		int64_t D = 0;
		float *x = NULL;
		if (root)
			st = read_view(s, v, shape.n, order, m, &D, &x);
		st = agree(c, st);
		w2s_comm_bcast(c, &D, sizeof D, 0);
		char name[128];
		snprintf(name, sizeof name, "/views/%s", s->views[v].name);
		if (st == W2S_STATUS_OK)
			st = w2s_h5_write_rows(&f, c, name, W2S_H5_F32, m, D, 0, mine, x ? (void *)x : (void *)&D);
		if (st == W2S_STATUS_OK)
			st = w2s_h5_attr_string(&f, name, "source", s->views[v].source);
		free(x);
		if (st == W2S_STATUS_OK)
			w2s_log_info("view %-12s %lld x %lld from %s", s->views[v].name, (long long)m,
				     (long long)D, s->views[v].source);
	}
	/* The target and the source rows, in the new order. */
	float *tv = NULL;
	int32_t *tc = NULL;
	if (root && st == W2S_STATUS_OK) {
		tv = value ? w2s_xmalloc((size_t)m * sizeof *tv + 1) : NULL;
		tc = value ? NULL : w2s_xmalloc((size_t)m * sizeof *tc + 1);
		for (int64_t i = 0; i < m; i++) {
			if (tv)
				tv[i] = value[order[i]];
			else
				tc[i] = target[order[i]];
		}
	}
	int64_t dummy = 0;
	if (st == W2S_STATUS_OK)
		st = s->target == W2S_TARGET_REGRESSION
			     ? w2s_h5_write_rows(&f, c, "/target", W2S_H5_F32, m, 0, 0, mine, tv ? (void *)tv : &dummy)
			     : w2s_h5_write_rows(&f, c, "/target", W2S_H5_I32, m, 0, 0, mine, tc ? (void *)tc : &dummy);
	free(tv);
	free(tc);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_rows(&f, c, "/source_row", W2S_H5_I64, m, 0, 0, mine,
				       order ? (void *)order : &dummy);
	int64_t begin = 0;
	for (int k = 0; k < W2S_NSPLITS && st == W2S_STATUS_OK; k++) {
		int64_t count = root ? shape.rows[k] : 0;
		int64_t *idx = w2s_xmalloc((size_t)count * sizeof *idx + 8);
		for (int64_t i = 0; i < count; i++)
			idx[i] = begin + i;
		char name[64];
		snprintf(name, sizeof name, "/splits/%s", w2s_split_name((enum w2s_split)k));
		st = w2s_h5_write_rows(&f, c, name, W2S_H5_I64, shape.rows[k], 0, 0, count, idx);
		free(idx);
		begin += shape.rows[k];
	}
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&f, "/", "task", "import");
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_int64(&f, "/", "seed", (int64_t)s->seed);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_int64(&f, "/", "classes", shape.classes);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_int64(&f, "/", "source_rows", shape.n);
	if (f.tmp)
		st = w2s_h5_commit(&f, c, st);
	if (st == W2S_STATUS_OK) {
		w2s_log_info("target: %s; rows: weak_train %lld, transfer %lld, val %lld, test %lld, "
			     "pool %lld (%lld of %lld source rows)",
			     s->target == W2S_TARGET_REGRESSION ? "real values" : "classes",
			     (long long)shape.rows[0], (long long)shape.rows[1],
			     (long long)shape.rows[2], (long long)shape.rows[3],
			     (long long)shape.rows[4], (long long)m, (long long)shape.n);
		if (s->target != W2S_TARGET_REGRESSION)
			w2s_log_info("classes: %d", shape.classes);
	}
cleanup:
	free(order);
	free(target);
	free(value);
	return st;
}

/* ---- describing a data file, for the config of a run */

enum w2s_status w2s_import_describe(const char *path, struct w2s_import_info *info, char *why,
				    size_t size)
{
	memset(info, 0, sizeof *info);
	if (access(path, R_OK) != 0) {
		snprintf(why, size, "cannot read '%s': %s (write it with `w2s import SPEC --out DIR`)",
			 path, strerror(errno));
		return W2S_STATUS_IO;
	}
	struct w2s_h5 f = {.file = -1};
	char **names = NULL;
	int nnames = 0;
	enum w2s_status st = w2s_h5_open_read(&f, path);
	if (st != W2S_STATUS_OK) {
		snprintf(why, size, "'%s' is not a readable HDF5 file", path);
		goto out;
	}
	st = W2S_STATUS_IO;
	struct w2s_h5_dataset_info t;
	if (w2s_h5_object_at(&f, "/target") != W2S_H5_OBJECT_DATASET ||
	    w2s_h5_object_at(&f, "/views") != W2S_H5_OBJECT_GROUP ||
	    w2s_h5_dataset_info(&f, "/target", &t) != W2S_STATUS_OK || t.rank != 1) {
		snprintf(why, size, "'%s' is not a w2s data file (it needs /views, /target and "
				    "/splits; `w2s import` writes one)",
			 path);
		goto out;
	}
	const int64_t n = t.dims[0];
	info->regression = t.type[0] == 'f';
	int64_t classes = 0;
	if (w2s_h5_attr_read_int64(&f, "/", "classes", &classes) != W2S_STATUS_OK || classes < 1 ||
	    classes > 1000 || (!info->regression && classes < 2)) {
		snprintf(why, size, "'%s' lacks a valid 'classes' attribute", path);
		goto out;
	}
	info->classes = info->regression ? 1 : (int)classes;
	if (w2s_h5_members(&f, "/views", &names, &nnames) != W2S_STATUS_OK || nnames < 1 ||
	    nnames > W2S_MAX_VIEWS) {
		snprintf(why, size, "'%s' has %d views under /views; expected 1 to %d", path, nnames,
			 W2S_MAX_VIEWS);
		goto out;
	}
	for (int v = 0; v < nnames; v++) {
		char p[W2S_NAME_MAX + 16];
		int64_t rows = 0, cols = 0;
		snprintf(p, sizeof p, "/views/%s", names[v]);
		if (strlen(names[v]) >= W2S_NAME_MAX ||
		    w2s_h5_shape(&f, p, &rows, &cols) != W2S_STATUS_OK || rows != n || cols < 1) {
			snprintf(why, size, "'%s': view '%s' is not (%lld, D) like /target", path,
				 names[v], (long long)n);
			goto out;
		}
		snprintf(info->views[v].name, W2S_NAME_MAX, "%s", names[v]);
		info->views[v].width = cols;
	}
	info->nviews = nnames;
	/* Every split a contiguous range, in the standard order: the first and
	 * last index of each tell. */
	int64_t begin = 0;
	for (int k = 0; k < W2S_NSPLITS; k++) {
		char p[64];
		snprintf(p, sizeof p, "/splits/%s", w2s_split_name((enum w2s_split)k));
		int64_t rows = 0, cols = 0, ends[2] = {0, 0};
		if (w2s_h5_object_at(&f, p) == W2S_H5_OBJECT_NONE && k == W2S_SPLIT_POOL)
			break;
		if (w2s_h5_shape(&f, p, &rows, &cols) != W2S_STATUS_OK || cols != 0 ||
		    (rows > 0 && (w2s_h5_read_rows(&f, p, W2S_H5_I64, 0, 0, 1, &ends[0]) != W2S_STATUS_OK ||
				  w2s_h5_read_rows(&f, p, W2S_H5_I64, 0, rows - 1, 1, &ends[1]) != W2S_STATUS_OK)) ||
		    (rows > 0 && (ends[0] != begin || ends[1] != begin + rows - 1))) {
			snprintf(why, size, "'%s': %s is not rows %lld.. in order (splits are stored "
					    "one after another, as `w2s import` writes them)",
				 path, p, (long long)begin);
			goto out;
		}
		info->rows[k] = rows;
		begin += rows;
	}
	if (begin > n) {
		snprintf(why, size, "'%s': the splits hold %lld rows, /target %lld", path,
			 (long long)begin, (long long)n);
		goto out;
	}
	st = W2S_STATUS_OK;
out:
	w2s_h5_strings_free(&names, &nnames);
	w2s_h5_close(&f);
	w2s_log_flush_local(0); /* h5io's own message: why says it once */
	return st;
}

/* ---- the command */

static const char import_help[] =
	"usage: w2s import [SPEC.yaml] [--view NAME=SOURCE ...] [--labels SOURCE]\n"
	"                  [--split NAME=SOURCE|FRACTION ...] [--seed N]\n"
	"                  [--target class|regression] [--classes K] [--out DIR] [--force]\n"
	"\n"
	"Turns your arrays into DIR/data.h5, which `w2s run` uses with\n"
	"  data: {task: import, import: {path: DIR/data.h5}}\n"
	"and models that name the imported views.  Rows are reordered so that each split\n"
	"is contiguous (weak_train, transfer, val, test, pool); /source_row holds the row\n"
	"of your arrays each came from.\n"
	"\n"
	"SOURCE: NAME.npy (little-endian, C order; features 2-D float32, float64 or\n"
	"float16, converted to float32), NAME.csv (numbers; a header line is skipped) or\n"
	"FILE.h5:/DATASET; split indices also as a text list of integers.  Relative\n"
	"paths in SPEC are taken from SPEC's folder.\n"
	"\n"
	"SPEC (YAML):\n"
	"  views: {small: small.npy, large: emb.h5:/large}   # the names models use\n"
	"  labels: labels.npy          # class ids 0..K-1, or real values\n"
	"  target: class               # or regression\n"
	"  classes: 2                  # default: the largest label + 1\n"
	"  splits: {weak_train: wt.npy, transfer: tr.npy, val: va.txt, test: te.npy}\n"
	"  # or:   {weak_train: 0.2, transfer: 0.4, val: 0.1, test: 0.3, seed: 1}\n"
	"\n"
	"options (added to SPEC, or in its place):\n"
	"  --view NAME=SOURCE     a view; repeatable\n"
	"  --labels SOURCE        the labels\n"
	"  --split NAME=SOURCE    a split's row indices, or NAME=FRACTION of the rows\n"
	"  --seed N               seed of the permutation that fractions cut (default 0)\n"
	"  --target, --classes    as in SPEC\n"
	"  --out DIR              output folder (default: w2s-import)\n"
	"  --force                replace DIR/data.h5\n"
	"\n"
	"Sizes and values are checked: every view has one row per label; labels are\n"
	"class ids in [0, classes) (or finite reals); features are finite; split indices\n"
	"are in range and in one split at most; fractions add up to at most 1.\n";

int w2s_import_main(const struct w2s_comm *c, int argc, char **argv)
{
	struct w2s_import_spec *s = w2s_xcalloc(1, sizeof *s);
	const char *spec = NULL, *out = "w2s-import";
	bool force = false;
	enum w2s_status st = W2S_STATUS_OK;
	/* The spec first, then the options in order, whatever their places. */
	for (int i = 1; i < argc && st == W2S_STATUS_OK; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			if (c->rank == 0)
				fputs(import_help, stdout);
			free(s);
			return 0;
		}
		if (argv[i][0] != '-') {
			if (spec != NULL) {
				w2s_log_error("w2s import takes one spec file; found '%s' after '%s'",
					      argv[i], spec);
				st = W2S_STATUS_USAGE;
			}
			spec = argv[i];
		} else if (strcmp(argv[i], "--force") && strcmp(argv[i], "--quiet") &&
			   strcmp(argv[i], "-q")) {
			i++; /* an option's value */
		}
	}
	if (st == W2S_STATUS_OK && spec != NULL)
		st = w2s_import_spec_load(s, spec);
	static const char *const opts[][2] = {{"--view", "view"}, {"--labels", "labels"},
					      {"--split", "split"}, {"--seed", "seed"},
					      {"--target", "target"}, {"--classes", "classes"}};
	for (int i = 1; i < argc && st == W2S_STATUS_OK; i++) {
		const char *a = argv[i];
		if (a[0] != '-')
			continue;
		if (!strcmp(a, "--force")) {
			force = true;
			continue;
		}
		if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
			w2s_log_init(c->rank, W2S_LOG_WARN);
			continue;
		}
		if (i + 1 >= argc) {
			w2s_log_error("%s needs a value (see w2s import --help)", a);
			st = W2S_STATUS_USAGE;
			break;
		}
		const char *value = argv[++i];
		if (!strcmp(a, "--out")) {
			out = value;
			continue;
		}
		size_t k = 0;
		while (k < sizeof opts / sizeof opts[0] && strcmp(a, opts[k][0]))
			k++;
		if (k == sizeof opts / sizeof opts[0]) {
			w2s_log_error("unknown option '%s' for w2s import (see w2s import --help)", a);
			st = W2S_STATUS_USAGE;
		} else {
			st = w2s_import_spec_set(s, opts[k][1], value);
		}
	}
	/* What is still missing, said the way the spec would give it. */
	if (st == W2S_STATUS_OK && s->nviews == 0) {
		w2s_log_error("no views: give them in SPEC (views: {NAME: SOURCE}) or with --view "
			      "NAME=SOURCE");
		st = W2S_STATUS_USAGE;
	} else if (st == W2S_STATUS_OK && s->labels[0] == '\0') {
		w2s_log_error("no labels: give them in SPEC (labels: SOURCE) or with --labels SOURCE");
		st = W2S_STATUS_USAGE;
	} else if (st == W2S_STATUS_OK && s->splits == W2S_IMPORT_SPLITS_NONE) {
		w2s_log_error("no splits: give index files or fractions in SPEC (splits: "
			      "{weak_train: ..., transfer: ..., val: ..., test: ...}) or with --split");
		st = W2S_STATUS_USAGE;
	}
	char path[W2S_PATH_MAX];
	int bad = 0;
	if (st == W2S_STATUS_OK && snprintf(path, sizeof path, "%s/data.h5", out) >= (int)sizeof path) {
		w2s_log_error("--out '%s': path too long", out);
		st = W2S_STATUS_USAGE;
	}
	if (st == W2S_STATUS_OK) {
		if (c->rank == 0 && w2s_mkdir_p(out) != 0) {
			w2s_log_error_local("cannot create output folder '%s': %s", out, strerror(errno));
			bad = W2S_STATUS_IO;
		} else if (c->rank == 0 && !force && access(path, F_OK) == 0) {
			w2s_log_error_local("'%s' already exists; pass --force to replace it, or "
					    "choose another --out",
					    path);
			bad = W2S_STATUS_EXISTS;
		}
		st = agree(c, (enum w2s_status)bad);
	}
	if (st == W2S_STATUS_OK) {
		char libs[512];
		snprintf(libs, sizeof libs, "%s; HDF5 %s", w2s_comm_library_version(),
			 w2s_h5_library_version());
		char *json = w2s_import_spec_json(s);
		struct w2s_provenance prov = {
			.config_json = json,
			.version = PACKAGE_VERSION,
			.git_rev = W2S_GIT_REV,
			.libraries = libs,
			.blis_arch = w2s_blas_arch(),
			.world_size = -1,
		};
		st = w2s_import_write(c, s, path, &prov);
		free(json);
	}
	if (st == W2S_STATUS_OK)
		w2s_log_info("wrote %s; run on it with data: {task: import, import: {path: %s}}", path,
			     path);
	free(s);
	w2s_log_flush_local(1);
	return w2s_status_exit_code(st);
}

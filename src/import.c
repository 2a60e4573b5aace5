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

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buildconf.h"
#include "w2s/blas.h"
#include "w2s/h5io_inspect.h"
#include "w2s/log.h"
#include "w2s/rng.h"

/* The stream of the split permutation: rng.h's scheme (purpose in the top 8
 * bits), a purpose no other module draws from. */
#define IMPORT_STREAM_SPLITS (0x49u << 24)

/* ---- sources */

enum source_kind { SRC_NPY, SRC_CSV, SRC_H5, SRC_TEXT };

/* How src is read; for SRC_H5, file and dataset are split at the last
 * ":/" whose left side is a file. */
static enum source_kind source_kind(const char *src, char *file, char *dset)
{
	for (const char *p = strstr(src, ":/"); p != NULL; p = strstr(p + 1, ":/")) {
		snprintf(file, W2S_PATH_MAX, "%.*s", (int)(p - src), src);
		struct stat sb;
		if (stat(file, &sb) == 0 && S_ISREG(sb.st_mode)) {
			snprintf(dset, W2S_PATH_MAX, "%s", p + 1);
			return SRC_H5;
		}
	}
	snprintf(file, W2S_PATH_MAX, "%s", src);
	size_t n = strlen(src);
	if (n >= 4 && !strcmp(src + n - 4, ".npy"))
		return SRC_NPY;
	if (n >= 4 && !strcmp(src + n - 4, ".csv"))
		return SRC_CSV;
	return SRC_TEXT;
}

/* A whole file into memory (a NUL after it); NULL after a message. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		w2s_log_error_local("cannot read '%s': %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, n = 0, got;
	char *buf = w2s_xmalloc(cap + 1);
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			char *bigger = realloc(buf, cap + 1);
			if (bigger == NULL) {
				free(buf);
				fclose(f);
				w2s_log_error_local("not enough memory to read '%s'", path);
				return NULL;
			}
			buf = bigger;
		}
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		w2s_log_error_local("cannot read '%s'", path);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* A numeric array of any element type, as read; rows x cols elements
 * (cols 0 for 1-D). */
struct raw {
	char kind;  /* 'f' float, 'i' signed, 'u' unsigned integer */
	int size;   /* bytes per element */
	int64_t rows, cols;
	unsigned char *data; /* owned */
};

/* Element i as a double.  The sources are little-endian (checked), and so
 * is every host w2s runs on. */
static double raw_get(const struct raw *r, int64_t i)
{
	const unsigned char *p = r->data + (size_t)i * (size_t)r->size;
	if (r->kind == 'f' && r->size == 2) {
		uint16_t h;
		memcpy(&h, p, 2);
		int e = (h >> 10) & 31, m = h & 1023;
		double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY)
							    : ldexp(m + 1024, e - 25);
		return (h & 0x8000) ? -v : v;
	}
	if (r->kind == 'f' && r->size == 4) {
		float v;
		memcpy(&v, p, 4);
		return v;
	}
	if (r->kind == 'f') {
		double v;
		memcpy(&v, p, 8);
		return v;
	}
	int64_t s = 0;
	uint64_t u = 0;
	switch (r->size) {
	case 1: s = (int8_t)p[0]; u = p[0]; break;
	case 2: { int16_t a; uint16_t b; memcpy(&a, p, 2); memcpy(&b, p, 2); s = a; u = b; } break;
	case 4: { int32_t a; uint32_t b; memcpy(&a, p, 4); memcpy(&b, p, 4); s = a; u = b; } break;
	default: memcpy(&s, p, 8); memcpy(&u, p, 8); break;
	}
	return r->kind == 'i' ? (double)s : (double)u;
}

/* Reads a .npy file: version 1 to 3, little-endian or single-byte
 * elements, C order, 1-D or 2-D. */
static enum w2s_status read_npy(const char *path, struct raw *r)
{
	size_t len = 0;
	unsigned char *buf = (unsigned char *)slurp(path, &len);
	if (buf == NULL)
		return W2S_STATUS_IO;
	enum w2s_status st = W2S_STATUS_CONFIG;
	size_t hlen = 0, start = 0;
	if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
		w2s_log_error_local("'%s' is not a NumPy .npy file (it lacks the \\x93NUMPY magic)", path);
		goto out;
	}
	if (buf[6] == 1) {
		hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
		start = 10;
	} else if ((buf[6] == 2 || buf[6] == 3) && len >= 12) {
		hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
		       (size_t)buf[11] << 24;
		start = 12;
	} else {
		w2s_log_error_local("'%s': .npy format version %d is not one w2s reads (1 to 3)", path,
				    buf[6]);
		goto out;
	}
	if (start + hlen > len) {
		w2s_log_error_local("'%s' is truncated inside its .npy header", path);
		goto out;
	}
	char header[1024];
	snprintf(header, sizeof header, "%.*s", (int)(hlen < 1023 ? hlen : 1023), buf + start);
	const char *d = strstr(header, "'descr'"), *fo = strstr(header, "'fortran_order'"),
		   *sh = strstr(header, "'shape'");
	char descr[16] = "";
	if (d == NULL || fo == NULL || sh == NULL || sscanf(d, "'descr' : '%15[^']'", descr) != 1) {
		w2s_log_error_local("'%s': cannot read its .npy header: %s", path, header);
		goto out;
	}
	const char *fv = fo + strlen("'fortran_order'");
	fv += strspn(fv, " :");
	if (strncmp(fv, "True", 4) == 0) {
		w2s_log_error_local("'%s' is in Fortran order; save np.ascontiguousarray(a) instead",
				    path);
		goto out;
	}
	char order = descr[0], kind = descr[1];
	int size = atoi(descr + 2);
	if (order == '>' && size > 1) {
		w2s_log_error_local("'%s' is big-endian ('%s'); save a.astype('<%c%d') instead", path,
				    descr, kind, size);
		goto out;
	}
	if (!((kind == 'f' && (size == 2 || size == 4 || size == 8)) ||
	      ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)))) {
		w2s_log_error_local("'%s' holds '%s'; w2s reads numbers: float (<f2, <f4, <f8) or "
				    "integer (<i1 to <i8, <u1 to <u8)",
				    path, descr);
		goto out;
	}
	const char *open = strchr(sh, '('), *close = open ? strchr(open, ')') : NULL;
	long long dims[3] = {0, 0, 0};
	int ndim = 0;
	for (const char *p = open ? open + 1 : NULL; p != NULL && p < close && ndim < 3;) {
		while (p < close && (*p == ' ' || *p == ','))
			p++;
		if (p >= close)
			break;
		char *end;
		dims[ndim++] = strtoll(p, &end, 10);
		if (end == p)
			break;
		p = end;
	}
	if (close == NULL || ndim < 1 || ndim > 2 || dims[0] < 0 || dims[1] < 0) {
		w2s_log_error_local("'%s' has shape %.*s; w2s reads 1-D and 2-D arrays", path,
				    close && open ? (int)(close - open + 1) : 2, open ? open : "()");
		goto out;
	}
	size_t cells, bytes;
	if (w2s_mul_size((size_t)dims[0], ndim == 2 ? (size_t)dims[1] : 1, &cells) != 0 ||
	    w2s_mul_size(cells, (size_t)size, &bytes) != 0 || start + hlen + bytes > len) {
		w2s_log_error_local("'%s' is truncated: its header promises %lld x %lld elements of "
				    "%d bytes after %zu bytes of header, the file has %zu bytes",
				    path, dims[0], ndim == 2 ? dims[1] : 1LL, size, start + hlen, len);
		goto out;
	}
	r->kind = kind;
	r->size = size;
	r->rows = dims[0];
	r->cols = ndim == 2 ? dims[1] : 0;
	r->data = w2s_xmalloc(bytes + 1);
	memcpy(r->data, buf + start + hlen, bytes);
	st = W2S_STATUS_OK;
out:
	free(buf);
	return st;
}

/* Reads a .csv file of numbers into doubles (kind 'f', size 8).  A first
 * line with a field that is not a number is a header. */
static enum w2s_status read_csv(const char *path, struct raw *r)
{
	size_t len = 0;
	char *text = slurp(path, &len);
	if (text == NULL)
		return W2S_STATUS_IO;
	size_t cap = 1024, n = 0;
	double *v = w2s_xmalloc(cap * sizeof *v);
	int64_t rows = 0, cols = -1;
	int line = 0;
	enum w2s_status st = W2S_STATUS_OK;
	for (char *p = text, *next; *p != '\0' && st == W2S_STATUS_OK; p = next) {
		line++;
		next = p + strcspn(p, "\n");
		if (*next == '\n')
			*next++ = '\0';
		size_t l = strlen(p);
		if (l > 0 && p[l - 1] == '\r')
			p[--l] = '\0';
		if (strspn(p, " \t") == l)
			continue;
		int64_t k = 0;
		bool header = false;
		size_t row_start = n;
		for (char *f = p;; k++) {
			char *end;
			double d = strtod(f, &end);
			char *after = end + strspn(end, " \t");
			if (end == f || (*after != ',' && *after != '\0')) {
				if (rows == 0 && cols < 0) {
					header = true;
					break;
				}
				w2s_log_error_local("%s:%d: field %lld is not a number", path, line,
						    (long long)k + 1);
				st = W2S_STATUS_CONFIG;
				break;
			}
			if (n == cap) {
				cap *= 2;
				double *bigger = realloc(v, cap * sizeof *v);
				W2S_CHECK(bigger != NULL);
				v = bigger;
			}
			v[n++] = d;
			if (*after == '\0') {
				k++;
				break;
			}
			f = after + 1;
		}
		if (st != W2S_STATUS_OK)
			break;
		if (header) {
			cols = 0; /* header seen; no more headers */
			n = row_start;
			continue;
		}
		if (cols > 0 && k != cols) {
			w2s_log_error_local("%s:%d: %lld columns, but the rows above have %lld", path, line,
					    (long long)k, (long long)cols);
			st = W2S_STATUS_CONFIG;
			break;
		}
		cols = k;
		rows++;
	}
	free(text);
	if (st == W2S_STATUS_OK && rows == 0) {
		w2s_log_error_local("'%s' holds no rows of numbers", path);
		st = W2S_STATUS_CONFIG;
	}
	if (st != W2S_STATUS_OK) {
		free(v);
		return st;
	}
	r->kind = 'f';
	r->size = 8;
	r->rows = rows;
	r->cols = cols;
	r->data = (unsigned char *)v;
	return W2S_STATUS_OK;
}

/* Reads a dataset of an HDF5 file, converted to doubles by HDF5 for 1-D
 * data, to float32 for 2-D (features). */
static enum w2s_status read_h5(const char *file, const char *dset, struct raw *r)
{
	struct w2s_h5 f = {.file = -1};
	struct w2s_h5_dataset_info info;
	enum w2s_status st = w2s_h5_open_read(&f, file);
	if (st == W2S_STATUS_OK && w2s_h5_object_at(&f, dset) != W2S_H5_OBJECT_DATASET) {
		w2s_log_error_local("'%s' has no dataset '%s'", file, dset);
		st = W2S_STATUS_CONFIG;
	}
	if (st == W2S_STATUS_OK)
		st = w2s_h5_dataset_info(&f, dset, &info);
	if (st == W2S_STATUS_OK &&
	    ((strncmp(info.type, "float", 5) && strncmp(info.type, "int", 3) &&
	      strncmp(info.type, "uint", 4)) || info.rank < 1 || info.rank > 2)) {
		w2s_log_error_local("'%s:%s' is %s of rank %d; w2s reads 1-D and 2-D numbers", file,
				    dset, info.type, info.rank);
		st = W2S_STATUS_CONFIG;
	}
	if (st == W2S_STATUS_OK) {
		r->rows = info.dims[0];
		r->cols = info.rank == 2 ? info.dims[1] : 0;
		size_t cells;
		if (w2s_mul_size((size_t)r->rows, r->cols ? (size_t)r->cols : 1, &cells) != 0 ||
		    cells > SIZE_MAX / 8) {
			w2s_log_error_local("'%s:%s' is too large", file, dset);
			st = W2S_STATUS_NOMEM;
		} else if (info.rank == 2) {
			r->kind = 'f';
			r->size = 4;
			r->data = w2s_xmalloc(cells * 4 + 1);
			st = w2s_h5_read_floats(&f, dset, (float *)r->data);
		} else {
			r->kind = 'f';
			r->size = 8;
			r->data = w2s_xmalloc(cells * 8 + 1);
			st = w2s_h5_read_doubles(&f, dset, 0, r->rows, (double *)r->data);
			/* Integer indices beyond 2^53 would not survive doubles. */
			if (st == W2S_STATUS_OK && info.type[0] != 'f') {
				r->kind = 'i';
				for (int64_t i = 0; i < r->rows; i++) {
					int64_t v = (int64_t)((double *)r->data)[i];
					memcpy(r->data + 8 * i, &v, 8);
				}
			}
		}
	}
	w2s_h5_close(&f);
	return st;
}

/* A text list of integers (split indices): whitespace-separated, '#' to
 * the end of the line is a comment. */
static enum w2s_status read_text_list(const char *path, struct raw *r)
{
	size_t len = 0;
	char *text = slurp(path, &len);
	if (text == NULL)
		return W2S_STATUS_IO;
	size_t cap = 1024, n = 0;
	int64_t *v = w2s_xmalloc(cap * sizeof *v);
	int line = 1;
	enum w2s_status st = W2S_STATUS_OK;
	for (char *p = text; *p != '\0';) {
		if (*p == '#') {
			p += strcspn(p, "\n");
			continue;
		}
		if (*p == '\n' || *p == ' ' || *p == '\t' || *p == '\r' || *p == ',') {
			line += *p == '\n';
			p++;
			continue;
		}
		char *end;
		errno = 0;
		long long x = strtoll(p, &end, 10);
		if (end == p || errno == ERANGE || (*end != '\0' && !strchr(" \t\r\n,#", *end))) {
			w2s_log_error_local("%s:%d: expected row indices (integers), found '%.*s'", path,
					    line, (int)strcspn(p, " \t\r\n,"), p);
			st = W2S_STATUS_CONFIG;
			break;
		}
		if (n == cap) {
			cap *= 2;
			int64_t *bigger = realloc(v, cap * sizeof *v);
			W2S_CHECK(bigger != NULL);
			v = bigger;
		}
		v[n++] = x;
		p = end;
	}
	free(text);
	if (st != W2S_STATUS_OK) {
		free(v);
		return st;
	}
	r->kind = 'i';
	r->size = 8;
	r->rows = (int64_t)n;
	r->cols = 0;
	r->data = (unsigned char *)v;
	return W2S_STATUS_OK;
}

/* Reads any source; text lists only where allowed (split indices). */
static enum w2s_status read_source(const char *src, bool text_ok, struct raw *r)
{
	char file[W2S_PATH_MAX], dset[W2S_PATH_MAX];
	memset(r, 0, sizeof *r);
	switch (source_kind(src, file, dset)) {
	case SRC_NPY:
		return read_npy(file, r);
	case SRC_CSV:
		return read_csv(file, r);
	case SRC_H5:
		return read_h5(file, dset, r);
	case SRC_TEXT:
		break;
	}
	size_t n = strlen(src);
	if (!text_ok || (n > 3 && !strcmp(src + n - 3, ".h5")) ||
	    (n > 5 && !strcmp(src + n - 5, ".hdf5"))) {
		if (access(src, R_OK) != 0)
			w2s_log_error_local("cannot read '%s': %s", src, strerror(errno));
		else if (strstr(src, ".h5") || strstr(src, ".hdf5"))
			w2s_log_error_local("'%s': name the dataset too, as FILE.h5:/DATASET", src);
		else
			w2s_log_error_local("'%s': expected a .npy, a .csv or FILE.h5:/DATASET%s", src,
					    text_ok ? ", or a text list of row indices" : "");
		return access(src, R_OK) != 0 ? W2S_STATUS_IO : W2S_STATUS_CONFIG;
	}
	return read_text_list(src, r);
}

static void raw_free(struct raw *r)
{
	free(r->data);
	r->data = NULL;
}

/* ---- checks and the row order */

/* The labels: class ids in [0, classes) (classes 0: the largest + 1), or
 * real values.  Fills target (n) or value (n). */
static enum w2s_status read_labels(const struct w2s_import_spec *s, int64_t *n, int *classes,
				   int32_t **target, float **value)
{
	struct raw r;
	enum w2s_status st = read_source(s->labels, false, &r);
	if (st != W2S_STATUS_OK)
		return st;
	if (r.cols > 1) {
		w2s_log_error_local("labels '%s': %lld x %lld; expected one label per row (1-D, or "
				    "one column)",
				    s->labels, (long long)r.rows, (long long)r.cols);
		raw_free(&r);
		return W2S_STATUS_CONFIG;
	}
	*n = r.rows;
	const bool regression = s->target == W2S_TARGET_REGRESSION;
	*target = regression ? NULL : w2s_xmalloc((size_t)r.rows * sizeof **target + 1);
	*value = regression ? w2s_xmalloc((size_t)r.rows * sizeof **value + 1) : NULL;
	double top = 0;
	for (int64_t i = 0; i < r.rows && st == W2S_STATUS_OK; i++) {
		double y = raw_get(&r, i);
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
	raw_free(&r);
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
			st = read_source(src, true, &r);
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
				double d = raw_get(&r, i);
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
			raw_free(&r);
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
	enum w2s_status st = read_source(src, false, &r);
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
			double d = raw_get(&r, order[i] * D + j);
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
	raw_free(&r);
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
	char tmp[W2S_PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	st = w2s_h5_create(&f, c, tmp);
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
	enum w2s_status closed = agree(c, w2s_h5_close(&f));
	if (st == W2S_STATUS_OK)
		st = closed;
	if (st == W2S_STATUS_OK && root && rename(tmp, path) != 0) {
		w2s_log_error_local("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		st = W2S_STATUS_IO;
	}
	st = agree(c, st);
	if (st != W2S_STATUS_OK && root)
		remove(tmp);
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

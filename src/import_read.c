/*
 * import_read.c: the sources `w2s import` reads, part of the import
 * command: NumPy .npy (its header is one Python dict literal of three keys,
 * parsed here rather than through a library), CSV, HDF5 datasets and text
 * lists of row numbers, each into a struct raw.
 */
#include "import_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "w2s/h5io_inspect.h"
#include "w2s/import.h"
#include "w2s/log.h"

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


/* Element i as a double.  The sources are little-endian (checked), and so
 * is every host w2s runs on. */
double imp_raw_get(const struct raw *r, int64_t i)
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
enum w2s_status imp_read_source(const char *src, bool text_ok, struct raw *r)
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

void imp_raw_free(struct raw *r)
{
	free(r->data);
	r->data = NULL;
}


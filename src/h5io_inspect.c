/*
 * h5io_inspect.c: the read-anything side of the h5io module; see
 * h5io_inspect.h.  Serial, read-only, and careful with files that are not
 * what they claim: every HDF5 call is checked, and a failure becomes one
 * line with HDF5's innermost reason.
 *
 * Uses only HDF5 calls whose signature is the same in 1.10 and 1.12
 * (H5Lvisit with H5L_info_t, H5Oopen + H5Iget_type), so that the
 * release Debian ships next builds it unchanged.
 */
#include "w2s/h5io_inspect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5_hl.h>

#include "w2s/log.h"

/* The innermost description on HDF5's error stack: the most specific. */
static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data)
{
	char *out = data;
	(void)n;
	if (e->desc && e->desc[0])
		snprintf(out, 256, "%s", e->desc);
	return 0;
}

static void why(char out[256])
{
	out[0] = '\0';
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, innermost, out);
	H5Eclear2(H5E_DEFAULT);
}

static void fail_read(const struct w2s_h5 *f, const char *obj)
{
	char reason[256];
	why(reason);
	w2s_log_error_local("cannot read '%s', %s%s%s (the file may be truncated or damaged)",
			    f->path, obj, reason[0] ? ": " : "", reason);
}

enum w2s_status w2s_h5_open_read(struct w2s_h5 *f, const char *path)
{
	snprintf(f->path, sizeof f->path, "%s", path);
	f->file = H5I_INVALID_HID;
	struct stat sb;
	if (stat(path, &sb) != 0) {
		w2s_log_error_local("cannot open '%s': %s", path, strerror(errno));
		return W2S_STATUS_IO;
	}
	if (S_ISDIR(sb.st_mode)) {
		w2s_log_error_local("'%s' is a folder; expected an HDF5 file such as %s/run.h5",
				    path, path);
		return W2S_STATUS_IO;
	}
	FILE *probe = fopen(path, "rb");
	if (!probe) {
		w2s_log_error_local("cannot open '%s': %s", path, strerror(errno));
		return W2S_STATUS_IO;
	}
	fclose(probe);
	if (sb.st_size == 0) {
		w2s_log_error_local("'%s' is empty, not an HDF5 file", path);
		return W2S_STATUS_IO;
	}
	if (H5Fis_hdf5(path) <= 0) {
		H5Eclear2(H5E_DEFAULT);
		w2s_log_error_local("'%s' is not an HDF5 file (it lacks the HDF5 signature, which a "
				    "file still being written in parallel gets only when it is closed)",
				    path);
		return W2S_STATUS_IO;
	}
	f->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	char reason[256] = "";
	if (f->file < 0) {
		why(reason);
		/* A metrics.h5 being written (or left so by a crash) opens only
		 * as a SWMR reader. */
		f->file = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
		H5Eclear2(H5E_DEFAULT);
	}
	if (f->file >= 0)
		return W2S_STATUS_OK;
	long long eof = 0, want = 0;
	const char *stored = strstr(reason, "stored_eof = ");
	if (strstr(reason, "truncated") && stored && sscanf(stored, "stored_eof = %lld", &want) == 1 &&
	    sscanf(strstr(reason, "eof = "), "eof = %lld", &eof) == 1)
		w2s_log_error_local("'%s' is truncated: %lld bytes of the %lld its superblock "
				    "records (a copy or a write that did not finish?)",
				    path, eof, want);
	else if (strstr(reason, "truncated"))
		w2s_log_error_local("'%s' is truncated (%s)", path, reason);
	else if (strstr(reason, "already open for write") || strstr(reason, "lock"))
		w2s_log_error_local("'%s' is open for writing, or was left so by a crash "
				    "(h5clear -s '%s' clears the flag): %s",
				    path, path, reason);
	else
		w2s_log_error_local("'%s' is damaged, not a readable HDF5 file%s%s", path,
				    reason[0] ? ": " : "", reason);
	return W2S_STATUS_IO;
}

enum w2s_h5_object w2s_h5_object_at(struct w2s_h5 *f, const char *path)
{
	if (strcmp(path, "/") != 0) {
		/* Each link on the way must exist, or H5Lexists fails. */
		char buf[1024];
		snprintf(buf, sizeof buf, "%s", path);
		for (char *p = strchr(buf + 1, '/');; p = strchr(p + 1, '/')) {
			if (p)
				*p = '\0';
			htri_t there = H5Lexists(f->file, buf, H5P_DEFAULT);
			if (there <= 0) {
				H5Eclear2(H5E_DEFAULT);
				return W2S_H5_OBJECT_NONE;
			}
			if (!p)
				break;
			*p = '/';
		}
	}
	hid_t o = H5Oopen(f->file, path, H5P_DEFAULT);
	if (o < 0) {
		H5Eclear2(H5E_DEFAULT);
		return W2S_H5_OBJECT_OTHER;
	}
	H5I_type_t t = H5Iget_type(o);
	H5Oclose(o);
	return t == H5I_GROUP ? W2S_H5_OBJECT_GROUP
	       : t == H5I_DATASET ? W2S_H5_OBJECT_DATASET
				  : W2S_H5_OBJECT_OTHER;
}

/* ---- listing */

struct strings {
	char **v;
	int n, cap;
	const char *prefix; /* prepended to each name; NULL: names as given */
};

static void push(struct strings *s, const char *name)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 32;
		char **v = realloc(s->v, (size_t)s->cap * sizeof *v);
		W2S_CHECK(v != NULL);
		s->v = v;
	}
	if (!s->prefix) {
		s->v[s->n++] = w2s_xstrdup(name);
		return;
	}
	size_t len = strlen(s->prefix) + strlen(name) + 2;
	char *p = w2s_xmalloc(len);
	snprintf(p, len, "%s/%s", strcmp(s->prefix, "/") ? s->prefix : "", name);
	s->v[s->n++] = p;
}

static herr_t on_link(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
	(void)g;
	(void)info;
	push(data, name);
	return 0;
}

static enum w2s_status list(struct w2s_h5 *f, const char *path, bool recursive, char ***out,
			    int *n)
{
	*out = NULL;
	*n = 0;
	struct strings s = {.prefix = recursive ? path : NULL};
	hid_t g = H5Gopen2(f->file, path, H5P_DEFAULT);
	herr_t rc = -1;
	if (g >= 0) {
		rc = recursive ? H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, on_link, &s)
			       : H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, on_link, &s);
		H5Gclose(g);
	}
	if (rc < 0) {
		char what[1100];
		snprintf(what, sizeof what, "group '%s'", path);
		fail_read(f, what);
		w2s_h5_strings_free(&s.v, &s.n);
		return W2S_STATUS_IO;
	}
	*out = s.v;
	*n = s.n;
	return W2S_STATUS_OK;
}

enum w2s_status w2s_h5_walk(struct w2s_h5 *f, const char *path, char ***paths, int *n)
{
	return list(f, path, true, paths, n);
}

enum w2s_status w2s_h5_members(struct w2s_h5 *f, const char *path, char ***names, int *n)
{
	return list(f, path, false, names, n);
}

void w2s_h5_strings_free(char ***strings, int *n)
{
	if (!*strings)
		return;
	for (int i = 0; i < *n; i++)
		free((*strings)[i]);
	free(*strings);
	*strings = NULL;
	*n = 0;
}

/* ---- datasets */

/* "float32", "int64", "string", ... for a datatype. */
static void type_name(hid_t t, char *out, size_t size)
{
	size_t bytes = H5Tget_size(t);
	switch (H5Tget_class(t)) {
	case H5T_FLOAT: snprintf(out, size, "float%zu", 8 * bytes); break;
	case H5T_INTEGER:
		snprintf(out, size, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "",
			 8 * bytes);
		break;
	case H5T_STRING: snprintf(out, size, "string"); break;
	case H5T_COMPOUND: snprintf(out, size, "compound"); break;
	case H5T_ENUM: snprintf(out, size, "enum"); break;
	case H5T_REFERENCE: snprintf(out, size, "reference"); break;
	case H5T_ARRAY: snprintf(out, size, "array"); break;
	case H5T_VLEN: snprintf(out, size, "vlen"); break;
	default: snprintf(out, size, "other"); break;
	}
}

enum w2s_status w2s_h5_dataset_info(struct w2s_h5 *f, const char *path,
				    struct w2s_h5_dataset_info *info)
{
	memset(info, 0, sizeof *info);
	hid_t d = H5Dopen2(f->file, path, H5P_DEFAULT);
	hid_t space = d >= 0 ? H5Dget_space(d) : -1;
	hid_t type = d >= 0 ? H5Dget_type(d) : -1;
	int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
	enum w2s_status st = W2S_STATUS_OK;
	if (rank < 0 || rank > W2S_H5_MAX_RANK || type < 0) {
		char what[1100];
		snprintf(what, sizeof what, "dataset '%s'", path);
		fail_read(f, what);
		st = W2S_STATUS_IO;
	} else {
		hsize_t dims[W2S_H5_MAX_RANK], maxdims[W2S_H5_MAX_RANK];
		H5Sget_simple_extent_dims(space, dims, maxdims);
		info->rank = rank;
		for (int k = 0; k < rank; k++) {
			info->dims[k] = (int64_t)dims[k];
			info->extendible |= maxdims[k] == H5S_UNLIMITED;
		}
		type_name(type, info->type, sizeof info->type);
		if (H5Tget_class(type) == H5T_COMPOUND)
			info->members = H5Tget_nmembers(type);
		info->scale = H5DSis_scale(d) > 0;
		H5Eclear2(H5E_DEFAULT);
	}
	if (type >= 0)
		H5Tclose(type);
	if (space >= 0)
		H5Sclose(space);
	if (d >= 0)
		H5Dclose(d);
	return st;
}

/* ---- values */

static void value_free(struct w2s_h5_value *v)
{
	free(v->s);
	memset(v, 0, sizeof *v);
}

/* Reads the scalar attribute `a` of file type `ftype` into v: strings,
 * integers and floats; anything else stays OTHER.  Returns -1 on a failed
 * read. */
static int read_scalar(hid_t a, hid_t ftype, struct w2s_h5_value *v)
{
	memset(v, 0, sizeof *v);
	switch (H5Tget_class(ftype)) {
	case H5T_INTEGER: {
		int64_t x;
		if (H5Aread(a, H5T_NATIVE_INT64, &x) < 0)
			return -1;
		v->type = W2S_H5_VALUE_INT;
		v->i = x;
		v->d = (double)x;
		return 0;
	}
	case H5T_FLOAT: {
		double x;
		if (H5Aread(a, H5T_NATIVE_DOUBLE, &x) < 0)
			return -1;
		v->type = W2S_H5_VALUE_FLOAT;
		v->d = x;
		return 0;
	}
	case H5T_STRING: {
		hid_t m = H5Tcopy(ftype);
		int rc = -1;
		if (H5Tis_variable_str(ftype) > 0) {
			char *s = NULL;
			if (H5Aread(a, m, &s) >= 0 && s) {
				v->s = w2s_xstrdup(s);
				H5free_memory(s);
				rc = 0;
			}
		} else {
			size_t n = H5Tget_size(ftype);
			char *s = w2s_xcalloc(n + 1, 1);
			if (H5Aread(a, m, s) >= 0) {
				v->s = s;
				rc = 0;
			} else {
				free(s);
			}
		}
		H5Tclose(m);
		if (rc == 0)
			v->type = W2S_H5_VALUE_STRING;
		return rc;
	}
	default: return 0;
	}
}

struct attr_list {
	struct w2s_h5_attrs *a;
	int cap;
	int bad;
};

static herr_t on_attr(hid_t obj, const char *name, const H5A_info_t *ainfo, void *data)
{
	(void)ainfo;
	struct attr_list *l = data;
	struct w2s_h5_attrs *a = l->a;
	if (a->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		char **names = realloc(a->names, (size_t)l->cap * sizeof *names);
		W2S_CHECK(names != NULL);
		a->names = names;
		struct w2s_h5_value *values = realloc(a->values, (size_t)l->cap * sizeof *values);
		W2S_CHECK(values != NULL);
		a->values = values;
	}
	struct w2s_h5_value *v = &a->values[a->n];
	memset(v, 0, sizeof *v);
	hid_t id = H5Aopen(obj, name, H5P_DEFAULT);
	hid_t space = id >= 0 ? H5Aget_space(id) : -1;
	hid_t type = id >= 0 ? H5Aget_type(id) : -1;
	if (id < 0 || space < 0 || type < 0) {
		l->bad = 1;
	} else if (H5Sget_simple_extent_type(space) == H5S_SCALAR) {
		if (read_scalar(id, type, v) != 0)
			l->bad = 1;
	}
	if (type >= 0)
		H5Tclose(type);
	if (space >= 0)
		H5Sclose(space);
	if (id >= 0)
		H5Aclose(id);
	if (l->bad)
		return -1;
	a->names[a->n++] = w2s_xstrdup(name);
	return 0;
}

enum w2s_status w2s_h5_read_attrs(struct w2s_h5 *f, const char *obj, struct w2s_h5_attrs *a)
{
	memset(a, 0, sizeof *a);
	struct attr_list l = {.a = a};
	hid_t o = H5Oopen(f->file, obj, H5P_DEFAULT);
	herr_t rc = o >= 0 ? H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, NULL, on_attr, &l) : -1;
	if (o >= 0)
		H5Oclose(o);
	if (rc < 0 || l.bad) {
		char what[1100];
		snprintf(what, sizeof what, "the attributes of '%s'", obj);
		fail_read(f, what);
		w2s_h5_attrs_free(a);
		return W2S_STATUS_IO;
	}
	return W2S_STATUS_OK;
}

const struct w2s_h5_value *w2s_h5_attrs_get(const struct w2s_h5_attrs *a, const char *name)
{
	for (int i = 0; i < a->n; i++)
		if (!strcmp(a->names[i], name))
			return &a->values[i];
	return NULL;
}

void w2s_h5_attrs_free(struct w2s_h5_attrs *a)
{
	for (int i = 0; i < a->n; i++) {
		free(a->names[i]);
		value_free(&a->values[i]);
	}
	free(a->names);
	free(a->values);
	memset(a, 0, sizeof *a);
}

/* ---- tables */

enum w2s_status w2s_h5_read_anytable(struct w2s_h5 *f, const char *path, int64_t max_rows,
				     struct w2s_h5_anytable *t)
{
	memset(t, 0, sizeof *t);
	struct w2s_h5_dataset_info info;
	if (w2s_h5_dataset_info(f, path, &info) != W2S_STATUS_OK)
		return W2S_STATUS_IO;
	if (info.rank != 1 || info.members == 0) {
		w2s_log_error_local("'%s': '%s' is not a table (a 1-D compound dataset) but %dD %s",
				    f->path, path, info.rank, info.type);
		return W2S_STATUS_IO;
	}
	if (info.dims[0] > max_rows) {
		w2s_log_error_local("'%s': table '%s' has %lld rows, more than the %lld read here",
				    f->path, path, (long long)info.dims[0], (long long)max_rows);
		return W2S_STATUS_IO;
	}
	hid_t d = H5Dopen2(f->file, path, H5P_DEFAULT);
	hid_t ftype = H5Dget_type(d);
	int ncols = H5Tget_nmembers(ftype);
	/* A memory row of native members: int64, double, or the string's own
	 * fixed size (variable strings as char *); others are left out. */
	hid_t mtype = -1;
	size_t *offset = w2s_xcalloc((size_t)ncols, sizeof *offset);
	enum w2s_h5_value_type *kind = w2s_xcalloc((size_t)ncols, sizeof *kind);
	hid_t *strtype = w2s_xcalloc((size_t)ncols, sizeof *strtype);
	size_t row = 0;
	t->ncols = ncols;
	t->nrows = info.dims[0];
	t->names = w2s_xcalloc((size_t)ncols, sizeof *t->names);
	for (int k = 0; k < ncols; k++) {
		char *name = H5Tget_member_name(ftype, (unsigned)k);
		t->names[k] = w2s_xstrdup(name ? name : "?");
		H5free_memory(name);
		hid_t mt = H5Tget_member_type(ftype, (unsigned)k);
		size_t size = 0;
		strtype[k] = -1;
		switch (H5Tget_class(mt)) {
		case H5T_INTEGER: kind[k] = W2S_H5_VALUE_INT; size = 8; break;
		case H5T_FLOAT: kind[k] = W2S_H5_VALUE_FLOAT; size = 8; break;
		case H5T_STRING:
			kind[k] = W2S_H5_VALUE_STRING;
			strtype[k] = H5Tcopy(mt);
			size = H5Tget_size(strtype[k]);
			break;
		default: kind[k] = W2S_H5_VALUE_OTHER; break;
		}
		H5Tclose(mt);
		offset[k] = row;
		row += (size + 7) / 8 * 8;
	}
	mtype = H5Tcreate(H5T_COMPOUND, row ? row : 8);
	for (int k = 0; k < ncols; k++) {
		if (kind[k] == W2S_H5_VALUE_INT)
			H5Tinsert(mtype, t->names[k], offset[k], H5T_NATIVE_INT64);
		else if (kind[k] == W2S_H5_VALUE_FLOAT)
			H5Tinsert(mtype, t->names[k], offset[k], H5T_NATIVE_DOUBLE);
		else if (kind[k] == W2S_H5_VALUE_STRING)
			H5Tinsert(mtype, t->names[k], offset[k], strtype[k]);
	}
	size_t bytes = 0;
	char *buf = NULL;
	enum w2s_status st = W2S_STATUS_OK;
	if (row == 0) {
		w2s_log_error_local("'%s': table '%s' has no column of numbers or strings",
				    f->path, path);
		st = W2S_STATUS_IO;
	} else if (w2s_mul_size((size_t)t->nrows, row, &bytes) != 0 ||
	    !(buf = calloc(bytes ? bytes : 1, 1))) {
		w2s_log_error_local("'%s': not enough memory for table '%s'", f->path, path);
		st = W2S_STATUS_NOMEM;
	} else if (t->nrows > 0 && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
		char what[1100];
		snprintf(what, sizeof what, "table '%s'", path);
		fail_read(f, what);
		st = W2S_STATUS_IO;
	}
	if (st == W2S_STATUS_OK) {
		t->cells = w2s_xcalloc((size_t)(t->nrows * ncols) + 1, sizeof *t->cells);
		for (int64_t r = 0; r < t->nrows; r++) {
			for (int k = 0; k < ncols; k++) {
				struct w2s_h5_value *v = &t->cells[r * ncols + k];
				const char *cell = buf + (size_t)r * row + offset[k];
				v->type = kind[k];
				if (kind[k] == W2S_H5_VALUE_INT) {
					memcpy(&v->i, cell, 8);
					v->d = (double)v->i;
				} else if (kind[k] == W2S_H5_VALUE_FLOAT) {
					memcpy(&v->d, cell, 8);
				} else if (kind[k] == W2S_H5_VALUE_STRING &&
					   H5Tis_variable_str(strtype[k]) > 0) {
					const char *s;
					memcpy(&s, cell, sizeof s);
					v->s = w2s_xstrdup(s ? s : "");
				} else if (kind[k] == W2S_H5_VALUE_STRING) {
					size_t n = H5Tget_size(strtype[k]);
					v->s = w2s_xcalloc(n + 1, 1);
					memcpy(v->s, cell, n);
				}
			}
		}
	}
	if (buf && st == W2S_STATUS_OK) {
		/* Variable-length strings were allocated by HDF5. */
		hid_t space = H5Dget_space(d);
#if H5_VERSION_GE(1, 12, 0)
		H5Treclaim(mtype, space, H5P_DEFAULT, buf);
#else
		H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf);
#endif
		H5Sclose(space);
	}
	free(buf);
	for (int k = 0; k < ncols; k++)
		if (strtype[k] >= 0)
			H5Tclose(strtype[k]);
	free(strtype);
	free(kind);
	free(offset);
	H5Tclose(mtype);
	H5Tclose(ftype);
	H5Dclose(d);
	if (st != W2S_STATUS_OK)
		w2s_h5_anytable_free(t);
	return st;
}

void w2s_h5_anytable_free(struct w2s_h5_anytable *t)
{
	for (int64_t i = 0; t->cells && i < t->nrows * t->ncols; i++)
		value_free(&t->cells[i]);
	for (int k = 0; t->names && k < t->ncols; k++)
		free(t->names[k]);
	free(t->cells);
	free(t->names);
	memset(t, 0, sizeof *t);
}

enum w2s_status w2s_h5_read_doubles(struct w2s_h5 *f, const char *path, int64_t begin,
				    int64_t count, double *out)
{
	struct w2s_h5_dataset_info info;
	if (w2s_h5_dataset_info(f, path, &info) != W2S_STATUS_OK)
		return W2S_STATUS_IO;
	bool numeric = !strncmp(info.type, "float", 5) || !strncmp(info.type, "int", 3) ||
		       !strncmp(info.type, "uint", 4);
	if (info.rank != 1 || !numeric || begin < 0 || count < 0 || begin + count > info.dims[0]) {
		w2s_log_error_local("'%s': '%s' is %dD %s of %lld, expected 1-D numbers with at "
				    "least %lld",
				    f->path, path, info.rank, info.type,
				    (long long)(info.rank ? info.dims[0] : 1), (long long)(begin + count));
		return W2S_STATUS_IO;
	}
	if (count == 0)
		return W2S_STATUS_OK;
	hid_t d = H5Dopen2(f->file, path, H5P_DEFAULT);
	hid_t fspace = H5Dget_space(d);
	hsize_t start[1] = {(hsize_t)begin}, n[1] = {(hsize_t)count};
	hid_t mspace = H5Screate_simple(1, n, NULL);
	int bad = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, n, NULL) < 0 ||
		  H5Dread(d, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, out) < 0;
	if (bad) {
		char what[1100];
		snprintf(what, sizeof what, "dataset '%s'", path);
		fail_read(f, what);
	}
	H5Sclose(mspace);
	H5Sclose(fspace);
	H5Dclose(d);
	return bad ? W2S_STATUS_IO : W2S_STATUS_OK;
}

enum w2s_status w2s_h5_read_floats(struct w2s_h5 *f, const char *path, float *out)
{
	struct w2s_h5_dataset_info info;
	if (w2s_h5_dataset_info(f, path, &info) != W2S_STATUS_OK)
		return W2S_STATUS_IO;
	bool numeric = !strncmp(info.type, "float", 5) || !strncmp(info.type, "int", 3) ||
		       !strncmp(info.type, "uint", 4);
	if (!numeric) {
		w2s_log_error_local("'%s': '%s' holds %s, expected numbers", f->path, path, info.type);
		return W2S_STATUS_IO;
	}
	hid_t d = H5Dopen2(f->file, path, H5P_DEFAULT);
	int bad = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0;
	if (bad) {
		char what[1100];
		snprintf(what, sizeof what, "dataset '%s'", path);
		fail_read(f, what);
	}
	H5Dclose(d);
	return bad ? W2S_STATUS_IO : W2S_STATUS_OK;
}

/*
 * h5io.c: the HDF5 side of w2s; see h5io.h.  The only file that includes
 * <hdf5.h> for anything but types.  Every call is checked; a failure is
 * decoded from HDF5's error stack into one line.
 */
#include "buildconf.h"
#if HAVE_SYNC_FILE_RANGE
#define _GNU_SOURCE /* sync_file_range */
#endif

#include "w2s/h5io.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5_hl.h>

#include "w2s/log.h"

void w2s_h5_init(void)
{
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

const char *w2s_h5_library_version(void)
{
	static char v[32];
	unsigned maj = 0, min = 0, rel = 0;
	H5get_libversion(&maj, &min, &rel);
	snprintf(v, sizeof v, "%u.%u.%u", maj, min, rel);
	return v;
}

/* The innermost description on HDF5's error stack: the most specific. */
static herr_t last_error(unsigned n, const H5E_error2_t *e, void *data)
{
	char *out = data;
	if (e->desc && e->desc[0])
		snprintf(out, 256, "%s", e->desc); /* of the 512 in report() */
	return 0;
}

/* Errors of the file system that HDF5's own words ("file write failed")
 * hide: the reason a user can act on. */
static bool file_system_error(int err)
{
	return err == ENOSPC || err == EDQUOT || err == EIO || err == EROFS || err == EFBIG;
}

/* Why the system refuses to create path, where MPI-IO's message hid it
 * ("file is read only"): the errno of a plain open for writing, or 0 when
 * that works (the empty file it may leave is the caller's to remove, as
 * for any failed create). */
static int create_errno(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* Whether the file system of path is (all but) full: MPI-IO does not
 * always leave ENOSPC in errno when a write fails for want of space. */
static bool disk_full(const char *path)
{
	double left = w2s_free_bytes(path);
	return left >= 0 && left < 65536.0;
}

static void report(const char *file, const char *what, const char *obj)
{
	int err = errno;
	if (!file_system_error(err) && strncmp(what, "cannot open", 11) != 0 && disk_full(file))
		err = ENOSPC;
	char why[512] = "";
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, last_error, why);
	H5Eclear2(H5E_DEFAULT);
	if (why[0] == '\0' && err != 0)
		snprintf(why, sizeof why, "%s", strerror(err));
	else if (file_system_error(err) && !strstr(why, strerror(err)))
		snprintf(why + strlen(why), sizeof why - strlen(why), " (%s)", strerror(err));
	w2s_log_error_local("%s '%s'%s%s%s%s", what, file, obj ? ", " : "", obj ? obj : "",
			    why[0] ? ": " : "", why);
}

static hid_t h5type(enum w2s_h5_type t)
{
	switch (t) {
	case W2S_H5_F32: return H5T_NATIVE_FLOAT;
	case W2S_H5_I32: return H5T_NATIVE_INT32;
	case W2S_H5_I64: return H5T_NATIVE_INT64;
	}
	return H5T_NATIVE_FLOAT;
}

static size_t h5size(enum w2s_h5_type t)
{
	return t == W2S_H5_I64 ? 8 : 4;
}

static hid_t mpio_fapl(const struct w2s_comm *c)
{
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	W2S_CHECK(fapl >= 0);
	W2S_CHECK(H5Pset_fapl_mpio(fapl, c->comm, MPI_INFO_NULL) >= 0);
	/* Metadata reads by one rank and a broadcast: many ranks opening the
	 * same file do not storm the file system. */
	W2S_CHECK(H5Pset_all_coll_metadata_ops(fapl, 1) >= 0);
	W2S_CHECK(H5Pset_coll_metadata_write(fapl, 1) >= 0);
	/* Datasets of 1 MiB or more start on a 64 KiB boundary, so that
	 * writes of whole aligned blocks fill whole (large) page-cache folios
	 * and file-system blocks; it costs at most 64 KiB of unwritten gap
	 * per such dataset. */
	W2S_CHECK(H5Pset_alignment(fapl, (hsize_t)1 << 20, (hsize_t)64 << 10) >= 0);
	return fapl;
}

enum w2s_status w2s_h5_create(struct w2s_h5 *f, const struct w2s_comm *c, const char *path)
{
	snprintf(f->path, sizeof f->path, "%s", path);
	f->broken = f->tmp = f->has_fd = false;
	hid_t fapl = mpio_fapl(c);
	errno = 0;
	f->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
	int bad = f->file < 0;
	if (bad) { /* before any other HDF5 call: a successful one clears its error stack */
		int err = errno;
		if (!file_system_error(err) && (err = create_errno(path)) != 0) {
			H5Eclear2(H5E_DEFAULT);
			errno = err;
		}
		report(path, "cannot create", NULL);
	}
	H5Pclose(fapl);
	if (w2s_comm_agree(c, bad)) {
		w2s_h5_close(f);
		return W2S_STATUS_IO;
	}
	return W2S_STATUS_OK;
}

enum w2s_status w2s_h5_open(struct w2s_h5 *f, const struct w2s_comm *c, const char *path)
{
	snprintf(f->path, sizeof f->path, "%s", path);
	f->file = H5I_INVALID_HID;
	f->broken = f->tmp = f->has_fd = false;
	/* Ask the file system first: HDF5's own message for a missing file is
	 * "unable to open file", which hides the reason. */
	FILE *probe = fopen(path, "rb");
	int bad = probe == NULL;
	if (bad)
		w2s_log_error_local("cannot open '%s': %s", path, strerror(errno));
	else
		fclose(probe);
	if (w2s_comm_agree(c, bad))
		return W2S_STATUS_IO;
	bad = H5Fis_hdf5(path) <= 0;
	if (bad)
		w2s_log_error_local("'%s' is not an HDF5 file (or it is truncated or damaged)",
				    path);
	if (w2s_comm_agree(c, bad))
		return W2S_STATUS_IO;
	hid_t fapl = mpio_fapl(c);
	errno = 0;
	f->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
	bad = f->file < 0;
	if (bad)
		report(path, "cannot open", NULL);
	H5Pclose(fapl);
	if (w2s_comm_agree(c, bad)) {
		w2s_h5_close(f);
		return W2S_STATUS_IO;
	}
	return W2S_STATUS_OK;
}

static int nabandoned;

int w2s_h5_abandoned(void)
{
	return nabandoned;
}

static void close_fd(struct w2s_h5 *f)
{
	if (f->has_fd)
		close(f->fd);
	f->has_fd = false;
}

/* Lets go of a file without a call into HDF5 (see w2s_h5_commit). */
static void abandon(struct w2s_h5 *f)
{
	if (f->file > 0)
		nabandoned++;
	f->file = H5I_INVALID_HID;
	close_fd(f);
}

/* f's own descriptor (opened on first use), or -1 with errno. */
static int sync_fd(struct w2s_h5 *f)
{
	if (!f->has_fd) {
		f->fd = open(f->path, O_RDONLY);
		f->has_fd = f->fd >= 0;
	}
	return f->has_fd ? f->fd : -1;
}

void w2s_h5_start_writeback(struct w2s_h5 *f)
{
	W2S_CHECK(f->tmp);
#if HAVE_SYNC_FILE_RANGE
	/* Advice only: a real error shows again at the final fsync. */
	int fd = sync_fd(f);
	if (fd >= 0)
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
	(void)f;
#endif
}

/* This rank's part of making f durable, after it is closed: what this
 * node's page cache holds of it goes to the disk.  0, or -1 with a message
 * kept for w2s_comm_agree. */
static int sync_closed(struct w2s_h5 *f)
{
	int fd = sync_fd(f), bad = fd < 0 || fsync(fd) != 0;
	if (bad)
		w2s_log_error_local("cannot write '%s' to the disk: %s", f->path, strerror(errno));
	close_fd(f);
	return bad ? -1 : 0;
}

enum w2s_status w2s_h5_close(struct w2s_h5 *f)
{
	/* Closing flushes what HDF5 still holds: on a full disk this is where
	 * a write fails, so it is checked like one. */
	int bad = 0;
	if (f->broken) {
		abandon(f);
		return W2S_STATUS_IO;
	}
	if (f->file > 0) {
		errno = 0;
		bad = H5Fclose(f->file) < 0;
		if (bad) {
			report(f->path, "cannot finish writing", NULL);
			/* HDF5 keeps the file and tries again at exit. */
			nabandoned++;
		}
	}
	f->file = H5I_INVALID_HID;
	return bad ? W2S_STATUS_IO : W2S_STATUS_OK;
}

enum w2s_status w2s_h5_create_tmp(struct w2s_h5 *f, const struct w2s_comm *c, const char *path)
{
	char tmp[sizeof f->path];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
		w2s_log_error("the path '%s' is too long", path);
		return W2S_STATUS_IO;
	}
	enum w2s_status st = w2s_h5_create(f, c, tmp);
	f->tmp = true;
	return st;
}

/* Rank 0: whether the file system of f has room for what a close still
 * writes: the metadata HDF5 holds in its cache and 128 KiB (block
 * rounding, the superblock).  A close that fails on one rank only leaves the others
 * waiting in it for ever, so a disk about to be full is caught here,
 * before the close.  quiet: the file is being discarded anyway. */
static int room_to_close(const struct w2s_h5 *f, bool quiet)
{
	size_t cached = 0;
	double left = w2s_free_bytes(f->path);
	if (left < 0 || H5Fget_mdc_size(f->file, NULL, NULL, &cached, NULL) < 0) {
		H5Eclear2(H5E_DEFAULT);
		return 1; /* nothing known: try */
	}
	double need = (double)cached + 128.0 * 1024.0;
	if (left >= need)
		return 1;
	if (!quiet) {
		char a[32], b[32];
		w2s_log_error_local("cannot finish writing '%s': %s (%s left, %s needed)", f->path,
				    strerror(ENOSPC), w2s_bytes_words(left, a, sizeof a),
				    w2s_bytes_words(need, b, sizeof b));
	}
	return 0;
}

enum w2s_status w2s_h5_commit(struct w2s_h5 *f, const struct w2s_comm *c, enum w2s_status st)
{
	W2S_CHECK(f->tmp);
	int bad = f->broken || (c->rank == 0 && f->file > 0 && !room_to_close(f, st != W2S_STATUS_OK));
	if (w2s_comm_agree(c, bad)) {
		abandon(f);
		if (st == W2S_STATUS_OK)
			st = W2S_STATUS_IO;
	} else {
		enum w2s_status closed = (enum w2s_status)w2s_comm_agree(c, (int)w2s_h5_close(f));
		if (closed == W2S_STATUS_OK && st == W2S_STATUS_OK &&
		    w2s_comm_agree(c, -sync_closed(f)))
			closed = W2S_STATUS_IO;
		close_fd(f);
		if (st == W2S_STATUS_OK)
			st = closed;
	}
	/* Only a whole file gets the final name. */
	char name[sizeof f->path];
	size_t n = strlen(f->path) - 4;
	memcpy(name, f->path, n);
	name[n] = '\0';
	bad = 0;
	if (c->rank == 0) {
		if (st == W2S_STATUS_OK && rename(f->path, name) != 0) {
			w2s_log_error_local("cannot rename '%s' to '%s': %s", f->path, name,
					    strerror(errno));
			bad = 1;
		} else if (st == W2S_STATUS_OK) {
			bad = -w2s_sync_folder_of(name);
		}
		if (st != W2S_STATUS_OK || bad)
			unlink(f->path);
	}
	if (w2s_comm_agree(c, bad))
		st = W2S_STATUS_IO;
	return st;
}

/* After a collective write: a write that failed on any rank leaves the file
 * broken on all, so that none of them closes it (w2s_h5_commit). */
static enum w2s_status agreed_write(struct w2s_h5 *f, const struct w2s_comm *c, int bad)
{
	if (!w2s_comm_agree(c, bad))
		return W2S_STATUS_OK;
	f->broken = true;
	return W2S_STATUS_IO;
}

/* Creates the groups above `path` that do not exist yet, without times. */
static int make_parents(hid_t file, const char *path)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", path);
	hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
	W2S_CHECK(gcpl >= 0);
	H5Pset_obj_track_times(gcpl, 0);
	int rc = 0;
	for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		htri_t there = H5Lexists(file, buf, H5P_DEFAULT);
		if (there < 0) {
			rc = -1;
			break;
		}
		if (!there) {
			hid_t g = H5Gcreate2(file, buf, H5P_DEFAULT, gcpl, H5P_DEFAULT);
			if (g < 0) {
				rc = -1;
				break;
			}
			H5Gclose(g);
		}
		*p = '/';
	}
	H5Pclose(gcpl);
	return rc;
}

/* Selects rows [begin, begin + count) of a (rows, cols) space, or nothing. */
static void select_rows(hid_t space, int rank, int64_t begin, int64_t count, int64_t cols)
{
	if (count == 0) {
		H5Sselect_none(space);
		return;
	}
	hsize_t start[2] = {(hsize_t)begin, 0}, n[2] = {(hsize_t)count, (hsize_t)cols};
	W2S_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, n, NULL) >= 0);
	(void)rank;
}

enum w2s_status w2s_h5_write_rows(struct w2s_h5 *f, const struct w2s_comm *c, const char *path,
				  enum w2s_h5_type t, int64_t rows, int64_t cols, int64_t begin,
				  int64_t count, const void *data)
{
	int rank = cols > 0 ? 2 : 1;
	hsize_t dims[2] = {(hsize_t)rows, (hsize_t)(cols > 0 ? cols : 1)};
	hsize_t mdims[2] = {(hsize_t)count, dims[1]};
	hid_t fspace = -1, mspace = -1, dset = -1, dcpl = -1, dxpl = -1;
	errno = 0;
	int bad = make_parents(f->file, path) < 0;
	if (!bad) {
		fspace = H5Screate_simple(rank, dims, NULL);
		mspace = H5Screate_simple(rank, mdims, NULL);
		dcpl = H5Pcreate(H5P_DATASET_CREATE);
		H5Pset_obj_track_times(dcpl, 0);
		dset = H5Dcreate2(f->file, path, h5type(t), fspace, H5P_DEFAULT, dcpl, H5P_DEFAULT);
		bad = dset < 0;
	}
	/* An empty dataset has no storage to write into; rows is the same on
	 * every rank, so all skip alike. */
	if (!bad && rows > 0) {
		select_rows(fspace, rank, begin, count, dims[1]);
		if (count == 0)
			H5Sselect_none(mspace);
		dxpl = H5Pcreate(H5P_DATASET_XFER);
		H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
		bad = H5Dwrite(dset, h5type(t), mspace, fspace, dxpl, data) < 0;
	}
	if (bad)
		report(f->path, "cannot write", path);
	if (dxpl >= 0)
		H5Pclose(dxpl);
	if (dset >= 0)
		H5Dclose(dset);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (mspace >= 0)
		H5Sclose(mspace);
	if (fspace >= 0)
		H5Sclose(fspace);
	return agreed_write(f, c, bad);
}

enum w2s_status w2s_h5_rows_create(struct w2s_h5 *f, const struct w2s_comm *c, const char *path,
				   enum w2s_h5_type t, int64_t rows, int64_t cols,
				   struct w2s_h5_rows *d)
{
	memset(d, 0, sizeof *d);
	d->dset = H5I_INVALID_HID;
	d->type = t;
	d->rows = rows;
	d->cols = cols;
	snprintf(d->path, sizeof d->path, "%s", path);
	hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
	hid_t space = -1, dcpl = -1;
	errno = 0;
	int bad = make_parents(f->file, path) < 0;
	if (!bad) {
		space = H5Screate_simple(cols > 0 ? 2 : 1, dims, NULL);
		dcpl = H5Pcreate(H5P_DATASET_CREATE);
		H5Pset_obj_track_times(dcpl, 0);
		/* Contiguous, allocated at creation (what independent writes
		 * need) and never filled: the writers cover every row, so a
		 * fill would only write the file twice. */
		H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
		H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
		d->dset = H5Dcreate2(f->file, path, h5type(t), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
		bad = d->dset < 0;
	}
	if (bad)
		report(f->path, "cannot write", path);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (space >= 0)
		H5Sclose(space);
	if (agreed_write(f, c, bad) != W2S_STATUS_OK) {
		w2s_h5_rows_close(d);
		return W2S_STATUS_IO;
	}
	return W2S_STATUS_OK;
}

enum w2s_status w2s_h5_rows_write(struct w2s_h5 *f, struct w2s_h5_rows *d, int64_t begin,
				  int64_t count, const void *data)
{
	W2S_CHECK(begin >= 0 && count >= 0 && begin + count <= d->rows);
	if (count == 0)
		return W2S_STATUS_OK;
	int rank = d->cols > 0 ? 2 : 1;
	hsize_t cols = (hsize_t)(d->cols > 0 ? d->cols : 1);
	hsize_t mdims[2] = {(hsize_t)count, cols};
	hid_t fspace = H5Dget_space(d->dset);
	hid_t mspace = H5Screate_simple(rank, mdims, NULL);
	select_rows(fspace, rank, begin, count, (int64_t)cols);
	/* Independent: each rank's rows are one contiguous range of the file,
	 * which is what collective buffering would hand each aggregator
	 * anyway; the collective form would only add a lockstep between the
	 * ranks at every block. */
	hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
	H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_INDEPENDENT);
	errno = 0;
	int bad = H5Dwrite(d->dset, h5type(d->type), mspace, fspace, dxpl, data) < 0;
	if (bad) {
		report(f->path, "cannot write", d->path);
		f->broken = true; /* the others learn it in w2s_h5_commit */
	}
	H5Pclose(dxpl);
	H5Sclose(mspace);
	H5Sclose(fspace);
	return bad ? W2S_STATUS_IO : W2S_STATUS_OK;
}

void w2s_h5_rows_close(struct w2s_h5_rows *d)
{
	if (d->dset >= 0)
		H5Dclose(d->dset);
	d->dset = H5I_INVALID_HID;
}

enum w2s_status w2s_h5_shape(struct w2s_h5 *f, const char *path, int64_t *rows, int64_t *cols)
{
	hid_t dset = H5Dopen2(f->file, path, H5P_DEFAULT);
	if (dset < 0) {
		w2s_log_error_local("'%s' has no dataset '%s'", f->path, path);
		H5Eclear2(H5E_DEFAULT);
		return W2S_STATUS_IO;
	}
	hid_t space = H5Dget_space(dset);
	hsize_t dims[2] = {0, 0};
	int nd = H5Sget_simple_extent_ndims(space);
	enum w2s_status st = W2S_STATUS_OK;
	if (nd < 1 || nd > 2) {
		w2s_log_error_local("'%s': dataset '%s' has %d dimensions, expected 1 or 2",
				    f->path, path, nd);
		st = W2S_STATUS_IO;
	} else {
		H5Sget_simple_extent_dims(space, dims, NULL);
		*rows = (int64_t)dims[0];
		*cols = nd == 2 ? (int64_t)dims[1] : 0;
	}
	H5Sclose(space);
	H5Dclose(dset);
	return st;
}

enum w2s_status w2s_h5_read_rows(struct w2s_h5 *f, const char *path, enum w2s_h5_type t,
				 int64_t cols, int64_t begin, int64_t count, void *data)
{
	int64_t have_rows = 0, have_cols = 0;
	if (w2s_h5_shape(f, path, &have_rows, &have_cols) != W2S_STATUS_OK)
		return W2S_STATUS_IO;
	if (have_cols != cols || begin + count > have_rows) {
		w2s_log_error_local("'%s': dataset '%s' is (%lld, %lld), expected %lld columns "
				    "and at least %lld rows",
				    f->path, path, (long long)have_rows, (long long)have_cols,
				    (long long)cols, (long long)(begin + count));
		return W2S_STATUS_IO;
	}
	hid_t dset = H5Dopen2(f->file, path, H5P_DEFAULT);
	hid_t ftype = H5Dget_type(dset);
	int ok_type = H5Tget_class(ftype) == H5Tget_class(h5type(t)) &&
		      H5Tget_size(ftype) == h5size(t);
	H5Tclose(ftype);
	if (!ok_type) {
		w2s_log_error_local("'%s': dataset '%s' has the wrong element type", f->path, path);
		H5Dclose(dset);
		return W2S_STATUS_IO;
	}
	int rank = cols > 0 ? 2 : 1;
	hsize_t mdims[2] = {(hsize_t)count, (hsize_t)(cols > 0 ? cols : 1)};
	hid_t fspace = H5Dget_space(dset);
	hid_t mspace = H5Screate_simple(rank, mdims, NULL);
	select_rows(fspace, rank, begin, count, (int64_t)mdims[1]);
	if (count == 0)
		H5Sselect_none(mspace);
	int bad = H5Dread(dset, h5type(t), mspace, fspace, H5P_DEFAULT, data) < 0;
	if (bad)
		report(f->path, "cannot read", path);
	H5Sclose(mspace);
	H5Sclose(fspace);
	H5Dclose(dset);
	return bad ? W2S_STATUS_IO : W2S_STATUS_OK;
}

static enum w2s_status write_attr(struct w2s_h5 *f, hid_t file, const char *obj,
				  const char *name, hid_t type, const void *value)
{
	hid_t space = H5Screate(H5S_SCALAR);
	errno = 0;
	hid_t o = H5Oopen(file, obj, H5P_DEFAULT);
	int bad = o < 0;
	if (!bad) {
		if (H5Aexists(o, name) > 0)
			H5Adelete(o, name);
		hid_t a = H5Acreate2(o, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
		bad = a < 0 || H5Awrite(a, type, value) < 0;
		if (a >= 0)
			H5Aclose(a);
		H5Oclose(o);
	}
	H5Sclose(space);
	if (bad) {
		char what[512];
		snprintf(what, sizeof what, "attribute '%s' of '%s'", name, obj);
		report(f->path, "cannot write", what);
		f->broken = true;
		return W2S_STATUS_IO;
	}
	return W2S_STATUS_OK;
}

static hid_t vlen_utf8(void)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	return t;
}

enum w2s_status w2s_h5_attr_string(struct w2s_h5 *f, const char *obj, const char *name,
				   const char *value)
{
	hid_t t = vlen_utf8();
	enum w2s_status st = write_attr(f, f->file, obj, name, t, &value);
	H5Tclose(t);
	return st;
}

enum w2s_status w2s_h5_attr_int64(struct w2s_h5 *f, const char *obj, const char *name,
				  int64_t value)
{
	return write_attr(f, f->file, obj, name, H5T_NATIVE_INT64, &value);
}

enum w2s_status w2s_h5_attr_double(struct w2s_h5 *f, const char *obj, const char *name,
				   double value)
{
	return write_attr(f, f->file, obj, name, H5T_NATIVE_DOUBLE, &value);
}

enum w2s_status w2s_h5_attr_read_string(struct w2s_h5 *f, const char *obj, const char *name,
					char **value)
{
	*value = NULL;
	hid_t a = H5Aopen_by_name(f->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
	if (a < 0) {
		H5Eclear2(H5E_DEFAULT);
		w2s_log_error_local("'%s' has no attribute '%s' on '%s'", f->path, name, obj);
		return W2S_STATUS_IO;
	}
	hid_t ftype = H5Aget_type(a);
	enum w2s_status st = W2S_STATUS_IO;
	if (H5Tget_class(ftype) == H5T_STRING) {
		if (H5Tis_variable_str(ftype) > 0) {
			hid_t t = vlen_utf8();
			char *s = NULL;
			if (H5Aread(a, t, &s) >= 0 && s) {
				*value = w2s_xstrdup(s);
				H5free_memory(s);
				st = W2S_STATUS_OK;
			}
			H5Tclose(t);
		} else {
			size_t n = H5Tget_size(ftype);
			char *s = w2s_xcalloc(n + 1, 1);
			if (H5Aread(a, ftype, s) >= 0) {
				*value = s;
				st = W2S_STATUS_OK;
			} else {
				free(s);
			}
		}
	}
	if (st != W2S_STATUS_OK)
		w2s_log_error_local("'%s': attribute '%s' of '%s' is not a string", f->path, name,
				    obj);
	H5Tclose(ftype);
	H5Aclose(a);
	return st;
}

static enum w2s_status read_numeric_attr(struct w2s_h5 *f, const char *obj, const char *name,
					 hid_t type, void *value)
{
	hid_t a = H5Aopen_by_name(f->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
	int bad = a < 0 || H5Aread(a, type, value) < 0;
	if (a >= 0)
		H5Aclose(a);
	if (bad) {
		H5Eclear2(H5E_DEFAULT);
		w2s_log_error_local("'%s': cannot read attribute '%s' of '%s'", f->path, name, obj);
		return W2S_STATUS_IO;
	}
	return W2S_STATUS_OK;
}

enum w2s_status w2s_h5_attr_read_int64(struct w2s_h5 *f, const char *obj, const char *name,
				       int64_t *value)
{
	return read_numeric_attr(f, obj, name, H5T_NATIVE_INT64, value);
}

enum w2s_status w2s_h5_attr_read_double(struct w2s_h5 *f, const char *obj, const char *name,
					double *value)
{
	return read_numeric_attr(f, obj, name, H5T_NATIVE_DOUBLE, value);
}

/* Writes the provenance attributes on the root of an open file id. */
static enum w2s_status provenance_on(struct w2s_h5 *f, hid_t file,
				     const struct w2s_provenance *p)
{
	const char *keys[] = {"kind", "config", "w2s_version", "git_rev", "libraries", "blis_arch"};
	const char *vals[] = {p->kind, p->config_json, p->version, p->git_rev, p->libraries,
			      p->blis_arch};
	hid_t t = vlen_utf8();
	enum w2s_status st = W2S_STATUS_OK;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0] && st == W2S_STATUS_OK; i++)
		if (vals[i])
			st = write_attr(f, file, "/", keys[i], t, &vals[i]);
	H5Tclose(t);
	if (st == W2S_STATUS_OK && p->world_size >= 0) {
		int64_t ws = p->world_size;
		st = write_attr(f, file, "/", "world_size", H5T_NATIVE_INT64, &ws);
	}
	return st;
}

enum w2s_status w2s_h5_write_provenance(struct w2s_h5 *f, const struct w2s_provenance *p)
{
	return provenance_on(f, f->file, p);
}

/* The compound type of a C struct described by cols. */
static hid_t table_type(const struct w2s_h5_column *cols, int ncols, size_t row_size)
{
	hid_t mtype = H5Tcreate(H5T_COMPOUND, row_size);
	for (int i = 0; i < ncols; i++) {
		hid_t t = -1;
		switch (cols[i].type) {
		case W2S_H5_COL_STR:
			t = H5Tcopy(H5T_C_S1);
			H5Tset_size(t, cols[i].size);
			H5Tset_strpad(t, H5T_STR_NULLTERM);
			break;
		case W2S_H5_COL_I64: t = H5Tcopy(H5T_NATIVE_INT64); break;
		case W2S_H5_COL_F64: t = H5Tcopy(H5T_NATIVE_DOUBLE); break;
		}
		W2S_CHECK(H5Tinsert(mtype, cols[i].name, cols[i].offset, t) >= 0);
		H5Tclose(t);
	}
	return mtype;
}

enum w2s_status w2s_h5_read_table(struct w2s_h5 *f, const char *path,
				  const struct w2s_h5_column *cols, int ncols, size_t row_size,
				  void **rows, int64_t *n)
{
	*rows = NULL;
	*n = 0;
	int64_t cols_found = 0;
	if (w2s_h5_shape(f, path, n, &cols_found) != W2S_STATUS_OK)
		return W2S_STATUS_IO;
	hid_t mtype = table_type(cols, ncols, row_size);
	hid_t dset = H5Dopen2(f->file, path, H5P_DEFAULT);
	*rows = w2s_xcalloc((size_t)(*n ? *n : 1), row_size);
	int bad = dset < 0 || H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *rows) < 0;
	if (bad) {
		report(f->path, "cannot read table", path);
		free(*rows);
		*rows = NULL;
	}
	if (dset >= 0)
		H5Dclose(dset);
	H5Tclose(mtype);
	return bad ? W2S_STATUS_IO : W2S_STATUS_OK;
}

enum w2s_status w2s_h5_write_table(struct w2s_h5 *f, const struct w2s_comm *c, const char *path,
				   const struct w2s_h5_column *cols, int ncols, size_t row_size,
				   const void *rows, int64_t n)
{
	hid_t mtype = table_type(cols, ncols, row_size);
	/* The file type drops the struct's padding. */
	hid_t ftype = H5Tcopy(mtype);
	H5Tpack(ftype);

	hsize_t dims[1] = {(hsize_t)n};
	hid_t fspace = H5Screate_simple(1, dims, NULL);
	hid_t mspace = H5Screate_simple(1, dims, NULL);
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_obj_track_times(dcpl, 0);
	errno = 0;
	int bad = make_parents(f->file, path) < 0;
	hid_t dset = -1;
	if (!bad) {
		dset = H5Dcreate2(f->file, path, ftype, fspace, H5P_DEFAULT, dcpl, H5P_DEFAULT);
		bad = dset < 0;
	}
	/* An empty table is created and not written: HDF5 has no storage
	 * for it to write into.  n is the same on every rank. */
	if (!bad && n > 0) {
		if (c->rank != 0) {
			H5Sselect_none(fspace);
			H5Sselect_none(mspace);
		}
		hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
		H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
		bad = H5Dwrite(dset, mtype, mspace, fspace, dxpl, rows) < 0;
		if (bad)
			report(f->path, "cannot write", path);
		H5Pclose(dxpl);
	} else if (bad) {
		report(f->path, "cannot write", path);
	}
	if (dset >= 0)
		H5Dclose(dset);
	H5Pclose(dcpl);
	H5Sclose(mspace);
	H5Sclose(fspace);
	H5Tclose(ftype);
	H5Tclose(mtype);
	return agreed_write(f, c, bad);
}

/* ---- traces ---- */

const struct w2s_h5_column w2s_trace_columns[W2S_TRACE_FIELDS] = {
	{"step", W2S_H5_COL_I64, offsetof(struct w2s_trace_row, step), 0},
	{"epoch", W2S_H5_COL_F64, offsetof(struct w2s_trace_row, epoch), 0},
	{"loss", W2S_H5_COL_F64, offsetof(struct w2s_trace_row, loss), 0},
	{"acc", W2S_H5_COL_F64, offsetof(struct w2s_trace_row, acc), 0},
	{"lr", W2S_H5_COL_F64, offsetof(struct w2s_trace_row, lr), 0},
	{"grad_norm", W2S_H5_COL_F64, offsetof(struct w2s_trace_row, grad_norm), 0},
	{"seconds", W2S_H5_COL_F64, offsetof(struct w2s_trace_row, seconds), 0},
	{"samples_per_s", W2S_H5_COL_F64, offsetof(struct w2s_trace_row, samples_per_s), 0},
	{"val_acc", W2S_H5_COL_F64, offsetof(struct w2s_trace_row, val_acc), 0},
};

static const char *trace_fields[W2S_TRACE_FIELDS] = {
	"step", "epoch", "loss", "acc", "lr", "grad_norm", "seconds", "samples_per_s", "val_acc"};

enum w2s_status w2s_trace_create(struct w2s_trace *t, const char *path,
				 const char *const *names, int n, const struct w2s_provenance *p)
{
	memset(t, 0, sizeof *t);
	W2S_CHECK(n <= W2S_TRACE_MAX);
	struct w2s_h5 tmp = {.file = -1};
	snprintf(tmp.path, sizeof tmp.path, "%s", path);
	/* SWMR needs the newest file format; h5py and HDFView read it. */
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
	errno = 0;
	t->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
	if (t->file < 0) {
		report(path, "cannot create", NULL);
		H5Pclose(fapl);
		return W2S_STATUS_IO;
	}
	H5Pclose(fapl);
	tmp.file = t->file;
	enum w2s_status st = provenance_on(&tmp, t->file, p);
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	hsize_t chunk[1] = {256}, zero[1] = {0}, unlimited[1] = {H5S_UNLIMITED};
	H5Pset_chunk(dcpl, 1, chunk);
	H5Pset_obj_track_times(dcpl, 0);
	hid_t space = H5Screate_simple(1, zero, unlimited);
	t->n = n;
	for (int i = 0; i < n && st == W2S_STATUS_OK; i++) {
		char g[256];
		snprintf(t->name[i], sizeof t->name[i], "%s", names[i]);
		snprintf(g, sizeof g, "/trace/%s/x", names[i]);
		if (make_parents(t->file, g) < 0) {
			report(path, "cannot write", g);
			st = W2S_STATUS_IO;
			break;
		}
		for (int k = 0; k < W2S_TRACE_FIELDS; k++) {
			snprintf(g, sizeof g, "/trace/%s/%s", names[i], trace_fields[k]);
			hid_t type = k == 0 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
			t->dset[i][k] = H5Dcreate2(t->file, g, type, space, H5P_DEFAULT, dcpl,
						   H5P_DEFAULT);
			if (t->dset[i][k] < 0) {
				report(path, "cannot write", g);
				st = W2S_STATUS_IO;
				break;
			}
		}
		if (st != W2S_STATUS_OK)
			break;
		/* Units and names let xarray label plots by itself. */
		static const char *const units[W2S_TRACE_FIELDS] = {
			"1", "1", "nats", "1", "1", "1", "s", "1/s", "1"};
		static const char *const long_names[W2S_TRACE_FIELDS] = {
			"optimizer step", "epoch", "training loss (mean since the previous row)",
			"training accuracy against the targets (mean since the previous row)",
			"learning rate", "gradient norm before clipping", "seconds since training began",
			"training samples per second", "accuracy on val (newest evaluation)"};
		hid_t str = vlen_utf8();
		for (int k = 0; k < W2S_TRACE_FIELDS && st == W2S_STATUS_OK; k++) {
			snprintf(g, sizeof g, "/trace/%s/%s", names[i], trace_fields[k]);
			st = write_attr(&tmp, t->file, g, "units", str, &units[k]);
			if (st == W2S_STATUS_OK)
				st = write_attr(&tmp, t->file, g, "long_name", str, &long_names[k]);
		}
		H5Tclose(str);
		if (st != W2S_STATUS_OK)
			break;
		H5DSset_scale(t->dset[i][0], "step");
		for (int k = 1; k < W2S_TRACE_FIELDS; k++)
			H5DSattach_scale(t->dset[i][k], t->dset[i][0], 0);
	}
	H5Sclose(space);
	H5Pclose(dcpl);
	if (st == W2S_STATUS_OK && H5Fstart_swmr_write(t->file) < 0) {
		report(path, "cannot start live (SWMR) writing of", NULL);
		st = W2S_STATUS_IO;
	}
	if (st != W2S_STATUS_OK)
		w2s_trace_close(t);
	return st;
}

enum w2s_status w2s_trace_append(struct w2s_trace *t, int index, const struct w2s_trace_row *r)
{
	W2S_CHECK(index >= 0 && index < t->n);
	double v[W2S_TRACE_FIELDS] = {0, r->epoch, r->loss, r->acc, r->lr, r->grad_norm,
				      r->seconds, r->samples_per_s, r->val_acc};
	hsize_t len = (hsize_t)t->len[index] + 1, start[1] = {len - 1}, one[1] = {1};
	hid_t mspace = H5Screate_simple(1, one, NULL);
	int bad = 0;
	for (int k = 0; k < W2S_TRACE_FIELDS && !bad; k++) {
		hid_t d = t->dset[index][k];
		bad = H5Dset_extent(d, &len) < 0;
		hid_t fspace = bad ? -1 : H5Dget_space(d);
		if (!bad)
			bad = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, one, NULL) < 0;
		if (!bad)
			bad = k == 0 ? H5Dwrite(d, H5T_NATIVE_INT64, mspace, fspace, H5P_DEFAULT,
						&r->step) < 0
				     : H5Dwrite(d, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT,
						&v[k]) < 0;
		if (fspace >= 0)
			H5Sclose(fspace);
		if (!bad)
			bad = H5Dflush(d) < 0;
	}
	H5Sclose(mspace);
	if (bad) {
		char what[128];
		snprintf(what, sizeof what, "trace of %s", t->name[index]);
		report("metrics.h5", "cannot write", what);
		return W2S_STATUS_IO;
	}
	t->len[index] = (int64_t)len;
	return W2S_STATUS_OK;
}

void w2s_trace_close(struct w2s_trace *t)
{
	for (int i = 0; i < t->n; i++)
		for (int k = 0; k < W2S_TRACE_FIELDS; k++)
			if (t->dset[i][k] > 0)
				H5Dclose(t->dset[i][k]);
	/* On a full disk the close fails, and HDF5 would try again at exit. */
	if (t->file > 0 && H5Fclose(t->file) < 0)
		nabandoned++;
	memset(t, 0, sizeof *t);
}

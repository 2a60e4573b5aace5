/*
 * common.h: what every module of libw2s shares: the status codes that cross
 * module boundaries, the invariant check that aborts all ranks, and
 * allocation helpers that never return NULL.
 *
 * Not a place for MPI, HDF5 or BLIS: those stay behind comm, h5io and blas.
 */
#ifndef W2S_COMMON_H
#define W2S_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Returned by every function that can fail for a reason the user or the
 * environment controls.  Values grow at the end. */
enum w2s_status {
	W2S_STATUS_OK = 0,
	W2S_STATUS_USAGE,   /* bad command line */
	W2S_STATUS_CONFIG,  /* bad config file, key or value */
	W2S_STATUS_IO,      /* a file could not be read or written */
	W2S_STATUS_NUMERIC, /* a NaN or an infinity where a number was due */
	W2S_STATUS_NOMEM,   /* an allocation the user's sizes asked for failed */
	W2S_STATUS_EXISTS,  /* results already there and no permission to replace them */
	W2S_STATUS_STOPPED, /* stopped on a signal after writing a checkpoint */
};

/* The process exit code for a status: 0 for OK, 2 usage, 3 config, 4 I/O,
 * 5 numeric, 6 memory, 7 existing results, 8 stopped (resume with
 * --resume). */
int w2s_status_exit_code(enum w2s_status s);

/* A broken invariant (a bug, not bad input): prints file, line and the
 * condition, then aborts every rank.  Never compiled out. */
#define W2S_CHECK(cond)                                                 \
	do {                                                            \
		if (!(cond))                                            \
			w2s_die(__FILE__, __LINE__, #cond);             \
	} while (0)

/* Defined in comm.c, the only file that calls MPI. */
_Noreturn void w2s_die(const char *file, int line, const char *what);

/* malloc/calloc that abort on failure: for sizes the program controls.
 * Sizes that come from the user go through w2s_mul_size first. */
void *w2s_xmalloc(size_t bytes);
void *w2s_xcalloc(size_t count, size_t size);
char *w2s_xstrdup(const char *s);

/* Makes a folder and its parents (like mkdir -p); 0, or -1 with errno. */
int w2s_mkdir_p(const char *path);

/* Writes text to path through path.tmp, synced to the disk, and a rename,
 * so a reader never sees half a file, even after a crash of the machine;
 * mode 0 keeps the default permissions.  Returns W2S_STATUS_IO after
 * keeping one message (w2s_log_error_local). */
enum w2s_status w2s_write_file_atomic(const char *path, const char *text, unsigned mode);

/* After a rename that made path: the entry in its folder to the disk.  0,
 * or -1 after keeping one message.  Where a folder cannot be synced (the
 * file system says EINVAL) or opened (write but no read permission), the
 * entry is as durable as the file system makes it, and 0. */
int w2s_sync_folder_of(const char *path);

/* bytes in words for a message: "512 B", "300 KiB", "1.5 GiB".  Returns
 * buf. */
const char *w2s_bytes_words(double bytes, char *buf, size_t size);

/* Room left for an unprivileged writer on the file system of path, in
 * bytes, or -1 when it cannot be asked. */
double w2s_free_bytes(const char *path);

/* *out = a * b; returns 0, or -1 (leaving *out untouched) on overflow. */
int w2s_mul_size(size_t a, size_t b, size_t *out);

#endif

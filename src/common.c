/*
 * common.c: allocation helpers and exit codes shared by every module.
 */
#include "w2s/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "w2s/log.h"

int w2s_status_exit_code(enum w2s_status s)
{
	switch (s) {
	case W2S_STATUS_OK: return 0;
	case W2S_STATUS_USAGE: return 2;
	case W2S_STATUS_CONFIG: return 3;
	case W2S_STATUS_IO: return 4;
	case W2S_STATUS_NUMERIC: return 5;
	case W2S_STATUS_NOMEM: return 6;
	case W2S_STATUS_EXISTS: return 7;
	case W2S_STATUS_STOPPED: return 8;
	}
	return 1;
}

void *w2s_xmalloc(size_t bytes)
{
	void *p = malloc(bytes ? bytes : 1);
	W2S_CHECK(p != NULL);
	return p;
}

void *w2s_xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	W2S_CHECK(p != NULL);
	return p;
}

char *w2s_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = w2s_xmalloc(n);
	memcpy(p, s, n);
	return p;
}

const char *w2s_bytes_words(double bytes, char *buf, size_t size)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int u = 0;
	while (bytes >= 1024.0 && u < 5) {
		bytes /= 1024.0;
		u++;
	}
	snprintf(buf, size, u == 0 || bytes >= 100.0 ? "%.0f %s" : "%.3g %s", bytes, unit[u]);
	return buf;
}

double w2s_free_bytes(const char *path)
{
	struct statvfs fs;
	if (statvfs(path, &fs) != 0)
		return -1;
	return (double)fs.f_bavail * (double)(fs.f_frsize ? fs.f_frsize : fs.f_bsize);
}

int w2s_mul_size(size_t a, size_t b, size_t *out)
{
	if (a != 0 && b > SIZE_MAX / a)
		return -1;
	*out = a * b;
	return 0;
}

int w2s_mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0777) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

enum w2s_status w2s_write_file_atomic(const char *path, const char *text, unsigned mode)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	int bad = f == NULL;
	if (f) {
		bad = fputs(text, f) < 0;
		bad |= fflush(f) != 0;
		bad |= fsync(fileno(f)) != 0;
		bad |= fclose(f) != 0;
	}
	if (!bad && mode != 0)
		bad = chmod(tmp, (mode_t)mode) != 0;
	if (bad || rename(tmp, path) != 0) {
		w2s_log_error_local("cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
		return W2S_STATUS_IO;
	}
	return w2s_sync_folder_of(path) == 0 ? W2S_STATUS_OK : W2S_STATUS_IO;
}

int w2s_sync_folder_of(const char *path)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return 0;
	int bad = fsync(fd) != 0 && errno != EINVAL;
	if (bad)
		w2s_log_error_local("cannot write the folder '%s' to the disk: %s", dir,
				    strerror(errno));
	close(fd);
	return bad ? -1 : 0;
}

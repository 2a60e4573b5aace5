/*
 * common.c: allocation helpers and exit codes shared by every module.
 */
#include "w2s/common.h"

#include <stdlib.h>
#include <string.h>

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

int w2s_mul_size(size_t a, size_t b, size_t *out)
{
	if (a != 0 && b > SIZE_MAX / a)
		return -1;
	*out = a * b;
	return 0;
}

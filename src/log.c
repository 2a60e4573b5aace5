/*
 * log.c: one-line messages for the user; see log.h.
 */
#include "w2s/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int log_rank;
static int log_world = 1;
static enum w2s_log_level log_threshold = W2S_LOG_INFO;

void w2s_log_init(int rank, enum w2s_log_level level)
{
	log_rank = rank;
	log_threshold = level;
}

void w2s_log_set_world(int size)
{
	log_world = size;
}

enum w2s_log_level w2s_log_level(void)
{
	return log_threshold;
}

int w2s_log_parse_level(const char *name)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

static void emit(FILE *f, const char *prefix, const char *fmt, va_list ap)
{
	/* Format into one buffer so a line from one rank is not interleaved
	 * with another's. */
	char line[4096];
	int n = snprintf(line, sizeof line, "%s", prefix);
	if (n < 0)
		n = 0;
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	fprintf(f, "%s\n", line);
	fflush(f);
}

static void vlog(enum w2s_log_level level, FILE *f, const char *prefix, const char *fmt,
		 va_list ap)
{
	if (log_rank == 0 && level <= log_threshold)
		emit(f, prefix, fmt, ap);
}

void w2s_log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(W2S_LOG_ERROR, stderr, "w2s: error: ", fmt, ap);
	va_end(ap);
}

void w2s_log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(W2S_LOG_WARN, stderr, "w2s: warning: ", fmt, ap);
	va_end(ap);
}

void w2s_log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(W2S_LOG_INFO, stdout, "", fmt, ap);
	va_end(ap);
}

void w2s_log_debug(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(W2S_LOG_DEBUG, stdout, "debug: ", fmt, ap);
	va_end(ap);
}

static char pending[4096];

void w2s_log_error_local(const char *fmt, ...)
{
	if (pending[0] != '\0')
		return;
	char prefix[64];
	if (log_world > 1)
		snprintf(prefix, sizeof prefix, "w2s: error (rank %d): ", log_rank);
	else
		snprintf(prefix, sizeof prefix, "w2s: error: ");
	size_t n = strlen(prefix);
	memcpy(pending, prefix, n + 1);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pending + n, sizeof pending - n, fmt, ap);
	va_end(ap);
}

void w2s_log_flush_local(int print)
{
	if (print && pending[0] != '\0') {
		fprintf(stderr, "%s\n", pending);
		fflush(stderr);
	}
	pending[0] = '\0';
}

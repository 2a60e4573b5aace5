/*
 * log.c: one-line messages for the user; see log.h.
 */
#include "w2s/log.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int log_rank;
static int log_world = 1;
static enum w2s_log_level log_threshold = W2S_LOG_INFO;
static int log_json;
static struct timespec log_start;
/* Set by w2s_log_context: put before every error message. */
static const char *context;

static double seconds_since_start(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - log_start.tv_sec) + 1e-9 * (double)(now.tv_nsec - log_start.tv_nsec);
}

int w2s_log_set_format(const char *name)
{
	if (strcmp(name, "text") != 0 && strcmp(name, "json") != 0)
		return -1;
	log_json = strcmp(name, "json") == 0;
	return 0;
}

/* Writes s as the body of a JSON string (without the quotes). */
static void json_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
}

void w2s_log_init(int rank, enum w2s_log_level level)
{
	log_rank = rank;
	log_threshold = level;
	if (log_start.tv_sec == 0)
		clock_gettime(CLOCK_MONOTONIC, &log_start);
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

static const char *level_name(const char *prefix)
{
	if (strstr(prefix, "error"))
		return "error";
	if (strstr(prefix, "warning"))
		return "warn";
	if (strstr(prefix, "debug"))
		return "debug";
	return "info";
}

static void emit(FILE *f, const char *prefix, const char *fmt, va_list ap)
{
	/* Format into one buffer so a line from one rank is not interleaved
	 * with another's. */
	char line[4096];
	if (log_json) {
		vsnprintf(line, sizeof line, fmt, ap);
		fprintf(f, "{\"level\":\"%s\",\"rank\":%d,\"time\":%.3f,\"msg\":\"",
			level_name(prefix), log_rank, seconds_since_start());
		json_escape(f, line);
		fputs("\"}\n", f);
		fflush(f);
		return;
	}
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

static void log_line(enum w2s_log_level level, const char *prefix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, stderr, prefix, fmt, ap);
	va_end(ap);
}

void w2s_log_error(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_line(W2S_LOG_ERROR, "w2s: error: ", "%s%s", context ? context : "", msg);
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

/* The message kept by w2s_log_error_local, without its prefix. */
static char pending[4096];
/* Set by w2s_log_local_as_warning: kept messages print as warnings, with
 * this appended. */
static const char *recovering;

/* Prints one error or warning line through emit(). */
static void emit_text(const char *prefix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(stderr, prefix, fmt, ap);
	va_end(ap);
}

void w2s_log_error_local(const char *fmt, ...)
{
	if (pending[0] != '\0')
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pending, sizeof pending, fmt, ap);
	va_end(ap);
	if (pending[0] == '\0')
		snprintf(pending, sizeof pending, "(no message)");
}

void w2s_log_flush_local(int print)
{
	if (print && pending[0] != '\0') {
		const char *level = recovering ? "warning" : "error";
		char prefix[64];
		if (log_world > 1)
			snprintf(prefix, sizeof prefix, "w2s: %s (rank %d): ", level, log_rank);
		else
			snprintf(prefix, sizeof prefix, "w2s: %s: ", level);
		if (recovering)
			emit_text(prefix, "%s%s", pending, recovering);
		else
			emit_text(prefix, "%s%s", context ? context : "", pending);
	}
	pending[0] = '\0';
}

void w2s_log_local_as_warning(const char *then)
{
	recovering = then;
}

void w2s_log_context(const char *prefix)
{
	context = prefix;
}

void w2s_log_progress(const struct w2s_log_progress *p)
{
	if (log_rank != 0 || log_threshold < W2S_LOG_INFO)
		return;
	if (log_json) {
		/* JSON has no NaN: a value not measured is null. */
		char val[32] = "null", acc[32] = "null";
		if (isfinite(p->val_acc))
			snprintf(val, sizeof val, "%.6g", p->val_acc);
		if (isfinite(p->acc))
			snprintf(acc, sizeof acc, "%.6g", p->acc);
		printf("{\"level\":\"info\",\"rank\":%d,\"time\":%.3f,\"model\":\"", log_rank,
		       seconds_since_start());
		json_escape(stdout, p->model);
		printf("\",\"step\":%lld,\"total\":%lld,\"epoch\":%.4f,\"loss\":%.6g,\"acc\":%s,"
		       "\"val_acc\":%s,\"lr\":%.6g,\"samples_per_s\":%.6g,\"eta_s\":%.1f}\n",
		       (long long)p->step, (long long)p->total, p->epoch, p->loss, acc, val, p->lr,
		       p->samples_per_s, p->eta_seconds);
		fflush(stdout);
		return;
	}
	char val[32] = "", eta[32];
	if (isfinite(p->val_acc))
		snprintf(val, sizeof val, "  val %.4f", p->val_acc);
	long e = p->eta_seconds > 0 && p->eta_seconds < 1e9 ? (long)(p->eta_seconds + 0.5) : 0;
	snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", e / 3600, (e / 60) % 60, e % 60);
	w2s_log_info("%-16s step %6lld/%lld  epoch %5.2f  loss %.4f  acc %.4f%s  lr %.2e  %9.0f "
		     "samples/s  ETA %s",
		     p->model, (long long)p->step, (long long)p->total, p->epoch, p->loss, p->acc, val,
		     p->lr, p->samples_per_s, eta);
}

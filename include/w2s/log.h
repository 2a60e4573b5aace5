/*
 * log.h: messages for the user.  Errors and warnings go to stderr, progress
 * to stdout, one whole line per call (no carriage-return bars: slurm logs
 * keep every byte).  Only rank 0 prints unless a message is marked as seen
 * by one rank alone, which then carries its rank number.
 */
#ifndef W2S_LOG_H
#define W2S_LOG_H

#include <stdint.h>

enum w2s_log_level {
	W2S_LOG_ERROR = 0,
	W2S_LOG_WARN,
	W2S_LOG_INFO,
	W2S_LOG_DEBUG,
};

/* Set once at start-up: this process's rank, and the level below which
 * messages are dropped (W2S_LOG_INFO by default). */
void w2s_log_init(int rank, enum w2s_log_level level);
enum w2s_log_level w2s_log_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int w2s_log_parse_level(const char *name);

/* Printed by rank 0 only: for facts every rank knows alike (a config error
 * that every rank found, a progress line). */
void w2s_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void w2s_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void w2s_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void w2s_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For what only this rank saw (a failed write): the message is kept, not
 * printed, until the ranks agree on the failure (w2s_comm_agree); then the
 * lowest failing rank prints its message, prefixed with its rank when the
 * job has more than one, and the others drop theirs.  So a failure that
 * every rank saw is one line, not one per rank.  The first message since
 * the last agreement is the one kept. */
void w2s_log_error_local(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the kept message (print true) or drops it; either way clears it. */
void w2s_log_flush_local(int print);
/* For a failure w2s recovers from (a damaged checkpoint skipped for an
 * older one): until called again with NULL, kept messages print as
 * warnings with `then` appended ("; using the one before it").  `then` must
 * outlive that. */
void w2s_log_local_as_warning(const char *then);
/* Until called again with NULL, every error message starts with prefix
 * ("cannot resume the run: "), so that a message from deep down says what
 * it stopped.  prefix must outlive that. */
void w2s_log_context(const char *prefix);

/* Tell the logger the world size so local errors name their rank. */
void w2s_log_set_world(int size);

/* "text" (the default) or "json": one JSON object per line, {"level",
 * "rank", "time" (seconds since start-up), "msg"} for messages and the
 * fields of struct w2s_log_progress for progress.  Returns -1 for another
 * name. */
int w2s_log_set_format(const char *name);

/* One progress report of a model in training (rank 0 prints it). */
struct w2s_log_progress {
	const char *model;
	int64_t step, total;
	double epoch, loss, acc, val_acc; /* val_acc NaN: not evaluated */
	double lr, samples_per_s, eta_seconds;
};
void w2s_log_progress(const struct w2s_log_progress *p);

#endif

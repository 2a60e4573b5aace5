/*
 * fuzz_config.c: libFuzzer target for the config parser (`make fuzz`).
 *
 * An input is a config file's text, then up to MAX_SETS "--set" overrides,
 * each after a NUL byte: "seed: 3\0train.lr=0.1\0models.big.hidden=[8]".
 * The text goes to w2s_config_load through a memfd (so nothing touches the
 * disk), the overrides as the command line would pass them.  An empty text
 * loads no file at all, as `w2s run` without a config does.
 *
 * Beyond what ASan and UBSan catch, every input must keep the promises of
 * config.h, and a broken one aborts:
 *   - the status is OK or CONFIG (the memfd is always readable);
 *   - a refusal prints exactly one "w2s: " line, an accepted config none;
 *   - an accepted config's YAML (what `w2s run` writes to OUT/config.yaml)
 *     loads again to the same canonical JSON;
 *   - a refused config leaves the struct freed (json and yaml NULL).
 *
 * Not the whole program: MPI is never initialized (w2s_die sees that and
 * calls abort, which libFuzzer reports with the message before it).
 */
#define _GNU_SOURCE /* memfd_create, fopencookie */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "w2s/config.h"

#define MAX_SETS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int text_fd = -1;
static char text_path[64];

/* Replaces the memfd's content with text[0..len). */
static void put_text(const char *text, size_t len)
{
	if (text_fd < 0) {
		text_fd = memfd_create("w2s-fuzz-config", 0);
		if (text_fd < 0) {
			perror("memfd_create");
			abort();
		}
		/* Opening this path opens the memfd anew, at offset 0. */
		snprintf(text_path, sizeof text_path, "/proc/self/fd/%d", text_fd);
	}
	if (ftruncate(text_fd, 0) != 0 || pwrite(text_fd, text, len, 0) != (ssize_t)len) {
		perror("writing the memfd");
		abort();
	}
}

/* What the program writes to stderr while loading.  Every w2s_log_*
 * call prints its line with one fprintf and flushes, so each message
 * arrives as one write: counting the writes that start with "w2s: "
 * counts messages, even when a message quotes text with newlines. */
struct sink {
	char *buf;
	size_t len, cap;
	int messages;
};

/* Whether s[0..n) starts with prefix.  Left uninstrumented, unlike
 * memcmp, so that the fuzzer does not learn these words from the harness
 * and spend its time writing them into inputs. */
__attribute__((no_sanitize("coverage"))) static bool starts_with(const char *s, size_t n,
								   const char *prefix)
{
	size_t i = 0;
	for (; prefix[i] != '\0'; i++)
		if (i == n || s[i] != prefix[i])
			return false;
	return true;
}

static ssize_t sink_write(void *cookie, const char *s, size_t n)
{
	struct sink *k = cookie;
	if (k->len + n + 1 > k->cap) {
		size_t cap = 2 * (k->len + n + 1);
		char *grown = realloc(k->buf, cap);
		if (grown == NULL)
			abort();
		k->buf = grown;
		k->cap = cap;
	}
	if (starts_with(s, n, "w2s: "))
		k->messages++;
	memcpy(k->buf + k->len, s, n);
	k->len += n;
	k->buf[k->len] = '\0';
	/* w2s_die flushes its message, then aborts: let it be seen. */
	if (starts_with(s, n, "w2s: internal error") && write(2, s, n) < 0)
		return -1;
	return (ssize_t)n;
}

/* w2s_config_load with the program's stderr caught in *k (the caller
 * frees k->buf).  libFuzzer and the sanitizers keep the real stderr: they
 * write to the stream or the descriptor they took at start-up. */
static enum w2s_status load_caught(struct w2s_config *c, const char *path,
				   const char *const *sets, int nsets, struct sink *k)
{
	cookie_io_functions_t io = {.write = sink_write};
	FILE *caught = fopencookie(k, "w", io);
	if (caught == NULL)
		abort();
	FILE *real = stderr;
	stderr = caught;
	enum w2s_status st = w2s_config_load(c, path, sets, nsets);
	stderr = real;
	fclose(caught);
	return st;
}

static void broken(const char *promise, const char *err)
{
	fprintf(stderr, "fuzz_config: %s\nits stderr:\n%s\n", promise, err ? err : "");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The text up to the first NUL, then the overrides (copied: each
	 * needs its own NUL, and the input is read-only). */
	char *copy = malloc(size + 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	size_t text_len = strnlen(copy, size);
	const char *sets[MAX_SETS];
	int nsets = 0;
	for (size_t at = text_len + 1; at <= size && nsets < MAX_SETS; at += strlen(copy + at) + 1)
		sets[nsets++] = copy + at;

	put_text(copy, text_len);
	struct w2s_config c;
	struct sink err = {0}, err2 = {0};
	enum w2s_status st = load_caught(&c, text_len ? text_path : NULL, sets, nsets, &err);
	int messages = err.messages;
	if (st == W2S_STATUS_OK) {
		if (messages != 0)
			broken("an accepted config printed a message", err.buf);
		if (c.json == NULL || c.yaml == NULL)
			broken("an accepted config has no JSON or YAML", err.buf);
		/* What OUT/config.yaml would hold must load to the same config. */
		put_text(c.yaml, strlen(c.yaml));
		struct w2s_config again;
		enum w2s_status st2 = load_caught(&again, text_path, NULL, 0, &err2);
		if (st2 != W2S_STATUS_OK) {
			fprintf(stderr, "fuzz_config: the written YAML:\n%s\n", c.yaml);
			broken("the YAML of an accepted config is refused", err2.buf);
		}
		if (strcmp(c.json, again.json) != 0) {
			fprintf(stderr, "fuzz_config: first load:  %s\nsecond load: %s\n", c.json,
				again.json);
			broken("the YAML of an accepted config loads to another config", err2.buf);
		}
		w2s_config_free(&again);
	} else if (st == W2S_STATUS_CONFIG) {
		if (messages != 1)
			broken("a refused config printed other than one message", err.buf);
		if (c.json != NULL || c.yaml != NULL)
			broken("a refused config left JSON or YAML behind", err.buf);
	} else {
		broken("w2s_config_load returned neither OK nor CONFIG", err.buf);
	}
	w2s_config_free(&c);
	free(err.buf);
	free(err2.buf);
	free(copy);
	return 0;
}

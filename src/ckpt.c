/*
 * ckpt.c: checkpoints of a model in training, part of the train module;
 * see train.h.
 *
 * Rank 0 alone touches directory entries (listing, renaming, removing) and
 * tells the others; the files themselves are written and read by all.
 */
#include "w2s/train.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "w2s/h5io.h"
#include "w2s/log.h"

#define MAX_CKPTS 256

/* Steps of the checkpoints of `name` in dir, newest first; rank 0 lists,
 * every rank gets the list.  Returns how many. */
static int list_steps(const struct w2s_comm *c, const char *dir, const char *name,
		      int64_t *steps)
{
	int64_t buf[MAX_CKPTS + 1] = {0};
	if (c->rank == 0) {
		DIR *d = opendir(dir);
		size_t len = strlen(name);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL && buf[0] < MAX_CKPTS) {
			const char *f = e->d_name;
			char *end;
			if (strncmp(f, name, len) != 0 || f[len] != '-')
				continue;
			long long step = strtoll(f + len + 1, &end, 10);
			if (end == f + len + 1 || strcmp(end, ".h5") != 0 || step < 0)
				continue;
			int64_t k = ++buf[0];
			buf[k] = step;
			/* insertion into descending order */
			while (k > 1 && buf[k] > buf[k - 1]) {
				int64_t t = buf[k];
				buf[k] = buf[k - 1];
				buf[k - 1] = t;
				k--;
			}
		}
		if (d)
			closedir(d);
	}
	w2s_comm_bcast(c, buf, sizeof buf, 0);
	memcpy(steps, buf + 1, (size_t)buf[0] * sizeof *steps);
	return (int)buf[0];
}

static void ckpt_path(char *out, size_t size, const char *dir, const char *name, int64_t step)
{
	snprintf(out, size, "%s/%s-%09lld.h5", dir, name, (long long)step);
}

static int mkdir_once(const char *dir)
{
	return mkdir(dir, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

/* Writes the flat buffer v (n floats, the same on every rank) with each
 * rank its share. */
static enum w2s_status write_flat(struct w2s_h5 *f, const struct w2s_comm *c, const char *path,
				  const float *v, int64_t n)
{
	int64_t b, e;
	w2s_shard(n, c->rank, c->size, &b, &e);
	return w2s_h5_write_rows(f, c, path, W2S_H5_F32, n, 0, b, e - b, v + b);
}

enum w2s_status w2s_ckpt_write(const struct w2s_comm *c, const struct w2s_ckpt_meta *meta,
			       const struct w2s_mlp *m, const struct w2s_optim *o,
			       const struct w2s_train_state *s, int final, char *written,
			       size_t size)
{
	char path[4096];
	ckpt_path(path, sizeof path, meta->dir, meta->name, s->step);
	int bad = 0;
	if (c->rank == 0 && mkdir_once(meta->dir) != 0) {
		w2s_log_error_local("cannot create checkpoint folder '%s': %s", meta->dir,
				    strerror(errno));
		bad = 1;
	}
	if (w2s_comm_agree(c, bad))
		return W2S_STATUS_IO;

	struct w2s_h5 f = {.file = -1};
	enum w2s_status st = w2s_h5_create_tmp(&f, c, path);
	const int64_t n = (int64_t)m->nparams;
	if (st == W2S_STATUS_OK)
		st = write_flat(&f, c, "/params", m->params, n);
	/* The moments cover the trainable part only (a probe's last layer). */
	if (st == W2S_STATUS_OK)
		st = write_flat(&f, c, "/adam_m", o->m, (int64_t)o->n);
	if (st == W2S_STATUS_OK)
		st = write_flat(&f, c, "/adam_v", o->v, (int64_t)o->n);
	if (st == W2S_STATUS_OK && s->best_params)
		st = write_flat(&f, c, "/best_params", s->best_params, n);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_table(&f, c, "/trace", w2s_trace_columns, W2S_TRACE_FIELDS,
					sizeof(struct w2s_trace_row), s->trace_rows, s->ntrace);
	const struct {
		const char *key;
		int64_t value;
	} ints[] = {
		{"step", s->step}, {"epoch", s->epoch}, {"batch", s->batch}, {"final", final},
		{"ntrace", s->ntrace}, {"nparams", n}, {"world_size", c->size},
		{"rng_seed", (int64_t)meta->seed}, {"rng_stream", meta->stream},
		{"best_step", s->best_step}, {"bad_evals", s->bad_evals},
		{"has_best_params", s->best_params != NULL}, {"reduce_exp", s->reduce_exp},
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0] && st == W2S_STATUS_OK; i++)
		st = w2s_h5_attr_int64(&f, "/", ints[i].key, ints[i].value);
	const struct {
		const char *key;
		double value;
	} reals[] = {
		{"loss_sum", s->loss_sum}, {"correct", s->correct}, {"seen", s->seen},
		{"seconds", s->seconds}, {"last_val", s->last_val}, {"best_val", s->best_val},
	};
	for (size_t i = 0; i < sizeof reals / sizeof reals[0] && st == W2S_STATUS_OK; i++)
		st = w2s_h5_attr_double(&f, "/", reals[i].key, reals[i].value);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&f, "/", "kind", "checkpoint");
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&f, "/", "model", meta->name);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&f, "/", "config", meta->config_json);
	/* Only a whole file gets the final name; older ones go afterwards. */
	if (f.tmp)
		st = w2s_h5_commit(&f, c, st);
	if (st != W2S_STATUS_OK)
		return st;
	if (written)
		snprintf(written, size, "%s", path);

	int64_t steps[MAX_CKPTS];
	int k = list_steps(c, meta->dir, meta->name, steps);
	if (c->rank == 0)
		for (int i = (int)meta->keep; i < k; i++) {
			ckpt_path(path, sizeof path, meta->dir, meta->name, steps[i]);
			unlink(path);
		}
	return W2S_STATUS_OK;
}

void w2s_ckpt_loaded_free(struct w2s_ckpt_loaded *l)
{
	free(l->state.best_params);
	l->state.best_params = NULL;
	free(l->state.trace_rows);
	free(l->m);
	free(l->v);
	l->state.trace_rows = NULL;
	l->m = l->v = NULL;
}

/* Not collective: reads one checkpoint file already open; 0 on success. */
static enum w2s_status read_one(struct w2s_h5 *f, const struct w2s_ckpt_meta *meta,
				struct w2s_mlp *m, struct w2s_ckpt_loaded *out)
{
	const int64_t n = (int64_t)m->nparams;
	int64_t nparams = -1, final = 0, has_best = 0;
	char *config = NULL;
	enum w2s_status st = w2s_h5_attr_read_int64(f, "/", "nparams", &nparams);
	if (st == W2S_STATUS_OK && nparams != n) {
		w2s_log_error_local("'%s' holds %lld parameters, the model has %lld", f->path,
				    (long long)nparams, (long long)n);
		st = W2S_STATUS_IO;
	}
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_read_string(f, "/", "config", &config);
	if (st == W2S_STATUS_OK && strcmp(config, meta->config_json) != 0) {
		w2s_log_error_local("'%s' belongs to another config", f->path);
		st = W2S_STATUS_IO;
	}
	free(config);
	struct w2s_train_state *s = &out->state;
	const struct {
		const char *key;
		int64_t *value;
	} ints[] = {{"step", &s->step}, {"epoch", &s->epoch}, {"batch", &s->batch}, {"final", &final},
		    {"best_step", &s->best_step}, {"bad_evals", &s->bad_evals}, {"has_best_params", &has_best},
		    {"reduce_exp", &s->reduce_exp}};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0] && st == W2S_STATUS_OK; i++)
		st = w2s_h5_attr_read_int64(f, "/", ints[i].key, ints[i].value);
	const struct {
		const char *key;
		double *value;
	} reals[] = {{"loss_sum", &s->loss_sum}, {"correct", &s->correct}, {"seen", &s->seen},
		     {"seconds", &s->seconds}, {"last_val", &s->last_val}, {"best_val", &s->best_val}};
	for (size_t i = 0; i < sizeof reals / sizeof reals[0] && st == W2S_STATUS_OK; i++)
		st = w2s_h5_attr_read_double(f, "/", reals[i].key, reals[i].value);
	int64_t nopt = 0, cols = 0;
	if (st == W2S_STATUS_OK)
		st = w2s_h5_shape(f, "/adam_m", &nopt, &cols);
	if (st == W2S_STATUS_OK && nopt != (int64_t)meta->ntrain) {
		w2s_log_error_local("'%s' holds moments for %lld parameters, the model trains %lld",
				    f->path, (long long)nopt, (long long)meta->ntrain);
		st = W2S_STATUS_IO;
	}
	out->m = w2s_xmalloc((size_t)(nopt ? nopt : 1) * sizeof *out->m);
	out->v = w2s_xmalloc((size_t)(nopt ? nopt : 1) * sizeof *out->v);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_read_rows(f, "/params", W2S_H5_F32, 0, 0, n, m->params);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_read_rows(f, "/adam_m", W2S_H5_F32, 0, 0, nopt, out->m);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_read_rows(f, "/adam_v", W2S_H5_F32, 0, 0, nopt, out->v);
	if (st == W2S_STATUS_OK && has_best) {
		s->best_params = w2s_xmalloc((size_t)n * sizeof *s->best_params);
		st = w2s_h5_read_rows(f, "/best_params", W2S_H5_F32, 0, 0, n, s->best_params);
	}
	void *rows = NULL;
	if (st == W2S_STATUS_OK)
		st = w2s_h5_read_table(f, "/trace", w2s_trace_columns, W2S_TRACE_FIELDS,
				       sizeof(struct w2s_trace_row), &rows, &s->ntrace);
	s->trace_rows = rows;
	out->final = (int)final;
	return st;
}

enum w2s_status w2s_ckpt_load(const struct w2s_comm *c, const struct w2s_ckpt_meta *meta,
			      struct w2s_mlp *m, struct w2s_ckpt_loaded *out, int *found)
{
	memset(out, 0, sizeof *out);
	*found = 0;
	int64_t steps[MAX_CKPTS];
	int k = list_steps(c, meta->dir, meta->name, steps);
	for (int i = 0; i < k; i++) {
		ckpt_path(out->path, sizeof out->path, meta->dir, meta->name, steps[i]);
		struct w2s_h5 f = {.file = -1};
		/* A damaged checkpoint is skipped: its message, a warning, says
		 * what comes instead. */
		w2s_log_local_as_warning(i + 1 < k ? "; skipping it for the one before it"
						   : "; skipping it: no older checkpoint, so the "
						     "model trains from the start");
		enum w2s_status st = w2s_h5_open(&f, c, out->path);
		if (st == W2S_STATUS_OK)
			st = read_one(&f, meta, m, out);
		w2s_h5_close(&f);
		int bad = w2s_comm_agree(c, (int)st);
		w2s_log_local_as_warning(NULL);
		if (!bad) {
			*found = 1;
			return W2S_STATUS_OK;
		}
		w2s_ckpt_loaded_free(out);
	}
	return W2S_STATUS_OK;
}

void w2s_ckpt_remove_all(const struct w2s_comm *c, const char *dir)
{
	if (c->rank == 0) {
		DIR *d = opendir(dir);
		struct dirent *e;
		char path[4096];
		while (d && (e = readdir(d)) != NULL) {
			size_t len = strlen(e->d_name);
			int h5 = len > 3 && strcmp(e->d_name + len - 3, ".h5") == 0;
			int tmp = len > 7 && strcmp(e->d_name + len - 7, ".h5.tmp") == 0;
			if (!h5 && !tmp)
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
		if (d)
			closedir(d);
	}
	w2s_comm_barrier(c);
}

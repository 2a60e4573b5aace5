/*
 * stages.c: gen, train, label and eval of one model instance, the PGR, and
 * the pipeline of `w2s run` that composes them; see stages.h.
 *
 * Data layout in memory: a model being trained holds its whole training
 * split (every rank the same rows); labeling and evaluation read only the
 * rank's shard of the split and write it collectively.
 */
#include "w2s/stages.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "w2s/log.h"
#include "w2s/loss.h"
#include "w2s/mlp.h"
#include "w2s/rng.h"
#include "w2s/task.h"
#include "w2s/train.h"

double w2s_pgr(double p_weak, double p_w2s, double p_ceiling)
{
	double gap = p_ceiling - p_weak;
	if (!(gap > 0))
		return NAN;
	return (p_w2s - p_weak) / gap;
}

/* ---- output folder ---- */

static int mkdir_p(const char *path)
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
	if (mkdir(buf, 0777) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static void join(char *out, size_t size, const char *dir, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

/* Copies a name into a fixed-size field, truncating. */
static void set_field(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Rank 0: writes text to path through a temporary file and a rename. */
static int write_file_atomic(const char *path, const char *text)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	int bad = f == NULL;
	if (f) {
		bad = fputs(text, f) < 0;
		bad |= fclose(f) != 0;
	}
	if (bad || rename(tmp, path) != 0) {
		w2s_log_error_local("cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Rank 0 only: renames a file written under path.tmp to path. */
static int rename_tmp(const char *path)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (rename(tmp, path) != 0) {
		w2s_log_error_local("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Collective: 0 when OUT/config.yaml holds cfg's config, else a message. */
static enum w2s_status same_config(const struct w2s_config *cfg, const char *path)
{
	struct w2s_config old = {0};
	enum w2s_status st = w2s_config_load(&old, path, NULL, 0);
	if (st != W2S_STATUS_OK) {
		w2s_log_error("cannot resume: '%s' (above) is not a config w2s can read", path);
		return W2S_STATUS_CONFIG;
	}
	char diff[2048];
	int n = w2s_config_diff(old.json, cfg->json, diff, sizeof diff);
	w2s_config_free(&old);
	if (n > 0) {
		w2s_log_error("cannot resume with another config: %d key%s differ%s from '%s' "
			      "(there vs now: %s); resume with the same config, or use --force "
			      "to start over",
			      n, n > 1 ? "s" : "", n > 1 ? "" : "s", path, diff);
		return W2S_STATUS_CONFIG;
	}
	return W2S_STATUS_OK;
}

enum w2s_status w2s_stage_prepare_out(const struct w2s_comm *c, const struct w2s_config *cfg,
				      const char *out, const char *guard, bool force,
				      bool resume, bool *resuming)
{
	char path[4096];
	int flags[2] = {0, 0}; /* folder could not be made; guard exists */
	if (c->rank == 0) {
		if (mkdir_p(out) != 0) {
			w2s_log_error_local("cannot create output folder '%s': %s", out,
					    strerror(errno));
			flags[0] = 1;
		}
		join(path, sizeof path, out, guard);
		flags[1] = access(path, F_OK) == 0;
	}
	if (w2s_comm_agree(c, flags[0]))
		return W2S_STATUS_IO;
	w2s_comm_bcast(c, &flags[1], sizeof flags[1], 0);
	*resuming = resume && flags[1];
	if (flags[1] && !force && !resume) {
		w2s_log_error("'%s' already holds a run (%s); pass --resume to finish it, --force "
			      "to replace it, or choose another --out",
			      out, guard);
		return W2S_STATUS_EXISTS;
	}
	join(path, sizeof path, out, "config.yaml");
	if (*resuming) {
		enum w2s_status st = same_config(cfg, path);
		if (st == W2S_STATUS_OK)
			w2s_log_info("resuming the run in %s", out);
		return st;
	}
	if (resume)
		w2s_log_info("nothing to resume in %s: starting the run", out);
	if (flags[1] && force) {
		char ckpt[4096];
		join(ckpt, sizeof ckpt, out, "ckpt");
		w2s_ckpt_remove_all(c, ckpt);
	}
	int bad = c->rank == 0 && write_file_atomic(path, cfg->yaml) != 0;
	return w2s_comm_agree(c, bad) ? W2S_STATUS_IO : W2S_STATUS_OK;
}

/* ---- gen ---- */

static enum w2s_status agree(const struct w2s_comm *c, enum w2s_status st)
{
	return (enum w2s_status)w2s_comm_agree(c, (int)st);
}

enum w2s_status w2s_stage_gen(const struct w2s_comm *c, const struct w2s_config *cfg,
			      const char *path, const struct w2s_provenance *prov)
{
	int64_t N = w2s_task_rows(cfg), b, e;
	w2s_shard(N, c->rank, c->size, &b, &e);
	struct w2s_task_shard shard;
	enum w2s_status st = w2s_task_generate(cfg, b, e, &shard);
	if (st != W2S_STATUS_OK)
		w2s_log_error_local("not enough memory to generate rows %lld..%lld",
				    (long long)b, (long long)e);
	if (w2s_comm_agree(c, (int)st))
		return W2S_STATUS_NOMEM;

	struct w2s_h5 f = {.file = -1};
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	st = w2s_h5_create(&f, c, tmp);
	if (st == W2S_STATUS_OK) {
		struct w2s_provenance p = *prov;
		p.kind = "data";
		p.world_size = -1; /* the data do not depend on it */
		st = w2s_h5_write_provenance(&f, &p);
	}
	for (int v = 0; v < shard.nviews && st == W2S_STATUS_OK; v++) {
		char name[128];
		snprintf(name, sizeof name, "/views/%s", shard.name[v]);
		st = w2s_h5_write_rows(&f, c, name, W2S_H5_F32, N, shard.width[v], b, e - b,
				       shard.x[v]);
		if (st == W2S_STATUS_OK && cfg->data.task == W2S_TASK_LATENT) {
			const struct w2s_view_spec *vs = &cfg->data.latent.views[v];
			st = w2s_h5_attr_int64(&f, name, "z", vs->z);
			if (st == W2S_STATUS_OK)
				st = w2s_h5_attr_int64(&f, name, "u", vs->u);
			if (st == W2S_STATUS_OK)
				st = w2s_h5_attr_double(&f, name, "noise", vs->noise);
		}
	}
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_rows(&f, c, "/target", W2S_H5_I32, N, 0, b, e - b, shard.target);
	for (int s = 0; s < W2S_NSPLITS && st == W2S_STATUS_OK; s++) {
		int64_t sb, se, lb, le;
		w2s_task_split_range(cfg, (enum w2s_split)s, &sb, &se);
		w2s_shard(se - sb, c->rank, c->size, &lb, &le);
		int64_t *idx = w2s_xmalloc((size_t)(le - lb) * sizeof *idx);
		for (int64_t i = lb; i < le; i++)
			idx[i - lb] = sb + i;
		char name[64];
		snprintf(name, sizeof name, "/splits/%s", w2s_split_name((enum w2s_split)s));
		st = w2s_h5_write_rows(&f, c, name, W2S_H5_I64, se - sb, 0, lb, le - lb, idx);
		free(idx);
	}
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&f, "/", "task",
					cfg->data.task == W2S_TASK_LATENT ? "latent" : "teacher");
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_int64(&f, "/", "seed", (int64_t)cfg->seed);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_int64(&f, "/", "classes", w2s_config_classes(cfg));
	enum w2s_status closed = agree(c, w2s_h5_close(&f));
	if (st == W2S_STATUS_OK)
		st = closed;
	if (st == W2S_STATUS_OK)
		st = agree(c, c->rank == 0 && rename_tmp(path) != 0 ? W2S_STATUS_IO : W2S_STATUS_OK);
	w2s_task_shard_free(&shard);
	return st;
}

/* ---- one experiment ---- */

struct instance {
	char name[W2S_NAME_MAX + 16]; /* "<role>.<model>" */
	const char *role;
	int model;                    /* index into cfg->models */
};

/* A row of /results: one model instance on one split. */
struct result_row {
	char model[W2S_NAME_MAX + 16];
	char role[16];
	char base[W2S_NAME_MAX];
	char view[W2S_NAME_MAX];
	char split[16];
	int64_t n;
	double accuracy;
	double loss;
	double train_seconds;
	int64_t step; /* the training step whose parameters were evaluated */
};

static const struct w2s_h5_column result_columns[] = {
	{"model", W2S_H5_COL_STR, offsetof(struct result_row, model), W2S_NAME_MAX + 16},
	{"role", W2S_H5_COL_STR, offsetof(struct result_row, role), 16},
	{"base", W2S_H5_COL_STR, offsetof(struct result_row, base), W2S_NAME_MAX},
	{"view", W2S_H5_COL_STR, offsetof(struct result_row, view), W2S_NAME_MAX},
	{"split", W2S_H5_COL_STR, offsetof(struct result_row, split), 16},
	{"n", W2S_H5_COL_I64, offsetof(struct result_row, n), 0},
	{"accuracy", W2S_H5_COL_F64, offsetof(struct result_row, accuracy), 0},
	{"loss", W2S_H5_COL_F64, offsetof(struct result_row, loss), 0},
	{"train_seconds", W2S_H5_COL_F64, offsetof(struct result_row, train_seconds), 0},
	{"step", W2S_H5_COL_I64, offsetof(struct result_row, step), 0},
};

/* A row of /pgr: one student's weak-to-strong outcome on test.  teacher is
 * the model whose labels it learned (the weak model, or the previous link
 * of a chain); p_weak is always the weak model's. */
struct pgr_row {
	char strong[W2S_NAME_MAX];
	char weak[W2S_NAME_MAX];
	char teacher[W2S_NAME_MAX];
	double p_weak, p_w2s, p_ceiling, pgr;
};

static const struct w2s_h5_column pgr_columns[] = {
	{"strong", W2S_H5_COL_STR, offsetof(struct pgr_row, strong), W2S_NAME_MAX},
	{"weak", W2S_H5_COL_STR, offsetof(struct pgr_row, weak), W2S_NAME_MAX},
	{"teacher", W2S_H5_COL_STR, offsetof(struct pgr_row, teacher), W2S_NAME_MAX},
	{"p_weak", W2S_H5_COL_F64, offsetof(struct pgr_row, p_weak), 0},
	{"p_w2s", W2S_H5_COL_F64, offsetof(struct pgr_row, p_w2s), 0},
	{"p_ceiling", W2S_H5_COL_F64, offsetof(struct pgr_row, p_ceiling), 0},
	{"pgr", W2S_H5_COL_F64, offsetof(struct pgr_row, pgr), 0},
};

struct experiment {
	const struct w2s_comm *c;
	const struct w2s_config *cfg;
	const struct w2s_run_opts *opts;
	bool resuming;
	char ckpt_dir[4096];
	char last_ckpt[4096]; /* the newest checkpoint written, for messages */
	struct w2s_h5 data, run;
	struct w2s_trace trace; /* rank 0 only */
	int ninst;
	struct instance inst[1 + 5 * W2S_MAX_MODELS];
	int64_t chosen_step[1 + 5 * W2S_MAX_MODELS]; /* whose parameters were kept */
	int nresults;
	struct result_row results[8 + 8 * W2S_MAX_MODELS];
};

/* Index of the instance `role`.`model`; it must exist. */
static int find_instance(const struct experiment *x, const char *role, const char *model)
{
	for (int i = 0; i < x->ninst; i++)
		if (!strcmp(x->inst[i].role, role) &&
		    !strcmp(x->cfg->models[x->inst[i].model].name, model))
			return i;
	W2S_CHECK(!"no such instance");
	return -1;
}

static int add_instance(struct experiment *x, const char *role, const char *model)
{
	struct instance *in = &x->inst[x->ninst];
	snprintf(in->name, sizeof in->name, "%s.%s", role, model);
	in->role = role;
	in->model = w2s_config_model_index(x->cfg, model);
	W2S_CHECK(in->model >= 0);
	return x->ninst++;
}

static void model_shape(const struct w2s_config *cfg, int model, struct w2s_mlp_shape *shape)
{
	const struct w2s_model_spec *ms = &cfg->models[model];
	memset(shape, 0, sizeof *shape);
	shape->nlayers = ms->nhidden + 1;
	shape->width[0] = (size_t)w2s_config_view_width(cfg, ms->view);
	for (int l = 0; l < ms->nhidden; l++)
		shape->width[l + 1] = (size_t)ms->hidden[l];
	shape->width[shape->nlayers] = (size_t)w2s_config_classes(cfg);
	shape->act = ms->act;
}

/* Reads rows [begin, end) of a view and of the target.  Not collective;
 * the caller agrees on the status. */
static enum w2s_status load_rows(struct experiment *x, const char *view, int64_t begin,
				 int64_t end, float **xs, int32_t **ys)
{
	int64_t D = w2s_config_view_width(x->cfg, view), n = end - begin;
	size_t cells;
	*xs = NULL;
	*ys = NULL;
	if (w2s_mul_size((size_t)n, (size_t)D * sizeof(float), &cells) != 0 ||
	    !(*xs = malloc(cells ? cells : 1)) || !(*ys = malloc((size_t)(n ? n : 1) * 4))) {
		w2s_log_error_local("not enough memory for %lld rows of view '%s'", (long long)n,
				    view);
		return W2S_STATUS_NOMEM;
	}
	char path[128];
	snprintf(path, sizeof path, "/views/%s", view);
	enum w2s_status st = w2s_h5_read_rows(&x->data, path, W2S_H5_F32, D, begin, n, *xs);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_read_rows(&x->data, "/target", W2S_H5_I32, 0, begin, n, *ys);
	return st;
}

/* Collective: stores the final parameters of an instance (rank 0's copy;
 * they are identical on every rank). */
static enum w2s_status save_params(struct experiment *x, const struct instance *in,
				   const struct w2s_mlp *m)
{
	char path[160], shape[512] = "";
	snprintf(path, sizeof path, "/models/%s/params", in->name);
	int64_t count = x->c->rank == 0 ? (int64_t)m->nparams : 0;
	enum w2s_status st = w2s_h5_write_rows(&x->run, x->c, path, W2S_H5_F32,
					       (int64_t)m->nparams, 0, 0, count, m->params);
	for (int l = 0; l <= m->shape.nlayers; l++) {
		size_t len = strlen(shape);
		snprintf(shape + len, sizeof shape - len, "%s%zu", l ? " " : "", m->shape.width[l]);
	}
	snprintf(path, sizeof path, "/models/%s", in->name);
	const struct w2s_model_spec *ms = &x->cfg->models[in->model];
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&x->run, path, "widths", shape);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&x->run, path, "activation",
					ms->nhidden ? w2s_act_name(ms->act) : "none");
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&x->run, path, "view", ms->view);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_int64(&x->run, path, "chosen_step",
				       x->chosen_step[in - x->inst]);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&x->run, path, "layout",
					"per layer: W (out, in) row-major, then b (out)");
	return st;
}

/* Collective: trains instance `in` on rows of `split` of its view, with
 * soft targets when `soft` (N, C) is given (y then holds the teacher's
 * hard labels for the accuracy shown), else on ground truth. */
struct save_ctx {
	struct experiment *x;
	struct w2s_ckpt_meta meta;
};

static enum w2s_status save_checkpoint(void *ctx, const struct w2s_mlp *m,
				       const struct w2s_optim *o, const struct w2s_train_state *s,
				       int final)
{
	struct save_ctx *sc = ctx;
	return w2s_ckpt_write(sc->x->c, &sc->meta, m, o, s, final, sc->x->last_ckpt,
			      sizeof sc->x->last_ckpt);
}

/* Collective, rank 0 writes: the trace rows of a model that a final
 * checkpoint restored without training. */
static enum w2s_status restore_trace(struct experiment *x, int i, const struct w2s_train_state *s)
{
	int bad = 0;
	for (int64_t r = 0; r < s->ntrace && x->c->rank == 0 && !bad; r++)
		bad = w2s_trace_append(&x->trace, i, &s->trace_rows[r]) != W2S_STATUS_OK;
	return agree(x->c, bad ? W2S_STATUS_IO : W2S_STATUS_OK);
}

/* Collective: trains instance `in` on rows of `split` of its view, with
 * soft targets when `soft` (N, C) is given (y then holds the teacher's
 * hard labels for the accuracy shown), else on ground truth.  When
 * resuming, a model whose training finished is read from its final
 * checkpoint and one that was interrupted goes on from its newest. */
/* A teacher's outputs on every row of the transfer split, on every rank. */
struct teacher {
	const char *name;  /* instance */
	const char *model; /* its model in the config */
	int32_t *val_pred; /* (N_val) its argmax on the val split, for early stopping */
	float *prob;   /* (N, C) */
	float *logit;  /* (N, C) */
	int32_t *pred; /* (N) */
};

static void teacher_alloc(struct teacher *t, int64_t n, int64_t n_val, int64_t C)
{
	t->val_pred = w2s_xmalloc((size_t)n_val * sizeof *t->val_pred);
	t->prob = w2s_xmalloc((size_t)(n * C) * sizeof *t->prob);
	t->logit = w2s_xmalloc((size_t)(n * C) * sizeof *t->logit);
	t->pred = w2s_xmalloc((size_t)n * sizeof *t->pred);
}

static void teacher_free(struct teacher *t)
{
	free(t->val_pred);
	t->val_pred = NULL;
	free(t->prob);
	free(t->logit);
	free(t->pred);
	t->prob = t->logit = NULL;
	t->pred = NULL;
}

/* The loss an instance trains with: students learn their teacher's labels
 * with w2s.loss, kd instances distill from the weak model. */
static struct w2s_train_loss instance_loss(const struct w2s_config *cfg)
{
	struct w2s_train_loss l = {
		.kind = cfg->w2s.loss,
		.confidence_alpha = cfg->w2s.confidence.alpha,
		.confidence_warmup = cfg->w2s.confidence.warmup,
		.product_b = cfg->w2s.product.b,
		.product_c = cfg->w2s.product.c,
		.kd_temperature = cfg->kd.temperature,
		.kd_weight = cfg->kd.weight,
	};
	return l;
}

/* What early stopping scores a model on: this rank's shard of the val
 * split and the labels it is judged against (ground truth, or the
 * teacher's argmax). */
struct val_ctx {
	const struct w2s_comm *c;
	int64_t n, N;
	float *x;        /* (n, D) */
	int32_t *y;      /* (n) */
	float *logits;   /* (n, C) */
};

static double val_score(void *ctx, const struct w2s_mlp *m)
{
	struct val_ctx *v = ctx;
	const size_t C = m->shape.width[m->shape.nlayers];
	w2s_train_predict(m, v->x, v->n, 1024, v->logits, NULL, NULL);
	double correct = (double)w2s_count_correct(v->logits, v->y, (size_t)v->n, C);
	w2s_comm_sum_doubles(v->c, &correct, 1);
	return correct / (double)v->N;
}

/* Collective: loads this rank's val rows for an instance; judged against
 * the teacher's argmax when stop_on is teacher and there is a teacher. */
static enum w2s_status val_load(struct experiment *x, const struct w2s_model_spec *ms,
				const struct teacher *teacher, struct val_ctx *v)
{
	int64_t sb, se, lb, le;
	w2s_task_split_range(x->cfg, W2S_SPLIT_VAL, &sb, &se);
	w2s_shard(se - sb, x->c->rank, x->c->size, &lb, &le);
	v->c = x->c;
	v->n = le - lb;
	v->N = se - sb;
	enum w2s_status st = agree(x->c, load_rows(x, ms->view, sb + lb, sb + le, &v->x, &v->y));
	if (st == W2S_STATUS_OK && teacher && ms->train.stop_on == W2S_STOP_ON_TEACHER)
		memcpy(v->y, teacher->val_pred + lb, (size_t)v->n * sizeof *v->y);
	v->logits = w2s_xmalloc((size_t)(v->n * w2s_config_classes(x->cfg) + 1) * sizeof *v->logits);
	return st;
}

static void val_free(struct val_ctx *v)
{
	free(v->x);
	free(v->y);
	free(v->logits);
	v->x = v->logits = NULL;
	v->y = NULL;
}

static enum w2s_status train_instance(struct experiment *x, int i, enum w2s_split split,
				      const struct teacher *teacher, int distill,
				      struct w2s_mlp *m, double *seconds)
{
	/* A student learns the teacher's probabilities (its accuracy shown
	 * against the teacher's argmax); a kd model learns ground truth and
	 * distills the teacher's logits. */
	const float *soft = teacher && !distill ? teacher->prob : NULL;
	const int32_t *teacher_pred = teacher && !distill ? teacher->pred : NULL;
	const struct instance *in = &x->inst[i];
	const struct w2s_model_spec *ms = &x->cfg->models[in->model];
	struct w2s_mlp_shape shape;
	model_shape(x->cfg, in->model, &shape);
	if (w2s_mlp_init(m, &shape) != 0) {
		w2s_log_error("model '%s' is too large for memory", ms->name);
		return W2S_STATUS_NOMEM;
	}
	struct save_ctx sc = {
		.x = x,
		.meta = {
			.dir = x->ckpt_dir,
			.name = in->name,
			.config_json = x->cfg->json,
			.seed = x->cfg->seed,
			.stream = W2S_STREAM_SHUFFLE + (uint32_t)in->model,
			.keep = x->cfg->checkpoint.keep,
		},
	};
	size_t off;
	w2s_train_trainable(m, ms->probe, &off, &sc.meta.ntrain);
	struct w2s_ckpt_loaded from = {0};
	int found = 0;
	enum w2s_status st = W2S_STATUS_OK;
	*seconds = 0;
	if (x->resuming)
		st = w2s_ckpt_load(x->c, &sc.meta, m, &from, &found);
	if (!found) {
		/* Student, ceiling and kd of one model start from the same
		 * weights and see the rows in the same order (the stream above),
		 * so their differences come from the targets alone. */
		w2s_mlp_init_params(m, x->cfg->seed, W2S_STREAM_INIT + (uint32_t)in->model);
	} else if (from.final) {
		w2s_log_info("%s: finished before; parameters from %s", in->name, from.path);
		*seconds = from.state.seconds;
		x->chosen_step[i] = from.state.best_params ? from.state.best_step : from.state.step;
		st = restore_trace(x, i, &from.state);
		w2s_ckpt_loaded_free(&from);
		return st == W2S_STATUS_OK ? save_params(x, in, m) : st;
	} else {
		w2s_log_info("%s: resuming at step %lld from %s", in->name,
			     (long long)from.state.step, from.path);
	}

	int64_t b, e;
	w2s_task_split_range(x->cfg, split, &b, &e);
	float *xs = NULL;
	int32_t *ys = NULL;
	if (st == W2S_STATUS_OK)
		st = agree(x->c, load_rows(x, ms->view, b, e, &xs, &ys));
	struct val_ctx val = {0};
	if (st == W2S_STATUS_OK && ms->train.eval_every > 0)
		st = val_load(x, ms, distill ? NULL : teacher, &val);
	if (st == W2S_STATUS_OK) {
		struct w2s_train_data d = {
			.n = e - b,
			.dim = (int64_t)shape.width[0],
			.classes = w2s_config_classes(x->cfg),
			.x = xs,
			.y = teacher_pred ? teacher_pred : ys,
			.soft = soft,
			.teacher_logits = teacher && distill ? teacher->logit : NULL,
		};
		struct w2s_train_loss loss = instance_loss(x->cfg);
		struct w2s_train_log log = {
			.label = in->name,
			.every = x->cfg->log.every,
			.trace = x->c->rank == 0 ? &x->trace : NULL,
			.trace_index = i,
			.val_score = ms->train.eval_every > 0 ? val_score : NULL,
			.val_ctx = &val,
		};
		struct w2s_train_ckpt ck = {
			.every = x->cfg->checkpoint.every,
			.save = save_checkpoint,
			.ctx = &sc,
			.stop = x->opts->stop,
			.from = found ? &from.state : NULL,
			.from_m = from.m,
			.from_v = from.v,
		};
		struct w2s_train_result res;
		if (!found)
			w2s_log_info("%s: training %s on %s (%lld rows, view %s, %zu parameters, "
				     "%s%s%s)",
				     in->name, ms->name, w2s_split_name(split), (long long)d.n,
				     ms->view, m->nparams,
				     soft ? "labels of " : distill ? "ground truth, distilling " : "ground truth",
				     teacher ? teacher->name : "", ms->probe ? "; last layer only" : "");
		st = w2s_train_model(x->c, m, &ms->train, &loss, &d, x->cfg->seed, sc.meta.stream,
				     &log, &ck, &res);
		*seconds = res.seconds;
		x->chosen_step[i] = res.chosen_step;
		if (st == W2S_STATUS_NUMERIC)
			w2s_log_error("%s stopped; the last good checkpoint is %s", in->name,
				      x->last_ckpt[0] ? x->last_ckpt : "(none yet)");
		if (st == W2S_STATUS_STOPPED)
			w2s_log_warn("stopped on a signal after checkpointing %s; finish the run "
				     "with --resume",
				     x->last_ckpt);
	}
	val_free(&val);
	w2s_ckpt_loaded_free(&from);
	free(ys);
	free(xs);
	if (st == W2S_STATUS_OK)
		st = save_params(x, &x->inst[i], m);
	return st;
}

/* Collective: predicts `split` with instance i, each rank its shard; writes
 * /labels/<instance>/<split>/{logit, prob, pred}, adds a result row, and
 * when `all` is given gathers on every rank the whole split's
 * probabilities, logits and predictions (transfer) or predictions (val). */
static enum w2s_status label_split(struct experiment *x, int i, const struct w2s_mlp *m,
				   enum w2s_split split, double train_seconds, struct teacher *all)
{
	const struct instance *in = &x->inst[i];
	const struct w2s_model_spec *ms = &x->cfg->models[in->model];
	const int64_t C = w2s_config_classes(x->cfg);
	int64_t sb, se, lb, le;
	w2s_task_split_range(x->cfg, split, &sb, &se);
	w2s_shard(se - sb, x->c->rank, x->c->size, &lb, &le);
	const int64_t n = le - lb, N = se - sb;
	float *xs = NULL;
	int32_t *ys = NULL;
	enum w2s_status st = agree(x->c, load_rows(x, ms->view, sb + lb, sb + le, &xs, &ys));
	float *logit = w2s_xmalloc((size_t)(n * C) * sizeof *logit); /* (n, C) */
	float *prob = w2s_xmalloc((size_t)(n * C) * sizeof *prob);   /* (n, C) */
	int32_t *pred = w2s_xmalloc((size_t)n * sizeof *pred);
	if (st == W2S_STATUS_OK) {
		w2s_train_predict(m, xs, n, 1024, logit, prob, pred);
		double sums[2] = {
			(double)w2s_count_correct(logit, ys, (size_t)n, (size_t)C),
			w2s_loss_xent_hard(logit, ys, (size_t)n, (size_t)C, 0.0f, NULL),
		};
		w2s_comm_sum_doubles(x->c, sums, 2);
		struct result_row *r = &x->results[x->nresults++];
		memset(r, 0, sizeof *r);
		set_field(r->model, sizeof r->model, in->name);
		set_field(r->role, sizeof r->role, in->role);
		set_field(r->base, sizeof r->base, ms->name);
		set_field(r->view, sizeof r->view, ms->view);
		set_field(r->split, sizeof r->split, w2s_split_name(split));
		r->n = N;
		r->accuracy = sums[0] / (double)N;
		r->loss = sums[1] / (double)N;
		r->train_seconds = train_seconds;
		r->step = x->chosen_step[i];

		char path[256];
		const char *base = "/labels/%s/%s/%s";
		snprintf(path, sizeof path, base, in->name, w2s_split_name(split), "logit");
		st = w2s_h5_write_rows(&x->run, x->c, path, W2S_H5_F32, N, C, lb, n, logit);
		snprintf(path, sizeof path, base, in->name, w2s_split_name(split), "prob");
		if (st == W2S_STATUS_OK)
			st = w2s_h5_write_rows(&x->run, x->c, path, W2S_H5_F32, N, C, lb, n, prob);
		snprintf(path, sizeof path, base, in->name, w2s_split_name(split), "pred");
		if (st == W2S_STATUS_OK)
			st = w2s_h5_write_rows(&x->run, x->c, path, W2S_H5_I32, N, 0, lb, n, pred);
	}
	if (st == W2S_STATUS_OK && all && split == W2S_SPLIT_VAL) {
		w2s_comm_allgather_shards(x->c, pred, N, sizeof *pred, all->val_pred);
	} else if (st == W2S_STATUS_OK && all) {
		w2s_comm_allgather_shards(x->c, prob, N, (size_t)C * sizeof *prob, all->prob);
		w2s_comm_allgather_shards(x->c, logit, N, (size_t)C * sizeof *logit, all->logit);
		w2s_comm_allgather_shards(x->c, pred, N, sizeof *pred, all->pred);
		all->name = in->name;
		all->model = ms->name;
	}
	free(pred);
	free(prob);
	free(logit);
	free(ys);
	free(xs);
	return st;
}

static const struct result_row *find_result(const struct experiment *x, const char *model,
					    const char *split)
{
	for (int i = 0; i < x->nresults; i++)
		if (!strcmp(x->results[i].model, model) && !strcmp(x->results[i].split, split))
			return &x->results[i];
	return NULL;
}

static void print_results(const struct experiment *x, const struct pgr_row *pgr, int npgr)
{
	w2s_log_info("%s", "");
	w2s_log_info("%-24s %-8s %-10s %-10s %8s %8s %9s", "model", "role", "view", "split",
		     "accuracy", "loss", "train_s");
	for (int i = 0; i < x->nresults; i++) {
		const struct result_row *r = &x->results[i];
		w2s_log_info("%-24s %-8s %-10s %-10s %8.4f %8.4f %9.2f", r->model, r->role, r->view,
			     r->split, r->accuracy, r->loss, r->train_seconds);
	}
	w2s_log_info("%s", "");
	w2s_log_info("%-16s %-12s %8s %15s %10s %8s", "strong (test)", "labels of", "P_weak",
		     "P_weak->strong", "P_ceiling", "PGR");
	for (int i = 0; i < npgr; i++)
		w2s_log_info("%-16s %-12s %8.4f %15.4f %10.4f %8.3f", pgr[i].strong, pgr[i].teacher,
			     pgr[i].p_weak, pgr[i].p_w2s, pgr[i].p_ceiling, pgr[i].pgr);
}

/* Collective: trains the student and the ceiling of `model` on the
 * transfer split, labels test (and the transfer split into `next` when
 * given, for the next link of a chain), and fills its PGR row. */
static enum w2s_status student_and_ceiling(struct experiment *x, const char *model,
					   const struct teacher *teacher, struct teacher *next,
					   struct pgr_row *p)
{
	int student = find_instance(x, "student", model);
	int ceiling = find_instance(x, "ceiling", model);
	struct w2s_mlp m = {0};
	double secs = 0;
	enum w2s_status st = train_instance(x, student, W2S_SPLIT_TRANSFER, teacher, 0, &m, &secs);
	if (st == W2S_STATUS_OK && next)
		st = label_split(x, student, &m, W2S_SPLIT_TRANSFER, secs, next);
	if (st == W2S_STATUS_OK && next)
		st = label_split(x, student, &m, W2S_SPLIT_VAL, secs, next);
	if (st == W2S_STATUS_OK)
		st = label_split(x, student, &m, W2S_SPLIT_TEST, secs, NULL);
	w2s_mlp_free(&m);
	if (st == W2S_STATUS_OK)
		st = train_instance(x, ceiling, W2S_SPLIT_TRANSFER, NULL, 0, &m, &secs);
	if (st == W2S_STATUS_OK)
		st = label_split(x, ceiling, &m, W2S_SPLIT_TEST, secs, NULL);
	w2s_mlp_free(&m);
	if (st != W2S_STATUS_OK)
		return st;
	memset(p, 0, sizeof *p);
	set_field(p->strong, sizeof p->strong, model);
	set_field(p->weak, sizeof p->weak, x->cfg->w2s.weak);
	set_field(p->teacher, sizeof p->teacher, teacher->model);
	p->p_weak = find_result(x, x->inst[0].name, "test")->accuracy;
	p->p_w2s = find_result(x, x->inst[student].name, "test")->accuracy;
	p->p_ceiling = find_result(x, x->inst[ceiling].name, "test")->accuracy;
	p->pgr = w2s_pgr(p->p_weak, p->p_w2s, p->p_ceiling);
	return W2S_STATUS_OK;
}

static enum w2s_status run_models(struct experiment *x)
{
	const struct w2s_config *cfg = x->cfg;
	const int64_t C = w2s_config_classes(cfg);
	int64_t tb, te;
	w2s_task_split_range(cfg, W2S_SPLIT_TRANSFER, &tb, &te);
	struct teacher weak_labels = {0}, link[2] = {{0}, {0}};
	const int64_t n_val = cfg->data.rows[W2S_SPLIT_VAL];
	teacher_alloc(&weak_labels, te - tb, n_val, C);
	struct pgr_row pgr[2 * W2S_MAX_MODELS];
	int npgr = 0;
	struct w2s_mlp weak = {0};
	double secs = 0;

	enum w2s_status st = train_instance(x, 0, W2S_SPLIT_WEAK_TRAIN, NULL, 0, &weak, &secs);
	if (st == W2S_STATUS_OK)
		st = label_split(x, 0, &weak, W2S_SPLIT_TRANSFER, secs, &weak_labels);
	if (st == W2S_STATUS_OK)
		st = label_split(x, 0, &weak, W2S_SPLIT_VAL, secs, &weak_labels);
	if (st == W2S_STATUS_OK)
		st = label_split(x, 0, &weak, W2S_SPLIT_TEST, secs, NULL);
	w2s_mlp_free(&weak);

	/* A chain: each link learns the previous one's labels and labels the
	 * transfer split for the next; the strong students learn the last. */
	const struct teacher *teacher = &weak_labels;
	for (int k = 0; k < cfg->w2s.chain.n && st == W2S_STATUS_OK; k++) {
		struct teacher *next = &link[k % 2];
		if (!next->prob)
			teacher_alloc(next, te - tb, n_val, C);
		st = student_and_ceiling(x, cfg->w2s.chain.name[k], teacher, next, &pgr[npgr]);
		if (st == W2S_STATUS_OK)
			npgr++;
		teacher = next;
	}
	for (int s = 0; s < cfg->w2s.nstrong && st == W2S_STATUS_OK; s++) {
		st = student_and_ceiling(x, cfg->w2s.strong[s], teacher, NULL, &pgr[npgr]);
		if (st == W2S_STATUS_OK)
			npgr++;
	}
	for (int k = 0; k < cfg->kd.models.n && st == W2S_STATUS_OK; k++) {
		int i = find_instance(x, "kd", cfg->kd.models.name[k]);
		struct w2s_mlp m = {0};
		st = train_instance(x, i, W2S_SPLIT_TRANSFER, &weak_labels, 1, &m, &secs);
		if (st == W2S_STATUS_OK)
			st = label_split(x, i, &m, W2S_SPLIT_TEST, secs, NULL);
		w2s_mlp_free(&m);
	}
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_table(&x->run, x->c, "/results", result_columns,
					(int)(sizeof result_columns / sizeof result_columns[0]),
					sizeof(struct result_row), x->results, x->nresults);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_table(&x->run, x->c, "/pgr", pgr_columns,
					(int)(sizeof pgr_columns / sizeof pgr_columns[0]),
					sizeof(struct pgr_row), pgr, npgr);
	if (st == W2S_STATUS_OK)
		print_results(x, pgr, npgr);
	teacher_free(&link[0]);
	teacher_free(&link[1]);
	teacher_free(&weak_labels);
	return st;
}

/* ---- seeds ---- */

struct seed_pgr_row {
	int64_t seed;
	struct pgr_row r;
};

struct summary_row {
	char strong[W2S_NAME_MAX];
	char metric[16];
	int64_t n;
	double median, min, max, mean, std;
};

static const struct w2s_h5_column summary_columns[] = {
	{"strong", W2S_H5_COL_STR, offsetof(struct summary_row, strong), W2S_NAME_MAX},
	{"metric", W2S_H5_COL_STR, offsetof(struct summary_row, metric), 16},
	{"n", W2S_H5_COL_I64, offsetof(struct summary_row, n), 0},
	{"median", W2S_H5_COL_F64, offsetof(struct summary_row, median), 0},
	{"min", W2S_H5_COL_F64, offsetof(struct summary_row, min), 0},
	{"max", W2S_H5_COL_F64, offsetof(struct summary_row, max), 0},
	{"mean", W2S_H5_COL_F64, offsetof(struct summary_row, mean), 0},
	{"std", W2S_H5_COL_F64, offsetof(struct summary_row, std), 0},
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median, extremes, mean and (sample) standard deviation of the finite
 * values among v (n); NaNs (a PGR without a gap) are left out. */
static void describe(const double *v, int n, struct summary_row *r)
{
	double sorted[W2S_MAX_SEEDS], sum = 0;
	int k = 0;
	for (int i = 0; i < n; i++)
		if (isfinite(v[i]))
			sorted[k++] = v[i];
	r->n = k;
	r->median = r->min = r->max = r->mean = r->std = NAN;
	if (k == 0)
		return;
	qsort(sorted, (size_t)k, sizeof *sorted, cmp_double);
	r->median = k % 2 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);
	r->min = sorted[0];
	r->max = sorted[k - 1];
	for (int i = 0; i < k; i++)
		sum += sorted[i];
	r->mean = sum / k;
	double sq = 0;
	for (int i = 0; i < k; i++)
		sq += (sorted[i] - r->mean) * (sorted[i] - r->mean);
	r->std = k > 1 ? sqrt(sq / (k - 1)) : 0;
}

enum w2s_status w2s_stage_summarize(const struct w2s_comm *c, const char *out,
				    const uint64_t *seeds, int n,
				    const struct w2s_provenance *prov)
{
	const int ncols = (int)(sizeof pgr_columns / sizeof pgr_columns[0]);
	struct seed_pgr_row *all = NULL;
	int64_t nall = 0;
	enum w2s_status st = W2S_STATUS_OK;
	for (int i = 0; i < n && st == W2S_STATUS_OK; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/seed-%llu/run.h5", out, (unsigned long long)seeds[i]);
		struct w2s_h5 f = {.file = -1};
		void *rows = NULL;
		int64_t k = 0;
		st = w2s_h5_open(&f, c, path);
		if (st == W2S_STATUS_OK)
			st = agree(c, w2s_h5_read_table(&f, "/pgr", pgr_columns, ncols,
							sizeof(struct pgr_row), &rows, &k));
		w2s_h5_close(&f);
		if (st != W2S_STATUS_OK)
			break;
		all = realloc(all, (size_t)(nall + k) * sizeof *all);
		W2S_CHECK(all != NULL);
		for (int64_t j = 0; j < k; j++) {
			all[nall + j].seed = (int64_t)seeds[i];
			all[nall + j].r = ((struct pgr_row *)rows)[j];
		}
		nall += k;
		free(rows);
	}
	/* One summary row per strong model (in the order of the first seed)
	 * and metric. */
	static const char *metrics[4] = {"p_weak", "p_w2s", "p_ceiling", "pgr"};
	struct summary_row *sum = w2s_xcalloc((size_t)(nall * 4 + 1), sizeof *sum);
	int64_t nsum = 0;
	for (int64_t a = 0; a < nall && st == W2S_STATUS_OK; a++) {
		if (all[a].seed != (int64_t)seeds[0])
			continue;
		double v[4][W2S_MAX_SEEDS];
		int k = 0;
		for (int64_t b = 0; b < nall; b++) {
			if (strcmp(all[b].r.strong, all[a].r.strong) != 0)
				continue;
			v[0][k] = all[b].r.p_weak;
			v[1][k] = all[b].r.p_w2s;
			v[2][k] = all[b].r.p_ceiling;
			v[3][k] = all[b].r.pgr;
			k++;
		}
		for (int m = 0; m < 4; m++) {
			struct summary_row *r = &sum[nsum++];
			set_field(r->strong, sizeof r->strong, all[a].r.strong);
			set_field(r->metric, sizeof r->metric, metrics[m]);
			describe(v[m], k, r);
		}
	}

	/* The per-seed table: pgr's columns after a seed column. */
	struct w2s_h5_column cols[16];
	cols[0] = (struct w2s_h5_column){"seed", W2S_H5_COL_I64, offsetof(struct seed_pgr_row, seed), 0};
	for (int i = 0; i < ncols; i++) {
		cols[i + 1] = pgr_columns[i];
		cols[i + 1].offset += offsetof(struct seed_pgr_row, r);
	}
	char path[4096], tmp[4200];
	snprintf(path, sizeof path, "%s/summary.h5", out);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	struct w2s_h5 f = {.file = -1};
	if (st == W2S_STATUS_OK)
		st = w2s_h5_create(&f, c, tmp);
	if (st == W2S_STATUS_OK) {
		struct w2s_provenance p = *prov;
		p.kind = "summary";
		st = w2s_h5_write_provenance(&f, &p);
	}
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_table(&f, c, "/pgr", cols, ncols + 1, sizeof *all, all, nall);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_table(&f, c, "/summary", summary_columns,
					(int)(sizeof summary_columns / sizeof summary_columns[0]),
					sizeof *sum, sum, nsum);
	enum w2s_status closed = agree(c, w2s_h5_close(&f));
	if (st == W2S_STATUS_OK)
		st = closed;
	if (st == W2S_STATUS_OK)
		st = agree(c, c->rank == 0 && rename_tmp(path) != 0 ? W2S_STATUS_IO : W2S_STATUS_OK);
	if (st == W2S_STATUS_OK) {
		w2s_log_info("%s", "");
		w2s_log_info("over %d seeds (test; median [min, max]):", n);
		w2s_log_info("%-16s %24s %24s %24s %24s", "strong", "P_weak", "P_weak->strong",
			     "P_ceiling", "PGR");
		for (int64_t i = 0; i + 3 < nsum; i += 4) {
			char cell[4][64];
			for (int m = 0; m < 4; m++)
				snprintf(cell[m], sizeof cell[m], "%.4f [%.4f, %.4f]", sum[i + m].median,
					 sum[i + m].min, sum[i + m].max);
			w2s_log_info("%-16s %24s %24s %24s %24s", sum[i].strong, cell[0], cell[1],
				     cell[2], cell[3]);
		}
		w2s_log_info("wrote %s", path);
	}
	free(sum);
	free(all);
	return st;
}

/* Collective: true when OUT holds a data file made from this config (then
 * it is kept open in x->data).  Data files take their name only when whole,
 * so one that exists but does not open is a real error, reported. */
static bool data_is_current(struct experiment *x, const char *path)
{
	int there = x->c->rank == 0 && access(path, F_OK) == 0;
	w2s_comm_bcast(x->c, &there, sizeof there, 0);
	if (!there || w2s_h5_open(&x->data, x->c, path) != W2S_STATUS_OK)
		return false;
	char *config = NULL;
	int same = w2s_h5_attr_read_string(&x->data, "/", "config", &config) == W2S_STATUS_OK &&
		   strcmp(config, x->cfg->json) == 0;
	free(config);
	w2s_log_flush_local(0);
	if (w2s_comm_agree(x->c, !same) == 0)
		return true;
	w2s_h5_close(&x->data);
	return false;
}

enum w2s_status w2s_run_pipeline(const struct w2s_comm *c, const struct w2s_config *cfg,
				 const struct w2s_run_opts *opts)
{
	struct experiment *x = w2s_xcalloc(1, sizeof *x);
	x->c = c;
	x->cfg = cfg;
	x->opts = opts;
	x->data.file = x->run.file = -1;
	join(x->ckpt_dir, sizeof x->ckpt_dir, opts->out, "ckpt");
	char path[4096];
	double t0 = w2s_comm_time();

	enum w2s_status st = w2s_stage_prepare_out(c, cfg, opts->out, "config.yaml", opts->force,
						   opts->resume, &x->resuming);
	if (st != W2S_STATUS_OK)
		goto cleanup;
	join(path, sizeof path, opts->out, "data.h5");
	if (x->resuming && data_is_current(x, path)) {
		w2s_log_info("gen: %s is whole and current; kept", path);
	} else {
		w2s_log_info("gen: %lld rows of the %s task into %s", (long long)w2s_task_rows(cfg),
			     cfg->data.task == W2S_TASK_LATENT ? "latent" : "teacher", path);
		st = w2s_stage_gen(c, cfg, path, opts->prov);
		if (st == W2S_STATUS_OK)
			st = w2s_h5_open(&x->data, c, path);
	}
	if (st != W2S_STATUS_OK)
		goto cleanup;

	add_instance(x, "weak", cfg->w2s.weak);
	for (int k = 0; k < cfg->w2s.chain.n; k++) {
		add_instance(x, "student", cfg->w2s.chain.name[k]);
		add_instance(x, "ceiling", cfg->w2s.chain.name[k]);
	}
	for (int s = 0; s < cfg->w2s.nstrong; s++) {
		add_instance(x, "student", cfg->w2s.strong[s]);
		add_instance(x, "ceiling", cfg->w2s.strong[s]);
	}
	for (int k = 0; k < cfg->kd.models.n; k++)
		add_instance(x, "kd", cfg->kd.models.name[k]);
	struct w2s_provenance p = *opts->prov;
	p.kind = "metrics";
	p.world_size = c->size;
	int bad = 0;
	if (c->rank == 0) {
		const char *names[1 + 5 * W2S_MAX_MODELS];
		for (int i = 0; i < x->ninst; i++)
			names[i] = x->inst[i].name;
		join(path, sizeof path, opts->out, "metrics.h5");
		bad = w2s_trace_create(&x->trace, path, names, x->ninst, &p) != W2S_STATUS_OK;
	}
	if (w2s_comm_agree(c, bad)) {
		st = W2S_STATUS_IO;
		goto cleanup;
	}
	/* run.h5 takes its name only when whole: its presence means done. */
	join(path, sizeof path, opts->out, "run.h5.tmp");
	st = w2s_h5_create(&x->run, c, path);
	p.kind = "run";
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_provenance(&x->run, &p);
	if (st == W2S_STATUS_OK)
		st = run_models(x);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_double(&x->run, "/", "wall_seconds", w2s_comm_time() - t0);
	enum w2s_status closed = agree(c, w2s_h5_close(&x->run));
	if (st == W2S_STATUS_OK)
		st = closed;
	join(path, sizeof path, opts->out, "run.h5");
	if (st == W2S_STATUS_OK)
		st = agree(c, c->rank == 0 && rename_tmp(path) != 0 ? W2S_STATUS_IO : W2S_STATUS_OK);
	if (st == W2S_STATUS_OK)
		w2s_log_info("\nwrote %s/{config.yaml, data.h5, run.h5, metrics.h5} in %.1f s on %d "
			     "rank%s",
			     opts->out, w2s_comm_time() - t0, c->size, c->size > 1 ? "s" : "");
cleanup:
	w2s_h5_close(&x->run);
	w2s_h5_close(&x->data);
	if (c->rank == 0)
		w2s_trace_close(&x->trace);
	free(x);
	return st;
}

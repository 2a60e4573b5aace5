/*
 * instance.c: one model instance of an experiment, part of the stages
 * module: its training (with checkpoints, resume, validation), its labels of
 * a split and its result rows.  See stages_internal.h.
 */
#include "stages_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/log.h"
#include "w2s/loss.h"
#include "w2s/rng.h"
#include "w2s/task.h"

const struct w2s_h5_column stg_result_columns[] = {
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

const struct w2s_h5_column stg_pgr_columns[] = {
	{"strong", W2S_H5_COL_STR, offsetof(struct pgr_row, strong), W2S_NAME_MAX},
	{"weak", W2S_H5_COL_STR, offsetof(struct pgr_row, weak), W2S_NAME_MAX},
	{"teacher", W2S_H5_COL_STR, offsetof(struct pgr_row, teacher), W2S_NAME_MAX},
	{"filter", W2S_H5_COL_STR, offsetof(struct pgr_row, filter), 16},
	{"metric", W2S_H5_COL_STR, offsetof(struct pgr_row, metric), 16},
	{"p_weak", W2S_H5_COL_F64, offsetof(struct pgr_row, p_weak), 0},
	{"p_w2s", W2S_H5_COL_F64, offsetof(struct pgr_row, p_w2s), 0},
	{"p_ceiling", W2S_H5_COL_F64, offsetof(struct pgr_row, p_ceiling), 0},
	{"pgr", W2S_H5_COL_F64, offsetof(struct pgr_row, pgr), 0},
	{"misfit", W2S_H5_COL_F64, offsetof(struct pgr_row, misfit), 0},
};

int stg_find_instance(const struct experiment *x, const char *role, const char *model)
{
	for (int i = 0; i < x->ninst; i++)
		if (!strcmp(x->inst[i].role, role) &&
		    !strcmp(x->cfg->models[x->inst[i].model].name, model))
			return i;
	W2S_CHECK(!"no such instance");
	return -1;
}

int stg_add_instance(struct experiment *x, const char *role, const char *model)
{
	struct instance *in = &x->inst[x->ninst];
	snprintf(in->name, sizeof in->name, "%s.%s", role, model);
	in->role = role;
	in->model = w2s_config_model_index(x->cfg, model);
	W2S_CHECK(in->model >= 0);
	return x->ninst++;
}

void stg_model_shape(const struct w2s_config *cfg, int model, struct w2s_mlp_shape *shape)
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
enum w2s_status stg_load_rows(struct experiment *x, const char *view, int64_t begin,
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
	/* A real target is read by stg_load_values; the class ids stay 0. */
	if (st == W2S_STATUS_OK && w2s_config_regression(x->cfg))
		memset(*ys, 0, (size_t)n * sizeof **ys);
	else if (st == W2S_STATUS_OK)
		st = w2s_h5_read_rows(&x->data, "/target", W2S_H5_I32, 0, begin, n, *ys);
	return st;
}

enum w2s_status stg_load_values(struct experiment *x, int64_t begin, int64_t end, float **v)
{
	*v = w2s_xmalloc((size_t)(end - begin + 1) * sizeof **v);
	return w2s_h5_read_rows(&x->data, "/target", W2S_H5_F32, 0, begin, end - begin, *v);
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
	return stg_agree(x->c, bad ? W2S_STATUS_IO : W2S_STATUS_OK);
}

/* Collective: trains instance `in` on rows of `split` of its view, with
 * soft targets when `soft` (N, C) is given (y then holds the teacher's
 * hard labels for the accuracy shown), else on ground truth.  When
 * resuming, a model whose training finished is read from its final
 * checkpoint and one that was interrupted goes on from its newest. */

void stg_teacher_alloc(struct teacher *t, int64_t n, int64_t n_val, int64_t C)
{
	t->val_pred = w2s_xmalloc((size_t)n_val * sizeof *t->val_pred);
	t->prob = w2s_xmalloc((size_t)(n * C) * sizeof *t->prob);
	t->logit = w2s_xmalloc((size_t)(n * C) * sizeof *t->logit);
	t->pred = w2s_xmalloc((size_t)n * sizeof *t->pred);
}

void stg_teacher_free(struct teacher *t)
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
	int64_t first;   /* of the rank's rows in val */
	float *x;        /* (n, D) */
	int32_t *y;      /* (n) */
	float *v;        /* (n) true values (regression), or NULL */
	float *logits;   /* (n, C) */
	int exact;       /* train.reduce exact: a sum that does not depend on the ranks */
};

static double val_score(void *ctx, const struct w2s_mlp *m)
{
	struct val_ctx *v = ctx;
	const size_t C = m->shape.width[m->shape.nlayers];
	const struct w2s_rows_at at = {v->first, v->N};
	w2s_train_predict(m, v->x, v->n, 1024, v->exact ? &at : NULL, v->logits, NULL, NULL);
	if (v->v) { /* regression: the score is minus the squared error */
		if (v->exact)
			return -w2s_train_loss_sum_exact(v->c, v->logits, NULL, v->v, v->n, 1, v->N) /
			       (double)v->N;
		double se = w2s_sum_squared_diff(v->logits, v->v, (size_t)v->n);
		w2s_comm_sum_doubles(v->c, &se, 1);
		return -se / (double)v->N;
	}
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
	v->exact = ms->train.reduce == W2S_REDUCE_EXACT;
	v->n = le - lb;
	v->N = se - sb;
	v->first = lb;
	enum w2s_status st = stg_agree(x->c, stg_load_rows(x, ms->view, sb + lb, sb + le, &v->x, &v->y));
	if (st == W2S_STATUS_OK && w2s_config_regression(x->cfg))
		st = stg_agree(x->c, stg_load_values(x, sb + lb, sb + le, &v->v));
	else if (st == W2S_STATUS_OK && teacher && ms->train.stop_on == W2S_STOP_ON_TEACHER)
		memcpy(v->y, teacher->val_pred + lb, (size_t)v->n * sizeof *v->y);
	v->logits = w2s_xmalloc((size_t)(v->n * w2s_config_classes(x->cfg) + 1) * sizeof *v->logits);
	return st;
}

static void val_free(struct val_ctx *v)
{
	free(v->v);
	v->v = NULL;
	free(v->x);
	free(v->y);
	free(v->logits);
	v->x = v->logits = NULL;
	v->y = NULL;
}

/* The subset rows (n of them, by index) of a (N, width) array, copied. */
static void *gather(const void *src, const int64_t *idx, int64_t n, size_t row_bytes)
{
	char *out = w2s_xmalloc((size_t)n * row_bytes + 1);
	for (int64_t k = 0; k < n; k++)
		memcpy(out + (size_t)k * row_bytes, (const char *)src + (size_t)idx[k] * row_bytes,
		       row_bytes);
	return out;
}

enum w2s_status stg_train_instance(struct experiment *x, int i, enum w2s_split split,
				   const struct teacher *teacher, int distill,
				   const struct stg_rows *rows, struct w2s_mlp *m, double *seconds)
{
	/* A student learns the teacher's probabilities (its accuracy shown
	 * against the teacher's argmax); a kd model learns ground truth and
	 * distills the teacher's logits. */
	const float *soft = teacher && !distill ? teacher->prob : NULL;
	const int32_t *teacher_pred = teacher && !distill ? teacher->pred : NULL;
	const struct instance *in = &x->inst[i];
	const struct w2s_model_spec *ms = &x->cfg->models[in->model];
	struct w2s_mlp_shape shape;
	stg_model_shape(x->cfg, in->model, &shape);
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
	/* The messages below name this model's newest checkpoint, not
	 * another model's. */
	snprintf(x->last_ckpt, sizeof x->last_ckpt, "%s", found ? from.path : "");
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
	if (st == W2S_STATUS_OK && rows && rows->x) {
		const size_t D = shape.width[0];
		xs = w2s_xmalloc((size_t)rows->n * D * sizeof *xs + 1);
		ys = w2s_xmalloc((size_t)rows->n * sizeof *ys + 1);
		memcpy(xs, rows->x, (size_t)rows->n * D * sizeof *xs);
		memcpy(ys, rows->y, (size_t)rows->n * sizeof *ys);
		b = 0;
		e = rows->n;
	} else if (st == W2S_STATUS_OK) {
		st = stg_agree(x->c, stg_load_rows(x, ms->view, b, e, &xs, &ys));
	}
	/* A subset: the rows it names, and the teacher's outputs on them. */
	float *sub_soft = NULL, *sub_logit = NULL;
	int32_t *sub_pred = NULL;
	if (st == W2S_STATUS_OK && rows && rows->subset) {
		const size_t D = shape.width[0], C = shape.width[shape.nlayers];
		float *sx = gather(xs, rows->subset, rows->nsubset, D * sizeof *xs);
		int32_t *sy = gather(ys, rows->subset, rows->nsubset, sizeof *ys);
		free(xs);
		free(ys);
		xs = sx;
		ys = sy;
		if (soft)
			soft = sub_soft = gather(soft, rows->subset, rows->nsubset, C * sizeof *soft);
		if (teacher_pred)
			teacher_pred = sub_pred = gather(teacher_pred, rows->subset, rows->nsubset,
							 sizeof *teacher_pred);
		if (teacher && distill)
			sub_logit = gather(teacher->logit, rows->subset, rows->nsubset,
					   C * sizeof *sub_logit);
		b = 0;
		e = rows->nsubset;
	}
	/* A real target: students learn the teacher's predictions (its
	 * "probabilities" are its one output), the others the true values. */
	float *values = NULL;
	const int regression = w2s_config_regression(x->cfg);
	if (st == W2S_STATUS_OK && regression && !soft) {
		st = stg_agree(x->c, stg_load_values(x, b, e, &values));
		soft = values;
	}
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
			.teacher_logits = teacher && distill ? (sub_logit ? sub_logit : teacher->logit)
							    : NULL,
			.regression = regression,
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
	free(values);
	free(sub_soft);
	free(sub_pred);
	free(sub_logit);
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
enum w2s_status stg_label_split(struct experiment *x, int i, const struct w2s_mlp *m,
				enum w2s_split split, double train_seconds, struct teacher *all,
				float **keep, int64_t *kept_n, double *per_row)
{
	const struct instance *in = &x->inst[i];
	const struct w2s_model_spec *ms = &x->cfg->models[in->model];
	const int64_t C = w2s_config_classes(x->cfg);
	const int regression = w2s_config_regression(x->cfg);
	int64_t sb, se, lb, le;
	w2s_task_split_range(x->cfg, split, &sb, &se);
	w2s_shard(se - sb, x->c->rank, x->c->size, &lb, &le);
	const int64_t n = le - lb, N = se - sb;
	float *xs = NULL;
	int32_t *ys = NULL;
	enum w2s_status st = stg_agree(x->c, stg_load_rows(x, ms->view, sb + lb, sb + le, &xs, &ys));
	float *logit = w2s_xmalloc((size_t)(n * C) * sizeof *logit); /* (n, C) */
	float *prob = w2s_xmalloc((size_t)(n * C) * sizeof *prob);   /* (n, C) */
	int32_t *pred = w2s_xmalloc((size_t)n * sizeof *pred);
	if (st == W2S_STATUS_OK) {
		double t0 = w2s_comm_time();
		const struct w2s_rows_at at = {lb, N};
		w2s_train_predict(m, xs, n, 1024,
				  ms->train.reduce == W2S_REDUCE_EXACT ? &at : NULL, logit, prob, pred);
		float *values = NULL;
		if (regression) {
			/* One output: the prediction itself stands for the "probability"
			 * a student learns from, and the error replaces accuracy. */
			memcpy(prob, logit, (size_t)n * sizeof *prob);
			st = stg_agree(x->c, stg_load_values(x, sb + lb, sb + le, &values));
		}
		double sums[3] = {
			regression ? NAN : (double)w2s_count_correct(logit, ys, (size_t)n, (size_t)C),
			regression ? (values ? w2s_sum_squared_diff(logit, values, (size_t)n) : 0)
				   : w2s_loss_xent_hard(logit, ys, (size_t)n, (size_t)C, 0.0f, NULL),
			w2s_comm_time() - t0,
		};
		/* An exact model's loss does not depend on the number of ranks. */
		const int exact = ms->train.reduce == W2S_REDUCE_EXACT;
		double exact_loss = exact && st == W2S_STATUS_OK
					    ? w2s_train_loss_sum_exact(x->c, logit, ys, values, n, C, N)
					    : 0;
		free(values);
		w2s_comm_sum_doubles(x->c, sums, 3);
		if (exact)
			sums[1] = exact_loss;
		if (per_row) /* rank-seconds per row: what one query costs one core */
			*per_row = sums[2] / (double)(N > 0 ? N : 1);
		struct result_row *r = &x->results[x->nresults++];
		memset(r, 0, sizeof *r);
		stg_set_field(r->model, sizeof r->model, in->name);
		stg_set_field(r->role, sizeof r->role, in->role);
		stg_set_field(r->base, sizeof r->base, ms->name);
		stg_set_field(r->view, sizeof r->view, ms->view);
		stg_set_field(r->split, sizeof r->split, w2s_split_name(split));
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
		if (st == W2S_STATUS_OK && !regression)
			st = w2s_h5_write_rows(&x->run, x->c, path, W2S_H5_F32, N, C, lb, n, prob);
		snprintf(path, sizeof path, base, in->name, w2s_split_name(split), "pred");
		if (st == W2S_STATUS_OK)
			st = regression ? w2s_h5_write_rows(&x->run, x->c, path, W2S_H5_F32, N, 0, lb,
							    n, logit)
					: w2s_h5_write_rows(&x->run, x->c, path, W2S_H5_I32, N, 0, lb,
							    n, pred);
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
	if (keep && st == W2S_STATUS_OK) {
		*keep = prob;
		*kept_n = n;
		prob = NULL;
	}
	free(pred);
	free(prob);
	free(logit);
	free(ys);
	free(xs);
	return st;
}

/*
 * methods.c: the optional stages of an experiment, part of the stages
 * module: filtering the transfer split before students learn it, synthetic
 * data from a small generative model, and cascading inference.  The maths
 * lives in filter.h, gmm.h and cascade.h; this file feeds them the rows and
 * writes what they found.
 */
#include "stages_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/filter.h"
#include "w2s/gmm.h"
#include "w2s/log.h"
#include "w2s/loss.h"
#include "w2s/rng.h"
#include "w2s/task.h"

/* ---- filtering the transfer split ---- */

static const char *const filter_names[] = {"none", "confidence", "knn"};

enum w2s_status stg_filter(struct experiment *x, const char *model, const struct teacher *teacher,
			   int64_t **rows, int64_t *n)
{
	const struct w2s_config *cfg = x->cfg;
	const int64_t C = w2s_config_classes(cfg);
	int64_t tb, te;
	w2s_task_split_range(cfg, W2S_SPLIT_TRANSFER, &tb, &te);
	const int64_t N = te - tb;
	uint8_t *kept = w2s_xmalloc((size_t)N);
	float *xs = NULL;
	int32_t *truth = NULL;
	/* Every rank needs the ground truth for the report, and for knn the
	 * student's view of every transfer row. */
	const struct w2s_model_spec *ms = &cfg->models[w2s_config_model_index(cfg, model)];
	enum w2s_status st = stg_agree(x->c, stg_load_rows(x, ms->view, tb, te, &xs, &truth));
	if (st == W2S_STATUS_OK) {
		if (cfg->w2s.filter.method == W2S_FILTER_CONFIDENCE) {
			w2s_filter_confidence(teacher->prob, N, (size_t)C, cfg->w2s.filter.keep, kept);
		} else {
			struct w2s_filter_knn_opts o = {.k = (int)cfg->w2s.filter.k,
							.keep = cfg->w2s.filter.keep};
			w2s_filter_knn(x->c, xs, N, (size_t)w2s_config_view_width(cfg, ms->view),
				       teacher->pred, &o, kept, NULL);
		}
		*rows = w2s_xmalloc((size_t)N * sizeof **rows);
		*n = w2s_filter_rows(kept, N, *rows);

		struct w2s_filter_report r;
		w2s_filter_report(kept, teacher->pred, truth, N, &r);
		struct filter_row *f = &x->filter[x->nfilter++];
		memset(f, 0, sizeof *f);
		stg_set_field(f->strong, sizeof f->strong, model);
		stg_set_field(f->method, sizeof f->method, filter_names[cfg->w2s.filter.method]);
		f->keep = cfg->w2s.filter.keep;
		f->rows = r.rows;
		f->kept = r.kept;
		f->errors = r.errors;
		f->errors_removed = r.errors_removed;
		f->errors_kept = r.errors_kept;
		f->precision = r.precision;
		f->recall = r.recall;
		f->error_before = r.error_before;
		f->error_after = r.error_after;
		w2s_log_info("filter (%s, keep %.2f) for %s: removed %lld of %lld rows, %lld of them "
			     "wrong weak labels (precision %.3f); weak-label error %.4f -> %.4f",
			     f->method, f->keep, model, (long long)(r.rows - r.kept), (long long)r.rows,
			     (long long)r.errors_removed, r.precision, r.error_before, r.error_after);
	}
	free(truth);
	free(xs);
	free(kept);
	return st;
}

enum w2s_status stg_filter_write(struct experiment *x)
{
	static const struct w2s_h5_column cols[] = {
		{"strong", W2S_H5_COL_STR, offsetof(struct filter_row, strong), W2S_NAME_MAX},
		{"method", W2S_H5_COL_STR, offsetof(struct filter_row, method), 16},
		{"keep", W2S_H5_COL_F64, offsetof(struct filter_row, keep), 0},
		{"rows", W2S_H5_COL_I64, offsetof(struct filter_row, rows), 0},
		{"kept", W2S_H5_COL_I64, offsetof(struct filter_row, kept), 0},
		{"errors", W2S_H5_COL_I64, offsetof(struct filter_row, errors), 0},
		{"errors_removed", W2S_H5_COL_I64, offsetof(struct filter_row, errors_removed), 0},
		{"errors_kept", W2S_H5_COL_I64, offsetof(struct filter_row, errors_kept), 0},
		{"precision", W2S_H5_COL_F64, offsetof(struct filter_row, precision), 0},
		{"recall", W2S_H5_COL_F64, offsetof(struct filter_row, recall), 0},
		{"error_before", W2S_H5_COL_F64, offsetof(struct filter_row, error_before), 0},
		{"error_after", W2S_H5_COL_F64, offsetof(struct filter_row, error_after), 0},
	};
	return w2s_h5_write_table(&x->run, x->c, "/filter", cols,
				  (int)(sizeof cols / sizeof cols[0]), sizeof(struct filter_row),
				  x->filter, x->nfilter);
}

/* ---- synthetic data ---- */

static const char *const synth_roles[] = {"synth_synthetic", "synth_real", "synth_mix"};

/* Collective: fits the class-conditional mixture on weak_train in the view
 * of `model`, draws cfg->synth.rows rows (each rank its shard, gathered so
 * every rank holds them all), labels them and stores them in run.h5. */
static enum w2s_status draw_synthetic(struct experiment *x, const struct w2s_model_spec *ms,
				      const struct w2s_mlp *weak, float *sx, int32_t *sy)
{
	const struct w2s_config *cfg = x->cfg;
	const int C = w2s_config_classes(cfg);
	const int64_t D = w2s_config_view_width(cfg, ms->view), M = cfg->synth.rows;
	int64_t sb, se, lb, le;
	w2s_task_split_range(cfg, W2S_SPLIT_WEAK_TRAIN, &sb, &se);
	/* With train.reduce exact, every rank fits the mixture alone on all of
	 * weak_train, so that no sum of the fit depends on how the rows are
	 * shared out (the fit is small next to training).  The draws are
	 * counter-based per row: the same rows on any number of ranks. */
	const bool exact = ms->train.reduce == W2S_REDUCE_EXACT;
	struct w2s_comm self = {.comm = MPI_COMM_NULL};
	const struct w2s_comm *fit = x->c;
	if (exact) {
		lb = 0;
		le = se - sb;
		w2s_comm_init(&self, MPI_COMM_SELF);
		fit = &self;
	} else {
		w2s_shard(se - sb, x->c->rank, x->c->size, &lb, &le);
	}
	float *xs = NULL;
	int32_t *ys = NULL;
	enum w2s_status st = stg_agree(x->c, stg_load_rows(x, ms->view, sb + lb, sb + le, &xs, &ys));
	struct w2s_gmm g = {0};
	struct w2s_gmm_opts o;
	w2s_gmm_opts_default(&o);
	o.k = (int)cfg->synth.components;
	o.seed = cfg->seed;
	o.stream = W2S_STREAM_VIEW + 4096 + (uint32_t)w2s_config_model_index(cfg, ms->name);
	struct w2s_gmm_report rep;
	if (st == W2S_STATUS_OK)
		st = stg_agree(x->c, w2s_gmm_fit(fit, xs, ys, le - lb, D, C, &o, &g, &rep));
	if (st == W2S_STATUS_OK) {
		w2s_log_info("synth: %d Gaussian components per class fitted on weak_train in view "
			     "%s by EM (%d iterations%s, log-likelihood %.4g); drawing %lld rows",
			     o.k, ms->view, rep.iterations, rep.converged ? ", converged" : "",
			     rep.loglik, (long long)M);
		int64_t mb, me;
		w2s_shard(M, x->c->rank, x->c->size, &mb, &me);
		float *mx = w2s_xmalloc((size_t)((me - mb) * D + 1) * sizeof *mx);
		int32_t *my = w2s_xmalloc((size_t)(me - mb + 1) * sizeof *my);
		w2s_gmm_sample(&g, cfg->seed, o.stream + 1, mb, me, mx, my, NULL);
		if (cfg->synth.label == W2S_SYNTH_LABEL_WEAK && me > mb) {
			float *logit = w2s_xmalloc((size_t)((me - mb) * C) * sizeof *logit);
			const struct w2s_rows_at at = {mb, M};
			w2s_train_predict(weak, mx, me - mb, 1024, exact ? &at : NULL, logit, NULL,
					  my);
			free(logit);
		}
		char path[256];
		snprintf(path, sizeof path, "/synth/%s/x", ms->name);
		st = w2s_h5_write_rows(&x->run, x->c, path, W2S_H5_F32, M, D, mb, me - mb, mx);
		snprintf(path, sizeof path, "/synth/%s/y", ms->name);
		if (st == W2S_STATUS_OK)
			st = w2s_h5_write_rows(&x->run, x->c, path, W2S_H5_I32, M, 0, mb, me - mb, my);
		if (st == W2S_STATUS_OK) {
			w2s_comm_allgather_shards(x->c, mx, M, (size_t)D * sizeof *mx, sx);
			w2s_comm_allgather_shards(x->c, my, M, sizeof *my, sy);
		}
		free(my);
		free(mx);
	}
	w2s_gmm_free(&g);
	if (exact)
		w2s_comm_free(&self);
	free(ys);
	free(xs);
	return st;
}

enum w2s_status stg_synth(struct experiment *x, const struct w2s_mlp *weak)
{
	const struct w2s_config *cfg = x->cfg;
	enum w2s_status st = W2S_STATUS_OK;
	for (int k = 0; k < cfg->synth.models.n && st == W2S_STATUS_OK; k++) {
		const struct w2s_model_spec *ms =
			&cfg->models[w2s_config_model_index(cfg, cfg->synth.models.name[k])];
		const int64_t D = w2s_config_view_width(cfg, ms->view), M = cfg->synth.rows;
		int64_t rb, re;
		w2s_task_split_range(cfg, W2S_SPLIT_WEAK_TRAIN, &rb, &re);
		const int64_t R = re - rb;
		/* (M + R, D): the synthetic rows, then room for the real ones */
		float *sx = w2s_xmalloc((size_t)((M + R) * D) * sizeof *sx);
		int32_t *sy = w2s_xmalloc((size_t)(M + R) * sizeof *sy);
		st = draw_synthetic(x, ms, weak, sx, sy);
		for (int t = 0; t < cfg->synth.train.n && st == W2S_STATUS_OK; t++) {
			enum w2s_synth_train kind = cfg->synth.train.kind[t];
			int i = stg_find_instance(x, synth_roles[kind], ms->name);
			struct stg_rows rows = {.x = sx, .y = sy, .n = M};
			if (kind == W2S_SYNTH_TRAIN_MIX) {
				float *rx = NULL;
				int32_t *ry = NULL;
				st = stg_agree(x->c, stg_load_rows(x, ms->view, rb, re, &rx, &ry));
				if (st == W2S_STATUS_OK) {
					memcpy(sx + M * D, rx, (size_t)(R * D) * sizeof *sx);
					memcpy(sy + M, ry, (size_t)R * sizeof *sy);
					rows.n = M + R;
				}
				free(rx);
				free(ry);
			}
			struct w2s_mlp m = {0};
			double secs = 0;
			if (st == W2S_STATUS_OK)
				st = stg_train_instance(x, i, W2S_SPLIT_WEAK_TRAIN, NULL, 0,
							kind == W2S_SYNTH_TRAIN_REAL ? NULL : &rows, &m,
							&secs);
			if (st == W2S_STATUS_OK)
				st = stg_label_split(x, i, &m, W2S_SPLIT_TEST, secs, NULL, NULL, NULL,
						     NULL);
			w2s_mlp_free(&m);
		}
		free(sy);
		free(sx);
	}
	return st;
}

/* ---- selection from a pool ---- */

static const char *const select_roles[] = {"select_low", "select_middle", "select_high",
					   "select_random"};

enum w2s_status stg_select(struct experiment *x, const struct w2s_mlp *weak)
{
	const struct w2s_config *cfg = x->cfg;
	if (cfg->select.models.n == 0)
		return W2S_STATUS_OK;
	const int64_t C = w2s_config_classes(cfg);
	const struct w2s_model_spec *ws = &cfg->models[x->inst[0].model];
	int64_t pb, pe, lb, le;
	w2s_task_split_range(cfg, W2S_SPLIT_POOL, &pb, &pe);
	const int64_t N = pe - pb;
	w2s_shard(N, x->c->rank, x->c->size, &lb, &le);
	const int64_t n = le - lb;
	float *xs = NULL;
	int32_t *ys = NULL;
	enum w2s_status st = stg_agree(x->c, stg_load_rows(x, ws->view, pb + lb, pb + le, &xs, &ys));
	/* The weak model's loss on each pool row (this rank's shard), then on
	 * every rank all of them. */
	float *logit = w2s_xmalloc((size_t)(n * C + 1) * sizeof *logit);
	float *mine = w2s_xmalloc((size_t)(n + 1) * sizeof *mine);
	float *loss = w2s_xmalloc((size_t)N * sizeof *loss);
	if (st == W2S_STATUS_OK) {
		const struct w2s_rows_at at = {lb, N};
		w2s_train_predict(weak, xs, n, 1024,
				  ws->train.reduce == W2S_REDUCE_EXACT ? &at : NULL, logit, NULL, NULL);
		for (int64_t r = 0; r < n; r++)
			mine[r] = (float)w2s_loss_xent_hard(logit + r * C, ys + r, 1, (size_t)C, 0.0f,
							    NULL);
		w2s_comm_allgather_shards(x->c, mine, N, sizeof *mine, loss);
	}
	uint8_t *kept = w2s_xmalloc((size_t)N);
	int64_t *rows = w2s_xmalloc((size_t)N * sizeof *rows);
	for (int k = 0; k < cfg->select.models.n && st == W2S_STATUS_OK; k++) {
		const char *model = cfg->select.models.name[k];
		for (int b = 0; b < cfg->select.bands.n && st == W2S_STATUS_OK; b++) {
			int band = cfg->select.bands.band[b];
			struct w2s_filter_select_opts o = {
				.band = (enum w2s_filter_band)band,
				.fraction = cfg->select.fraction,
				.seed = cfg->seed,
				.stream = W2S_STREAM_VIEW + 8192 + (uint32_t)k,
			};
			w2s_filter_select(loss, N, &o, kept);
			struct stg_rows sub = {.subset = rows};
			sub.nsubset = w2s_filter_rows(kept, N, rows);
			int i = stg_find_instance(x, select_roles[band], model);
			struct w2s_mlp m = {0};
			double secs = 0;
			st = stg_train_instance(x, i, W2S_SPLIT_POOL, NULL, 0, &sub, &m, &secs);
			if (st == W2S_STATUS_OK)
				st = stg_label_split(x, i, &m, W2S_SPLIT_TEST, secs, NULL, NULL, NULL,
						     NULL);
			w2s_mlp_free(&m);
		}
		/* Each band against random, on test. */
		const struct result_row *rnd = NULL;
		char name[W2S_NAME_MAX + 16];
		snprintf(name, sizeof name, "select_random.%s", model);
		rnd = stg_find_result(x, name, "test");
		for (int b = 0; b < cfg->select.bands.n && st == W2S_STATUS_OK; b++) {
			snprintf(name, sizeof name, "%s.%s", select_roles[cfg->select.bands.band[b]],
				 model);
			const struct result_row *r = stg_find_result(x, name, "test");
			if (rnd)
				w2s_log_info("select %s: %s band of the pool by %s's loss: test accuracy "
					     "%.4f (random: %.4f, %+.4f)",
					     model, w2s_filter_band_name((enum w2s_filter_band)cfg->select.bands.band[b]),
					     x->inst[0].name, r->accuracy, rnd->accuracy,
					     r->accuracy - rnd->accuracy);
		}
	}
	free(rows);
	free(kept);
	free(loss);
	free(mine);
	free(logit);
	free(ys);
	free(xs);
	return st;
}

/* ---- cascading inference ---- */

void stg_cascade_free(struct experiment *x)
{
	for (int s = 0; s < W2S_NSPLITS; s++) {
		free(x->cascade.small[s]);
		free(x->cascade.large[s]);
		x->cascade.small[s] = x->cascade.large[s] = NULL;
	}
}

static enum w2s_status write_curve(struct experiment *x, const char *path,
				   const struct w2s_cascade_curve *cv)
{
	static const struct w2s_h5_column cols[] = {
		{"threshold", W2S_H5_COL_F64, offsetof(struct w2s_cascade_point, threshold), 0},
		{"deferred", W2S_H5_COL_I64, offsetof(struct w2s_cascade_point, deferred), 0},
		{"correct", W2S_H5_COL_I64, offsetof(struct w2s_cascade_point, correct), 0},
		{"defer_rate", W2S_H5_COL_F64, offsetof(struct w2s_cascade_point, defer_rate), 0},
		{"accuracy", W2S_H5_COL_F64, offsetof(struct w2s_cascade_point, accuracy), 0},
		{"flops", W2S_H5_COL_F64, offsetof(struct w2s_cascade_point, flops), 0},
		{"seconds", W2S_H5_COL_F64, offsetof(struct w2s_cascade_point, seconds), 0},
		{"flops_saving", W2S_H5_COL_F64, offsetof(struct w2s_cascade_point, flops_saving), 0},
		{"seconds_saving", W2S_H5_COL_F64,
		 offsetof(struct w2s_cascade_point, seconds_saving), 0},
	};
	return w2s_h5_write_table(&x->run, x->c, path, cols, (int)(sizeof cols / sizeof cols[0]),
				  sizeof(struct w2s_cascade_point), cv->points, (int64_t)cv->npoints);
}

enum w2s_status stg_cascade(struct experiment *x)
{
	const struct w2s_config *cfg = x->cfg;
	const int C = w2s_config_classes(cfg);
	int small = 0, large = stg_find_instance(x, "ceiling", cfg->cascade.large);
	struct w2s_mlp_shape ss, ls;
	stg_model_shape(cfg, x->inst[small].model, &ss);
	stg_model_shape(cfg, x->inst[large].model, &ls);
	struct w2s_cascade_opts o = {
		.score = (enum w2s_cascade_score)cfg->cascade.score,
		.flops_small = w2s_cascade_forward_flops(&ss),
		.flops_large = w2s_cascade_forward_flops(&ls),
		.seconds_small = x->cascade.seconds_small,
		.seconds_large = x->cascade.seconds_large,
	};
	const size_t T = (size_t)cfg->cascade.thresholds;
	double *grid = w2s_xmalloc(T * sizeof *grid);
	w2s_cascade_grid(grid, T);
	struct w2s_cascade_curve val = {0}, test = {0};
	w2s_cascade_curve_init(&val, grid, T);
	w2s_cascade_curve_init(&test, grid, T);
	int32_t *y[W2S_NSPLITS] = {NULL};
	enum w2s_status st = W2S_STATUS_OK;
	const enum w2s_split splits[2] = {W2S_SPLIT_VAL, W2S_SPLIT_TEST};
	struct w2s_cascade_curve *curves[2] = {&val, &test};
	for (int k = 0; k < 2 && st == W2S_STATUS_OK; k++) {
		enum w2s_split sp = splits[k];
		int64_t sb, se, lb, le;
		w2s_task_split_range(cfg, sp, &sb, &se);
		w2s_shard(se - sb, x->c->rank, x->c->size, &lb, &le);
		float *unused = NULL;
		st = stg_agree(x->c, stg_load_rows(x, cfg->models[x->inst[small].model].view, sb + lb,
						   sb + le, &unused, &y[sp]));
		free(unused);
		if (st == W2S_STATUS_OK)
			w2s_cascade_curve_eval(x->c, curves[k], x->cascade.small[sp],
					       x->cascade.large[sp], y[sp], (size_t)(le - lb),
					       (size_t)C, &o);
	}
	size_t chosen = 0;
	int have = st == W2S_STATUS_OK && w2s_cascade_choose(&val, cfg->cascade.tolerance, &chosen) == 0;
	if (st == W2S_STATUS_OK)
		st = write_curve(x, "/cascade/curve", &test);
	if (st == W2S_STATUS_OK)
		st = write_curve(x, "/cascade/val_curve", &val);
	const char *obj = "/cascade/curve";
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&x->run, obj, "small", x->inst[small].name);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&x->run, obj, "large", x->inst[large].name);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&x->run, obj, "score", w2s_cascade_score_name(o.score));
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_double(&x->run, obj, "tolerance", cfg->cascade.tolerance);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_double(&x->run, obj, "chosen_threshold",
					have ? grid[chosen] : NAN);
	if (st == W2S_STATUS_OK && have) {
		const struct w2s_cascade_point *p = &test.points[chosen];
		w2s_log_info("cascade %s -> %s (%s): threshold %.3f, chosen on val within %.3f of "
			     "the large model, defers %.1f%% of test queries: accuracy %.4f against "
			     "%.4f for %s alone, at %.0f%% of its FLOPs and %.0f%% of its time per "
			     "query",
			     x->inst[small].name, x->inst[large].name, w2s_cascade_score_name(o.score),
			     p->threshold, cfg->cascade.tolerance, 100 * p->defer_rate, p->accuracy,
			     test.acc_large, x->inst[large].name, 100 * (1 - p->flops_saving),
			     100 * (1 - p->seconds_saving));
	} else if (st == W2S_STATUS_OK) {
		w2s_log_info("cascade %s -> %s: no threshold reaches the large model's accuracy "
			     "within %.3f on val",
			     x->inst[small].name, x->inst[large].name, cfg->cascade.tolerance);
	}
	for (int s = 0; s < W2S_NSPLITS; s++)
		free(y[s]);
	w2s_cascade_curve_free(&test);
	w2s_cascade_curve_free(&val);
	free(grid);
	return st;
}

/*
 * cascade.c: the accuracy-cost curve of a small-then-large cascade, from
 * both models' probabilities on the same queries.
 *
 * Only counts cross ranks (one int64 allreduce of 3 + 2 T numbers); every
 * rate is formed afterwards from the global counts, so no rounding depends
 * on how the queries were sharded.  The cost at each point is formed as
 * small + rate * large, so that rate 0 gives the small model's cost and
 * rate 1 both costs summed, exactly.
 *
 * Not here: choosing the grid from data (quantiles of the scores would
 * need the scores of every rank; an even grid suffices for a curve).
 */
#include "w2s/cascade.h"

#include "w2s/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void w2s_cascade_curve_init(struct w2s_cascade_curve *cv, const double *thresholds, size_t T)
{
	W2S_CHECK(T >= 1);
	memset(cv, 0, sizeof *cv);
	cv->points = w2s_xcalloc(T, sizeof *cv->points);
	cv->npoints = T;
	for (size_t t = 0; t < T; t++) {
		W2S_CHECK(!isnan(thresholds[t]));
		cv->points[t].threshold = thresholds[t];
	}
}

void w2s_cascade_curve_free(struct w2s_cascade_curve *cv)
{
	free(cv->points);
	cv->points = NULL;
	cv->npoints = 0;
}

/* Argmax of one row (C), ties to the lower class, as w2s_argmax_rows. */
static int32_t cascade_argmax(const float *p, size_t C)
{
	size_t best = 0;
	for (size_t c = 1; c < C; c++)
		if (p[c] > p[best])
			best = c;
	return (int32_t)best;
}

/* Confidence of one row (C), clamped into [0, 1], NaN -> 0.  The clamp is
 * what makes the ends exact: float softmax rows can sum to a hair above 1,
 * and a threshold must defer all of them all the same. */
static double cascade_score(const float *p, size_t C, enum w2s_cascade_score kind)
{
	double top1 = -INFINITY, top2 = -INFINITY;
	for (size_t c = 0; c < C; c++) {
		double v = p[c];
		if (v > top1) {
			top2 = top1;
			top1 = v;
		} else if (v > top2) {
			top2 = v;
		}
	}
	double s;
	switch (kind) {
	case W2S_CASCADE_SCORE_MAXPROB:
		s = top1;
		break;
	case W2S_CASCADE_SCORE_MARGIN:
		W2S_CHECK(C >= 2);
		s = top1 - top2;
		break;
	default:
		W2S_CHECK(!"unknown cascade score");
		s = 0;
	}
	if (!(s >= 0.0)) /* NaN too: a row of NaNs never raises top1 */
		return 0.0;
	return s > 1.0 ? 1.0 : s;
}

void w2s_cascade_scores(const float *probs, size_t n, size_t C, enum w2s_cascade_score kind,
			double *score)
{
	W2S_CHECK(n == 0 || C > 0);
	for (size_t i = 0; i < n; i++)
		score[i] = cascade_score(probs + i * C, C, kind);
}

/* counts = {n, correct_small, correct_large, deferred[T], correct[T]} of
 * these rows. */
static void cascade_count(const struct w2s_cascade_curve *cv, const float *small,
			  const float *large, const int32_t *y, size_t n, size_t C,
			  enum w2s_cascade_score kind, int64_t *counts)
{
	size_t T = cv->npoints;
	memset(counts, 0, (3 + 2 * T) * sizeof *counts);
	int64_t *deferred = counts + 3, *correct = counts + 3 + T;
	counts[0] = (int64_t)n;
	for (size_t i = 0; i < n; i++) {
		W2S_CHECK(y[i] >= 0 && (size_t)y[i] < C);
		int right_small = cascade_argmax(small + i * C, C) == y[i];
		int right_large = cascade_argmax(large + i * C, C) == y[i];
		double s = cascade_score(small + i * C, C, kind);
		counts[1] += right_small;
		counts[2] += right_large;
		for (size_t t = 0; t < T; t++) {
			int defer = s < cv->points[t].threshold;
			deferred[t] += defer;
			correct[t] += defer ? right_large : right_small;
		}
	}
}

/* 1 - cost / large, NaN when the large model is free. */
static double cascade_saving(double cost, double large)
{
	return large > 0.0 ? 1.0 - cost / large : NAN;
}

/* Rates and costs from the counts. */
static void cascade_finish(struct w2s_cascade_curve *cv, const int64_t *counts,
			   const struct w2s_cascade_opts *o)
{
	size_t T = cv->npoints;
	const int64_t *deferred = counts + 3, *correct = counts + 3 + T;
	double n = (double)counts[0];
	cv->n = counts[0];
	cv->correct_small = counts[1];
	cv->correct_large = counts[2];
	cv->acc_small = (double)counts[1] / n;
	cv->acc_large = (double)counts[2] / n;
	for (size_t t = 0; t < T; t++) {
		struct w2s_cascade_point *p = &cv->points[t];
		p->deferred = deferred[t];
		p->correct = correct[t];
		p->defer_rate = (double)deferred[t] / n;
		p->accuracy = (double)correct[t] / n;
		p->flops = o->flops_small + p->defer_rate * o->flops_large;
		p->seconds = o->seconds_small + p->defer_rate * o->seconds_large;
		p->flops_saving = cascade_saving(p->flops, o->flops_large);
		p->seconds_saving = cascade_saving(p->seconds, o->seconds_large);
	}
}

void w2s_cascade_curve_eval_local(struct w2s_cascade_curve *cv, const float *small,
				  const float *large, const int32_t *y, size_t n, size_t C,
				  const struct w2s_cascade_opts *o)
{
	W2S_CHECK(cv->npoints >= 1 && (n == 0 || C > 0));
	int64_t *counts = w2s_xmalloc((3 + 2 * cv->npoints) * sizeof *counts);
	cascade_count(cv, small, large, y, n, C, o->score, counts);
	cascade_finish(cv, counts, o);
	free(counts);
}

void w2s_cascade_curve_eval(const struct w2s_comm *c, struct w2s_cascade_curve *cv,
			    const float *small, const float *large, const int32_t *y, size_t n,
			    size_t C, const struct w2s_cascade_opts *o)
{
	W2S_CHECK(cv->npoints >= 1 && (n == 0 || C > 0));
	size_t len = 3 + 2 * cv->npoints;
	int64_t *counts = w2s_xmalloc(len * sizeof *counts);
	cascade_count(cv, small, large, y, n, C, o->score, counts);
	w2s_comm_sum_int64(c, counts, len);
	cascade_finish(cv, counts, o);
	free(counts);
}

int w2s_cascade_choose(const struct w2s_cascade_curve *cv, double tolerance, size_t *index)
{
	W2S_CHECK(tolerance >= 0.0);
	double floor_acc = cv->acc_large - tolerance;
	int found = 0;
	size_t best = 0;
	for (size_t t = 0; t < cv->npoints; t++) {
		const struct w2s_cascade_point *p = &cv->points[t];
		if (!(p->accuracy >= floor_acc))
			continue;
		const struct w2s_cascade_point *b = &cv->points[best];
		if (!found || p->deferred < b->deferred ||
		    (p->deferred == b->deferred && p->threshold < b->threshold)) {
			best = t;
			found = 1;
		}
	}
	if (!found)
		return -1;
	*index = best;
	return 0;
}

void w2s_cascade_grid(double *thresholds, size_t T)
{
	W2S_CHECK(T >= 2);
	for (size_t t = 0; t + 1 < T; t++)
		thresholds[t] = (double)t / (double)(T - 1);
	thresholds[T - 1] = W2S_CASCADE_DEFER_ALL;
}

double w2s_cascade_forward_flops(const struct w2s_mlp_shape *shape)
{
	W2S_CHECK(shape->nlayers >= 1 && shape->nlayers <= W2S_MLP_MAX_LAYERS);
	double flops = 0.0;
	for (int l = 0; l < shape->nlayers; l++) {
		double in = (double)shape->width[l], out = (double)shape->width[l + 1];
		flops += 2.0 * in * out + out;
		if (l + 1 < shape->nlayers)
			flops += out;
	}
	return flops;
}

const char *w2s_cascade_score_name(enum w2s_cascade_score s)
{
	switch (s) {
	case W2S_CASCADE_SCORE_MAXPROB:
		return "maxprob";
	case W2S_CASCADE_SCORE_MARGIN:
		return "margin";
	}
	return "?";
}

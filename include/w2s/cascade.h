/*
 * cascade.h: cascading inference, simulated on predictions already made.
 *
 * The small model answers every query; a query on which it is unsure goes
 * on to the large model, whose answer then counts.  Given both models'
 * probabilities on the same rows, the curve says, for each threshold of a
 * grid, how many queries were deferred, how accurate the cascade was and
 * what a query cost.  The caller evaluates the curve on val to choose a
 * threshold (w2s_cascade_choose), then on test to report it.
 *
 * The rule: a query is deferred iff score < threshold, where the score is
 * the small model's confidence clamped into [0, 1] (NaN counts as 0, least
 * confident).  So threshold 0 defers nothing (the cascade is the small
 * model, its cost the small model's), and any threshold above 1, such as
 * W2S_CASCADE_DEFER_ALL, defers everything (the cascade is the large model,
 * its cost both models' together).  Both ends hold exactly.
 *
 * Dimension legend: n queries on this rank, C classes, T thresholds.
 * Predictions are argmax of the probabilities, ties to the lower class, as
 * w2s_argmax_rows.  Counts are integers summed over ranks, so the curve is
 * the same on every rank and for any number of ranks.
 *
 * Not here: running the models or timing them (the caller measures seconds
 * per query and passes them in), files.
 */
#ifndef W2S_CASCADE_H
#define W2S_CASCADE_H

#include <stddef.h>
#include <stdint.h>

#include "w2s/comm.h"
#include "w2s/mlp.h"

/* A threshold above every score: defers every query. */
#define W2S_CASCADE_DEFER_ALL 2.0

/* How sure the small model is of a query. */
enum w2s_cascade_score {
	W2S_CASCADE_SCORE_MAXPROB = 0, /* max_c p_c */
	W2S_CASCADE_SCORE_MARGIN,      /* top1 - top2 of p (C >= 2) */
};

struct w2s_cascade_opts {
	enum w2s_cascade_score score;
	double flops_small, flops_large;     /* FLOPs of one query through each model, >= 0 */
	double seconds_small, seconds_large; /* measured seconds per query of each, >= 0 */
};

/* One threshold of the curve.  A plain record of numbers, so that a curve
 * is written as one compound dataset. */
struct w2s_cascade_point {
	double threshold;
	int64_t deferred;      /* queries sent on to the large model, all ranks */
	int64_t correct;       /* queries the cascade answered right, all ranks */
	double defer_rate;     /* deferred / n */
	double accuracy;       /* correct / n */
	double flops;          /* per query: flops_small + defer_rate * flops_large */
	double seconds;        /* per query: seconds_small + defer_rate * seconds_large */
	double flops_saving;   /* 1 - flops / flops_large: share of the large model's cost saved; < 0 when the cascade costs more */
	double seconds_saving; /* 1 - seconds / seconds_large */
};

/* A curve over T thresholds and what the two models score alone.  Rates are
 * NaN when there are no queries; savings NaN when the large model costs 0. */
struct w2s_cascade_curve {
	int64_t n;                        /* queries, all ranks */
	int64_t correct_small, correct_large; /* each model alone, all ranks */
	double acc_small, acc_large;      /* correct_small / n, correct_large / n */
	size_t npoints;                   /* T */
	struct w2s_cascade_point *points; /* (T) owned; thresholds in the caller's order */
};

/* Sets up cv for thresholds (T >= 1, none NaN), copied into the points;
 * the rest zero.  Free with w2s_cascade_curve_free. */
void w2s_cascade_curve_init(struct w2s_cascade_curve *cv, const double *thresholds, size_t T);
/* Frees the points; safe on a zeroed struct and twice. */
void w2s_cascade_curve_free(struct w2s_cascade_curve *cv);

/* Collective: fills cv from this rank's n queries: small and large probs
 * (n, C) of the same rows, labels y (n) in [0, C); summed over ranks, so
 * every rank holds the global curve.  n may be 0 on some ranks. */
void w2s_cascade_curve_eval(const struct w2s_comm *c, struct w2s_cascade_curve *cv,
			    const float *small, const float *large, const int32_t *y, size_t n,
			    size_t C, const struct w2s_cascade_opts *o);
/* The same for the n queries given alone (no MPI): the curve of one rank's
 * rows, or of all rows where one process holds them. */
void w2s_cascade_curve_eval_local(struct w2s_cascade_curve *cv, const float *small,
				  const float *large, const int32_t *y, size_t n, size_t C,
				  const struct w2s_cascade_opts *o);

/* The cheapest point whose accuracy is within tolerance (>= 0) of the
 * large model alone: accuracy >= acc_large - tolerance.  Cost per query
 * grows with the deferred count in FLOPs and in seconds alike, so the
 * cheapest is the one deferring fewest queries; among those (they defer
 * the same rows), the smallest threshold.  Sets *index into cv->points and
 * returns 0, or returns -1 when no point qualifies (a grid that holds
 * W2S_CASCADE_DEFER_ALL always has one). */
int w2s_cascade_choose(const struct w2s_cascade_curve *cv, double tolerance, size_t *index);

/* score (n) = the small model's confidence in each row of probs (n, C),
 * clamped into [0, 1], NaN -> 0: the score the curve compares. */
void w2s_cascade_scores(const float *probs, size_t n, size_t C, enum w2s_cascade_score kind,
			double *score);

/* thresholds (T >= 2) = 0, 1/(T-1), ..., (T-2)/(T-1), W2S_CASCADE_DEFER_ALL:
 * both ends of the curve and T-2 even steps between. */
void w2s_cascade_grid(double *thresholds, size_t T);

/* FLOPs of one row through an MLP of this shape: per layer 2 * in * out for
 * the product, out for the bias, and out for the activation on hidden
 * layers (one operation per element, whatever the activation).  The
 * softmax is not counted. */
double w2s_cascade_forward_flops(const struct w2s_mlp_shape *shape);

const char *w2s_cascade_score_name(enum w2s_cascade_score s);

#endif

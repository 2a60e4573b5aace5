/*
 * gmm.h: a small class-conditional generative model for synthetic data: for
 * each class, a mixture of K Gaussians with diagonal covariance, fitted by
 * EM on the rows of one view, sampled row by row from counter-based draws.
 *
 * Dimension legend: N rows in all, n rows on this rank, D the view's width,
 * C classes, K components per class, M synthetic rows.
 *
 * Diagonal, not full, covariance: a component costs 2D numbers instead of
 * D(D+3)/2, an EM pass O(nKD) instead of O(nKD^2) plus a Cholesky per
 * component, and it stays well posed when a component holds fewer rows
 * than dimensions (768-wide embeddings, a few thousand rows per class),
 * where a full covariance is singular without heavy shrinkage.  The model
 * is meant to be small and cheap; correlations between features are
 * carried by the mixture, not by each component.
 *
 * Fitting is collective: each rank holds its shard of the rows, in global
 * order (rank r's rows follow rank r-1's, as w2s_shard() gives them), and
 * every EM iteration sums its sufficient statistics (responsibility sums,
 * weighted sums, weighted sums of squares, log-likelihood) over ranks in
 * one allreduce.  Every rank ends with the same model, and the model on P
 * ranks differs from the one on 1 rank only by the order of those sums.
 *
 *   seeding   greedy k-means++ per class: the first centre is a row drawn
 *             uniformly; for each next one, 2 + ln K rows are drawn with
 *             probability proportional to their squared distance to the
 *             nearest centre so far, and the one that leaves the smallest
 *             sum of squared distances is kept.  Each draw is a
 *             counter-based uniform keyed by (opts.seed, opts.stream, an
 *             index of seeding, class, component and candidate) applied
 *             to the global row order, so every rank picks the same row.
 *             This is done opts.seedings times and each class keeps its
 *             seeding of the smallest sum of squared distances: EM cannot
 *             move a component across a gap between clusters, so two
 *             seeds in one cluster and none in another is a poor fit for
 *             good.  A class with fewer than K distinct rows gets fewer
 *             components (the others are dropped, see below).
 *   start     every row goes to its nearest centre; the weights, means and
 *             variances of those hard clusters are the first model.
 *   EM        E-step on the rows, one allreduce, M-step; stop when the
 *             total log-likelihood changes by at most tol relative to
 *             itself, or after max_iter M-steps.
 *   floor     every variance is at least var_floor times the class's
 *             variance in that dimension, and at least min_var: without a
 *             floor a component that collapses onto a few rows drives a
 *             variance to 0 and the likelihood to infinity.  The floored
 *             M-step is still the constrained maximum, so the
 *             log-likelihood never decreases from one iteration to the
 *             next, except at an iteration that drops a component.
 *   dropping  a component whose responsibility sum falls below min_rows
 *             rows gets weight 0 for good (its mean and variance stay as
 *             they were, unused).  The heaviest component of a class is
 *             never dropped.  Dropping rather than re-seeding keeps the fit
 *             monotone and deterministic; a dropped component is also
 *             never sampled.  A class with no rows has prior 0, weights 0,
 *             means 0 and variances 1, and is never sampled.
 *
 * Sampling is local and deterministic: row i of the synthetic set is a
 * pure function of (seed, stream, i), so rank r can make rows [b, e) of M
 * and the bytes do not depend on the number of ranks.  Its class is drawn
 * from the priors (the classes' shares of the fitted rows), its component
 * from the class's weights, its features as mean + sqrt(var) * z.
 *
 * Not here: files, the config, which split or view is fitted (stages).
 */
#ifndef W2S_GMM_H
#define W2S_GMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "w2s/comm.h"
#include "w2s/common.h"

/* The model: all numbers in one allocation, of which the four arrays are
 * views, so one dataset stores it and one broadcast sends it. */
struct w2s_gmm {
	int classes;     /* C */
	int k;           /* K components per class */
	int64_t dim;     /* D */
	size_t nparams;  /* C + C*K + 2*C*K*D */
	double *params;  /* (nparams) owned */
	double *prior;   /* (C) view: class shares of the fitted rows, sum 1 */
	double *weight;  /* (C, K) view: per class, sum 1 over kept components; 0 = dropped */
	double *mean;    /* (C, K, D) view */
	double *var;     /* (C, K, D) view: diagonal variances, > 0 */
};

struct w2s_gmm_opts {
	int k;            /* K components per class, >= 1 */
	int seedings;     /* k-means++ seedings, >= 1; each class keeps its cheapest */
	int max_iter;     /* M-steps at most after the start, >= 0 */
	double tol;       /* stop when |ll - ll_prev| <= tol * |ll|; 0 runs max_iter M-steps */
	double var_floor; /* variance >= var_floor * the class's variance in that dimension */
	double min_var;   /* variance >= min_var (> 0), for dimensions constant within a class */
	double min_rows;  /* drop a component whose responsibility sum is below this */
	uint64_t seed;    /* of the seeding draws */
	uint32_t stream;
	double *trace;    /* (max_iter + 1) or NULL: trace[t] = ll after t M-steps */
};

/* Filled by the fit, every field. */
struct w2s_gmm_report {
	int iterations;  /* M-steps done after the start */
	bool converged;  /* stopped on tol, not on max_iter */
	double loglik;   /* sum over the N rows of log p(x | y) under the returned model */
	int64_t rows;    /* N */
	int dropped;     /* components with weight 0 at the end, all classes */
};

/* Fills defaults: K 4, seedings 3, max_iter 100, tol 1e-6, var_floor
 * 1e-3, min_var 1e-9, min_rows 1, seed 0, stream 0, no trace. */
void w2s_gmm_opts_default(struct w2s_gmm_opts *o);

/* Allocates a zeroed model of C classes, K components, width D (to read
 * one back from a file).  W2S_STATUS_NOMEM when the sizes overflow or
 * memory runs out; g is then zeroed. */
enum w2s_status w2s_gmm_init(struct w2s_gmm *g, int classes, int k, int64_t dim);
/* Frees what init (or fit) took; safe on a zeroed struct and twice. */
void w2s_gmm_free(struct w2s_gmm *g);

/* Collective: fits the model on this rank's rows x (n, D) with classes y
 * (n) in [0, C).  g is zeroed or freed on entry; on success it holds the
 * model, the same on every rank (free with w2s_gmm_free); on failure it is
 * zeroed.  rep may be NULL.  Returns, on every rank alike:
 * W2S_STATUS_CONFIG for bad opts or no rows at all, W2S_STATUS_NUMERIC
 * when a row holds a NaN or an infinity (or the likelihood stops being
 * finite), W2S_STATUS_NOMEM when C*K*D is too large.  A label out of
 * range is a bug of the caller and aborts. */
enum w2s_status w2s_gmm_fit(const struct w2s_comm *c, const float *x, const int32_t *y,
			    int64_t n, int64_t dim, int classes,
			    const struct w2s_gmm_opts *opts, struct w2s_gmm *g,
			    struct w2s_gmm_report *rep);

/* Not collective: rows [begin, end) of the synthetic set keyed by (seed,
 * stream): x (end - begin, D), y (end - begin) classes, comp (end - begin)
 * components within the class, or NULL.  Row i uses Philox blocks
 * [0, ceil(D/4)) of item i for its normals and block 0xffffffff for the
 * choice of class and component, nothing else, so a stream may be shared
 * with nothing but other rows of the same set. */
void w2s_gmm_sample(const struct w2s_gmm *g, uint64_t seed, uint32_t stream, int64_t begin,
		    int64_t end, float *x, int32_t *y, int32_t *comp);

/* Not collective: classifies rows x (n, D) by the model (Bayes' rule with
 * the priors).  Each output may be NULL: logpost (n, C) log p(class | x)
 * (-inf for a class of prior 0), loglik (n) log p(x) under the whole
 * mixture, pred (n) the most probable class (the lowest on a tie). */
void w2s_gmm_log_posterior(const struct w2s_gmm *g, const float *x, int64_t n,
			   float *logpost, double *loglik, int32_t *pred);

#endif

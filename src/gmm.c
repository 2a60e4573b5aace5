/*
 * gmm.c: per-class Gaussian mixtures with diagonal covariance (gmm.h):
 * k-means++ seeding, EM with one allreduce per iteration, sampling and
 * classification.
 *
 * Dimension legend: n rows on this rank, D width, C classes, K components
 * per class; a component q = c * K + k.
 *
 * The statistics are gathered about a shift, the component's current mean
 * (or its seed at the start): sums of r (x - m) and r (x - m)^2 rather than
 * of r x and r x^2.  The variance is then S2/R - (S1/R)^2 with S1/R small,
 * so it does not lose its digits to cancellation when a mean is large
 * against its spread, as the raw second moment would.
 *
 * Plain loops, not GEMM: an E-step is O(nKD), small next to training, and
 * the expansion (x - m)^2 = x^2 - 2xm + m^2 that would make it a GEMM is
 * the cancellation avoided above.
 */
#include "w2s/gmm.h"

#include "w2s/log.h"
#include "w2s/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double LOG_2PI = 1.8378770664093454835606594728112;

void w2s_gmm_opts_default(struct w2s_gmm_opts *o)
{
	*o = (struct w2s_gmm_opts){
		.k = 4, .seedings = 3, .max_iter = 100, .tol = 1e-6, .var_floor = 1e-3,
		.min_var = 1e-9, .min_rows = 1.0, .seed = 0, .stream = 0, .trace = NULL,
	};
}

enum w2s_status w2s_gmm_init(struct w2s_gmm *g, int classes, int k, int64_t dim)
{
	memset(g, 0, sizeof *g);
	W2S_CHECK(classes >= 1 && k >= 1 && dim >= 1);
	size_t ck, ckd, total;
	if (w2s_mul_size((size_t)classes, (size_t)k, &ck) != 0 ||
	    (uint64_t)dim > SIZE_MAX || w2s_mul_size(ck, (size_t)dim, &ckd) != 0 ||
	    w2s_mul_size(ckd, 2, &total) != 0 || total + ck < total ||
	    total + ck + (size_t)classes < total + ck)
		return W2S_STATUS_NOMEM;
	total += ck + (size_t)classes;
	/* The fit's statistics are (C*K*(1+2D) + C) doubles, no more than
	 * the model, but its bytes must fit a size_t too. */
	size_t bytes;
	if (w2s_mul_size(total, sizeof(double), &bytes) != 0)
		return W2S_STATUS_NOMEM;
	double *p = calloc(total, sizeof *p);
	if (!p)
		return W2S_STATUS_NOMEM;
	g->classes = classes;
	g->k = k;
	g->dim = dim;
	g->nparams = total;
	g->params = p;
	g->prior = p;
	g->weight = g->prior + classes;
	g->mean = g->weight + ck;
	g->var = g->mean + ckd;
	return W2S_STATUS_OK;
}

void w2s_gmm_free(struct w2s_gmm *g)
{
	free(g->params);
	memset(g, 0, sizeof *g);
}

/* ---- shared by fitting and classification */

/* cst[q] = log w_q - 0.5 * sum_j log(2 pi var_qj) and iv = 1 / var, for
 * every kept component; cst is -inf for a dropped one. */
static void gmm_prepare(const struct w2s_gmm *g, double *cst, double *iv)
{
	const int64_t D = g->dim;
	for (int q = 0; q < g->classes * g->k; q++) {
		if (!(g->weight[q] > 0)) {
			cst[q] = -INFINITY;
			continue;
		}
		const double *v = g->var + (size_t)q * D;
		double s = 0;
		for (int64_t j = 0; j < D; j++) {
			s += log(v[j]);
			iv[(size_t)q * D + j] = 1.0 / v[j];
		}
		cst[q] = log(g->weight[q]) - 0.5 * (s + (double)D * LOG_2PI);
	}
}

/* log of sum_k exp(a[k]) over n terms, -inf when all are -inf. */
static double log_sum_exp(const double *a, int n)
{
	double top = -INFINITY;
	for (int i = 0; i < n; i++)
		top = a[i] > top ? a[i] : top;
	if (top == -INFINITY)
		return top;
	double s = 0;
	for (int i = 0; i < n; i++)
		s += exp(a[i] - top);
	return top + log(s);
}

/* log w_q + log N(x | mean_q, var_q) for the K components of class c into
 * lp (K); diff (K, D) gets x - mean when not NULL. */
static void class_log_joint(const struct w2s_gmm *g, const double *cst, const double *iv,
			    int c, const float *x, double *lp, double *diff)
{
	const int64_t D = g->dim;
	for (int k = 0; k < g->k; k++) {
		size_t q = (size_t)c * g->k + k;
		if (cst[q] == -INFINITY) {
			lp[k] = -INFINITY;
			continue;
		}
		const double *m = g->mean + q * D, *w = iv + q * D;
		double *d = diff ? diff + (size_t)k * D : NULL;
		double s = 0;
		for (int64_t j = 0; j < D; j++) {
			double e = (double)x[j] - m[j];
			s += e * e * w[j];
			if (d)
				d[j] = e;
		}
		lp[k] = cst[q] - 0.5 * s;
	}
}

/* ---- fitting */

/* Squared Euclidean distance of a row to a point. */
static double sq_dist(const float *x, const double *m, int64_t D)
{
	double s = 0;
	for (int64_t j = 0; j < D; j++) {
		double e = (double)x[j] - m[j];
		s += e * e;
	}
	return s;
}

/* What one fit needs besides the model.  stats holds, per component q,
 * [R, S1 (D), S2 (D)] at q * (1 + 2D), then the log-likelihood of each
 * class: the one buffer summed over ranks per iteration. */
struct fit_work {
	size_t stride;    /* 1 + 2D */
	size_t nstats;    /* C*K*stride + C */
	double *stats;    /* (nstats) */
	double *cst;      /* (C*K) */
	double *iv;       /* (C*K, D) */
	double *floor;    /* (C, D) variance floor */
	double *lp;       /* (K) */
	double *diff;     /* (K, D) */
	int64_t *count;   /* (C) rows of each class over all ranks */
};

static void fit_work_free(struct fit_work *w)
{
	free(w->stats);
	free(w->cst);
	free(w->iv);
	free(w->floor);
	free(w->lp);
	free(w->diff);
	free(w->count);
	memset(w, 0, sizeof *w);
}

/* Accumulates row x (x - m weighted by r) into component q's statistics. */
static void add_row(struct fit_work *w, size_t q, int64_t D, double r, const double *diff)
{
	double *s = w->stats + q * w->stride;
	s[0] += r;
	for (int64_t j = 0; j < D; j++) {
		s[1 + j] += r * diff[j];
		s[1 + D + j] += r * diff[j] * diff[j];
	}
}

/* Hard pass: every local row to the nearest kept component of its class
 * (the lowest k on a tie), statistics about the component means. */
static void hard_assign(const struct w2s_gmm *g, struct fit_work *w, const float *x,
			const int32_t *y, int64_t n)
{
	const int64_t D = g->dim;
	memset(w->stats, 0, w->nstats * sizeof *w->stats);
	for (int64_t i = 0; i < n; i++) {
		const float *xi = x + i * D;
		int c = y[i], best = -1;
		double bd = INFINITY;
		for (int k = 0; k < g->k; k++) {
			size_t q = (size_t)c * g->k + k;
			if (!(g->weight[q] > 0))
				continue;
			double s = sq_dist(xi, g->mean + q * D, D);
			if (best < 0 || s < bd) {
				bd = s;
				best = k;
			}
		}
		W2S_CHECK(best >= 0); /* a class with rows has a seed */
		const double *m = g->mean + ((size_t)c * g->k + best) * D;
		for (int64_t j = 0; j < D; j++)
			w->diff[j] = (double)xi[j] - m[j];
		add_row(w, (size_t)c * g->k + best, D, 1.0, w->diff);
	}
}

/* E-step on the local rows: responsibilities under the current model,
 * statistics about the component means, log p(x | y) per class. */
static void e_step(const struct w2s_gmm *g, struct fit_work *w, const float *x,
		   const int32_t *y, int64_t n)
{
	const int64_t D = g->dim;
	const int K = g->k;
	memset(w->stats, 0, w->nstats * sizeof *w->stats);
	gmm_prepare(g, w->cst, w->iv);
	double *ll = w->stats + (size_t)g->classes * K * w->stride;
	for (int64_t i = 0; i < n; i++) {
		int c = y[i];
		class_log_joint(g, w->cst, w->iv, c, x + i * D, w->lp, w->diff);
		double lse = log_sum_exp(w->lp, K);
		ll[c] += lse;
		for (int k = 0; k < K; k++) {
			if (w->lp[k] == -INFINITY)
				continue;
			double r = exp(w->lp[k] - lse);
			add_row(w, (size_t)c * K + k, D, r, w->diff + (size_t)k * D);
		}
	}
}

/* The floor of every variance from the statistics of the hard pass: the
 * class's own variance per dimension, pooled over its clusters. */
static void set_floor(const struct w2s_gmm *g, struct fit_work *w, const struct w2s_gmm_opts *o)
{
	const int64_t D = g->dim;
	for (int c = 0; c < g->classes; c++) {
		double *f = w->floor + (size_t)c * D;
		if (w->count[c] == 0) {
			for (int64_t j = 0; j < D; j++)
				f[j] = o->min_var;
			continue;
		}
		double nc = (double)w->count[c];
		for (int64_t j = 0; j < D; j++) {
			double mc = 0;
			for (int k = 0; k < g->k; k++) {
				size_t q = (size_t)c * g->k + k;
				const double *s = w->stats + q * w->stride;
				mc += s[0] * g->mean[q * D + j] + s[1 + j];
			}
			mc /= nc;
			double vc = 0;
			for (int k = 0; k < g->k; k++) {
				size_t q = (size_t)c * g->k + k;
				const double *s = w->stats + q * w->stride;
				double a = g->mean[q * D + j] - mc;
				vc += s[1 + D + j] + 2 * a * s[1 + j] + s[0] * a * a;
			}
			vc /= nc;
			f[j] = fmax(o->var_floor * vc, o->min_var);
		}
	}
}

/* M-step from statistics summed over ranks; returns how many components
 * it dropped. */
static int m_step(struct w2s_gmm *g, const struct fit_work *w, double min_rows)
{
	const int64_t D = g->dim;
	const int K = g->k;
	int dropped = 0;
	for (int c = 0; c < g->classes; c++) {
		if (w->count[c] == 0)
			continue;
		const double *r0 = w->stats + (size_t)c * K * w->stride; /* R of k at k * stride */
		int top = -1;
		for (int k = 0; k < K; k++)
			if (g->weight[(size_t)c * K + k] > 0 &&
			    (top < 0 || r0[k * w->stride] > r0[top * w->stride]))
				top = k;
		W2S_CHECK(top >= 0);
		double kept = 0;
		for (int k = 0; k < K; k++) {
			size_t q = (size_t)c * K + k;
			if (!(g->weight[q] > 0))
				continue;
			const double *s = w->stats + q * w->stride;
			double r = s[0];
			if (k != top && (r < min_rows || !(r > 0))) {
				g->weight[q] = 0;
				dropped++;
				continue;
			}
			double *m = g->mean + q * D, *v = g->var + q * D;
			const double *f = w->floor + (size_t)c * D;
			for (int64_t j = 0; j < D; j++) {
				double d = s[1 + j] / r;
				m[j] += d;
				v[j] = fmax(s[1 + D + j] / r - d * d, f[j]);
			}
			g->weight[q] = r;
			kept += r;
		}
		for (int k = 0; k < K; k++)
			g->weight[(size_t)c * K + k] /= kept;
	}
	return dropped;
}

/* Candidates per round of the greedy k-means++ of Arthur & Vassilvitskii
 * (as scikit-learn does it).  Plain k-means++ puts two seeds in one
 * cluster and none in another often enough that EM, which cannot move a
 * component across a gap, ends in a poor local optimum.  Measured on 72
 * random mixtures of 2 classes x 3 components in 5 dimensions whose means
 * are at least 4 sd apart, 12000 rows: plain k-means++ left two true
 * components under one fitted component in 18 fits, this greedy variant
 * in 3, and the best of 3 greedy seedings (the default) in 1. */
static int seed_trials(int K)
{
	return 2 + (int)log((double)K);
}

/* The local row of class c chosen by a draw: the first whose running sum
 * of dist, starting from `before` (the sums of the lower ranks), passes
 * target; the last row of weight > 0 when rounding leaves it short. */
static int64_t seed_pick_row(const int32_t *y, const double *dist, int64_t n, int c,
			     double before, double target)
{
	int64_t pick = -1;
	double acc = before;
	for (int64_t i = 0; i < n; i++) {
		if (y[i] != c || !(dist[i] > 0))
			continue;
		pick = i;
		acc += dist[i];
		if (target < acc)
			break;
	}
	return pick;
}

/* Buffers of the seeding, allocated once for all its rounds and seedings. */
struct seed_work {
	int L;          /* candidates per round */
	double *dist;   /* (n) squared distance to the nearest centre so far */
	double *wsum;   /* (P, C) sum of dist over each rank's rows of each class */
	double *cand;   /* (C, L, D) the candidates of a round */
	double *pot;    /* (C, L) sum of squared distances with each candidate added */
	double *cost;   /* (C) of the best seeding so far */
	double *mean;   /* (C, K, D) the centres of this seeding */
	double *weight; /* (C, K) 1 for a component this seeding placed, else 0 */
	int *best;      /* (C) candidate kept in a round */
	char *active;   /* (C) class still taking centres */
};

/* One k-means++ seeding of every class at once, number `r` of the fit,
 * into w->mean and w->weight; w->cost[c] gets its cost, the sum of
 * squared distances to the nearest centre over the class's rows.
 * A draw is a uniform times the total weight of the class's rows, matched
 * against the running sum in global row order; rounds after the first
 * draw L candidates and keep the one that leaves the smallest sum of
 * squared distances.  Collectives per round: the per-rank sums of the draw
 * weights (so every rank knows which rank owns a drawn row), the drawn rows
 * (only the owner contributes, so the sum is exact), and the candidates'
 * sums of squared distances. */
static void seed_once(const struct w2s_comm *comm, const struct w2s_gmm *g,
		      struct seed_work *w, const float *x, const int32_t *y, int64_t n,
		      const struct w2s_gmm_opts *o, int r)
{
	const int C = g->classes, K = g->k, P = comm->size, L = w->L;
	const int64_t D = g->dim;
	for (int64_t i = 0; i < n; i++)
		w->dist[i] = 1.0; /* the first centre: uniform over the class's rows */
	for (int c = 0; c < C; c++)
		w->active[c] = 1;
	memset(w->weight, 0, (size_t)C * K * sizeof *w->weight);
	memset(w->mean, 0, (size_t)C * K * D * sizeof *w->mean);
	for (int t = 0; t < K; t++) {
		const int trials = t == 0 ? 1 : L;
		memset(w->wsum, 0, (size_t)P * C * sizeof *w->wsum);
		for (int64_t i = 0; i < n; i++)
			w->wsum[(size_t)comm->rank * C + y[i]] += w->dist[i];
		w2s_comm_sum_doubles(comm, w->wsum, (size_t)P * C);
		memset(w->cand, 0, (size_t)C * L * D * sizeof *w->cand);
		for (int c = 0; c < C; c++) {
			if (!w->active[c])
				continue;
			/* Every rank reads the same wsum in the same order, so all
			 * agree on the total, each target and its owner. */
			double total = 0;
			for (int p = 0; p < P; p++)
				total += w->wsum[(size_t)p * C + c];
			if (!(total > 0)) {
				/* No rows, or every row sits on a centre already:
				 * fewer distinct rows than K. */
				w->active[c] = 0;
				continue;
			}
			for (int l = 0; l < trials; l++) {
				uint64_t index = (((uint64_t)r * C + c) * K + t) * (uint64_t)L + l;
				double u;
				w2s_rng_uniforms(o->seed, o->stream, index, &u, 1);
				double target = u * total, before = 0, owner_before = 0;
				int owner = -1;
				for (int p = 0; p < P; p++) {
					double s = w->wsum[(size_t)p * C + c];
					if (s > 0) {
						owner = p;
						owner_before = before;
						if (target < before + s)
							break;
					}
					before += s;
				}
				if (owner != comm->rank)
					continue;
				int64_t i = seed_pick_row(y, w->dist, n, c, owner_before, target);
				W2S_CHECK(i >= 0);
				for (int64_t j = 0; j < D; j++)
					w->cand[((size_t)c * L + l) * D + j] = x[i * D + j];
			}
		}
		w2s_comm_sum_doubles(comm, w->cand, (size_t)C * L * D);
		/* The cost with each candidate, summed over ranks; in the first
		 * round there is one candidate, and its cost is still needed
		 * when K = 1. */
		memset(w->pot, 0, (size_t)C * L * sizeof *w->pot);
		for (int64_t i = 0; i < n; i++) {
			int c = y[i];
			if (!w->active[c])
				continue;
			for (int l = 0; l < trials; l++) {
				double d = sq_dist(x + i * D, w->cand + ((size_t)c * L + l) * D, D);
				w->pot[(size_t)c * L + l] += t == 0 ? d : fmin(w->dist[i], d);
			}
		}
		w2s_comm_sum_doubles(comm, w->pot, (size_t)C * L);
		for (int c = 0; c < C; c++) {
			w->best[c] = 0;
			for (int l = 1; l < trials; l++)
				if (w->pot[(size_t)c * L + l] < w->pot[(size_t)c * L + w->best[c]])
					w->best[c] = l;
			if (!w->active[c])
				continue;
			const double *kept = w->cand + ((size_t)c * L + w->best[c]) * D;
			memcpy(w->mean + ((size_t)c * K + t) * D, kept, (size_t)D * sizeof *kept);
			w->weight[(size_t)c * K + t] = 1;
			/* The cost of the seeding so far: that of the kept candidate. */
			w->cost[c] = w->pot[(size_t)c * L + w->best[c]];
		}
		for (int64_t i = 0; i < n; i++) {
			int c = y[i];
			if (!w->active[c])
				continue;
			double d = sq_dist(x + i * D, w->mean + ((size_t)c * K + t) * D, D);
			w->dist[i] = t == 0 ? d : fmin(w->dist[i], d);
		}
	}
}

/* k-means++ seeding (see gmm.h), opts->seedings times; for each class the
 * seeding of the lowest cost goes into g->mean, its components marked with
 * weight 1, the others 0.  The classes are independent, so each keeps its
 * own best.  A class with no rows gets no centre. */
static void seed_centres(const struct w2s_comm *comm, struct w2s_gmm *g, const float *x,
			 const int32_t *y, int64_t n, const struct w2s_gmm_opts *o)
{
	const int C = g->classes, K = g->k, P = comm->size, L = seed_trials(K);
	const int64_t D = g->dim;
	struct seed_work w = {.L = L};
	w.dist = w2s_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *w.dist);
	w.wsum = w2s_xmalloc((size_t)P * C * sizeof *w.wsum);
	w.cand = w2s_xmalloc((size_t)C * L * D * sizeof *w.cand);
	w.pot = w2s_xmalloc((size_t)C * L * sizeof *w.pot);
	w.cost = w2s_xmalloc((size_t)C * sizeof *w.cost);
	w.mean = w2s_xmalloc((size_t)C * K * D * sizeof *w.mean);
	w.weight = w2s_xmalloc((size_t)C * K * sizeof *w.weight);
	w.best = w2s_xmalloc((size_t)C * sizeof *w.best);
	w.active = w2s_xmalloc((size_t)C);
	double *kept = w2s_xmalloc((size_t)C * sizeof *kept);
	for (int r = 0; r < o->seedings; r++) {
		for (int c = 0; c < C; c++)
			w.cost[c] = 0;
		seed_once(comm, g, &w, x, y, n, o, r);
		for (int c = 0; c < C; c++) {
			if (r > 0 && !(w.cost[c] < kept[c]))
				continue;
			kept[c] = w.cost[c];
			memcpy(g->mean + (size_t)c * K * D, w.mean + (size_t)c * K * D,
			       (size_t)K * D * sizeof *w.mean);
			memcpy(g->weight + (size_t)c * K, w.weight + (size_t)c * K,
			       (size_t)K * sizeof *w.weight);
		}
	}
	free(kept);
	free(w.active);
	free(w.best);
	free(w.weight);
	free(w.mean);
	free(w.cost);
	free(w.pot);
	free(w.cand);
	free(w.wsum);
	free(w.dist);
}

static enum w2s_status check_opts(const struct w2s_gmm_opts *o)
{
	const char *bad = NULL;
	if (o->k < 1)
		bad = "k must be at least 1";
	else if (o->seedings < 1)
		bad = "seedings must be at least 1";
	else if (o->max_iter < 0)
		bad = "max_iter must be at least 0";
	else if (!(o->tol >= 0) || !isfinite(o->tol))
		bad = "tol must be a finite number >= 0";
	else if (!(o->var_floor >= 0) || !isfinite(o->var_floor))
		bad = "var_floor must be a finite number >= 0";
	else if (!(o->min_var > 0) || !isfinite(o->min_var))
		bad = "min_var must be a finite number > 0";
	else if (!(o->min_rows >= 0) || !isfinite(o->min_rows))
		bad = "min_rows must be a finite number >= 0";
	if (!bad)
		return W2S_STATUS_OK;
	w2s_log_error("gmm: %s (k %d, seedings %d, max_iter %d, tol %g, var_floor %g, "
		      "min_var %g, min_rows %g)",
		      bad, o->k, o->seedings, o->max_iter, o->tol, o->var_floor, o->min_var,
		      o->min_rows);
	return W2S_STATUS_CONFIG;
}

/* Local: 0 when every row is finite, else W2S_STATUS_NUMERIC with a kept
 * message naming the first bad value (printed once the ranks agree). */
static int check_rows(const float *x, const int32_t *y, int64_t n, int64_t D, int classes)
{
	for (int64_t i = 0; i < n; i++) {
		W2S_CHECK(y[i] >= 0 && y[i] < classes);
		for (int64_t j = 0; j < D; j++) {
			if (isfinite(x[i * D + j]))
				continue;
			w2s_log_error_local("gmm: local row %lld (of %lld) has %g in column %lld; "
					    "the fit needs finite features",
					    (long long)i, (long long)n, (double)x[i * D + j],
					    (long long)j);
			return W2S_STATUS_NUMERIC;
		}
	}
	return 0;
}

enum w2s_status w2s_gmm_fit(const struct w2s_comm *comm, const float *x, const int32_t *y,
			    int64_t n, int64_t dim, int classes,
			    const struct w2s_gmm_opts *opts, struct w2s_gmm *g,
			    struct w2s_gmm_report *rep)
{
	memset(g, 0, sizeof *g);
	W2S_CHECK(n >= 0 && dim >= 1 && classes >= 1);
	enum w2s_status st = check_opts(opts);
	if (st != W2S_STATUS_OK)
		return st;
	st = w2s_comm_agree(comm, check_rows(x, y, n, dim, classes));
	if (st != W2S_STATUS_OK)
		return st;
	const int K = opts->k;
	st = w2s_gmm_init(g, classes, K, dim);
	st = w2s_comm_agree(comm, st);
	if (st != W2S_STATUS_OK) {
		w2s_log_error("gmm: %d classes x %d components x %lld dimensions do not fit "
			      "in memory",
			      classes, K, (long long)dim);
		w2s_gmm_free(g);
		return st;
	}

	const int64_t D = dim;
	const size_t CK = (size_t)classes * K;
	struct fit_work w = {0};
	w.stride = 1 + 2 * (size_t)D;
	w.nstats = CK * w.stride + (size_t)classes;
	w.stats = w2s_xmalloc(w.nstats * sizeof *w.stats);
	w.cst = w2s_xmalloc(CK * sizeof *w.cst);
	w.iv = w2s_xmalloc(CK * (size_t)D * sizeof *w.iv);
	w.floor = w2s_xmalloc((size_t)classes * D * sizeof *w.floor);
	w.lp = w2s_xmalloc((size_t)K * sizeof *w.lp);
	w.diff = w2s_xmalloc((size_t)K * D * sizeof *w.diff);
	w.count = w2s_xcalloc((size_t)classes, sizeof *w.count);

	for (int64_t i = 0; i < n; i++)
		w.count[y[i]]++;
	w2s_comm_sum_int64(comm, w.count, (size_t)classes);
	int64_t N = 0;
	for (int c = 0; c < classes; c++)
		N += w.count[c];
	if (N == 0) {
		w2s_log_error("gmm: no rows to fit");
		st = W2S_STATUS_CONFIG;
		goto cleanup;
	}

	seed_centres(comm, g, x, y, n, opts);
	for (size_t q = 0; q < CK; q++)
		for (int64_t j = 0; j < D; j++)
			g->var[q * D + j] = 1;
	hard_assign(g, &w, x, y, n);
	w2s_comm_sum_doubles(comm, w.stats, w.nstats);
	set_floor(g, &w, opts);
	m_step(g, &w, opts->min_rows);

	double ll = 0, prev = 0;
	int it = 0;
	bool converged = false;
	for (;; it++) {
		e_step(g, &w, x, y, n);
		w2s_comm_sum_doubles(comm, w.stats, w.nstats);
		ll = 0;
		for (int c = 0; c < classes; c++)
			ll += w.stats[CK * w.stride + c];
		if (!isfinite(ll)) {
			w2s_log_error("gmm: the log-likelihood is %g after %d EM iterations", ll,
				      it);
			st = W2S_STATUS_NUMERIC;
			goto cleanup;
		}
		if (opts->trace)
			opts->trace[it] = ll;
		if (it > 0 && opts->tol > 0 && fabs(ll - prev) <= opts->tol * fabs(ll)) {
			converged = true;
			break;
		}
		if (it == opts->max_iter)
			break;
		m_step(g, &w, opts->min_rows);
		prev = ll;
	}

	/* A class with no rows keeps weights 0, means 0 and variances 1. */
	int dropped = 0;
	for (int c = 0; c < classes; c++) {
		g->prior[c] = (double)w.count[c] / (double)N;
		for (int k = 0; k < K; k++)
			dropped += !(g->weight[(size_t)c * K + k] > 0);
	}
	if (rep) {
		rep->iterations = it;
		rep->converged = converged;
		rep->loglik = ll;
		rep->rows = N;
		rep->dropped = dropped;
	}
	st = W2S_STATUS_OK;
cleanup:
	fit_work_free(&w);
	if (st != W2S_STATUS_OK)
		w2s_gmm_free(g);
	return st;
}

/* ---- sampling and classification */

/* The first entry j of p (n) with p[j] > 0 at which the running sum passes
 * u * sum(p); the last such entry when rounding leaves it short; -1 when
 * none is positive. */
static int pick_index(const double *p, int n, double u)
{
	double total = 0;
	for (int j = 0; j < n; j++)
		total += p[j] > 0 ? p[j] : 0;
	double target = u * total, acc = 0;
	int last = -1;
	for (int j = 0; j < n; j++) {
		if (!(p[j] > 0))
			continue;
		last = j;
		acc += p[j];
		if (target < acc)
			return j;
	}
	return last;
}

/* A uniform in (0, 1) from two 32-bit words, as w2s_rng_uniforms makes. */
static double words_to_uniform(uint32_t hi, uint32_t lo)
{
	uint64_t bits = ((uint64_t)hi << 21) ^ (uint64_t)(lo >> 11);
	bits &= (UINT64_C(1) << 53) - 1;
	return ((double)bits + 0.5) / 9007199254740992.0;
}

void w2s_gmm_sample(const struct w2s_gmm *g, uint64_t seed, uint32_t stream, int64_t begin,
		    int64_t end, float *x, int32_t *y, int32_t *comp)
{
	const int64_t D = g->dim;
	W2S_CHECK(begin >= 0 && end >= begin);
	for (int64_t i = begin; i < end; i++) {
		uint32_t w[4];
		w2s_rng_u32x4(seed, stream, (uint64_t)i, UINT32_MAX, w);
		int c = pick_index(g->prior, g->classes, words_to_uniform(w[0], w[1]));
		W2S_CHECK(c >= 0);
		const double *wc = g->weight + (size_t)c * g->k;
		int k = pick_index(wc, g->k, words_to_uniform(w[2], w[3]));
		W2S_CHECK(k >= 0);
		size_t q = (size_t)c * g->k + k;
		float *xi = x + (i - begin) * D;
		w2s_rng_normals(seed, stream, (uint64_t)i, xi, (size_t)D);
		const double *m = g->mean + q * D, *v = g->var + q * D;
		for (int64_t j = 0; j < D; j++)
			xi[j] = (float)(m[j] + sqrt(v[j]) * (double)xi[j]);
		y[i - begin] = c;
		if (comp)
			comp[i - begin] = k;
	}
}

void w2s_gmm_log_posterior(const struct w2s_gmm *g, const float *x, int64_t n,
			   float *logpost, double *loglik, int32_t *pred)
{
	const int C = g->classes, K = g->k;
	const int64_t D = g->dim;
	const size_t CK = (size_t)C * K;
	double *cst = w2s_xmalloc(CK * sizeof *cst);
	double *iv = w2s_xmalloc(CK * (size_t)D * sizeof *iv);
	double *lp = w2s_xmalloc((size_t)K * sizeof *lp);
	double *lc = w2s_xmalloc((size_t)C * sizeof *lc);
	gmm_prepare(g, cst, iv);
	for (int64_t i = 0; i < n; i++) {
		const float *xi = x + i * D;
		int best = 0;
		for (int c = 0; c < C; c++) {
			if (!(g->prior[c] > 0)) {
				lc[c] = -INFINITY;
				continue;
			}
			class_log_joint(g, cst, iv, c, xi, lp, NULL);
			lc[c] = log(g->prior[c]) + log_sum_exp(lp, K);
			if (lc[c] > lc[best])
				best = c;
		}
		double lse = log_sum_exp(lc, C);
		if (logpost)
			for (int c = 0; c < C; c++)
				logpost[i * C + c] = (float)(lc[c] - lse);
		if (loglik)
			loglik[i] = lse;
		if (pred)
			pred[i] = best;
	}
	free(lc);
	free(lp);
	free(iv);
	free(cst);
}

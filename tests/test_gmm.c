/*
 * test_gmm.c: the class-conditional Gaussian mixtures on one rank.
 * - EM on rows drawn from a known mixture finds its means, variances and
 *   weights, within a few standard errors of the sample;
 * - the log-likelihood never decreases from one EM iteration to the next;
 * - samples have the model's class shares, component shares and moments;
 *   a range of rows is the same bytes as those rows of a larger draw;
 * - the posterior is Bayes' rule computed directly;
 * - degenerate input: a class with fewer distinct rows than components,
 *   a class with no rows, a NaN, bad options.
 * The fit is collective, so this program calls MPI_Init and fits on
 * MPI_COMM_SELF; tests/mpi_gmm.c covers several ranks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "w2s/comm.h"
#include "w2s/gmm.h"
#include "w2s/log.h"
#include "w2s/rng.h"

static struct w2s_comm self;

static const double PI = 3.14159265358979323846;

/* Rows from a model g, drawn here rather than by w2s_gmm_sample so the fit
 * is checked against data made another way: class c takes rows
 * i % C == c, the component comes from a uniform against the weights, the
 * features are mean + sd * z.  comp (n) gets the components, or NULL. */
static void draw_rows(const struct w2s_gmm *g, uint64_t seed, int64_t n, float *x,
		      int32_t *y, int32_t *comp)
{
	const int64_t D = g->dim;
	for (int64_t i = 0; i < n; i++) {
		int c = (int)(i % g->classes), k = 0;
		double u, acc = 0;
		w2s_rng_uniforms(seed, 1, (uint64_t)i, &u, 1);
		for (k = 0; k < g->k - 1; k++) {
			acc += g->weight[c * g->k + k];
			if (u < acc)
				break;
		}
		w2s_rng_normals(seed, 2, (uint64_t)i, x + i * D, (size_t)D);
		size_t q = (size_t)c * g->k + k;
		for (int64_t j = 0; j < D; j++)
			x[i * D + j] = (float)(g->mean[q * D + j] +
					       sqrt(g->var[q * D + j]) * x[i * D + j]);
		y[i] = c;
		if (comp)
			comp[i] = k;
	}
}

/* A model with random means (spread `scale` per coordinate), variances in
 * [0.5, 2] and the given weights (C, K).  The means of a class are drawn
 * again until every two are at least min_sep * sqrt(2) apart (min_sep
 * standard deviations of the widest component), so that a test of
 * recovery is not a test of separating overlapping components. */
static void make_model(struct w2s_gmm *g, int C, int K, int64_t D, double scale,
		       const double *weights, uint64_t seed, double min_sep)
{
	assert_int_equal(w2s_gmm_init(g, C, K, D), W2S_STATUS_OK);
	assert_true(D <= 64);
	for (int c = 0; c < C; c++)
		g->prior[c] = 1.0 / C;
	for (int q = 0; q < C * K; q++) {
		double u[64];
		w2s_rng_uniforms(seed, 4, (uint64_t)q, u, (size_t)D);
		for (int64_t j = 0; j < D; j++)
			g->var[q * D + j] = 0.5 + 1.5 * u[j];
		g->weight[q] = weights[q];
	}
	for (uint64_t attempt = 0;; attempt++) {
		assert_true(attempt < 1000);
		for (int q = 0; q < C * K; q++) {
			float z[64];
			w2s_rng_normals(seed, 3, attempt * 1000 + (uint64_t)q, z, (size_t)D);
			for (int64_t j = 0; j < D; j++)
				g->mean[q * D + j] = scale * z[j];
		}
		double closest = INFINITY;
		for (int c = 0; c < C; c++)
			for (int a = 0; a < K; a++)
				for (int b = a + 1; b < K; b++) {
					double d = 0;
					for (int64_t j = 0; j < D; j++) {
						double e = g->mean[(c * K + a) * D + j] -
							   g->mean[(c * K + b) * D + j];
						d += e * e;
					}
					closest = fmin(closest, sqrt(d / 2));
				}
		if (closest >= min_sep)
			return;
	}
}

static struct w2s_gmm_opts opts_k(int k)
{
	struct w2s_gmm_opts o;
	w2s_gmm_opts_default(&o);
	o.k = k;
	o.seed = 11;
	o.stream = W2S_STREAM_INIT + 500;
	return o;
}

/* For each true component of each class, the fitted one of the same class
 * with the nearest mean; fails unless that is a one-to-one match. */
static void match(const struct w2s_gmm *truth, const struct w2s_gmm *fit, int *to)
{
	const int K = truth->k;
	const int64_t D = truth->dim;
	for (int c = 0; c < truth->classes; c++) {
		int used[16] = {0};
		for (int k = 0; k < K; k++) {
			size_t q = (size_t)c * K + k;
			double bd = INFINITY;
			int best = -1;
			for (int l = 0; l < fit->k; l++) {
				size_t p = (size_t)c * fit->k + l;
				double d = 0;
				for (int64_t j = 0; j < D; j++) {
					double e = fit->mean[p * D + j] - truth->mean[q * D + j];
					d += e * e;
				}
				if (d < bd) {
					bd = d;
					best = l;
				}
			}
			assert_true(best >= 0);
			if (used[best])
				fail_msg("class %d: two true components nearest to fitted "
					 "component %d",
					 c, best);
			used[best] = 1;
			to[q] = c * fit->k + best;
		}
	}
}

/* Largest errors of a fit against the truth, over matched components:
 * mean in units of the true standard deviation, variance relative, weight
 * absolute. */
struct errors {
	double mean, var, weight;
};

static struct errors compare(const struct w2s_gmm *truth, const struct w2s_gmm *fit)
{
	int to[64];
	assert_true(truth->classes * truth->k <= 64);
	match(truth, fit, to);
	struct errors e = {0, 0, 0};
	const int64_t D = truth->dim;
	for (int q = 0; q < truth->classes * truth->k; q++) {
		int p = to[q];
		e.weight = fmax(e.weight, fabs(fit->weight[p] - truth->weight[q]));
		for (int64_t j = 0; j < D; j++) {
			double v = truth->var[q * D + j];
			e.mean = fmax(e.mean, fabs(fit->mean[p * D + j] - truth->mean[q * D + j]) /
						      sqrt(v));
			e.var = fmax(e.var, fabs(fit->var[p * D + j] / v - 1));
		}
	}
	return e;
}

/* The weights, means and variances (divided by the count) of the rows of
 * each true component. */
static void moments_by_component(struct w2s_gmm *m, const float *x, const int32_t *y,
				 const int32_t *comp, int64_t n)
{
	const int K = m->k;
	const int64_t D = m->dim;
	double cnt[64] = {0};
	assert_true(m->classes * K <= 64);
	for (int64_t i = 0; i < n; i++) {
		int q = y[i] * K + comp[i];
		cnt[q]++;
		for (int64_t j = 0; j < D; j++)
			m->mean[q * D + j] += x[i * D + j];
	}
	for (int q = 0; q < m->classes * K; q++)
		for (int64_t j = 0; j < D; j++)
			m->mean[q * D + j] /= cnt[q];
	for (int64_t i = 0; i < n; i++) {
		int q = y[i] * K + comp[i];
		for (int64_t j = 0; j < D; j++) {
			double e = x[i * D + j] - m->mean[q * D + j];
			m->var[q * D + j] += e * e;
		}
	}
	for (int c = 0; c < m->classes; c++) {
		double nc = 0;
		for (int k = 0; k < K; k++)
			nc += cnt[c * K + k];
		for (int k = 0; k < K; k++) {
			int q = c * K + k;
			m->weight[q] = cnt[q] / nc;
			for (int64_t j = 0; j < D; j++)
				m->var[q * D + j] /= cnt[q];
		}
	}
}

static void em_recovers_the_means_variances_and_weights_of_a_known_mixture(void **state)
{
	enum { C = 2, K = 3, D = 5, N = 12000 };
	const double weights[C * K] = {0.5, 0.3, 0.2, 0.2, 0.2, 0.6};
	static float x[N * D];
	static int32_t y[N], comp[N];
	/* Five draws of truth and data (means at least 6 sd apart), each fitted
	 * from its own seeding. */
	for (uint64_t seed = 1; seed <= 5; seed++) {
		struct w2s_gmm truth, fit;
		make_model(&truth, C, K, D, 3.0, weights, seed, 6.0);
		draw_rows(&truth, seed, N, x, y, comp);
		struct w2s_gmm_opts o = opts_k(K);
		o.seed = seed;
		o.tol = 1e-9;
		o.max_iter = 300;
		struct w2s_gmm_report rep;
		assert_int_equal(w2s_gmm_fit(&self, x, y, N, D, C, &o, &fit, &rep), W2S_STATUS_OK);
		struct errors e = compare(&truth, &fit);
		/* The same for the moments of the rows of each true component:
		 * what EM would give if it knew which component drew each row. */
		struct w2s_gmm oracle;
		assert_int_equal(w2s_gmm_init(&oracle, C, K, D), W2S_STATUS_OK);
		moments_by_component(&oracle, x, y, comp, N);
		struct errors eo = compare(&oracle, &fit);
		printf("seed %llu: %d iterations (converged %d), ll/row %.4f; largest error "
		       "against the truth: mean %.4f sd, variance %.4f relative, weight %.4f; "
		       "against the rows' own moments: %.2g, %.2g, %.2g\n",
		       (unsigned long long)seed, rep.iterations, rep.converged,
		       rep.loglik / (double)rep.rows, e.mean, e.var, e.weight, eo.mean, eo.var,
		       eo.weight);
		/* The smallest component holds 0.2 * N/C = 1200 rows: standard
		 * errors 0.029 sd for a mean, 0.041 for a relative variance and
		 * 0.0065 for a weight (N/C = 6000).  Tolerances: about five
		 * standard errors, maximized over 30 means and variances. */
		assert_true(rep.converged);
		assert_int_equal(rep.rows, N);
		assert_int_equal(rep.dropped, 0);
		assert_true(e.mean < 0.15);
		assert_true(e.var < 0.2);
		assert_true(e.weight < 0.03);
		/* Against the rows' own moments only the few rows near another
		 * component differ (soft responsibilities): 10x tighter. */
		assert_true(eo.mean < 0.01);
		assert_true(eo.var < 0.02);
		assert_true(eo.weight < 0.001);
		assert_true(fit.prior[0] == 0.5 && fit.prior[1] == 0.5);
		w2s_gmm_free(&oracle);
		w2s_gmm_free(&fit);
		w2s_gmm_free(&truth);
	}
}

static void em_log_likelihood_never_decreases_across_iterations(void **state)
{
	/* Overlapping components (means spread 1 sd), so EM takes many small
	 * steps. */
	enum { C = 2, K = 4, D = 6, N = 4000, ITER = 80 };
	const double weights[C * K] = {0.25, 0.25, 0.25, 0.25, 0.4, 0.3, 0.2, 0.1};
	static float x[N * D];
	static int32_t y[N];
	struct w2s_gmm truth, fit;
	make_model(&truth, C, K, D, 1.0, weights, 21, 0);
	draw_rows(&truth, 21, N, x, y, NULL);
	struct w2s_gmm_opts o = opts_k(K);
	o.tol = 0; /* run every iteration */
	o.max_iter = ITER;
	double trace[ITER + 1];
	o.trace = trace;
	struct w2s_gmm_report rep;
	assert_int_equal(w2s_gmm_fit(&self, x, y, N, D, C, &o, &fit, &rep), W2S_STATUS_OK);
	assert_int_equal(rep.iterations, ITER);
	assert_false(rep.converged);
	assert_int_equal(rep.dropped, 0);
	double worst = INFINITY;
	int at = -1;
	for (int t = 0; t < ITER; t++) {
		/* Relative to |ll|: rounding of the sums may wobble the last
		 * digits once EM has converged. */
		double step = (trace[t + 1] - trace[t]) / fabs(trace[t]);
		if (step < worst) {
			worst = step;
			at = t;
		}
	}
	printf("ll from %.6f to %.6f per row over %d iterations; smallest relative step "
	       "%.3g (iteration %d)\n",
	       trace[0] / N, trace[ITER] / N, ITER, worst, at);
	assert_true(worst >= -1e-13);
	assert_true(trace[ITER] > trace[0]);
	assert_true(rep.loglik == trace[ITER]);
	w2s_gmm_free(&fit);
	w2s_gmm_free(&truth);
}

/* A hand-made model: 3 classes (the last of prior 0), 3 components (one
 * dropped in class 1), width 4. */
static void hand_model(struct w2s_gmm *g)
{
	enum { C = 3, K = 3, D = 4 };
	assert_int_equal(w2s_gmm_init(g, C, K, D), W2S_STATUS_OK);
	const double prior[C] = {0.3, 0.7, 0};
	const double weight[C * K] = {0.2, 0.3, 0.5, 0.6, 0, 0.4, 1, 0, 0};
	memcpy(g->prior, prior, sizeof prior);
	memcpy(g->weight, weight, sizeof weight);
	for (int q = 0; q < C * K; q++)
		for (int j = 0; j < D; j++) {
			g->mean[q * D + j] = (q - 4) * 1.5 + 0.25 * j;
			g->var[q * D + j] = 0.3 + 0.2 * ((q + j) % 5);
		}
}

static void samples_have_the_class_shares_component_shares_and_moments_of_the_model(
	void **state)
{
	enum { M = 60000, C = 3, K = 3, D = 4 };
	struct w2s_gmm g;
	hand_model(&g);
	static float x[M * D];
	static int32_t y[M], comp[M];
	w2s_gmm_sample(&g, 5, W2S_STREAM_INPUT + 77, 0, M, x, y, comp);
	double n[C * K] = {0}, s1[C * K * D] = {0}, s2[C * K * D] = {0};
	for (int64_t i = 0; i < M; i++) {
		assert_true(y[i] >= 0 && y[i] < C && comp[i] >= 0 && comp[i] < K);
		int q = y[i] * K + comp[i];
		n[q]++;
		for (int j = 0; j < D; j++) {
			s1[q * D + j] += x[i * D + j];
			s2[q * D + j] += (double)x[i * D + j] * x[i * D + j];
		}
	}
	double eclass = 0, ecomp = 0, emean = 0, evar = 0;
	for (int c = 0; c < C; c++) {
		double nc = 0;
		for (int k = 0; k < K; k++)
			nc += n[c * K + k];
		eclass = fmax(eclass, fabs(nc / M - g.prior[c]));
		for (int k = 0; k < K; k++) {
			int q = c * K + k;
			if (g.weight[q] == 0 || g.prior[c] == 0) {
				/* Never drawn: dropped component or empty class. */
				assert_true(n[q] == 0);
				continue;
			}
			ecomp = fmax(ecomp, fabs(n[q] / nc - g.weight[q]));
			for (int j = 0; j < D; j++) {
				double m = s1[q * D + j] / n[q];
				double v = s2[q * D + j] / n[q] - m * m;
				double tv = g.var[q * D + j];
				emean = fmax(emean, fabs(m - g.mean[q * D + j]) / sqrt(tv));
				evar = fmax(evar, fabs(v / tv - 1));
			}
		}
	}
	printf("largest error over %d samples: class share %.4f, component share %.4f, mean "
	       "%.4f sd, variance %.4f relative\n",
	       M, eclass, ecomp, emean, evar);
	/* Smallest component: 0.3 * 0.2 * M = 3600 rows; standard errors 0.002
	 * for a class share, 0.007 for a component share (18000 rows), 0.017 sd
	 * for a mean, 0.024 for a relative variance: tolerances about five. */
	assert_true(eclass < 0.01);
	assert_true(ecomp < 0.035);
	assert_true(emean < 0.085);
	assert_true(evar < 0.12);
	w2s_gmm_free(&g);
}

static void sampling_a_range_gives_the_same_bytes_as_those_rows_of_a_larger_draw(void **state)
{
	enum { M = 1000, D = 4, B = 313, E = 702 };
	struct w2s_gmm g;
	hand_model(&g);
	static float all[M * D], part[(E - B) * D];
	static int32_t ya[M], yp[E - B], ca[M], cp[E - B];
	w2s_gmm_sample(&g, 9, 1, 0, M, all, ya, ca);
	w2s_gmm_sample(&g, 9, 1, B, E, part, yp, cp);
	assert_memory_equal(part, all + B * D, sizeof part);
	assert_memory_equal(yp, ya + B, sizeof yp);
	assert_memory_equal(cp, ca + B, sizeof cp);
	/* comp may be NULL without changing the rest. */
	w2s_gmm_sample(&g, 9, 1, B, E, part, yp, NULL);
	assert_memory_equal(part, all + B * D, sizeof part);
	/* Another seed or stream is another set. */
	w2s_gmm_sample(&g, 9, 2, B, E, part, yp, cp);
	assert_memory_not_equal(part, all + B * D, sizeof part);
	w2s_gmm_free(&g);
}

static void log_posterior_is_bayes_rule_computed_directly(void **state)
{
	enum { N = 200, C = 3, K = 3, D = 4 };
	struct w2s_gmm g;
	hand_model(&g);
	static float x[N * D], lp[N * C];
	static double ll[N];
	static int32_t y[N], pred[N];
	w2s_gmm_sample(&g, 3, 3, 0, N, x, y, NULL);
	w2s_gmm_log_posterior(&g, x, N, lp, ll, pred);
	double worst_p = 0, worst_l = 0;
	for (int i = 0; i < N; i++) {
		/* Densities as products, no logarithms until the end. */
		double joint[C], px = 0;
		for (int c = 0; c < C; c++) {
			double pc = 0;
			for (int k = 0; k < K; k++) {
				int q = c * K + k;
				double d = g.weight[q];
				for (int j = 0; j < D; j++) {
					double v = g.var[q * D + j];
					double e = x[i * D + j] - g.mean[q * D + j];
					d *= exp(-e * e / (2 * v)) / sqrt(2 * PI * v);
				}
				pc += d;
			}
			joint[c] = g.prior[c] * pc;
			px += joint[c];
		}
		int best = 0;
		for (int c = 0; c < C; c++) {
			best = joint[c] > joint[best] ? c : best;
			worst_p = fmax(worst_p, fabs(exp(lp[i * C + c]) - joint[c] / px));
		}
		assert_true(lp[i * C + 2] == -INFINITY); /* prior 0 */
		worst_l = fmax(worst_l, fabs(ll[i] - log(px)));
		assert_int_equal(pred[i], best);
	}
	printf("largest difference: posterior %.3g, log p(x) %.3g\n", worst_p, worst_l);
	/* logpost is float: 1e-6 is a few of its rounding steps near 1. */
	assert_true(worst_p < 1e-6);
	assert_true(worst_l < 1e-9);
	/* Every output may be NULL. */
	w2s_gmm_log_posterior(&g, x, N, NULL, NULL, pred);
	w2s_gmm_free(&g);
}

static void a_fitted_model_classifies_its_own_separated_classes(void **state)
{
	enum { C = 2, K = 2, D = 4, N = 4000 };
	const double weights[C * K] = {0.5, 0.5, 0.7, 0.3};
	static float x[N * D];
	static int32_t y[N], pred[N];
	struct w2s_gmm truth, fit;
	make_model(&truth, C, K, D, 3.0, weights, 8, 6.0);
	draw_rows(&truth, 8, N, x, y, NULL);
	struct w2s_gmm_opts o = opts_k(K);
	assert_int_equal(w2s_gmm_fit(&self, x, y, N, D, C, &o, &fit, NULL), W2S_STATUS_OK);
	w2s_gmm_log_posterior(&fit, x, N, NULL, NULL, pred);
	w2s_gmm_log_posterior(&truth, x, N, NULL, NULL, y); /* the Bayes classifier */
	int agree = 0;
	for (int i = 0; i < N; i++)
		agree += pred[i] == y[i];
	printf("fitted and true model agree on %d of %d rows\n", agree, N);
	assert_true(agree >= N - N / 100);
	w2s_gmm_free(&fit);
	w2s_gmm_free(&truth);
}

static void a_class_with_few_distinct_rows_gets_fewer_components_and_an_empty_one_none(
	void **state)
{
	/* Class 0: 300 rows of noise; class 1: two distinct points, 10 rows
	 * each; class 2: no rows.  K = 3. */
	enum { C = 3, K = 3, D = 3, N0 = 300, N = N0 + 20 };
	static float x[N * D];
	static int32_t y[N];
	for (int i = 0; i < N0; i++) {
		w2s_rng_normals(4, 1, (uint64_t)i, x + i * D, D);
		y[i] = 0;
	}
	for (int i = N0; i < N; i++) {
		for (int j = 0; j < D; j++)
			x[i * D + j] = (i % 2) ? 5.0f + j : -2.0f;
		y[i] = 1;
	}
	struct w2s_gmm_opts o = opts_k(K);
	struct w2s_gmm g;
	struct w2s_gmm_report rep;
	assert_int_equal(w2s_gmm_fit(&self, x, y, N, D, C, &o, &g, &rep), W2S_STATUS_OK);
	printf("dropped %d; class 1 weights %.3f %.3f %.3f\n", rep.dropped, g.weight[3],
	       g.weight[4], g.weight[5]);
	assert_int_equal(rep.dropped, 1 + 3);
	assert_true(g.prior[2] == 0);
	assert_true(fabs(g.prior[1] - 20.0 / N) < 1e-15);
	for (int c = 0; c < C; c++) {
		double s = 0;
		for (int k = 0; k < K; k++)
			s += g.weight[c * K + k];
		assert_true(c == 2 ? s == 0 : fabs(s - 1) < 1e-12);
	}
	/* The two kept components of class 1 sit on the two points. */
	int kept = 0;
	for (int k = 0; k < K; k++) {
		int q = K + k;
		if (g.weight[q] == 0)
			continue;
		kept++;
		assert_true(fabs(g.weight[q] - 0.5) < 1e-12);
		double m0 = g.mean[q * D];
		assert_true(fabs(m0 - 5) < 1e-9 || fabs(m0 + 2) < 1e-9);
	}
	assert_int_equal(kept, 2);
	for (size_t p = 0; p < g.nparams; p++)
		assert_true(isfinite(g.params[p]));
	/* Class 2 is never drawn. */
	static float xs[2000 * D];
	static int32_t ys[2000];
	w2s_gmm_sample(&g, 1, 1, 0, 2000, xs, ys, NULL);
	for (int i = 0; i < 2000; i++)
		assert_true(ys[i] != 2);
	w2s_gmm_free(&g);
}

static void a_nan_in_the_rows_is_refused_with_a_numeric_status(void **state)
{
	float x[4 * 2] = {0, 1, 2, 3, 4, NAN, 6, 7};
	int32_t y[4] = {0, 1, 0, 1};
	struct w2s_gmm_opts o = opts_k(1);
	struct w2s_gmm g;
	assert_int_equal(w2s_gmm_fit(&self, x, y, 4, 2, 2, &o, &g, NULL), W2S_STATUS_NUMERIC);
	assert_null(g.params);
	w2s_gmm_free(&g);
}

static void bad_options_and_no_rows_are_refused_with_a_config_status(void **state)
{
	float x[2] = {0, 1};
	int32_t y[2] = {0, 0};
	struct w2s_gmm g;
	struct w2s_gmm_opts o = opts_k(0);
	assert_int_equal(w2s_gmm_fit(&self, x, y, 2, 1, 1, &o, &g, NULL), W2S_STATUS_CONFIG);
	o = opts_k(1);
	o.min_var = 0;
	assert_int_equal(w2s_gmm_fit(&self, x, y, 2, 1, 1, &o, &g, NULL), W2S_STATUS_CONFIG);
	o = opts_k(1);
	assert_int_equal(w2s_gmm_fit(&self, x, y, 0, 1, 1, &o, &g, NULL), W2S_STATUS_CONFIG);
	assert_null(g.params);
}

static void sizes_that_overflow_are_refused_with_a_memory_status(void **state)
{
	struct w2s_gmm g;
	assert_int_equal(w2s_gmm_init(&g, 1000, 1000, INT64_C(1) << 50), W2S_STATUS_NOMEM);
	assert_null(g.params);
	w2s_gmm_free(&g);
	w2s_gmm_free(&g);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	w2s_comm_init(&self, MPI_COMM_SELF);
	w2s_log_init(0, W2S_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(em_recovers_the_means_variances_and_weights_of_a_known_mixture),
		cmocka_unit_test(em_log_likelihood_never_decreases_across_iterations),
		cmocka_unit_test(
			samples_have_the_class_shares_component_shares_and_moments_of_the_model),
		cmocka_unit_test(
			sampling_a_range_gives_the_same_bytes_as_those_rows_of_a_larger_draw),
		cmocka_unit_test(log_posterior_is_bayes_rule_computed_directly),
		cmocka_unit_test(a_fitted_model_classifies_its_own_separated_classes),
		cmocka_unit_test(
			a_class_with_few_distinct_rows_gets_fewer_components_and_an_empty_one_none),
		cmocka_unit_test(a_nan_in_the_rows_is_refused_with_a_numeric_status),
		cmocka_unit_test(bad_options_and_no_rows_are_refused_with_a_config_status),
		cmocka_unit_test(sizes_that_overflow_are_refused_with_a_memory_status),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	w2s_comm_free(&self);
	MPI_Finalize();
	return failed;
}

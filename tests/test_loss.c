/*
 * test_loss.c: cross-entropy values against hand computations, gradients
 * against central finite differences, behaviour at extreme logits, the
 * scale argument, and the argmax helpers' tie rule.  For the losses a
 * student learns from a teacher with (kl, kd, product, confidence) and mse:
 * values against textbook formulas in double, the special cases that must
 * reduce to xent, and gradients against finite differences, of the loss
 * itself or, where the target is constant to the gradient, of the
 * cross-entropy against the target frozen.
 *
 * The losses are double functions of float logits, so a finite difference
 * over a float step is accurate to about 1e-6 and the tolerances are tight.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "w2s/loss.h"
#include "w2s/rng.h"

/* log(1 + e^-1 + e^-2): the log-sum-exp of (1, 2, 3) minus 3. */
#define LSE123_MINUS_3 0.4076059644443804
#define LN3 1.0986122886681098

/* Fails with the largest difference when got and want (n) differ by more
 * than tol anywhere. */
static void assert_close(const char *what, const float *got, const double *want, size_t n,
			 double tol)
{
	double worst = -1.0;
	size_t wi = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - want[i]);
		if (isnan(d))
			d = INFINITY;
		if (d > worst) {
			worst = d;
			wi = i;
		}
	}
	if (worst > tol)
		fail_msg("%s: largest difference %g at %zu (got %g, want %g), tolerance %g", what,
			 worst, wi, got[wi], want[wi], tol);
}

static void xent_hard_matches_hand_values(void **state)
{
	const float z[3 * 3] = {1, 2, 3, 1, 2, 3, 0, 0, 0};
	const int32_t y[3] = {2, 0, 1};
	float d[9];
	double loss = w2s_loss_xent_hard(z, y, 3, 3, 1.0f, d);
	double want = LSE123_MINUS_3 + (LSE123_MINUS_3 + 2.0) + LN3;
	if (fabs(loss - want) > 1e-12)
		fail_msg("loss %.17g, want %.17g", loss, want);
	/* softmax(1, 2, 3) minus the one-hot target; uniform on row 3. */
	const double p[3] = {0.09003057317038043, 0.24472847105479759, 0.6652409557748217};
	const double dwant[9] = {p[0], p[1], p[2] - 1, p[0] - 1, p[1], p[2],
				 1.0 / 3, -2.0 / 3, 1.0 / 3};
	assert_close("xent_hard dlogits", d, dwant, 9, 1e-7);
}

static void xent_soft_matches_hand_values(void **state)
{
	const float z[2 * 3] = {1, 2, 3, 0, 0, 0};
	const float t[2 * 3] = {0.25f, 0.25f, 0.5f, 0.5f, 0.0f, 0.5f};
	float d[6];
	double loss = w2s_loss_xent_soft(z, t, 2, 3, 1.0f, d);
	/* row 1: lse - (0.25*1 + 0.25*2 + 0.5*3) = 3 + LSE123_MINUS_3 - 2.25 */
	double want = (0.75 + LSE123_MINUS_3) + LN3;
	if (fabs(loss - want) > 1e-12)
		fail_msg("loss %.17g, want %.17g", loss, want);
	const double p[3] = {0.09003057317038043, 0.24472847105479759, 0.6652409557748217};
	const double dwant[6] = {p[0] - 0.25, p[1] - 0.25, p[2] - 0.5,
				 1.0 / 3 - 0.5, 1.0 / 3, 1.0 / 3 - 0.5};
	assert_close("xent_soft dlogits", d, dwant, 6, 1e-7);
}

/* Central differences of a loss over each logit, with the step actually
 * taken after rounding to float. */
static void check_fd(bool soft)
{
	enum { N = 4, C = 5 };
	float z[N * C], t[N * C], d[N * C];
	int32_t y[N];
	double fd[N * C];
	for (size_t i = 0; i < N; i++) {
		w2s_rng_normals(5, 1, i, z + i * C, C);
		double u[C], s = 0.0;
		w2s_rng_uniforms(5, 2, i, u, C);
		for (size_t c = 0; c < C; c++)
			s += u[c];
		for (size_t c = 0; c < C; c++)
			t[i * C + c] = (float)(u[c] / s);
		y[i] = (int32_t)((3 * i + 1) % C);
	}
	for (size_t i = 0; i < N * C; i++)
		z[i] *= 2.0f;
	if (soft)
		(void)w2s_loss_xent_soft(z, t, N, C, 1.0f, d);
	else
		(void)w2s_loss_xent_hard(z, y, N, C, 1.0f, d);
	for (size_t i = 0; i < N * C; i++) {
		float z0 = z[i];
		z[i] = z0 + 1e-3f;
		double hp = z[i];
		double lp = soft ? w2s_loss_xent_soft(z, t, N, C, 1.0f, NULL)
				 : w2s_loss_xent_hard(z, y, N, C, 1.0f, NULL);
		z[i] = z0 - 1e-3f;
		double hm = z[i];
		double lm = soft ? w2s_loss_xent_soft(z, t, N, C, 1.0f, NULL)
				 : w2s_loss_xent_hard(z, y, N, C, 1.0f, NULL);
		z[i] = z0;
		fd[i] = (lp - lm) / (hp - hm);
	}
	/* The soft gradient is softmax - t, exact only when t sums to 1; the
	 * float targets here sum to 1 within 1e-7. */
	assert_close(soft ? "xent_soft gradient vs finite differences"
			  : "xent_hard gradient vs finite differences",
		     d, fd, N * C, 1e-5);
}

static void xent_gradients_match_finite_differences(void **state)
{
	check_fd(false);
	check_fd(true);
}

static void xent_soft_with_one_hot_target_equals_hard(void **state)
{
	enum { N = 6, C = 4 };
	float z[N * C], t[N * C], dh[N * C], ds[N * C];
	int32_t y[N];
	for (size_t i = 0; i < N; i++) {
		w2s_rng_normals(9, 1, i, z + i * C, C);
		y[i] = (int32_t)(i % C);
		for (size_t c = 0; c < C; c++)
			t[i * C + c] = c == (size_t)y[i] ? 1.0f : 0.0f;
	}
	double lh = w2s_loss_xent_hard(z, y, N, C, 0.5f, dh);
	double ls = w2s_loss_xent_soft(z, t, N, C, 0.5f, ds);
	if (fabs(lh - ls) > 1e-12 * fabs(lh))
		fail_msg("hard %.17g, soft %.17g", lh, ls);
	double dhd[N * C];
	for (size_t i = 0; i < N * C; i++)
		dhd[i] = dh[i];
	assert_close("soft vs hard dlogits", ds, dhd, N * C, 0.0);
}

static void xent_is_finite_for_logits_of_1e4(void **state)
{
	const float z[2 * 3] = {1e4f, 0.0f, -1e4f, -1e4f, -1e4f, -1e4f + 1.0f};
	const int32_t y[2] = {1, 2};
	const float t[2 * 3] = {0, 1, 0, 0, 0, 1};
	float d[6], p[6];
	double lh = w2s_loss_xent_hard(z, y, 2, 3, 1.0f, d);
	/* row 0: 1e4 - 0;  row 1: log(2 e^-1 + 1) */
	double want = 1e4 + log(2.0 * exp(-1.0) + 1.0);
	if (!(fabs(lh - want) < 1e-9 * want))
		fail_msg("hard loss %.17g, want %.17g", lh, want);
	for (int i = 0; i < 6; i++)
		assert_true(isfinite(d[i]));
	assert_true(d[0] == 1.0f && d[1] == -1.0f && d[2] == 0.0f);

	double ls = w2s_loss_xent_soft(z, t, 2, 3, 1.0f, d);
	if (!(fabs(ls - want) < 1e-9 * want))
		fail_msg("soft loss %.17g, want %.17g", ls, want);
	for (int i = 0; i < 6; i++)
		assert_true(isfinite(d[i]));

	w2s_softmax(z, p, 2, 3);
	for (int i = 0; i < 2; i++) {
		double s = 0.0;
		for (int c = 0; c < 3; c++) {
			assert_true(isfinite(p[3 * i + c]) && p[3 * i + c] >= 0.0f);
			s += p[3 * i + c];
		}
		assert_true(fabs(s - 1.0) < 1e-6);
	}
	assert_true(p[0] == 1.0f);
}

static void xent_soft_ignores_logits_where_target_is_zero(void **state)
{
	/* -inf where the target is 0: the loss stays finite. */
	const float z[3] = {0.0f, -INFINITY, 0.0f};
	const float t[3] = {0.5f, 0.0f, 0.5f};
	float d[3];
	double l = w2s_loss_xent_soft(z, t, 1, 3, 1.0f, d);
	if (fabs(l - log(2.0)) > 1e-12)
		fail_msg("loss %.17g, want log 2", l);
	assert_true(d[0] == 0.0f && d[1] == 0.0f && d[2] == 0.0f);
}

static void scale_multiplies_dlogits_and_not_the_loss(void **state)
{
	enum { N = 3, C = 4 };
	float z[N * C], t[N * C], d1[N * C], ds[N * C];
	int32_t y[N] = {0, 3, 1};
	for (size_t i = 0; i < N; i++)
		w2s_rng_normals(11, 1, i, z + i * C, C);
	for (size_t i = 0; i < N * C; i++)
		t[i] = 1.0f / C;
	for (int soft = 0; soft < 2; soft++) {
		double l1 = soft ? w2s_loss_xent_soft(z, t, N, C, 1.0f, d1)
				 : w2s_loss_xent_hard(z, y, N, C, 1.0f, d1);
		double ls = soft ? w2s_loss_xent_soft(z, t, N, C, 0.3f, ds)
				 : w2s_loss_xent_hard(z, y, N, C, 0.3f, ds);
		double l0 = soft ? w2s_loss_xent_soft(z, t, N, C, 0.3f, NULL)
				 : w2s_loss_xent_hard(z, y, N, C, 0.3f, NULL);
		assert_true(l1 == ls && l1 == l0);
		double want[N * C];
		for (size_t i = 0; i < N * C; i++)
			want[i] = 0.3 * d1[i];
		assert_close(soft ? "soft, scale 0.3" : "hard, scale 0.3", ds, want, N * C, 1e-7);
	}
}

static void dlogits_may_overwrite_logits(void **state)
{
	enum { N = 3, C = 4 };
	float z[N * C], zz[N * C], d[N * C];
	int32_t y[N] = {2, 0, 3};
	for (size_t i = 0; i < N; i++)
		w2s_rng_normals(13, 1, i, z + i * C, C);
	memcpy(zz, z, sizeof(z));
	double l = w2s_loss_xent_hard(z, y, N, C, 1.0f, d);
	double li = w2s_loss_xent_hard(zz, y, N, C, 1.0f, zz);
	assert_true(l == li);
	assert_memory_equal(d, zz, sizeof(d));

	memcpy(zz, z, sizeof(z));
	w2s_softmax(z, d, N, C);
	w2s_softmax(zz, zz, N, C);
	assert_memory_equal(d, zz, sizeof(d));
}

static void argmax_and_count_correct_break_ties_to_lower_class(void **state)
{
	const float z[4 * 3] = {1, 1, 0, 0, 2, 2, 3, -1, 2, -5, -5, -5};
	int32_t am[4];
	w2s_argmax_rows(z, am, 4, 3);
	assert_int_equal(am[0], 0);
	assert_int_equal(am[1], 1);
	assert_int_equal(am[2], 0);
	assert_int_equal(am[3], 0);
	const int32_t y_lower[4] = {0, 1, 0, 0};
	const int32_t y_upper[4] = {1, 2, 0, 2};
	assert_int_equal(w2s_count_correct(z, y_lower, 4, 3), 4);
	assert_int_equal(w2s_count_correct(z, y_upper, 4, 3), 1);
	assert_int_equal(w2s_count_correct(z, y_lower, 0, 3), 0);
}

/* Softmax of one row (C) at temperature T in double, by the textbook
 * formula: an independent reference for the library's log-space code. */
static void ref_softmax_row(const float *z, size_t C, double T, double *p)
{
	double max = z[0] / T, sum = 0.0;
	for (size_t c = 1; c < C; c++)
		if (z[c] / T > max)
			max = z[c] / T;
	for (size_t c = 0; c < C; c++)
		sum += p[c] = exp(z[c] / T - max);
	for (size_t c = 0; c < C; c++)
		p[c] /= sum;
}

/* A loss as a function of its first argument alone, its other inputs bound
 * in ctx: what the finite differences below vary. */
typedef double (*loss_value_fn)(const void *ctx, const float *z);

/* fd[i] = central difference of f over z[i] (len), with the step actually
 * taken after rounding to float. */
static void finite_differences(loss_value_fn f, const void *ctx, float *z, size_t len, double *fd)
{
	for (size_t i = 0; i < len; i++) {
		float z0 = z[i];
		z[i] = z0 + 1e-3f;
		double hp = z[i];
		double lp = f(ctx, z);
		z[i] = z0 - 1e-3f;
		double hm = z[i];
		double lm = f(ctx, z);
		z[i] = z0;
		fd[i] = (lp - lm) / (hp - hm);
	}
}

/* Random logits (n, C) of spread 2 and random target rows (n, C) summing
 * to 1 within float rounding, from the given seed. */
static void random_logits_and_targets(uint64_t seed, size_t n, size_t C, float *z, float *t)
{
	for (size_t i = 0; i < n; i++) {
		w2s_rng_normals(seed, 1, i, z + i * C, C);
		for (size_t c = 0; c < C; c++)
			z[i * C + c] *= 2.0f;
		if (t == NULL)
			continue;
		double u[16], s = 0.0;
		assert_true(C <= 16);
		w2s_rng_uniforms(seed, 2, i, u, C);
		for (size_t c = 0; c < C; c++)
			s += u[c];
		for (size_t c = 0; c < C; c++)
			t[i * C + c] = (float)(u[c] / s);
	}
}

/* Rows of t (4 rows, 4 classes) that sum to exactly 1 in float. */
static const float DYADIC_T[4 * 4] = {0.5f,  0.25f, 0.125f, 0.125f, 0.0f,  0.75f, 0.25f, 0.0f,
				      0.25f, 0.25f, 0.25f,  0.25f,  0.0625f, 0.0625f, 0.375f, 0.5f};

struct kl_ctx {
	const float *t;
	size_t n, C;
};

static double kl_value(const void *ctx, const float *z)
{
	const struct kl_ctx *k = ctx;
	return w2s_loss_kl(z, k->t, k->n, k->C, 1.0f, NULL);
}

static void kl_equals_xent_soft_minus_entropy_with_the_same_gradient(void **state)
{
	enum { N = 4, C = 4 };
	float z[N * C], dk[N * C], ds[N * C];
	random_logits_and_targets(21, N, C, z, NULL);
	double entropy = 0.0;
	for (size_t i = 0; i < N * C; i++)
		if (DYADIC_T[i] > 0.0f)
			entropy -= DYADIC_T[i] * log(DYADIC_T[i]);
	double lk = w2s_loss_kl(z, DYADIC_T, N, C, 0.5f, dk);
	double ls = w2s_loss_xent_soft(z, DYADIC_T, N, C, 0.5f, ds);
	if (fabs(lk - (ls - entropy)) > 1e-12 * ls)
		fail_msg("kl %.17g, xent_soft - H(t) %.17g (difference %g)", lk, ls - entropy,
			 lk - (ls - entropy));
	assert_memory_equal(dk, ds, sizeof(dk));
}

static void kl_is_nonnegative_and_zero_when_target_is_the_softmax(void **state)
{
	enum { N = 8, C = 5 };
	float z[N * C], t[N * C], p[N * C];
	random_logits_and_targets(22, N, C, z, t);
	for (size_t i = 0; i < N; i++) {
		double l = w2s_loss_kl(z + i * C, t + i * C, 1, C, 1.0f, NULL);
		if (!(l > 0.0))
			fail_msg("row %zu: kl %.17g against a random target, want > 0", i, l);
	}
	/* The float softmax is off from the exact one by ~1e-8 relative; the
	 * generalized KL is second order in that, so ~1e-15 per row. */
	w2s_softmax(z, p, N, C);
	for (size_t i = 0; i < N; i++) {
		double l = w2s_loss_kl(z + i * C, p + i * C, 1, C, 1.0f, NULL);
		if (!(l >= 0.0 && l <= 1e-13))
			fail_msg("row %zu: kl %.17g at t = softmax(z), want 0 within 1e-13", i, l);
	}
	/* Equal logits and a uniform dyadic target: every step is exact. */
	const float z0[4] = {3.0f, 3.0f, 3.0f, 3.0f};
	const float u[4] = {0.25f, 0.25f, 0.25f, 0.25f};
	float d[4];
	double l = w2s_loss_kl(z0, u, 1, 4, 1.0f, d);
	if (l != 0.0)
		fail_msg("kl %.17g for a uniform target at equal logits, want exactly 0", l);
	const double zero[4] = {0, 0, 0, 0};
	assert_close("kl gradient for a uniform target at equal logits", d, zero, 4, 1e-15);
}

static void kl_gradient_matches_finite_differences(void **state)
{
	enum { N = 4, C = 5 };
	float z[N * C], t[N * C], d[N * C];
	double fd[N * C];
	random_logits_and_targets(23, N, C, z, t);
	struct kl_ctx k = {t, N, C};
	(void)w2s_loss_kl(z, t, N, C, 0.25f, d);
	finite_differences(kl_value, &k, z, N * C, fd);
	for (size_t i = 0; i < N * C; i++)
		fd[i] *= 0.25;
	assert_close("kl gradient (scale 0.25) vs finite differences", d, fd, N * C, 1e-5);
}

struct kd_ctx {
	const int32_t *y;
	const float *tz;
	size_t n, C;
	float T, l;
};

static double kd_value(const void *ctx, const float *z)
{
	const struct kd_ctx *k = ctx;
	return w2s_loss_kd(z, k->y, k->tz, k->n, k->C, k->T, k->l, 1.0f, NULL);
}

/* (1 - l) (-log p_y) + l T^2 sum_c q_c log(q_c / s_c) from textbook
 * softmaxes in double. */
static double kd_reference(const struct kd_ctx *k, const float *z)
{
	double total = 0.0;
	for (size_t i = 0; i < k->n; i++) {
		double p[16], ps[16], q[16];
		assert_true(k->C <= 16);
		ref_softmax_row(z + i * k->C, k->C, 1.0, p);
		ref_softmax_row(z + i * k->C, k->C, k->T, ps);
		ref_softmax_row(k->tz + i * k->C, k->C, k->T, q);
		double kl = 0.0;
		for (size_t c = 0; c < k->C; c++)
			kl += q[c] * log(q[c] / ps[c]);
		total += (1.0 - k->l) * -log(p[k->y[i]]) + k->l * k->T * k->T * kl;
	}
	return total;
}

static void kd_with_l_zero_equals_xent_hard_and_ignores_the_teacher(void **state)
{
	enum { N = 6, C = 4 };
	float z[N * C], tz[N * C], dk[N * C], dh[N * C];
	int32_t y[N];
	random_logits_and_targets(31, N, C, z, NULL);
	for (size_t i = 0; i < N; i++)
		y[i] = (int32_t)((i * 3) % C);
	for (size_t i = 0; i < N * C; i++)
		tz[i] = NAN;
	double lh = w2s_loss_xent_hard(z, y, N, C, 0.5f, dh);
	double lk = w2s_loss_kd(z, y, tz, N, C, 2.0f, 0.0f, 0.5f, dk);
	if (lk != lh)
		fail_msg("kd at l = 0: %.17g, xent_hard %.17g", lk, lh);
	assert_memory_equal(dk, dh, sizeof(dk));
	lk = w2s_loss_kd(z, y, NULL, N, C, 3.0f, 0.0f, 0.5f, dk);
	assert_true(lk == lh);
	assert_memory_equal(dk, dh, sizeof(dk));
}

static void kd_matches_a_reference_and_vanishes_on_the_teachers_own_logits(void **state)
{
	enum { N = 5, C = 4 };
	float z[N * C], tz[N * C], d[N * C];
	int32_t y[N] = {0, 3, 1, 2, 2};
	random_logits_and_targets(32, N, C, z, NULL);
	random_logits_and_targets(33, N, C, tz, NULL);
	const float temps[3] = {0.5f, 2.0f, 7.0f}, ls[3] = {0.25f, 0.5f, 1.0f};
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++) {
			struct kd_ctx k = {y, tz, N, C, temps[a], ls[b]};
			double got = w2s_loss_kd(z, y, tz, N, C, temps[a], ls[b], 1.0f, NULL);
			double want = kd_reference(&k, z);
			if (fabs(got - want) > 1e-12 * want)
				fail_msg("T %g, l %g: kd %.17g, reference %.17g (difference %g)",
					 temps[a], ls[b], got, want, got - want);
		}
	/* Pure distillation from identical logits: KL is 0 and so is its
	 * gradient; y is not read. */
	double l = w2s_loss_kd(z, NULL, z, N, C, 2.0f, 1.0f, 1.0f, d);
	if (!(l >= 0.0 && l <= 1e-14))
		fail_msg("kd of a model against itself %.17g, want 0 within 1e-14", l);
	double zero[N * C] = {0};
	assert_close("kd gradient against itself", d, zero, N * C, 1e-15);
}

static void kd_gradient_matches_finite_differences_at_T2_l_half(void **state)
{
	enum { N = 4, C = 5 };
	float z[N * C], tz[N * C], d[N * C];
	int32_t y[N] = {4, 0, 2, 1};
	double fd[N * C];
	random_logits_and_targets(34, N, C, z, NULL);
	random_logits_and_targets(35, N, C, tz, NULL);
	struct kd_ctx k = {y, tz, N, C, 2.0f, 0.5f};
	(void)w2s_loss_kd(z, y, tz, N, C, 2.0f, 0.5f, 1.0f, d);
	finite_differences(kd_value, &k, z, N * C, fd);
	assert_close("kd gradient (T 2, l 0.5) vs finite differences", d, fd, N * C, 1e-5);
}

/* Cross-entropy of textbook softmaxes against a fixed target (n, C) in
 * double: for losses whose target is a constant to the gradient, the
 * function whose derivative their dlogits must be. */
struct frozen_ctx {
	const double *target;
	size_t n, C;
};

static double xent_against_frozen_target(const void *ctx, const float *z)
{
	const struct frozen_ctx *f = ctx;
	double total = 0.0;
	for (size_t i = 0; i < f->n; i++) {
		double p[16];
		assert_true(f->C <= 16);
		ref_softmax_row(z + i * f->C, f->C, 1.0, p);
		for (size_t c = 0; c < f->C; c++)
			if (f->target[i * f->C + c] != 0.0)
				total -= f->target[i * f->C + c] * log(p[c]);
	}
	return total;
}

/* The product target p^b t^c / sum, formed in linear space. */
static void product_reference_target(const float *z, const float *t, size_t n, size_t C, double b,
				     double c, double *target)
{
	for (size_t i = 0; i < n; i++) {
		double p[16], sum = 0.0;
		assert_true(C <= 16);
		ref_softmax_row(z + i * C, C, 1.0, p);
		for (size_t k = 0; k < C; k++)
			sum += target[i * C + k] = pow(p[k], b) * pow(t[i * C + k], c);
		for (size_t k = 0; k < C; k++)
			target[i * C + k] /= sum;
	}
}

struct product_ctx {
	const float *t;
	size_t n, C;
	float b, c;
};

static double product_value(const void *ctx, const float *z)
{
	const struct product_ctx *k = ctx;
	return w2s_loss_product(z, k->t, k->n, k->C, k->b, k->c, 1.0f, NULL);
}

static void product_with_b0_c1_equals_xent_soft(void **state)
{
	enum { N = 4, C = 4 };
	float z[N * C], dp[N * C], ds[N * C];
	random_logits_and_targets(41, N, C, z, NULL);
	double lp = w2s_loss_product(z, DYADIC_T, N, C, 0.0f, 1.0f, 0.5f, dp);
	double ls = w2s_loss_xent_soft(z, DYADIC_T, N, C, 0.5f, ds);
	/* exp(log t) returns t to double rounding, not always bit for bit. */
	if (fabs(lp - ls) > 1e-14 * ls)
		fail_msg("product (b 0, c 1) %.17g, xent_soft %.17g (difference %g)", lp, ls,
			 lp - ls);
	double dsd[N * C];
	for (size_t i = 0; i < N * C; i++)
		dsd[i] = ds[i];
	assert_close("product (b 0, c 1) vs xent_soft dlogits", dp, dsd, N * C, 1e-7);
}

static void product_matches_a_reference_target_formed_in_linear_space(void **state)
{
	enum { N = 5, C = 4 };
	float z[N * C], t[N * C], d[N * C];
	double target[N * C];
	random_logits_and_targets(42, N, C, z, t);
	t[1] = 0.0f; /* a class the teacher rules out */
	const float bc[4][2] = {{1.0f, 1.0f}, {0.5f, 2.0f}, {3.0f, 0.0f}, {0.0f, 0.5f}};
	for (int j = 0; j < 4; j++) {
		product_reference_target(z, t, N, C, bc[j][0], bc[j][1], target);
		struct frozen_ctx f = {target, N, C};
		double want = xent_against_frozen_target(&f, z);
		double got = w2s_loss_product(z, t, N, C, bc[j][0], bc[j][1], 1.0f, d);
		if (fabs(got - want) > 1e-12 * want)
			fail_msg("b %g, c %g: product %.17g, reference %.17g (difference %g)",
				 bc[j][0], bc[j][1], got, want, got - want);
		/* dlogits = p - target, so p - dlogits recovers the target. */
		double p[C];
		float got_target[C];
		ref_softmax_row(z, C, 1.0, p);
		for (size_t k = 0; k < C; k++)
			got_target[k] = (float)(p[k] - d[k]);
		/* Row 0 holds the ruled-out class: its target is 0 unless c = 0. */
		assert_close("product target of row 0 from dlogits", got_target, target, C, 1e-7);
	}
}

static void product_gradient_matches_finite_differences_with_the_target_frozen(void **state)
{
	/* The target depends on z through p^b but is a constant to the
	 * gradient, as a stop-gradient would make it: dlogits must be the
	 * derivative of the cross-entropy against the target as it stands at
	 * z.  At b = 0 the target does not move with z at all, so there the
	 * loss itself must match its finite differences too. */
	enum { N = 4, C = 5 };
	float z[N * C], t[N * C], d[N * C];
	double fd[N * C], target[N * C];
	random_logits_and_targets(43, N, C, z, t);
	(void)w2s_loss_product(z, t, N, C, 1.5f, 0.5f, 1.0f, d);
	product_reference_target(z, t, N, C, 1.5, 0.5, target);
	struct frozen_ctx f = {target, N, C};
	finite_differences(xent_against_frozen_target, &f, z, N * C, fd);
	assert_close("product (b 1.5, c 0.5) gradient vs finite differences, target frozen", d,
		     fd, N * C, 1e-5);

	struct product_ctx k = {t, N, C, 0.0f, 2.0f};
	(void)w2s_loss_product(z, t, N, C, 0.0f, 2.0f, 1.0f, d);
	finite_differences(product_value, &k, z, N * C, fd);
	assert_close("product (b 0, c 2) gradient vs finite differences", d, fd, N * C, 1e-5);
}

static void confidence_with_a_zero_equals_xent_soft(void **state)
{
	enum { N = 7, CMAX = 4 };
	float z[N * CMAX], t[N * CMAX], dc[N * CMAX], ds[N * CMAX];
	double scratch[N + 3 * CMAX];
	for (size_t C = 2; C <= CMAX; C += 2) {
		random_logits_and_targets(51 + C, N, C, z, t);
		double lc = w2s_loss_confidence(z, t, N, C, 0.0f, scratch, 0.5f, dc);
		double ls = w2s_loss_xent_soft(z, t, N, C, 0.5f, ds);
		if (lc != ls)
			fail_msg("C %zu: confidence at a = 0 %.17g, xent_soft %.17g", C, lc, ls);
		assert_memory_equal(dc, ds, N * C * sizeof(float));
	}
}

/* Checks that h (n) holds k ones, on the rows with the largest z1 - z0. */
static void assert_top_k_hardened(const float *z, const int32_t *h, size_t n, size_t k)
{
	size_t ones = 0;
	double lowest_one = INFINITY, highest_zero = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		double m = (double)z[2 * i + 1] - z[2 * i];
		if (h[i] == 1) {
			ones++;
			lowest_one = fmin(lowest_one, m);
		} else {
			assert_int_equal(h[i], 0);
			highest_zero = fmax(highest_zero, m);
		}
	}
	if (ones != k || (k > 0 && k < n && !(lowest_one > highest_zero)))
		fail_msg("%zu rows hardened to class 1, want %zu; lowest margin among them %g, "
			 "highest among the rest %g",
			 ones, k, lowest_one, highest_zero);
}

static void confidence_hardens_as_many_rows_to_class_1_as_the_teachers_prior(void **state)
{
	enum { N = 10, C = 2 };
	float z[N * C], t[N * C];
	int32_t h[N];
	double scratch[N + 3 * C];
	random_logits_and_targets(61, N, C, z, NULL);

	/* Hard teacher labels, 3 of 10 rows class 1, not the rows the
	 * student ranks highest: h takes the student's top 3. */
	for (size_t i = 0; i < N; i++) {
		int one = i == 0 || i == 4 || i == 7;
		t[2 * i] = one ? 0.0f : 1.0f;
		t[2 * i + 1] = one ? 1.0f : 0.0f;
	}
	w2s_loss_confidence_harden(z, t, N, C, scratch, h);
	assert_top_k_hardened(z, h, N, 3);

	/* Soft labels with mean 0.3 (their float sum is 3.0000001). */
	for (size_t i = 0; i < N; i++) {
		t[2 * i] = 0.7f;
		t[2 * i + 1] = 0.3f;
	}
	w2s_loss_confidence_harden(z, t, N, C, scratch, h);
	assert_top_k_hardened(z, h, N, 3);

	/* A count of 2.5 rounds up; 0 and 10 harden nothing and everything. */
	const float prior[3] = {0.25f, 0.0f, 1.0f};
	const size_t want[3] = {3, 0, N};
	for (int j = 0; j < 3; j++) {
		for (size_t i = 0; i < N; i++) {
			t[2 * i] = 1.0f - prior[j];
			t[2 * i + 1] = prior[j];
		}
		w2s_loss_confidence_harden(z, t, N, C, scratch, h);
		assert_top_k_hardened(z, h, N, want[j]);
	}

	/* All margins tied: the first rows in row order take class 1. */
	float zt[N * C];
	for (size_t i = 0; i < N; i++) {
		zt[2 * i] = 0.5f;
		zt[2 * i + 1] = 1.5f;
		t[2 * i] = 0.7f;
		t[2 * i + 1] = 0.3f;
	}
	w2s_loss_confidence_harden(zt, t, N, C, scratch, h);
	for (size_t i = 0; i < N; i++)
		if (h[i] != (i < 3))
			fail_msg("tied margins: row %zu hardened to %d, want %d", i, h[i], i < 3);

	/* One row above a three-way tie at the threshold: it and the first
	 * two of the tie. */
	for (size_t i = 0; i < N; i++)
		zt[2 * i + 1] = i == 2 ? 3.5f : i == 1 || i == 5 || i == 8 ? 1.5f : -0.5f;
	w2s_loss_confidence_harden(zt, t, N, C, scratch, h);
	for (size_t i = 0; i < N; i++) {
		int want1 = i == 1 || i == 2 || i == 5;
		if (h[i] != want1)
			fail_msg("tie at the threshold: row %zu hardened to %d, want %d", i, h[i],
				 want1);
	}
}

static void confidence_at_a_one_is_xent_hard_against_the_hardened_classes(void **state)
{
	enum { N = 10, CMAX = 3 };
	float z[N * CMAX], t[N * CMAX], dc[N * CMAX], dh[N * CMAX];
	double scratch[N + 3 * CMAX], dhd[N * CMAX];
	int32_t h[N];
	for (size_t C = 2; C <= CMAX; C++) {
		random_logits_and_targets(62 + C, N, C, z, t);
		w2s_loss_confidence_harden(z, t, N, C, scratch, h);
		double lc = w2s_loss_confidence(z, t, N, C, 1.0f, scratch, 1.0f, dc);
		double lh = w2s_loss_xent_hard(z, h, N, C, 1.0f, dh);
		if (fabs(lc - lh) > 1e-12 * lh)
			fail_msg("C %zu: confidence at a = 1 %.17g, xent_hard against h %.17g", C,
				 lc, lh);
		for (size_t i = 0; i < N * C; i++)
			dhd[i] = dh[i];
		assert_close("confidence at a = 1 vs xent_hard against h", dc, dhd, N * C, 0.0);
	}
}

static void confidence_with_more_classes_moves_argmax_toward_the_prior(void **state)
{
	enum { N = 30, C = 3 };
	float z[N * C], t[N * C], p[N * C];
	double scratch[N + 3 * C];
	int32_t h[N], am[N];
	random_logits_and_targets(71, N, C, z, NULL);
	w2s_argmax_rows(z, am, N, C);

	/* A teacher whose prior is the student's own mean prediction: the
	 * adjustment is ~1e-8 and h is the student's argmax. */
	w2s_softmax(z, p, N, C);
	w2s_loss_confidence_harden(z, p, N, C, scratch, h);
	for (size_t i = 0; i < N; i++)
		if (h[i] != am[i])
			fail_msg("row %zu: hardened to %d, argmax %d, with prior = mean prediction", i,
				 h[i], am[i]);

	/* A teacher that puts 2/3 of the rows in class 2 and none in class
	 * 1: class 1 disappears from h and class 2 gains rows. */
	for (size_t i = 0; i < N; i++)
		for (size_t c = 0; c < C; c++)
			t[i * C + c] = c == (i % 3 == 0 ? 0u : 2u) ? 1.0f : 0.0f;
	w2s_loss_confidence_harden(z, t, N, C, scratch, h);
	size_t count_h[C] = {0}, count_am[C] = {0};
	for (size_t i = 0; i < N; i++) {
		count_h[h[i]]++;
		count_am[am[i]]++;
	}
	if (count_h[1] != 0 || count_am[1] == 0 || !(count_h[2] > count_am[2]))
		fail_msg("class counts: hardened (%zu, %zu, %zu), argmax (%zu, %zu, %zu), teacher "
			 "(10, 0, 20)",
			 count_h[0], count_h[1], count_h[2], count_am[0], count_am[1], count_am[2]);
}

static void confidence_gradient_treats_the_hardened_target_as_constant(void **state)
{
	/* h is a step function of the logits; the loss claims no gradient
	 * through it (as a stop-gradient would), so dlogits must be the
	 * derivative of the cross-entropy against the target frozen as it
	 * stands at z: (1 - a) t + a onehot(h), h read from the library.
	 * Finite differences of that frozen function are the check; those of
	 * the loss itself would agree only where no step moves h. */
	enum { N = 10, CMAX = 3 };
	float z[N * CMAX], t[N * CMAX], d[N * CMAX];
	double scratch[N + 3 * CMAX], target[N * CMAX], fd[N * CMAX];
	int32_t h[N];
	const float a = 0.4f;
	for (size_t C = 2; C <= CMAX; C++) {
		random_logits_and_targets(81 + C, N, C, z, t);
		double l = w2s_loss_confidence(z, t, N, C, a, scratch, 1.0f, d);
		w2s_loss_confidence_harden(z, t, N, C, scratch, h);
		for (size_t i = 0; i < N; i++)
			for (size_t c = 0; c < C; c++)
				target[i * C + c] = (1.0 - a) * t[i * C + c] +
						    ((size_t)h[i] == c ? (double)a : 0.0);
		struct frozen_ctx f = {target, N, C};
		double want = xent_against_frozen_target(&f, z);
		if (fabs(l - want) > 1e-12 * want)
			fail_msg("C %zu: confidence %.17g, xent against the frozen target %.17g", C,
				 l, want);
		finite_differences(xent_against_frozen_target, &f, z, N * C, fd);
		assert_close(C == 2 ? "confidence gradient vs finite differences, target frozen, C 2"
				    : "confidence gradient vs finite differences, target frozen, C 3",
			     d, fd, N * C, 1e-5);
	}
}

static void confidence_alpha_ramps_linearly_then_holds(void **state)
{
	assert_true(w2s_loss_confidence_alpha(0.75f, 0.0f, 0, 1000) == 0.75f);
	assert_true(w2s_loss_confidence_alpha(0.75f, 0.2f, 0, 1000) == 0.0f);
	assert_true(w2s_loss_confidence_alpha(0.75f, 0.2f, 100, 1000) == 0.375f);
	assert_true(w2s_loss_confidence_alpha(0.75f, 0.2f, 200, 1000) == 0.75f);
	assert_true(w2s_loss_confidence_alpha(0.75f, 0.2f, 999, 1000) == 0.75f);
	assert_true(w2s_loss_confidence_alpha(0.75f, 0.2f, 5000, 1000) == 0.75f);
	float a = w2s_loss_confidence_alpha(0.5f, 0.1f, 30, 1000);
	if (fabs(a - 0.15) > 1e-7)
		fail_msg("alpha at step 30 of a 100-step warm-up to 0.5: %.9g, want 0.15", a);
	/* 0.1f * 1000 is not 100 in double; the warm-up still ends there. */
	assert_true(w2s_loss_confidence_alpha(0.5f, 0.1f, 99, 1000) < 0.5f);
	assert_true(w2s_loss_confidence_alpha(0.5f, 0.1f, 100, 1000) == 0.5f);
	assert_true(w2s_loss_confidence_alpha(0.5f, 1.0f, 0, 0) == 0.5f);
}

struct mse_ctx {
	const float *y;
	size_t n;
};

static double mse_value(const void *ctx, const float *pred)
{
	const struct mse_ctx *m = ctx;
	return w2s_loss_mse(pred, m->y, m->n, 1.0f, NULL);
}

static void mse_matches_hand_values_and_finite_differences(void **state)
{
	const float pred[4] = {1.0f, -2.0f, 0.5f, 3.0f};
	const float y[4] = {0.0f, 1.0f, 0.5f, 2.5f};
	float d[4];
	/* 1 + 9 + 0 + 0.25, all exact in binary. */
	double l = w2s_loss_mse(pred, y, 4, 0.25f, d);
	if (l != 10.25)
		fail_msg("mse %.17g, want 10.25", l);
	assert_true(w2s_sum_squared_diff(pred, y, 4) == 10.25);
	assert_true(w2s_sum_squared_diff(y, pred, 4) == 10.25);
	assert_true(w2s_loss_mse(pred, y, 0, 1.0f, d) == 0.0);
	const double dwant[4] = {0.5, -1.5, 0.0, 0.25};
	assert_close("mse dpred (scale 0.25)", d, dwant, 4, 0.0);

	enum { N = 12 };
	float p[N], t[N], dp[N];
	double fd[N];
	w2s_rng_normals(91, 1, 0, p, N);
	w2s_rng_normals(91, 2, 0, t, N);
	struct mse_ctx m = {t, N};
	double lm = w2s_loss_mse(p, t, N, 1.0f, dp);
	if (lm != w2s_sum_squared_diff(p, t, N))
		fail_msg("mse %.17g, sum_squared_diff %.17g", lm, w2s_sum_squared_diff(p, t, N));
	/* Quadratic, so central differences are exact up to rounding. */
	finite_differences(mse_value, &m, p, N, fd);
	assert_close("mse gradient vs finite differences", dp, fd, N, 1e-6);
}

/* As xent's dlogits may overwrite the logits, so may the new losses'
 * (and mse's dpred the predictions): the same values in place as apart. */
static void new_losses_may_write_dlogits_over_logits(void **state)
{
	enum { N = 6, CMAX = 3 };
	float z[N * CMAX], zz[N * CMAX], t[N * CMAX], tz[N * CMAX], d[N * CMAX];
	double scratch[N + 3 * CMAX];
	int32_t y[N] = {0, 1, 1, 0, 1, 0};
	for (size_t C = 2; C <= CMAX; C++) {
		size_t bytes = N * C * sizeof(float);
		random_logits_and_targets(101 + C, N, C, z, t);
		random_logits_and_targets(111 + C, N, C, tz, NULL);
		for (int f = 0; f < 5; f++) {
			double l, li;
			memcpy(zz, z, bytes);
			switch (f) {
			case 0:
				l = w2s_loss_kl(z, t, N, C, 1.0f, d);
				li = w2s_loss_kl(zz, t, N, C, 1.0f, zz);
				break;
			case 1:
				l = w2s_loss_kd(z, y, tz, N, C, 2.0f, 0.5f, 1.0f, d);
				li = w2s_loss_kd(zz, y, tz, N, C, 2.0f, 0.5f, 1.0f, zz);
				break;
			case 2:
				l = w2s_loss_product(z, t, N, C, 0.5f, 1.0f, 1.0f, d);
				li = w2s_loss_product(zz, t, N, C, 0.5f, 1.0f, 1.0f, zz);
				break;
			case 3:
				l = w2s_loss_confidence(z, t, N, C, 0.5f, scratch, 1.0f, d);
				li = w2s_loss_confidence(zz, t, N, C, 0.5f, scratch, 1.0f, zz);
				break;
			default:
				l = w2s_loss_mse(z, t, N * C, 1.0f, d);
				li = w2s_loss_mse(zz, t, N * C, 1.0f, zz);
				break;
			}
			static const char *const names[5] = {"kl", "kd", "product", "confidence",
							     "mse"};
			if (l != li)
				fail_msg("%s, C %zu: %.17g in place, %.17g apart", names[f], C, li, l);
			assert_memory_equal(d, zz, bytes);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(xent_hard_matches_hand_values),
		cmocka_unit_test(xent_soft_matches_hand_values),
		cmocka_unit_test(xent_gradients_match_finite_differences),
		cmocka_unit_test(xent_soft_with_one_hot_target_equals_hard),
		cmocka_unit_test(xent_is_finite_for_logits_of_1e4),
		cmocka_unit_test(xent_soft_ignores_logits_where_target_is_zero),
		cmocka_unit_test(scale_multiplies_dlogits_and_not_the_loss),
		cmocka_unit_test(dlogits_may_overwrite_logits),
		cmocka_unit_test(argmax_and_count_correct_break_ties_to_lower_class),
		cmocka_unit_test(kl_equals_xent_soft_minus_entropy_with_the_same_gradient),
		cmocka_unit_test(kl_is_nonnegative_and_zero_when_target_is_the_softmax),
		cmocka_unit_test(kl_gradient_matches_finite_differences),
		cmocka_unit_test(kd_with_l_zero_equals_xent_hard_and_ignores_the_teacher),
		cmocka_unit_test(kd_matches_a_reference_and_vanishes_on_the_teachers_own_logits),
		cmocka_unit_test(kd_gradient_matches_finite_differences_at_T2_l_half),
		cmocka_unit_test(product_with_b0_c1_equals_xent_soft),
		cmocka_unit_test(product_matches_a_reference_target_formed_in_linear_space),
		cmocka_unit_test(product_gradient_matches_finite_differences_with_the_target_frozen),
		cmocka_unit_test(confidence_with_a_zero_equals_xent_soft),
		cmocka_unit_test(confidence_hardens_as_many_rows_to_class_1_as_the_teachers_prior),
		cmocka_unit_test(confidence_at_a_one_is_xent_hard_against_the_hardened_classes),
		cmocka_unit_test(confidence_with_more_classes_moves_argmax_toward_the_prior),
		cmocka_unit_test(confidence_gradient_treats_the_hardened_target_as_constant),
		cmocka_unit_test(confidence_alpha_ramps_linearly_then_holds),
		cmocka_unit_test(mse_matches_hand_values_and_finite_differences),
		cmocka_unit_test(new_losses_may_write_dlogits_over_logits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_optim.c: AdamW and SGD updates against hand computations, the
 * learning-rate schedule at its defining points, gradient clipping, and
 * convergence on a quadratic.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "w2s/optim.h"
#include "w2s/rng.h"

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
		fail_msg("%s: largest difference %g at %zu (got %.9g, want %.9g), tolerance %g",
			 what, worst, wi, got[wi], want[wi], tol);
}

static void assert_lr(const struct w2s_optim_opts *o, int64_t step, double want)
{
	double got = w2s_optim_lr(o, step);
	if (fabs(got - want) > 1e-6 * fabs(want) + 1e-9)
		fail_msg("lr at step %lld: %.9g, want %.9g", (long long)step, got, want);
}

static void adam_first_step_moves_each_param_by_lr_times_sign(void **state)
{
	enum { N = 12 };
	struct w2s_optim_opts opts;
	w2s_optim_opts_default(&opts);
	opts.lr = 1e-2f;
	float p[N], g[N];
	double want[N];
	w2s_rng_normals(1, 1, 0, p, N);
	/* Magnitudes over five decades, both signs, and one zero: the first
	 * Adam step is lr * g / (|g| + eps) whatever the scale of g. */
	for (int i = 0; i < N; i++) {
		g[i] = (float)((i % 2 ? -1.0 : 1.0) * pow(10.0, (double)(i % 6) - 3.0));
		want[i] = (double)p[i] - (double)opts.lr * (g[i] > 0 ? 1.0 : -1.0);
	}
	g[N - 1] = 0.0f;
	want[N - 1] = p[N - 1];

	struct w2s_optim o;
	assert_int_equal(w2s_optim_init(&o, &opts, N), 0);
	float lr = w2s_optim_step(&o, p, g);
	assert_true(lr == opts.lr);
	assert_int_equal(o.step, 1);
	assert_close("first Adam step", p, want, N, 1e-3 * opts.lr);
	w2s_optim_free(&o);
}

static void adamw_decay_is_decoupled_from_the_moments(void **state)
{
	struct w2s_optim_opts opts;
	w2s_optim_opts_default(&opts);
	opts.lr = 1e-2f;
	opts.weight_decay = 0.1f;
	struct w2s_optim o;
	assert_int_equal(w2s_optim_init(&o, &opts, 2), 0);

	/* Zero gradient: only the decay acts, p * (1 - lr wd) per step, and
	 * the moments stay zero. */
	float p[2] = {10.0f, -4.0f};
	const float zero[2] = {0, 0};
	for (int s = 0; s < 3; s++)
		w2s_optim_step(&o, p, zero);
	double k = pow(1.0 - 1e-3, 3);
	double want[2] = {10.0 * k, -4.0 * k};
	assert_close("AdamW decay, zero gradient", p, want, 2, 1e-5);
	assert_true(o.m[0] == 0.0f && o.v[0] == 0.0f);
	w2s_optim_free(&o);

	/* Gradient 1 at p = 10: decoupled, 10 (1 - 1e-3) - lr = 9.98; decay
	 * folded into the gradient would give 10 - lr = 9.99. */
	assert_int_equal(w2s_optim_init(&o, &opts, 1), 0);
	float q = 10.0f;
	const float one = 1.0f;
	w2s_optim_step(&o, &q, &one);
	double wq = 9.98;
	assert_close("AdamW with gradient", &q, &wq, 1, 1e-5);
	w2s_optim_free(&o);
}

static void sgd_momentum_matches_hand_computation_over_three_steps(void **state)
{
	struct w2s_optim_opts opts;
	w2s_optim_opts_default(&opts);
	opts.kind = W2S_OPT_SGD;
	opts.lr = 0.1f;
	opts.momentum = 0.9f;
	opts.weight_decay = 0.01f;
	struct w2s_optim o;
	assert_int_equal(w2s_optim_init(&o, &opts, 2), 0);
	float p[2] = {1.0f, -2.0f};
	const float g[3][2] = {{0.5f, 0.0f}, {-0.25f, 0.0f}, {1.0f, 0.0f}};
	/* d = g + wd p;  buf = 0.9 buf + d;  p -= 0.1 buf.
	 * p[0]: d 0.51, buf 0.51, p 0.949;  d -0.24051, buf 0.21849,
	 *       p 0.927151;  d 1.00927151, buf 1.20591251, p 0.806559749.
	 * p[1]: d -0.02, buf -0.02, p -1.998;  d -0.01998, buf -0.03798,
	 *       p -1.994202;  d -0.01994202, buf -0.05412402, p -1.988789598. */
	const double want[3][2] = {
		{0.949, -1.998}, {0.927151, -1.994202}, {0.806559749, -1.988789598}};
	for (int s = 0; s < 3; s++) {
		w2s_optim_step(&o, p, g[s]);
		char what[32];
		snprintf(what, sizeof(what), "SGD step %d", s + 1);
		assert_close(what, p, want[s], 2, 1e-6);
	}
	w2s_optim_free(&o);

	/* Without momentum it is plain gradient descent. */
	opts.momentum = 0.0f;
	opts.weight_decay = 0.0f;
	assert_int_equal(w2s_optim_init(&o, &opts, 1), 0);
	float q = 1.0f;
	const float gq = 2.0f;
	w2s_optim_step(&o, &q, &gq);
	w2s_optim_step(&o, &q, &gq);
	double wq = 0.6;
	assert_close("SGD without momentum", &q, &wq, 1, 1e-6);
	w2s_optim_free(&o);
}

static void schedule_warms_up_linearly_then_follows_cosine(void **state)
{
	struct w2s_optim_opts o;
	w2s_optim_opts_default(&o);
	o.lr = 1.0f;
	o.warmup_steps = 4;
	for (int s = 0; s < 4; s++)
		assert_lr(&o, s, (s + 1) / 4.0);
	assert_lr(&o, 4, 1.0);
	assert_lr(&o, 1000, 1.0);

	o.schedule = W2S_SCHED_COSINE;
	o.warmup_steps = 10;
	o.total_steps = 110;
	o.lr_min = 0.1f;
	assert_lr(&o, 0, 0.1);
	assert_lr(&o, 9, 1.0);
	assert_lr(&o, 10, 1.0);                                      /* start */
	assert_lr(&o, 35, 0.1 + 0.45 * (1.0 + sqrt(0.5))); /* quarter */
	assert_lr(&o, 60, 0.55);                                     /* midpoint */
	assert_lr(&o, 110, 0.1);                                     /* end */
	assert_lr(&o, 500, 0.1);

	o.warmup_steps = 0;
	o.total_steps = 100;
	o.lr_min = 0.0f;
	assert_lr(&o, 0, 1.0);
	assert_lr(&o, 50, 0.5);
	assert_lr(&o, 100, 0.0);
}

static void step_returns_the_scheduled_lr_and_counts(void **state)
{
	struct w2s_optim_opts opts;
	w2s_optim_opts_default(&opts);
	opts.kind = W2S_OPT_SGD;
	opts.lr = 0.5f;
	opts.warmup_steps = 2;
	struct w2s_optim o;
	assert_int_equal(w2s_optim_init(&o, &opts, 1), 0);
	float p = 0.0f;
	const float g = 1.0f;
	assert_true(w2s_optim_step(&o, &p, &g) == 0.25f);
	assert_true(w2s_optim_step(&o, &p, &g) == 0.5f);
	assert_true(w2s_optim_step(&o, &p, &g) == 0.5f);
	assert_int_equal(o.step, 3);
	double wp = -1.25;
	assert_close("p after warm-up", &p, &wp, 1, 1e-7);
	w2s_optim_free(&o);
}

static void clip_scales_to_max_norm_and_returns_norm_before(void **state)
{
	float g[2] = {3.0f, 4.0f};
	assert_true(w2s_grad_norm(g, 2) == 5.0);
	assert_true(w2s_grad_clip(g, 2, 10.0) == 5.0);
	assert_true(g[0] == 3.0f && g[1] == 4.0f);
	assert_true(w2s_grad_clip(g, 2, 0.0) == 5.0);
	assert_true(g[0] == 3.0f && g[1] == 4.0f);

	assert_true(w2s_grad_clip(g, 2, 1.0) == 5.0);
	const double want[2] = {0.6, 0.8};
	assert_close("clipped gradient", g, want, 2, 1e-7);
	double after = w2s_grad_norm(g, 2);
	if (fabs(after - 1.0) > 1e-6)
		fail_msg("norm after clipping %.9g, want 1", after);

	/* A NaN norm is reported, not spread over the gradient. */
	float h[2] = {NAN, 1.0f};
	assert_true(isnan(w2s_grad_clip(h, 2, 1.0)));
	assert_true(h[1] == 1.0f);
}

static void grad_norm_does_not_overflow_where_float_squares_would(void **state)
{
	const float g[4] = {1e20f, -1e20f, 1e20f, 1e20f};
	double want = 2.0 * (double)1e20f;
	double got = w2s_grad_norm(g, 4);
	if (fabs(got - want) > 1e-12 * want)
		fail_msg("norm %.17g, want %.17g", got, want);
}

/* Lengths that cover the vector loops, their tails, and none at all. */
static const size_t long_lengths[] = {0, 1, 15, 16, 17, 31, 32, 33, 63, 100, 1000, 4099};

/* The norm of long gradients against a sum in long double: the partial
 * sums of the vector loop change only the rounding. */
static void grad_norm_of_long_vectors_matches_a_long_double_sum(void **state)
{
	enum { MAX = 4099 + 3 };
	static float buf[MAX];
	w2s_rng_normals(5, 1, 0, buf, MAX);
	for (size_t k = 0; k < sizeof long_lengths / sizeof long_lengths[0]; k++) {
		for (size_t off = 0; off < 3; off++) { /* unaligned starts too */
			size_t n = long_lengths[k];
			const float *g = buf + off;
			long double want = 0.0L;
			for (size_t i = 0; i < n; i++)
				want += (long double)g[i] * (long double)g[i];
			double w = (double)sqrtl(want), got = w2s_grad_norm(g, n);
			if (fabs(got - w) > 1e-14 * w)
				fail_msg("norm of %zu floats at offset %zu: %.17g, want %.17g", n, off, got,
					 w);
		}
	}

	/* Clipping a long gradient leaves it at the maximum norm, in the
	 * same direction. */
	float g[1000], g0[1000];
	w2s_rng_normals(6, 1, 0, g0, 1000);
	memcpy(g, g0, sizeof g);
	double before = w2s_grad_clip(g, 1000, 2.0);
	double after = w2s_grad_norm(g, 1000);
	if (fabs(after - 2.0) > 1e-6)
		fail_msg("norm after clipping %.9g (before %.9g), want 2", after, before);
	double want[1000];
	for (int i = 0; i < 1000; i++)
		want[i] = (double)g0[i] * 2.0 / before;
	assert_close("clipped long gradient", g, want, 1000, 1e-6);
}

/* The arithmetic of one AdamW or SGD update of a parameter, as a reader
 * writes it, in float. */
static void reference_update(const struct w2s_optim_opts *op, int64_t step, float *p,
			     const float *g, float *m, float *v, size_t n)
{
	float lr = w2s_optim_lr(op, step);
	if (op->kind == W2S_OPT_SGD) {
		for (size_t i = 0; i < n; i++) {
			float d = g[i] + op->weight_decay * p[i];
			if (op->momentum != 0.0f) {
				m[i] = op->momentum * m[i] + d;
				d = m[i];
			}
			p[i] -= lr * d;
		}
		return;
	}
	double t = (double)(step + 1);
	float step_size = (float)((double)lr / (1.0 - pow((double)op->beta1, t)));
	float inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow((double)op->beta2, t)));
	float decay = 1.0f - lr * op->weight_decay;
	for (size_t i = 0; i < n; i++) {
		m[i] = op->beta1 * m[i] + (1.0f - op->beta1) * g[i];
		v[i] = op->beta2 * v[i] + (1.0f - op->beta2) * g[i] * g[i];
		float denom = sqrtf(v[i]) * inv_sqrt_bc2 + op->eps;
		p[i] = p[i] * decay - step_size * m[i] / denom;
	}
}

/* Ranks must end with the same bits whatever their CPU, so the vector
 * loops must do exactly the scalar formula's arithmetic: the tolerance is
 * zero.  Long buffers at unaligned starts, gradients over six decades. */
static void updates_of_long_buffers_match_the_scalar_formula_exactly(void **state)
{
	enum { N = 1000 + 13, STEPS = 5 };
	static float p[N + 1], q[N + 1], g[N + 1], m[N + 1], v[N + 1];
	struct w2s_optim_opts cases[3];
	w2s_optim_opts_default(&cases[0]);
	cases[0].lr = 3e-2f;
	cases[0].weight_decay = 0.1f;
	cases[0].schedule = W2S_SCHED_COSINE;
	cases[0].warmup_steps = 2;
	cases[0].total_steps = STEPS;
	w2s_optim_opts_default(&cases[1]);
	cases[1].kind = W2S_OPT_SGD;
	cases[1].lr = 0.1f;
	cases[1].momentum = 0.9f;
	cases[1].weight_decay = 0.01f;
	cases[2] = cases[1];
	cases[2].momentum = 0.0f;
	for (int c = 0; c < 3; c++) {
		for (size_t n = N - 1; n <= N; n++) {
			/* 1 or 2 floats in: starts off the vector alignment */
			float *pp = p + (N + 1 - n), *gg = g + (N + 1 - n);
			w2s_rng_normals(7, 1, 0, pp, n);
			memcpy(q, pp, n * sizeof *q);
			memset(m, 0, sizeof m);
			memset(v, 0, sizeof v);
			struct w2s_optim o;
			assert_int_equal(w2s_optim_init(&o, &cases[c], n), 0);
			for (int64_t s = 0; s < STEPS; s++) {
				w2s_rng_normals(8, 1, (uint64_t)s, gg, n);
				for (size_t i = 0; i < n; i++)
					gg[i] *= (float)pow(10.0, (double)(i % 7) - 4.0);
				w2s_optim_step(&o, pp, gg);
				reference_update(&cases[c], s, q, gg, m, v, n);
			}
			double want[N];
			for (size_t i = 0; i < n; i++)
				want[i] = q[i];
			char what[64];
			snprintf(what, sizeof what, "%s, %zu parameters",
				 c == 0 ? "AdamW" : c == 1 ? "SGD with momentum" : "SGD", n);
			assert_close(what, pp, want, n, 0.0);
			for (size_t i = 0; i < n; i++)
				if (o.m[i] != m[i] || (c == 0 && o.v[i] != v[i]))
					fail_msg("%s: moments differ at %zu", what, i);
			w2s_optim_free(&o);
		}
	}
}

/* Minimizes 0.5 sum a_i (p_i - c_i)^2, curvatures a_i in [0.5, 5]. */
static void minimize_quadratic(const struct w2s_optim_opts *opts, int steps, double tol)
{
	enum { N = 10 };
	float p[N], c[N], a[N], g[N];
	w2s_rng_normals(3, 1, 0, c, N);
	for (int i = 0; i < N; i++) {
		a[i] = 0.5f + 0.5f * (float)i;
		p[i] = 0.0f;
	}
	struct w2s_optim o;
	assert_int_equal(w2s_optim_init(&o, opts, N), 0);
	for (int s = 0; s < steps; s++) {
		for (int i = 0; i < N; i++)
			g[i] = a[i] * (p[i] - c[i]);
		w2s_optim_step(&o, p, g);
	}
	double want[N];
	for (int i = 0; i < N; i++)
		want[i] = c[i];
	assert_close(opts->kind == W2S_OPT_ADAM ? "Adam on a quadratic" : "SGD on a quadratic",
		     p, want, N, tol);
	w2s_optim_free(&o);
}

static void optimizers_converge_on_a_quadratic(void **state)
{
	struct w2s_optim_opts opts;
	w2s_optim_opts_default(&opts);
	/* Adam's steps stay near lr in size, so it needs the cosine to settle. */
	opts.lr = 0.05f;
	opts.schedule = W2S_SCHED_COSINE;
	opts.total_steps = 1000;
	minimize_quadratic(&opts, 1000, 1e-3);

	w2s_optim_opts_default(&opts);
	opts.kind = W2S_OPT_SGD;
	opts.lr = 0.05f;
	opts.momentum = 0.9f;
	minimize_quadratic(&opts, 500, 1e-5);
}

static void free_is_safe_on_zeroed_struct_and_twice(void **state)
{
	struct w2s_optim o;
	memset(&o, 0, sizeof(o));
	w2s_optim_free(&o);
	struct w2s_optim_opts opts;
	w2s_optim_opts_default(&opts);
	assert_int_equal(w2s_optim_init(&o, &opts, 5), 0);
	w2s_optim_free(&o);
	w2s_optim_free(&o);
	assert_null(o.m);
	assert_null(o.v);
	assert_int_equal(w2s_optim_init(&o, &opts, SIZE_MAX / 2), -1);
	assert_null(o.m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(adam_first_step_moves_each_param_by_lr_times_sign),
		cmocka_unit_test(adamw_decay_is_decoupled_from_the_moments),
		cmocka_unit_test(sgd_momentum_matches_hand_computation_over_three_steps),
		cmocka_unit_test(schedule_warms_up_linearly_then_follows_cosine),
		cmocka_unit_test(step_returns_the_scheduled_lr_and_counts),
		cmocka_unit_test(clip_scales_to_max_norm_and_returns_norm_before),
		cmocka_unit_test(grad_norm_does_not_overflow_where_float_squares_would),
		cmocka_unit_test(grad_norm_of_long_vectors_matches_a_long_double_sum),
		cmocka_unit_test(updates_of_long_buffers_match_the_scalar_formula_exactly),
		cmocka_unit_test(optimizers_converge_on_a_quadratic),
		cmocka_unit_test(free_is_safe_on_zeroed_struct_and_twice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

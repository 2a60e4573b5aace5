/*
 * test_cascade.c: the cascade's curve on one process: both ends exactly the
 * small and the large model, a small curve worked out by hand, the chooser's
 * pick against every point checked one by one, and the FLOP count of a
 * forward pass.  The sum over ranks is tested in tests/mpi_filter.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "w2s/cascade.h"
#include "w2s/common.h"
#include "w2s/loss.h"
#include "w2s/rng.h"

/* Fails, printing both numbers and their difference, unless |a - b| <= tol. */
static void expect_close(double a, double b, double tol, const char *what)
{
	double d = fabs(a - b);
	if (!(d <= tol)) {
		print_error("%s: got %.17g, want %.17g (difference %.3g > %.3g)\n", what, a, b, d,
			    tol);
		fail();
	}
}

/* Random probabilities p (n, C): the softmax of normal logits. */
static void random_probs(uint64_t seed, size_t n, size_t C, float *p)
{
	w2s_rng_normals(seed, 1, 0, p, n * C);
	for (size_t i = 0; i < n * C; i++)
		p[i] *= 2.0f;
	w2s_softmax(p, p, n, C);
}

static const struct w2s_cascade_opts costs = {
	.score = W2S_CASCADE_SCORE_MAXPROB,
	.flops_small = 1234.0, .flops_large = 98765.0,
	.seconds_small = 3.1e-7, .seconds_large = 7.7e-6,
};

static void ends_are_exactly_the_small_and_the_large_model(void **state)
{
	enum { N = 1000, C = 3 };
	static float small[N * C], large[N * C];
	static int32_t y[N];
	random_probs(1, N, C, small);
	random_probs(2, N, C, large);
	for (size_t i = 0; i < N; i++) {
		double u;
		w2s_rng_uniforms(3, 1, i, &u, 1);
		y[i] = (int32_t)(u * C);
	}
	/* Rows a float softmax can produce at the edges: a probability a hair
	 * above 1, and a row of NaNs; both must still follow the rule. */
	small[0] = 1.0000001f, small[1] = 0.0f, small[2] = 0.0f;
	small[3] = NAN, small[4] = NAN, small[5] = NAN;

	size_t right_small = w2s_count_correct(small, y, N, C);
	size_t right_large = w2s_count_correct(large, y, N, C);
	const double grid[] = {0.0, W2S_CASCADE_DEFER_ALL, 1.0 + 1e-12};
	for (int kind = 0; kind < 2; kind++) {
		struct w2s_cascade_opts o = costs;
		o.score = kind;
		struct w2s_cascade_curve cv;
		w2s_cascade_curve_init(&cv, grid, 3);
		w2s_cascade_curve_eval_local(&cv, small, large, y, N, C, &o);
		assert_int_equal(cv.n, N);
		assert_int_equal(cv.correct_small, right_small);
		assert_int_equal(cv.correct_large, right_large);

		const struct w2s_cascade_point *none = &cv.points[0];
		assert_int_equal(none->deferred, 0);
		assert_int_equal(none->correct, right_small);
		assert_true(none->defer_rate == 0.0);
		assert_true(none->accuracy == (double)right_small / N);
		assert_true(none->flops == o.flops_small);
		assert_true(none->seconds == o.seconds_small);

		for (int t = 1; t < 3; t++) {
			const struct w2s_cascade_point *all = &cv.points[t];
			assert_int_equal(all->deferred, N);
			assert_int_equal(all->correct, right_large);
			assert_true(all->defer_rate == 1.0);
			assert_true(all->accuracy == (double)right_large / N);
			assert_true(all->flops == o.flops_small + o.flops_large);
			assert_true(all->seconds == o.seconds_small + o.seconds_large);
		}
		w2s_cascade_curve_free(&cv);
		w2s_cascade_curve_free(&cv);
	}
}

/* Four queries, two classes.  Small model (score = max prob, margin):
 *   row 0: 0.90 right (margin 0.80)   large: wrong
 *   row 1: 0.60 wrong (0.20)          large: right
 *   row 2: 0.70 right (0.40)          large: right
 *   row 3: 0.55 right (0.10)          large: wrong
 * Max prob defers, as the threshold rises, row 3, then 1, then 2, then 0. */
static const float hand_small[] = {0.90f, 0.10f, 0.60f, 0.40f, 0.30f, 0.70f, 0.55f, 0.45f};
static const float hand_large[] = {0.20f, 0.80f, 0.10f, 0.90f, 0.05f, 0.95f, 0.40f, 0.60f};
static const int32_t hand_y[] = {0, 1, 1, 0};

static void hand_computed_curve_on_four_queries(void **state)
{
	const double grid[] = {0.0, 0.58, 0.65, 0.8, 1.0, W2S_CASCADE_DEFER_ALL};
	const int64_t want_deferred[] = {0, 1, 2, 3, 4, 4};
	const int64_t want_correct[] = {3, 2, 3, 3, 2, 2};
	struct w2s_cascade_opts o = {.score = W2S_CASCADE_SCORE_MAXPROB, .flops_small = 10,
				     .flops_large = 100, .seconds_small = 1e-3,
				     .seconds_large = 2e-2};
	struct w2s_cascade_curve cv;
	w2s_cascade_curve_init(&cv, grid, 6);
	w2s_cascade_curve_eval_local(&cv, hand_small, hand_large, hand_y, 4, 2, &o);
	assert_int_equal(cv.correct_small, 3);
	assert_int_equal(cv.correct_large, 2);
	expect_close(cv.acc_small, 0.75, 0, "small alone");
	expect_close(cv.acc_large, 0.5, 0, "large alone");
	for (int t = 0; t < 6; t++) {
		const struct w2s_cascade_point *p = &cv.points[t];
		double rate = want_deferred[t] / 4.0;
		assert_int_equal(p->deferred, want_deferred[t]);
		assert_int_equal(p->correct, want_correct[t]);
		expect_close(p->threshold, grid[t], 0, "threshold");
		expect_close(p->defer_rate, rate, 0, "defer rate");
		expect_close(p->accuracy, want_correct[t] / 4.0, 0, "accuracy");
		expect_close(p->flops, 10 + 100 * rate, 1e-12, "flops per query");
		expect_close(p->seconds, 1e-3 + 2e-2 * rate, 1e-15, "seconds per query");
		expect_close(p->flops_saving, 1 - (10 + 100 * rate) / 100, 1e-12, "flops saving");
		expect_close(p->seconds_saving, 1 - (1e-3 + 2e-2 * rate) / 2e-2, 1e-12,
			     "seconds saving");
	}

	/* By margin the order is the same here, at other thresholds: 0.1, 0.2,
	 * 0.4, 0.8. */
	const double mgrid[] = {0.15, 0.3, 0.5, 0.85};
	const int64_t mwant_deferred[] = {1, 2, 3, 4};
	w2s_cascade_curve_free(&cv);
	w2s_cascade_curve_init(&cv, mgrid, 4);
	o.score = W2S_CASCADE_SCORE_MARGIN;
	w2s_cascade_curve_eval_local(&cv, hand_small, hand_large, hand_y, 4, 2, &o);
	for (int t = 0; t < 4; t++) {
		assert_int_equal(cv.points[t].deferred, mwant_deferred[t]);
		assert_int_equal(cv.points[t].correct, want_correct[t + 1]);
	}
	w2s_cascade_curve_free(&cv);
}

static void scores_are_max_probability_or_margin_clamped_into_unit_interval(void **state)
{
	const float p[] = {0.2f, 0.5f, 0.3f, /* */ 1.0000001f, 0.0f, 0.0f, /* */ NAN, NAN, NAN};
	double s[3];
	w2s_cascade_scores(p, 3, 3, W2S_CASCADE_SCORE_MAXPROB, s);
	expect_close(s[0], 0.5, 0, "max prob");
	expect_close(s[1], 1.0, 0, "max prob above 1, clamped");
	expect_close(s[2], 0.0, 0, "NaN row");
	w2s_cascade_scores(p, 3, 3, W2S_CASCADE_SCORE_MARGIN, s);
	expect_close(s[0], (double)0.5f - (double)0.3f, 0, "margin");
	expect_close(s[1], 1.0, 0, "margin above 1, clamped");
	expect_close(s[2], 0.0, 0, "NaN row");
}

/* A curve filled by hand: the chooser reads only these fields. */
static void fill_points(struct w2s_cascade_curve *cv, const double *thr, const int64_t *deferred,
			const double *acc, size_t T, double acc_large)
{
	w2s_cascade_curve_init(cv, thr, T);
	cv->acc_large = acc_large;
	for (size_t t = 0; t < T; t++) {
		cv->points[t].deferred = deferred[t];
		cv->points[t].accuracy = acc[t];
	}
}

static void chooser_picks_the_cheapest_threshold_within_tolerance(void **state)
{
	/* Given out of order, with two thresholds deferring the same 50. */
	const double thr[] = {0.8, 0.0, 0.4, 0.65, W2S_CASCADE_DEFER_ALL, 0.2, 0.6};
	const int64_t deferred[] = {70, 0, 30, 50, 100, 10, 50};
	const double acc[] = {0.900, 0.700, 0.890, 0.905, 0.900, 0.850, 0.905};
	struct w2s_cascade_curve cv;
	fill_points(&cv, thr, deferred, acc, 7, 0.9);
	size_t i = 99;
	assert_int_equal(w2s_cascade_choose(&cv, 0.015, &i), 0);
	expect_close(cv.points[i].threshold, 0.4, 0, "tolerance 0.015");
	assert_int_equal(w2s_cascade_choose(&cv, 0.0, &i), 0);
	expect_close(cv.points[i].threshold, 0.6, 0, "tolerance 0, tie of 50 deferred");
	assert_int_equal(w2s_cascade_choose(&cv, 0.06, &i), 0);
	expect_close(cv.points[i].threshold, 0.2, 0, "tolerance 0.06");
	assert_int_equal(w2s_cascade_choose(&cv, 0.25, &i), 0);
	expect_close(cv.points[i].threshold, 0.0, 0, "tolerance 0.25");
	w2s_cascade_curve_free(&cv);

	/* Without the defer-all end nothing need qualify. */
	const double thr2[] = {0.0, 0.5};
	const int64_t deferred2[] = {0, 5};
	const double acc2[] = {0.7, 0.8};
	fill_points(&cv, thr2, deferred2, acc2, 2, 0.9);
	i = 99;
	assert_int_equal(w2s_cascade_choose(&cv, 0.05, &i), -1);
	assert_int_equal(i, 99);
	w2s_cascade_curve_free(&cv);
}

/* On a real curve the chooser's point qualifies and no qualifying point is
 * cheaper, checked against every point. */
static void chosen_point_is_no_dearer_than_any_qualifying_point(void **state)
{
	enum { N = 2000, C = 4, T = 41 };
	static float small[N * C], large[N * C];
	static int32_t y[N];
	random_probs(7, N, C, small);
	/* The large model: the small one's logits sharpened toward the label. */
	for (size_t i = 0; i < N; i++) {
		double u;
		w2s_rng_uniforms(8, 1, i, &u, 1);
		y[i] = u < 0.6 ? (int32_t)(i % C) : (int32_t)((i + 1) % C);
		for (size_t c = 0; c < C; c++)
			large[i * C + c] = (c == i % C) ? 0.7f : 0.1f;
	}
	double grid[T];
	w2s_cascade_grid(grid, T);
	assert_true(grid[0] == 0.0 && grid[T - 1] == W2S_CASCADE_DEFER_ALL);
	struct w2s_cascade_curve cv;
	w2s_cascade_curve_init(&cv, grid, T);
	w2s_cascade_curve_eval_local(&cv, small, large, y, N, C, &costs);
	const double tols[] = {0.0, 0.005, 0.02, 0.1, 0.5};
	for (size_t k = 0; k < 5; k++) {
		size_t i;
		assert_int_equal(w2s_cascade_choose(&cv, tols[k], &i), 0);
		const struct w2s_cascade_point *p = &cv.points[i];
		assert_true(p->accuracy >= cv.acc_large - tols[k]);
		for (size_t t = 0; t < T; t++) {
			const struct w2s_cascade_point *q = &cv.points[t];
			if (q->accuracy >= cv.acc_large - tols[k] && q->flops < p->flops) {
				print_error("tolerance %g: threshold %g costs %g < chosen %g at %g\n",
					    tols[k], q->threshold, q->flops, p->flops,
					    p->threshold);
				fail();
			}
		}
		expect_close(p->flops_saving, 1.0 - p->flops / costs.flops_large, 0, "saving");
	}
	w2s_cascade_curve_free(&cv);
}

static void grid_holds_both_ends_and_even_steps(void **state)
{
	double g[5];
	w2s_cascade_grid(g, 5);
	const double want[] = {0.0, 0.25, 0.5, 0.75, W2S_CASCADE_DEFER_ALL};
	for (int t = 0; t < 5; t++)
		expect_close(g[t], want[t], 0, "grid");
	w2s_cascade_grid(g, 2);
	expect_close(g[0], 0.0, 0, "grid of two");
	expect_close(g[1], W2S_CASCADE_DEFER_ALL, 0, "grid of two");
}

static void forward_flops_count_products_biases_and_activations(void **state)
{
	struct w2s_mlp_shape linear = {.nlayers = 1, .width = {10, 2}};
	expect_close(w2s_cascade_forward_flops(&linear), 2 * 10 * 2 + 2, 0, "linear");
	struct w2s_mlp_shape mlp = {.nlayers = 3, .width = {10, 32, 16, 3}, .act = W2S_ACT_GELU};
	double want = (2 * 10 * 32 + 32 + 32) + (2 * 32 * 16 + 16 + 16) + (2 * 16 * 3 + 3);
	expect_close(w2s_cascade_forward_flops(&mlp), want, 0, "two hidden layers");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ends_are_exactly_the_small_and_the_large_model),
		cmocka_unit_test(hand_computed_curve_on_four_queries),
		cmocka_unit_test(scores_are_max_probability_or_margin_clamped_into_unit_interval),
		cmocka_unit_test(chooser_picks_the_cheapest_threshold_within_tolerance),
		cmocka_unit_test(chosen_point_is_no_dearer_than_any_qualifying_point),
		cmocka_unit_test(grid_holds_both_ends_and_even_steps),
		cmocka_unit_test(forward_flops_count_products_biases_and_activations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_filter.c: filters of the transfer split and selection from a pool,
 * on one process: fraction 1 changes nothing, the confidence filter keeps
 * the most confident rows, the kNN filter finds flipped labels between two
 * clusters and counts neighbours as a brute-force search in double does,
 * the report's counts, the loss bands and the seeded random selection.
 * kNN runs on MPI_COMM_SELF here; tests/mpi_filter.c checks it on 1-3 ranks.
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

#include "w2s/blas.h"
#include "w2s/comm.h"
#include "w2s/common.h"
#include "w2s/filter.h"
#include "w2s/loss.h"
#include "w2s/rng.h"

static struct w2s_comm self;

/* Fails, naming the rows, unless the mask keeps exactly the listed rows. */
static void expect_kept(const uint8_t *kept, int64_t N, const int64_t *want, int64_t nwant,
			const char *what)
{
	uint8_t *w = w2s_xcalloc((size_t)N, 1);
	for (int64_t i = 0; i < nwant; i++)
		w[want[i]] = 1;
	int64_t wrong = 0;
	for (int64_t i = 0; i < N; i++) {
		if ((kept[i] != 0) != w[i]) {
			if (wrong < 10)
				print_error("%s: row %lld kept %d, want %d\n", what, (long long)i,
					    kept[i], w[i]);
			wrong++;
		}
	}
	free(w);
	if (wrong) {
		print_error("%s: %lld rows differ\n", what, (long long)wrong);
		fail();
	}
}

static void expect_all_kept_in_order(const uint8_t *kept, int64_t N, const char *what)
{
	int64_t *rows = w2s_xmalloc((size_t)N * sizeof *rows);
	int64_t n = w2s_filter_rows(kept, N, rows);
	if (n != N) {
		print_error("%s: kept %lld of %lld rows\n", what, (long long)n, (long long)N);
		fail();
	}
	for (int64_t i = 0; i < N; i++)
		assert_int_equal(rows[i], i);
	free(rows);
}

static void random_probs(uint64_t seed, int64_t N, size_t C, float *p)
{
	w2s_rng_normals(seed, 1, 0, p, (size_t)N * C);
	w2s_softmax(p, p, (size_t)N, C);
}

static void keep_count_rounds_halves_up_and_keeps_all_at_one(void **state)
{
	assert_int_equal(w2s_filter_keep_count(10, 0.25), 3); /* 2.5 */
	assert_int_equal(w2s_filter_keep_count(10, 0.24), 2);
	assert_int_equal(w2s_filter_keep_count(10, 0.0), 0);
	assert_int_equal(w2s_filter_keep_count(10, 1.0), 10);
	assert_int_equal(w2s_filter_keep_count(0, 0.5), 0);
	assert_int_equal(w2s_filter_keep_count(123456789, 1.0), 123456789);
}

static void fraction_one_keeps_every_row_in_order(void **state)
{
	enum { N = 257, C = 3, D = 5 };
	static float p[N * C], x[N * D], loss[N];
	static int32_t weak[N];
	static uint8_t kept[N];
	random_probs(1, N, C, p);
	w2s_rng_normals(2, 1, 0, x, N * D);
	w2s_rng_normals(3, 1, 0, loss, N);
	w2s_argmax_rows(p, weak, N, C);

	w2s_filter_confidence(p, N, C, 1.0, kept);
	expect_all_kept_in_order(kept, N, "confidence");

	struct w2s_filter_knn_opts ko = {.k = 5, .keep = 1.0, .block = 64};
	memset(kept, 0, N);
	w2s_filter_knn(&self, x, N, D, weak, &ko, kept, NULL);
	expect_all_kept_in_order(kept, N, "knn");
	static float disagree[N];
	memset(kept, 0, N);
	w2s_filter_knn(&self, x, N, D, weak, &ko, kept, disagree);
	expect_all_kept_in_order(kept, N, "knn with scores");

	for (int b = W2S_FILTER_BAND_LOW; b <= W2S_FILTER_BAND_RANDOM; b++) {
		struct w2s_filter_select_opts so = {.band = b, .fraction = 1.0, .seed = 9,
						    .stream = 1};
		memset(kept, 0, N);
		w2s_filter_select(loss, N, &so, kept);
		expect_all_kept_in_order(kept, N, w2s_filter_band_name(b));
	}
}

static void confidence_keeps_the_most_confident_rows_ties_to_earlier_rows(void **state)
{
	/* Max probabilities 0.6, 0.9, 0.6, 0.8, NaN, 0.6. */
	const float p[] = {0.6f, 0.4f, 0.1f, 0.9f, 0.4f, 0.6f,
			   0.2f, 0.8f, NAN,  0.5f, 0.6f, 0.4f};
	uint8_t kept[6];
	const int64_t want3[] = {1, 3, 0};
	w2s_filter_confidence(p, 6, 2, 0.5, kept);
	expect_kept(kept, 6, want3, 3, "half");
	const int64_t want5[] = {1, 3, 0, 2, 5};
	w2s_filter_confidence(p, 6, 2, 5.0 / 6.0, kept);
	expect_kept(kept, 6, want5, 5, "five of six: the NaN row goes");
	w2s_filter_confidence(p, 6, 2, 0.0, kept);
	expect_kept(kept, 6, NULL, 0, "none");

	/* On random rows: the right count, and no dropped row more confident
	 * than a kept one. */
	enum { N = 1000, C = 4 };
	static float q[N * C];
	static uint8_t k2[N];
	random_probs(5, N, C, q);
	w2s_filter_confidence(q, N, C, 0.3, k2);
	double lo_kept = INFINITY, hi_dropped = -INFINITY;
	int64_t n = 0;
	for (int64_t i = 0; i < N; i++) {
		double m = 0;
		for (int c = 0; c < C; c++)
			m = q[i * C + c] > m ? q[i * C + c] : m;
		if (k2[i]) {
			n++;
			lo_kept = m < lo_kept ? m : lo_kept;
		} else {
			hi_dropped = m > hi_dropped ? m : hi_dropped;
		}
	}
	assert_int_equal(n, 300);
	if (!(lo_kept >= hi_dropped)) {
		print_error("least confident kept %.9g < most confident dropped %.9g\n", lo_kept,
			    hi_dropped);
		fail();
	}
}

/* Two clusters far apart in D = 6, weak label = cluster, except a few rows
 * whose weak label is flipped.  Each flipped row's neighbours all carry the
 * other label, so dropping as many rows as were flipped drops exactly them. */
static void knn_on_two_clusters_removes_exactly_the_flipped_labels(void **state)
{
	enum { N = 400, D = 6, K = 7 };
	static float x[N * D];
	static int32_t truth[N], weak[N];
	static uint8_t kept[N];
	static float disagree[N];
	const int64_t flipped[] = {3, 77, 150, 201, 288, 399};
	const int64_t nflip = 6;
	w2s_rng_normals(11, 1, 0, x, N * D);
	for (int64_t i = 0; i < N; i++) {
		truth[i] = (int32_t)(i % 2);
		for (int j = 0; j < D; j++)
			x[i * D + j] = 0.5f * x[i * D + j] + (truth[i] ? 5.0f : -5.0f);
		weak[i] = truth[i];
	}
	for (int64_t f = 0; f < nflip; f++)
		weak[flipped[f]] = 1 - weak[flipped[f]];

	/* Blocks of 64 rows: several, the last one ragged (400 = 6 * 64 + 16). */
	struct w2s_filter_knn_opts o = {.k = K, .keep = 1.0 - (double)nflip / N, .block = 64};
	w2s_filter_knn(&self, x, N, D, weak, &o, kept, disagree);
	int64_t kept_rows[N];
	int64_t want[N], nwant = 0;
	for (int64_t i = 0, f = 0; i < N; i++) {
		if (f < nflip && flipped[f] == i)
			f++;
		else
			want[nwant++] = i;
	}
	expect_kept(kept, N, want, nwant, "kept");
	assert_int_equal(w2s_filter_rows(kept, N, kept_rows), N - nflip);
	for (int64_t f = 0; f < nflip; f++)
		assert_true(disagree[flipped[f]] >= (K - 2) / (float)K);

	struct w2s_filter_report r;
	w2s_filter_report(kept, weak, truth, N, &r);
	assert_int_equal(r.rows, N);
	assert_int_equal(r.kept, N - nflip);
	assert_int_equal(r.removed, nflip);
	assert_int_equal(r.errors, nflip);
	assert_int_equal(r.errors_removed, nflip);
	assert_int_equal(r.errors_kept, 0);
	assert_true(r.precision == 1.0 && r.recall == 1.0);
	assert_true(r.error_before == (double)nflip / N && r.error_after == 0.0);
}

/* The neighbour counts against a search in double over every pair, on
 * random rows where the k-th and the next neighbour of every row are far
 * enough apart (relative gap > 1e-5, asserted) that float rounding of the
 * distances, about 1e-6 relative here, cannot swap them. */
static void knn_disagreement_matches_brute_force_in_double(void **state)
{
	enum { N = 300, D = 8, K = 5, C = 3 };
	static float x[N * D], disagree[N];
	static int32_t weak[N];
	static uint8_t kept[N];
	w2s_rng_normals(21, 1, 0, x, N * D);
	for (int64_t i = 0; i < N; i++)
		weak[i] = (int32_t)((i * 7) % C);
	struct w2s_filter_knn_opts o = {.k = K, .keep = 0.8, .block = 64};
	w2s_filter_knn(&self, x, N, D, weak, &o, kept, disagree);

	static double d[N];
	double worst = 0, smallest_gap = INFINITY;
	for (int64_t i = 0; i < N; i++) {
		for (int64_t j = 0; j < N; j++) {
			double s = 0;
			for (int t = 0; t < D; t++) {
				double v = (double)x[i * D + t] - x[j * D + t];
				s += v * v;
			}
			d[j] = j == i ? INFINITY : s;
		}
		int n = 0;
		double kth = 0;
		for (int m = 0; m < K; m++) { /* selection of the K nearest */
			int64_t best = -1;
			for (int64_t j = 0; j < N; j++)
				if (d[j] < INFINITY && (best < 0 || d[j] < d[best]))
					best = j;
			n += weak[best] != weak[i];
			kth = d[best];
			d[best] = INFINITY;
		}
		double next = INFINITY;
		for (int64_t j = 0; j < N; j++)
			next = d[j] < next ? d[j] : next;
		smallest_gap = (next - kth) / kth < smallest_gap ? (next - kth) / kth : smallest_gap;
		double diff = fabs(disagree[i] - (double)n / K);
		worst = diff > worst ? diff : worst;
	}
	if (!(smallest_gap > 1e-5)) {
		print_error("the data has a near-tie: relative gap %.3g\n", smallest_gap);
		fail();
	}
	if (!(worst <= 1e-7)) {
		print_error("largest disagreement difference %.3g (smallest relative gap between "
			    "k-th and next neighbour %.3g)\n",
			    worst, smallest_gap);
		fail();
	}
	/* The kept rows: 240 of least disagreement. */
	int64_t n = 0;
	float lo_dropped = INFINITY, hi_kept = -INFINITY;
	for (int64_t i = 0; i < N; i++) {
		n += kept[i];
		if (kept[i])
			hi_kept = disagree[i] > hi_kept ? disagree[i] : hi_kept;
		else
			lo_dropped = disagree[i] < lo_dropped ? disagree[i] : lo_dropped;
	}
	assert_int_equal(n, 240);
	assert_true(hi_kept <= lo_dropped);
}

static void knn_with_fewer_rows_than_neighbours_uses_every_other_row(void **state)
{
	const float x[] = {0, 0, 1, 0, 0, 1};
	const int32_t weak[] = {0, 1, 1};
	float disagree[3];
	uint8_t kept[3];
	struct w2s_filter_knn_opts o = {.k = 10, .keep = 2.0 / 3.0};
	w2s_filter_knn(&self, x, 3, 2, weak, &o, kept, disagree);
	/* Row 0's two neighbours both differ; rows 1 and 2 differ in one of two. */
	assert_true(disagree[0] == 1.0f && disagree[1] == 0.5f && disagree[2] == 0.5f);
	const int64_t want[] = {1, 2};
	expect_kept(kept, 3, want, 2, "three rows");
}

static void report_counts_errors_removed_and_kept(void **state)
{
	const uint8_t kept[] = {1, 0, 1, 0, 1, 1, 0, 1};
	const int32_t weak[] = {0, 1, 1, 0, 2, 2, 1, 0};
	const int32_t truth[] = {0, 0, 1, 0, 1, 2, 0, 0};
	/* Errors at rows 1, 4, 6; removed rows 1, 3, 6. */
	struct w2s_filter_report r;
	w2s_filter_report(kept, weak, truth, 8, &r);
	assert_int_equal(r.kept, 5);
	assert_int_equal(r.removed, 3);
	assert_int_equal(r.errors, 3);
	assert_int_equal(r.errors_removed, 2);
	assert_int_equal(r.errors_kept, 1);
	assert_true(r.precision == 2.0 / 3.0);
	assert_true(r.recall == 2.0 / 3.0);
	assert_true(r.error_before == 3.0 / 8.0);
	assert_true(r.error_after == 1.0 / 5.0);

	const uint8_t all[] = {1, 1, 1};
	w2s_filter_report(all, weak, truth, 3, &r);
	assert_true(isnan(r.precision) && r.removed == 0 && r.error_after == 1.0 / 3.0);
}

static void selection_bands_keep_low_middle_and_high_losses(void **state)
{
	/* Ascending: rows 7 1 5 3 9 0 8 4 6 2 (losses 0..9). */
	const float loss[] = {5, 1, 9, 3, 7, 2, 8, 0, 6, 4};
	uint8_t kept[10];
	struct w2s_filter_select_opts o = {.fraction = 0.3};
	const int64_t low[] = {7, 1, 5}, mid[] = {3, 9, 0}, high[] = {4, 6, 2};
	o.band = W2S_FILTER_BAND_LOW;
	w2s_filter_select(loss, 10, &o, kept);
	expect_kept(kept, 10, low, 3, "low");
	o.band = W2S_FILTER_BAND_MIDDLE;
	w2s_filter_select(loss, 10, &o, kept);
	expect_kept(kept, 10, mid, 3, "middle");
	o.band = W2S_FILTER_BAND_HIGH;
	w2s_filter_select(loss, 10, &o, kept);
	expect_kept(kept, 10, high, 3, "high");

	/* Ties go by row (rows 1 and 2 tie at the edge of the low band), and a
	 * NaN loss is the highest. */
	const float tied[] = {3, 1, 1, 0, NAN};
	const int64_t low2[] = {3, 1}, high1[] = {4};
	o.band = W2S_FILTER_BAND_LOW;
	o.fraction = 0.4;
	w2s_filter_select(tied, 5, &o, kept);
	expect_kept(kept, 5, low2, 2, "low with a tie");
	o.band = W2S_FILTER_BAND_HIGH;
	o.fraction = 0.2;
	w2s_filter_select(tied, 5, &o, kept);
	expect_kept(kept, 5, high1, 1, "high with a NaN");
}

static void random_selection_is_the_same_for_the_same_seed(void **state)
{
	enum { N = 1000 };
	static uint8_t a[N], b[N], c[N];
	struct w2s_filter_select_opts o = {.band = W2S_FILTER_BAND_RANDOM, .fraction = 0.25,
					   .seed = 17, .stream = 3};
	w2s_filter_select(NULL, N, &o, a);
	w2s_filter_select(NULL, N, &o, b);
	assert_memory_equal(a, b, N);
	int64_t n = 0;
	for (int i = 0; i < N; i++)
		n += a[i];
	assert_int_equal(n, 250);
	o.seed = 18;
	w2s_filter_select(NULL, N, &o, c);
	assert_memory_not_equal(a, c, N);
	o.fraction = 0.0;
	w2s_filter_select(NULL, N, &o, c);
	for (int i = 0; i < N; i++)
		assert_int_equal(c[i], 0);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	w2s_comm_init(&self, MPI_COMM_SELF);
	w2s_blas_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keep_count_rounds_halves_up_and_keeps_all_at_one),
		cmocka_unit_test(fraction_one_keeps_every_row_in_order),
		cmocka_unit_test(confidence_keeps_the_most_confident_rows_ties_to_earlier_rows),
		cmocka_unit_test(knn_on_two_clusters_removes_exactly_the_flipped_labels),
		cmocka_unit_test(knn_disagreement_matches_brute_force_in_double),
		cmocka_unit_test(knn_with_fewer_rows_than_neighbours_uses_every_other_row),
		cmocka_unit_test(report_counts_errors_removed_and_kept),
		cmocka_unit_test(selection_bands_keep_low_middle_and_high_losses),
		cmocka_unit_test(random_selection_is_the_same_for_the_same_seed),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	w2s_comm_free(&self);
	MPI_Finalize();
	return failed;
}

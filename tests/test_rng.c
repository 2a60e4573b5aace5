/*
 * test_rng.c: the counter-based streams give the distributions they claim
 * and the same numbers for the same (seed, stream, index), whoever asks and
 * however many rows they ask for at once.
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

#include "w2s/rng.h"

static void normals_have_mean_zero_and_variance_one(void **state)
{
	enum { N = 200000 };
	float *z = malloc(N * sizeof *z);
	double sum = 0, sq = 0;
	for (int i = 0; i < N / 100; i++)
		w2s_rng_normals(7, W2S_STREAM_LATENT_Z, (uint64_t)i, z + i * 100, 100);
	for (int i = 0; i < N; i++) {
		sum += z[i];
		sq += (double)z[i] * z[i];
	}
	double mean = sum / N, var = sq / N - mean * mean;
	/* Standard errors: 1/sqrt(N) ~ 0.0022 for the mean, sqrt(2/N) ~ 0.0032
	 * for the variance; 5 of them. */
	printf("mean %.5f variance %.5f\n", mean, var);
	assert_true(fabs(mean) < 0.011);
	assert_true(fabs(var - 1.0) < 0.016);
	free(z);
}

/* The float transform against Box-Muller computed in double from the same
 * Philox words: the radius from u = (w0 / 2 + 1/2) / 2^31 (w0 / 2 rounded to
 * float, as the generator takes it), the angle 2 pi w1 / 2^32.  Float
 * rounding alone differs, a few ulps of |z| <= 6.7. */
static void normals_are_box_muller_of_the_philox_words(void **state)
{
	enum { N = 1 << 18 };
	float *z = malloc(N * sizeof *z);
	w2s_rng_normals(5, 3, 17, z, N);
	double worst = 0;
	for (size_t j = 0; j < N; j += 4) {
		uint32_t w[4];
		w2s_rng_u32x4(5, 3, 17, (uint32_t)(j / 4), w);
		for (int p = 0; p < 2; p++) {
			float x = (float)(int32_t)(w[2 * p] >> 1) + 0.5f;
			double r = sqrt(-2.0 * log((double)x / 2147483648.0));
			double t = 6.283185307179586 * ((double)w[2 * p + 1] / 4294967296.0);
			worst = fmax(worst, fabs(z[j + 2 * p] - r * cos(t)));
			worst = fmax(worst, fabs(z[j + 2 * p + 1] - r * sin(t)));
		}
	}
	printf("largest difference from Box-Muller in double: %.3g\n", worst);
	assert_true(worst < 2e-6);
	free(z);
}

/* The tails: P(|z| > 3) = 0.0026998, and nothing beyond the largest radius
 * 31 bits give, sqrt(2 ln 2^32). */
static void normals_have_gaussian_tails(void **state)
{
	enum { N = 1 << 21 };
	float *z = malloc(N * sizeof *z);
	w2s_rng_normals_rows(11, W2S_STREAM_LATENT_U, 0, N / 32, 32, z, 32);
	int64_t beyond3 = 0;
	double largest = 0;
	for (int i = 0; i < N; i++) {
		beyond3 += fabs(z[i]) > 3;
		largest = fmax(largest, fabs(z[i]));
	}
	double p = (double)beyond3 / N, se = sqrt(0.0027 / N);
	printf("P(|z| > 3) = %.6f (expected 0.002700 +- %.6f), largest |z| %.3f\n", p, se, largest);
	assert_true(fabs(p - 0.0026998) < 5 * se);
	assert_true(largest <= sqrt(2 * 32 * log(2.0)) + 1e-4);
	free(z);
}

/* Rows at once are the rows one by one, bit for bit: short and long rows,
 * rows cut inside a block of 4, a row stride wider than the row, counts
 * that do not fill the last vector, and indices whose high word changes. */
static void rows_at_once_are_the_rows_one_by_one(void **state)
{
	const size_t widths[] = {1, 3, 4, 7, 16, 33};
	const size_t counts[] = {1, 5, 64, 101};
	const uint64_t starts[] = {0, 12345, (UINT64_C(1) << 32) - 50};
	float got[101 * 40], want[40];
	for (size_t a = 0; a < sizeof widths / sizeof *widths; a++)
		for (size_t b = 0; b < sizeof counts / sizeof *counts; b++)
			for (size_t c = 0; c < sizeof starts / sizeof *starts; c++)
				for (size_t extra = 0; extra < 2; extra++) {
					size_t n = widths[a], rows = counts[b], ld = n + 3 * extra;
					memset(got, 0, sizeof got);
					w2s_rng_normals_rows(8, 2, starts[c], rows, n, got, ld);
					for (size_t r = 0; r < rows; r++) {
						w2s_rng_normals(8, 2, starts[c] + r, want, n);
						assert_memory_equal(got + r * ld, want, n * sizeof(float));
						for (size_t j = n; j < ld; j++)
							assert_true(got[r * ld + j] == 0.0f); /* untouched */
					}
				}
}

static void a_shorter_draw_is_a_prefix_of_a_longer_one(void **state)
{
	float a[13], b[5];
	w2s_rng_normals(3, 9, 42, a, 13);
	w2s_rng_normals(3, 9, 42, b, 5);
	assert_memory_equal(a, b, sizeof b);
}

static void seeds_streams_and_indices_give_different_numbers(void **state)
{
	float base[4], other[4];
	w2s_rng_normals(1, 1, 1, base, 4);
	w2s_rng_normals(2, 1, 1, other, 4);
	assert_memory_not_equal(base, other, sizeof base);
	w2s_rng_normals(1, 2, 1, other, 4);
	assert_memory_not_equal(base, other, sizeof base);
	w2s_rng_normals(1, 1, 2, other, 4);
	assert_memory_not_equal(base, other, sizeof base);
	/* The high half of a 64-bit index counts too. */
	w2s_rng_normals(1, 1, 1 + (UINT64_C(1) << 32), other, 4);
	assert_memory_not_equal(base, other, sizeof base);
}

static void uniforms_are_inside_the_open_unit_interval_with_mean_one_half(void **state)
{
	enum { N = 100000 };
	double u[10], sum = 0;
	for (int i = 0; i < N / 10; i++) {
		w2s_rng_uniforms(5, 0, (uint64_t)i, u, 10);
		for (int k = 0; k < 10; k++) {
			assert_true(u[k] > 0.0 && u[k] < 1.0);
			sum += u[k];
		}
	}
	printf("mean %.5f\n", sum / N);
	assert_true(fabs(sum / N - 0.5) < 0.005);
}

static void permutation_holds_every_index_once_and_repeats_for_the_same_key(void **state)
{
	enum { N = 1001 };
	int64_t p[N], q[N];
	int seen[N] = {0};
	w2s_rng_permutation(11, 3, 0, p, N);
	for (int i = 0; i < N; i++) {
		assert_true(p[i] >= 0 && p[i] < N);
		seen[p[i]]++;
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	w2s_rng_permutation(11, 3, 0, q, N);
	assert_memory_equal(p, q, sizeof p);
	w2s_rng_permutation(11, 3, 1, q, N);
	assert_memory_not_equal(p, q, sizeof p);
}

static void permutation_puts_each_item_first_about_equally_often(void **state)
{
	enum { N = 5, TRIALS = 50000 };
	int first[N] = {0};
	int64_t p[N];
	for (int t = 0; t < TRIALS; t++) {
		w2s_rng_permutation(1, 1, (uint64_t)t, p, N);
		first[p[0]]++;
	}
	for (int i = 0; i < N; i++) {
		double f = (double)first[i] / TRIALS;
		printf("item %d first %.4f\n", i, f);
		assert_true(fabs(f - 0.2) < 0.01);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normals_have_mean_zero_and_variance_one),
		cmocka_unit_test(normals_are_box_muller_of_the_philox_words),
		cmocka_unit_test(normals_have_gaussian_tails),
		cmocka_unit_test(rows_at_once_are_the_rows_one_by_one),
		cmocka_unit_test(a_shorter_draw_is_a_prefix_of_a_longer_one),
		cmocka_unit_test(seeds_streams_and_indices_give_different_numbers),
		cmocka_unit_test(uniforms_are_inside_the_open_unit_interval_with_mean_one_half),
		cmocka_unit_test(permutation_holds_every_index_once_and_repeats_for_the_same_key),
		cmocka_unit_test(permutation_puts_each_item_first_about_equally_often),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

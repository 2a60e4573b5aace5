/*
 * test_rng.c: the counter-based streams give the distributions they claim
 * and the same numbers for the same (seed, stream, index), whoever asks.
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
		cmocka_unit_test(a_shorter_draw_is_a_prefix_of_a_longer_one),
		cmocka_unit_test(seeds_streams_and_indices_give_different_numbers),
		cmocka_unit_test(uniforms_are_inside_the_open_unit_interval_with_mean_one_half),
		cmocka_unit_test(permutation_holds_every_index_once_and_repeats_for_the_same_key),
		cmocka_unit_test(permutation_puts_each_item_first_about_equally_often),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

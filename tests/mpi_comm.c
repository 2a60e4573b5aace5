/*
 * mpi_comm.c: w2s_comm_sum_floats under mpirun, on any number of ranks
 * (tests/mpi_unit.sh runs 1 to 4):
 * - small integers, whose float sums are exact in any order, sum to exactly
 *   the expected values for sizes 0, 1, below the rank count, odd, not a
 *   multiple of it and spread over many messages, both through the ring
 *   (forced with tiny chunks) and with the default settings;
 * - random floats, whose sums round: every rank ends with the same bytes,
 *   a second run gives the same bytes again, the ring adds in the order its
 *   header promises, and the result is close to a sum in double.
 * Every rank reaches every assertion alike (the verdict is agreed first),
 * so a failure cannot leave a rank waiting in a collective.
 */
#include <stdarg.h>
#include <stdbool.h>
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
#include "w2s/common.h"
#include "w2s/rng.h"

static struct w2s_comm world;
static size_t default_chunk, default_min; /* what w2s_comm_init chose */

/* True on every rank if ok is true on every rank. */
static int all_ok(int ok)
{
	int all = 0;
	MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, world.comm);
	return all;
}

/* Rank r's value at i: an integer of at most 400 in size, so that any sum
 * over 4 ranks, in any order, is exact in float. */
static float exact_value(int r, size_t i)
{
	return (float)(((int)((i * 31 + (size_t)r * 17) % 201) - 100) * (r + 1));
}

/* Rank r's int64 at i: large (near 2^52), so that a lost carry or a
 * float in the path shows. */
static int64_t int64_value(int r, size_t i)
{
	return ((int64_t)((i * 2654435761u + (size_t)r * 40503u) % 1000003) - 500001) *
	       (INT64_C(1) << 32) + (int64_t)i * (r + 1);
}

/* Sums buf (n) of exact values, floats or (int64) the exact reduction's
 * integers, with the given ring settings and compares with the exact sum;
 * prints the first wrong element on failure. */
static int sum_is_exact_of(size_t n, size_t chunk, size_t ring_min, bool int64)
{
	float *f = NULL;    /* (n) */
	int64_t *q = NULL;  /* (n) */
	if (int64)
		q = n ? w2s_xmalloc(n * sizeof *q) : NULL;
	else
		f = n ? w2s_xmalloc(n * sizeof *f) : NULL;
	for (size_t i = 0; i < n; i++) {
		if (int64)
			q[i] = int64_value(world.rank, i);
		else
			f[i] = exact_value(world.rank, i);
	}
	world.ring_chunk = chunk;
	world.ring_min = ring_min;
	if (int64)
		w2s_comm_sum_int64(&world, q, n);
	else
		w2s_comm_sum_floats(&world, f, n);
	int ok = 1;
	for (size_t i = 0; i < n && ok; i++) {
		float want = 0;
		int64_t wantq = 0;
		for (int r = 0; r < world.size; r++) {
			want += exact_value(r, i);
			wantq += int64_value(r, i);
		}
		if (int64 ? q[i] != wantq : f[i] != want) {
			printf("rank %d: %s n %zu chunk %zu min %zu: element %zu is %.17g, not %.17g\n",
			       world.rank, int64 ? "int64" : "float", n, chunk, ring_min, i,
			       int64 ? (double)q[i] : f[i], int64 ? (double)wantq : want);
			ok = 0;
		}
	}
	ok = all_ok(ok && w2s_comm_same_bytes(&world, int64 ? (void *)q : (void *)f,
					      n * (int64 ? sizeof *q : sizeof *f)));
	free(f);
	free(q);
	return ok;
}

static int sum_is_exact(size_t n, size_t chunk, size_t ring_min)
{
	return sum_is_exact_of(n, chunk, ring_min, false);
}

static void restore_defaults(void)
{
	world.ring_chunk = default_chunk;
	world.ring_min = default_min;
}

static void ring_sums_exactly_for_every_size_and_chunk(void **state)
{
	const size_t p = (size_t)world.size;
	const size_t sizes[] = {0, 1, 2, 3, p - 1, p, p + 1, 2 * p + 1, 17, 100, 1001, 4099};
	const size_t chunks[] = {1, 3, 7, 64, W2S_COMM_RING_CHUNK};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
		for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
			assert_true(sum_is_exact(sizes[k], chunks[c], 0));
	restore_defaults();
}

static void small_sums_exact_with_the_default_settings(void **state)
{
	const size_t sizes[] = {0, 1, 2, 3, 5, 4099};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
		assert_true(sum_is_exact(sizes[k], default_chunk, default_min));
	restore_defaults();
}

/* Large: each rank's segment spans several of the default messages, and
 * the sizes are neither multiples of the rank count nor of the chunk. */
static void large_sums_exact_over_many_messages(void **state)
{
	const size_t p = (size_t)world.size;
	const size_t sizes[] = {3 * W2S_COMM_RING_CHUNK * p + 12345, 1000003};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		assert_true(sum_is_exact(sizes[k], default_chunk, default_min));
		assert_true(sum_is_exact(sizes[k], 1000, 0));
	}
	restore_defaults();
}

static void int64_sums_exact_through_the_ring(void **state)
{
	const size_t p = (size_t)world.size;
	const size_t sizes[] = {0, 1, p, 2 * p + 1, 1001, 3 * W2S_COMM_RING_CHUNK * p + 777};
	const size_t chunks[] = {1, 2, 7, W2S_COMM_RING_CHUNK};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
		for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
			assert_true(sum_is_exact_of(sizes[k], chunks[c], 0, true));
	assert_true(sum_is_exact_of(1000003, default_chunk, default_min, true));
	assert_true(sum_is_exact_of(100, default_chunk, default_min, true)); /* MPI's path */
	restore_defaults();
}

/* Random normals of rank r. */
static void random_values(int r, float *x, size_t n)
{
	w2s_rng_normals(5, W2S_STREAM_INPUT + 100 + (uint32_t)r, 0, x, n);
}

/* Random floats summed twice: same bytes on every rank and on both runs,
 * close to the sum in double; where the ring runs, in the exact order of
 * comm.c: segment s from rank s onwards, each rank adding
 * its value to what it received. */
static void random_sum(size_t n, size_t chunk, size_t ring_min)
{
	const int p = world.size;
	float *all = w2s_xmalloc((size_t)p * n * sizeof *all); /* (p, n) every rank's input */
	float *buf = w2s_xmalloc(n * sizeof *buf), *again = w2s_xmalloc(n * sizeof *again);
	for (int r = 0; r < p; r++)
		random_values(r, all + (size_t)r * n, n);
	memcpy(buf, all + (size_t)world.rank * n, n * sizeof *buf);
	memcpy(again, buf, n * sizeof *buf);
	world.ring_chunk = chunk;
	world.ring_min = ring_min;
	w2s_comm_sum_floats(&world, buf, n);
	w2s_comm_sum_floats(&world, again, n);
	int same_run = memcmp(buf, again, n * sizeof *buf) == 0;
	int same_ranks = w2s_comm_same_bytes(&world, buf, n * sizeof *buf);

	double worst = 0;
	size_t worst_i = 0, order_bad = 0;
	for (int s = 0; s < p; s++) {
		int64_t b, e;
		w2s_shard((int64_t)n, s, p, &b, &e);
		for (size_t i = (size_t)b; i < (size_t)e; i++) {
			double exact = 0, mag = 0;
			float ring = all[(size_t)s * n + i];
			for (int t = 0; t < p; t++) {
				float x = all[(size_t)t * n + i];
				exact += x;
				mag += fabs(x);
				if (t > 0)
					ring = all[(size_t)((s + t) % p) * n + i] + ring;
			}
			/* p - 1 roundings, each at most 2^-24 of a partial sum
			 * no larger than mag (1% for the rounding of those). */
			double err = fabs(buf[i] - exact) / (1.01 * (p - 1) * 0x1p-24 * mag + 1e-30);
			if (err > worst) {
				worst = err;
				worst_i = i;
			}
			order_bad += n / (size_t)p >= ring_min && ring != buf[i];
		}
	}
	if (!same_run || !same_ranks || worst > 1.0 || order_bad)
		printf("rank %d: n %zu chunk %zu min %zu: same run %d, same ranks %d, worst error "
		       "%.3g of the bound at %zu, %zu not in ring order\n",
		       world.rank, n, chunk, ring_min, same_run, same_ranks, worst, worst_i,
		       order_bad);
	assert_true(all_ok(same_run && same_ranks && worst <= 1.0 && order_bad == 0));
	free(again);
	free(buf);
	free(all);
}

static void same_bytes_on_every_rank_and_run_and_ring_order(void **state)
{
	random_sum(1000, default_chunk, default_min); /* MPI_Allreduce */
	random_sum(1000, 7, 0);
	random_sum(600007, default_chunk, default_min);
	random_sum(600007, 1000, 0);
	restore_defaults();
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	w2s_comm_init(&world, MPI_COMM_WORLD);
	default_chunk = world.ring_chunk;
	default_min = world.ring_min;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ring_sums_exactly_for_every_size_and_chunk),
		cmocka_unit_test(small_sums_exact_with_the_default_settings),
		cmocka_unit_test(large_sums_exact_over_many_messages),
		cmocka_unit_test(same_bytes_on_every_rank_and_run_and_ring_order),
		cmocka_unit_test(int64_sums_exact_through_the_ring),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	w2s_comm_free(&world);
	MPI_Finalize();
	return failed;
}

/*
 * mpi_filter.c: the collective parts of filter and cascade under mpirun.
 * Run with any number of ranks (tests/mpi_unit.sh runs 1, 2 and 3):
 * - the kNN filter keeps the same rows, with bit-identical disagreement,
 *   as one rank computing everything alone (each rank repeats the run on
 *   MPI_COMM_SELF), on random rows and on a lattice full of exact ties;
 * - the cascade curve of shards summed over ranks is the curve of all rows
 *   on one rank, to the bit.
 * Every comparison is agreed by all ranks before it is asserted, so a
 * failure on one rank cannot leave the others waiting in a collective.
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
#include "w2s/cascade.h"
#include "w2s/comm.h"
#include "w2s/common.h"
#include "w2s/filter.h"
#include "w2s/log.h"
#include "w2s/loss.h"
#include "w2s/rng.h"

static struct w2s_comm world, self;

/* Asserts on every rank alike that `ok` held on every rank. */
static void assert_all_ranks(int ok, const char *what)
{
	int bad = w2s_comm_agree(&world, ok ? 0 : 1);
	if (bad && world.rank == 0)
		print_error("%s: differs on some rank (%d ranks)\n", what, world.size);
	assert_int_equal(bad, 0);
}

/* kNN on all ranks against kNN on this rank alone: the same mask and the
 * same disagreement, bit for bit, on every rank. */
static void knn_same_on_world_and_alone(const float *x, int64_t N, size_t D,
					const int32_t *weak, const struct w2s_filter_knn_opts *o,
					const char *what)
{
	uint8_t *kw = w2s_xmalloc((size_t)N), *ks = w2s_xmalloc((size_t)N);
	float *dw = w2s_xmalloc((size_t)N * sizeof *dw), *ds = w2s_xmalloc((size_t)N * sizeof *ds);
	w2s_filter_knn(&world, x, N, D, weak, o, kw, dw);
	w2s_filter_knn(&self, x, N, D, weak, o, ks, ds);

	int64_t differ = 0, first = -1, nkept = 0;
	for (int64_t i = 0; i < N; i++) {
		nkept += kw[i];
		if (kw[i] != ks[i] || memcmp(&dw[i], &ds[i], sizeof(float)) != 0) {
			differ++;
			first = first < 0 ? i : first;
		}
	}
	if (differ)
		print_error("rank %d, %s: %lld rows differ from one rank alone, first %lld "
			    "(kept %d vs %d, disagreement %.9g vs %.9g)\n",
			    world.rank, what, (long long)differ, (long long)first, kw[first],
			    ks[first], dw[first], ds[first]);
	int same = w2s_comm_same_bytes(&world, kw, (size_t)N) &&
		   w2s_comm_same_bytes(&world, dw, (size_t)N * sizeof *dw);
	assert_all_ranks(differ == 0 && same && nkept == w2s_filter_keep_count(N, o->keep), what);
	if (world.rank == 0)
		printf("%s: %d ranks keep the %lld rows one rank keeps\n", what, world.size,
		       (long long)nkept);
	free(kw);
	free(ks);
	free(dw);
	free(ds);
}

static void knn_keeps_the_same_rows_on_any_number_of_ranks(void **state)
{
	enum { N = 2300, D = 16, C = 3 };
	float *x = w2s_xmalloc((size_t)N * D * sizeof *x);
	int32_t *weak = w2s_xmalloc(N * sizeof *weak);
	w2s_rng_normals(31, 1, 0, x, (size_t)N * D);
	/* Labels that depend on x, so neighbours agree more often than not. */
	for (int64_t i = 0; i < N; i++) {
		double u;
		w2s_rng_uniforms(31, 2, (uint64_t)i, &u, 1);
		weak[i] = u < 0.2 ? (int32_t)(u * 5 * C) : (x[i * D] > 0) + (x[i * D + 1] > 0);
	}
	/* The default blocks (3 of them, the last ragged) and small ones (18). */
	struct w2s_filter_knn_opts o = {.k = 10, .keep = 0.8};
	knn_same_on_world_and_alone(x, N, D, weak, &o, "random rows, blocks of 1024");
	o.block = 128;
	o.k = 3;
	o.keep = 0.55;
	knn_same_on_world_and_alone(x, N, D, weak, &o, "random rows, blocks of 128");
	free(x);
	free(weak);
}

/* Small integer coordinates: every distance exact in float and many of
 * them equal, so the neighbours are decided by the row-index tie rule. */
static void knn_ties_are_broken_alike_on_any_number_of_ranks(void **state)
{
	enum { N = 700, D = 3 };
	float *x = w2s_xmalloc((size_t)N * D * sizeof *x);
	int32_t *weak = w2s_xmalloc(N * sizeof *weak);
	for (int64_t i = 0; i < N; i++) {
		for (int j = 0; j < D; j++)
			x[i * D + j] = (float)((i * (3 + 2 * j) + j) % 5);
		weak[i] = (int32_t)((i * 13) % 4);
	}
	struct w2s_filter_knn_opts o = {.k = 6, .keep = 0.5, .block = 50};
	knn_same_on_world_and_alone(x, N, D, weak, &o, "lattice with ties");
	free(x);
	free(weak);
}

static void cascade_curve_of_shards_is_the_curve_of_all_rows(void **state)
{
	enum { N = 1001, C = 5, T = 21 };
	float *small = w2s_xmalloc((size_t)N * C * sizeof *small);
	float *large = w2s_xmalloc((size_t)N * C * sizeof *large);
	int32_t *y = w2s_xmalloc(N * sizeof *y);
	w2s_rng_normals(41, 1, 0, small, (size_t)N * C);
	w2s_rng_normals(41, 2, 0, large, (size_t)N * C);
	for (int64_t i = 0; i < N; i++) {
		y[i] = (int32_t)(i % C);
		large[i * C + y[i]] += 1.5f; /* the large model is better */
	}
	w2s_softmax(small, small, N, C);
	w2s_softmax(large, large, N, C);
	double grid[T];
	w2s_cascade_grid(grid, T);
	struct w2s_cascade_opts o = {.score = W2S_CASCADE_SCORE_MARGIN, .flops_small = 100,
				     .flops_large = 5000, .seconds_small = 1e-6,
				     .seconds_large = 3e-5};
	struct w2s_cascade_curve all, alone;
	w2s_cascade_curve_init(&all, grid, T);
	w2s_cascade_curve_init(&alone, grid, T);
	int64_t b, e;
	w2s_shard(N, world.rank, world.size, &b, &e);
	w2s_cascade_curve_eval(&world, &all, small + b * C, large + b * C, y + b, (size_t)(e - b),
			       C, &o);
	w2s_cascade_curve_eval_local(&alone, small, large, y, N, C, &o);

	int ok = all.n == N && all.correct_small == alone.correct_small &&
		 all.correct_large == alone.correct_large &&
		 memcmp(all.points, alone.points, T * sizeof *all.points) == 0;
	if (!ok)
		print_error("rank %d: curve of %d shards differs from one rank's "
			    "(n %lld, small %lld vs %lld, large %lld vs %lld)\n",
			    world.rank, world.size, (long long)all.n, (long long)all.correct_small,
			    (long long)alone.correct_small, (long long)all.correct_large,
			    (long long)alone.correct_large);
	assert_all_ranks(ok, "cascade curve");
	assert_true(all.acc_large > all.acc_small);
	w2s_cascade_curve_free(&all);
	w2s_cascade_curve_free(&alone);
	free(small);
	free(large);
	free(y);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	w2s_comm_init(&world, MPI_COMM_WORLD);
	w2s_comm_init(&self, MPI_COMM_SELF);
	w2s_log_init(world.rank, W2S_LOG_WARN);
	w2s_blas_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(knn_keeps_the_same_rows_on_any_number_of_ranks),
		cmocka_unit_test(knn_ties_are_broken_alike_on_any_number_of_ranks),
		cmocka_unit_test(cascade_curve_of_shards_is_the_curve_of_all_rows),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	w2s_comm_free(&self);
	w2s_comm_free(&world);
	MPI_Finalize();
	return failed;
}

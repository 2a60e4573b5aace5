/*
 * mpi_gmm.c: the class-conditional Gaussian mixtures under mpirun.  Run
 * with any number of ranks (tests/mpi_unit.sh runs 1, 2 and 3):
 * - the fit on all ranks, each holding its shard of the rows, is the same
 *   bytes on every rank and close to the fit of all rows on one rank alone
 *   (each rank repeats it on MPI_COMM_SELF): only the order of the sums
 *   differs;
 * - a rank that holds no rows still takes part;
 * - synthetic rows made in shards and gathered are the same bytes as the
 *   whole set made by one rank.
 * Every assertion is on a value summed over ranks, so all ranks reach the
 * same verdict and none is left waiting in a collective.
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

enum { N = 3000, D = 6, C = 3, K = 3 };

static struct w2s_comm world, self;
static float xs[N * D]; /* (N, D) */
static int32_t ys[N];

/* Overlapping clusters (centres 1.5 sd apart on average), so EM takes many
 * steps and rounding has room to grow: class i % C, centre (i / C) % K of
 * a fixed random set, unit normal noise. */
static void make_data(void)
{
	float centre[C * K * D];
	for (int q = 0; q < C * K; q++)
		w2s_rng_normals(41, 1, (uint64_t)q, centre + q * D, D);
	for (int i = 0; i < N; i++) {
		int c = i % C, k = (i / C) % K;
		w2s_rng_normals(41, 2, (uint64_t)i, xs + i * D, D);
		for (int j = 0; j < D; j++)
			xs[i * D + j] += centre[(c * K + k) * D + j];
		ys[i] = c;
	}
}

static struct w2s_gmm_opts opts(void)
{
	struct w2s_gmm_opts o;
	w2s_gmm_opts_default(&o);
	o.k = K;
	o.seed = 6;
	o.stream = W2S_STREAM_INIT + 900;
	o.tol = 0; /* the same number of iterations on any number of ranks */
	o.max_iter = 60;
	return o;
}

/* True on every rank when ok is true on every rank. */
static int all_ranks(int ok)
{
	int64_t bad = !ok;
	w2s_comm_sum_int64(&world, &bad, 1);
	return bad == 0;
}

/* Fits rows [0, n) of xs: on the world, each rank its shard, and on this
 * rank alone; compares the two. */
static void fit_both_ways(int64_t n, double tolerance)
{
	int64_t b, e;
	w2s_shard(n, world.rank, world.size, &b, &e);
	struct w2s_gmm_opts o = opts();
	struct w2s_gmm all, one;
	struct w2s_gmm_report ra, ro;
	int st = w2s_gmm_fit(&world, xs + b * D, ys + b, e - b, D, C, &o, &all, &ra);
	assert_int_equal(st, W2S_STATUS_OK);
	assert_true(w2s_comm_same_bytes(&world, all.params, all.nparams * sizeof(double)));
	assert_int_equal(w2s_gmm_fit(&self, xs, ys, n, D, C, &o, &one, &ro), W2S_STATUS_OK);
	double worst = 0, scale = 0;
	for (size_t p = 0; p < all.nparams; p++) {
		worst = fmax(worst, fabs(all.params[p] - one.params[p]));
		scale = fmax(scale, fabs(one.params[p]));
	}
	double dll = fabs(ra.loglik - ro.loglik) / fabs(ro.loglik);
	if (world.rank == 0)
		printf("%d ranks, %lld rows: %d iterations, %d dropped; largest parameter "
		       "difference to 1 rank %.3g (largest parameter %.3g), log-likelihood %.3g "
		       "relative\n",
		       world.size, (long long)n, ra.iterations, ra.dropped, worst, scale, dll);
	assert_true(all_ranks(ra.iterations == ro.iterations && ra.dropped == ro.dropped &&
			      ra.rows == n && ro.rows == n));
	assert_true(all_ranks(worst <= tolerance * scale && dll <= tolerance));
	w2s_gmm_free(&one);
	w2s_gmm_free(&all);
}

static void fit_on_all_ranks_is_the_fit_on_one_rank_up_to_the_order_of_sums(void **state)
{
	/* 60 EM iterations of sums over 3000 rows in another order (measured:
	 * 6e-15 on 3 ranks): stated tolerance 1e-10 of the largest parameter,
	 * and relative for the log-likelihood. */
	fit_both_ways(N, 1e-10);
}

static void a_rank_without_rows_takes_part_in_the_fit(void **state)
{
	/* Two rows (one per class for classes 0 and 1, none for class 2):
	 * on 3 ranks the last holds nothing. */
	fit_both_ways(2, 1e-12);
}

static void synthetic_rows_are_the_same_bytes_on_any_number_of_ranks(void **state)
{
	enum { M = 5000 };
	struct w2s_gmm_opts o = opts();
	struct w2s_gmm g;
	/* The same model on every rank: each fits all rows alone, alike. */
	assert_int_equal(w2s_gmm_fit(&self, xs, ys, N, D, C, &o, &g, NULL), W2S_STATUS_OK);
	assert_true(w2s_comm_same_bytes(&world, g.params, g.nparams * sizeof(double)));
	int64_t b, e;
	w2s_shard(M, world.rank, world.size, &b, &e);
	static float xl[M * D], xg[M * D], xw[M * D];
	static int32_t yl[M], yg[M], yw[M], cl[M], cg[M], cw[M];
	w2s_gmm_sample(&g, 13, W2S_STREAM_INPUT + 900, b, e, xl, yl, cl);
	w2s_comm_allgather_shards(&world, xl, M, D * sizeof(float), xg);
	w2s_comm_allgather_shards(&world, yl, M, sizeof(int32_t), yg);
	w2s_comm_allgather_shards(&world, cl, M, sizeof(int32_t), cg);
	w2s_gmm_sample(&g, 13, W2S_STREAM_INPUT + 900, 0, M, xw, yw, cw);
	int64_t first = -1;
	for (int64_t i = 0; i < M && first < 0; i++)
		if (memcmp(xg + i * D, xw + i * D, D * sizeof(float)) || yg[i] != yw[i] ||
		    cg[i] != cw[i])
			first = i;
	if (first >= 0)
		printf("rank %d: gathered row %lld differs from the one-rank draw\n", world.rank,
		       (long long)first);
	else if (world.rank == 0)
		printf("%d ranks: %d synthetic rows gathered from shards are the one-rank bytes\n",
		       world.size, M);
	assert_true(all_ranks(first < 0));
	w2s_gmm_free(&g);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	w2s_comm_init(&world, MPI_COMM_WORLD);
	w2s_comm_init(&self, MPI_COMM_SELF);
	w2s_log_init(world.rank, W2S_LOG_WARN);
	make_data();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fit_on_all_ranks_is_the_fit_on_one_rank_up_to_the_order_of_sums),
		cmocka_unit_test(a_rank_without_rows_takes_part_in_the_fit),
		cmocka_unit_test(synthetic_rows_are_the_same_bytes_on_any_number_of_ranks),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	w2s_comm_free(&self);
	w2s_comm_free(&world);
	MPI_Finalize();
	return failed;
}

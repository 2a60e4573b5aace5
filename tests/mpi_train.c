/*
 * mpi_train.c: data-parallel training under mpirun.  Run with any number
 * of ranks (tests/mpi_unit.sh runs 1, 2 and 3):
 * - after training, the parameters are the same bytes on every rank;
 * - training on all ranks ends close to training the same model on one
 *   rank alone (each rank repeats the one-rank run on MPI_COMM_SELF): the
 *   only difference is the order of the gradient sum.
 * Assertions are reached by every rank alike, so a failure cannot leave a
 * rank waiting in a collective.
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
#include "w2s/log.h"
#include "w2s/loss.h"
#include "w2s/rng.h"
#include "w2s/train.h"

enum { N = 2000, D = 12, C = 3 };

static struct w2s_comm world, self;
static float xs[N * D];   /* (N, D) */
static int32_t ys[N];
static float soft[N * C]; /* (N, C) */

/* A learnable task: the class is the argmax of three fixed directions. */
static void make_data(void)
{
	float w[C * D];
	for (int k = 0; k < C; k++)
		w2s_rng_normals(99, 1, (uint64_t)k, w + k * D, D);
	for (int i = 0; i < N; i++) {
		w2s_rng_normals(99, 2, (uint64_t)i, xs + i * D, D);
		int best = 0;
		double bs = -1e30;
		for (int k = 0; k < C; k++) {
			double s = 0;
			for (int j = 0; j < D; j++)
				s += w[k * D + j] * xs[i * D + j];
			if (s > bs) {
				bs = s;
				best = k;
			}
		}
		ys[i] = best;
		for (int k = 0; k < C; k++)
			soft[i * C + k] = k == best ? 0.8f : 0.1f;
	}
}

static struct w2s_train_spec spec(void)
{
	struct w2s_train_spec s = {
		.optimizer = W2S_OPT_ADAM, .lr = 3e-3, .schedule = W2S_SCHED_COSINE,
		.warmup = 0.1, .batch = 64, .epochs = 3, .beta1 = 0.9, .beta2 = 0.999,
		.eps = 1e-8, .clip = 1.0, .weight_decay = 0.01,
	};
	return s;
}

static void train_on(const struct w2s_comm *c, struct w2s_mlp *m, const float *targets)
{
	struct w2s_mlp_shape shape = {.nlayers = 2, .width = {D, 32, C}, .act = W2S_ACT_GELU};
	assert_int_equal(w2s_mlp_init(m, &shape), 0);
	w2s_mlp_init_params(m, 5, W2S_STREAM_INIT);
	struct w2s_train_data d = {.n = N, .dim = D, .classes = C, .x = xs, .y = ys, .soft = targets};
	struct w2s_train_log log = {.label = "test", .every = 1000};
	struct w2s_train_spec s = spec();
	struct w2s_train_result res;
	assert_int_equal(w2s_train_model(c, m, &s, NULL, &d, 1, W2S_STREAM_SHUFFLE, &log, NULL, &res),
			 W2S_STATUS_OK);
	assert_int_equal(res.steps, 3 * ((N + 63) / 64));
}

static double accuracy(const struct w2s_mlp *m)
{
	static float logits[N * C];
	w2s_train_predict(m, xs, N, 256, logits, NULL, NULL);
	return (double)w2s_count_correct(logits, ys, N, C) / N;
}

static void check_against_one_rank(const float *targets)
{
	struct w2s_mlp all = {0}, one = {0};
	train_on(&world, &all, targets);
	assert_true(w2s_comm_same_bytes(&world, all.params, all.nparams * sizeof(float)));
	train_on(&self, &one, targets);
	double worst = 0, scale = 0;
	for (size_t i = 0; i < all.nparams; i++) {
		double d = fabs((double)all.params[i] - one.params[i]);
		worst = d > worst ? d : worst;
		scale = fabs(one.params[i]) > scale ? fabs(one.params[i]) : scale;
	}
	double acc_all = accuracy(&all), acc_one = accuracy(&one);
	if (world.rank == 0)
		printf("%d ranks: largest parameter difference to 1 rank %.3g (largest parameter "
		       "%.3g); accuracy %.4f vs %.4f\n",
		       world.size, worst, scale, acc_all, acc_one);
	/* The summation order differs, so the two runs drift apart by rounding:
	 * stated tolerance 1e-4 of the largest parameter after 96 Adam steps,
	 * and the same accuracy within half a point. */
	assert_true(worst <= 1e-4 * scale);
	assert_true(fabs(acc_all - acc_one) <= 0.005);
	assert_true(acc_all > 0.8); /* chance is 1/3 */
	w2s_mlp_free(&all);
	w2s_mlp_free(&one);
}

static void hard_targets_same_parameters_on_all_ranks_and_close_to_one_rank(void **state)
{
	check_against_one_rank(NULL);
}

static void soft_targets_same_parameters_on_all_ranks_and_close_to_one_rank(void **state)
{
	check_against_one_rank(soft);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	w2s_comm_init(&world, MPI_COMM_WORLD);
	w2s_comm_init(&self, MPI_COMM_SELF);
	w2s_log_init(world.rank, W2S_LOG_WARN);
	w2s_blas_init();
	make_data();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hard_targets_same_parameters_on_all_ranks_and_close_to_one_rank),
		cmocka_unit_test(soft_targets_same_parameters_on_all_ranks_and_close_to_one_rank),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	w2s_comm_free(&self);
	w2s_comm_free(&world);
	MPI_Finalize();
	return failed;
}

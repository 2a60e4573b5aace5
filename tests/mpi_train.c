/*
 * mpi_train.c: data-parallel training under mpirun.  Run with any number
 * of ranks (tests/mpi_unit.sh runs 1, 2 and 3):
 * - after training, the parameters are the same bytes on every rank;
 * - training on all ranks ends close to training the same model on one
 *   rank alone (each rank repeats the one-rank run on MPI_COMM_SELF): the
 *   only difference is the order of the gradient sum, also when a batch
 *   smaller than the ranks leaves some of them without rows;
 * - with train.reduce exact it ends on the very same bits as the one-rank
 *   run, for every kind of loss, a probe, a grid that must be refitted,
 *   and a stop request or a divergence ends it alike on every rank.
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
	w2s_train_predict(m, xs, N, 256, NULL, logits, NULL, NULL);
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

/* With a batch of 2 on 3 or more ranks, some ranks have no rows in a step;
 * they must add zeros (their gradient buffer is never written by
 * backward), and the result stay close to one rank's. */
static void batch_smaller_than_ranks_leaves_some_ranks_without_rows(void **state)
{
	struct w2s_mlp_shape shape = {.nlayers = 2, .width = {D, 32, C}, .act = W2S_ACT_GELU};
	struct w2s_mlp all = {0}, one = {0};
	struct w2s_train_data d = {.n = 400, .dim = D, .classes = C, .x = xs, .y = ys};
	struct w2s_train_log log = {.label = "tiny batch", .every = 1000};
	struct w2s_train_spec s = spec();
	s.batch = 2;
	s.epochs = 1;
	struct w2s_train_result res;
	const struct w2s_comm *comms[2] = {&world, &self};
	struct w2s_mlp *models[2] = {&all, &one};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(w2s_mlp_init(models[i], &shape), 0);
		w2s_mlp_init_params(models[i], 5, W2S_STREAM_INIT);
		/* NaNs where backward never writes would poison the sum. */
		for (size_t j = 0; j < models[i]->nparams; j++)
			models[i]->grads[j] = NAN;
		assert_int_equal(w2s_train_model(comms[i], models[i], &s, NULL, &d, 1,
						 W2S_STREAM_SHUFFLE, &log, NULL, &res),
				 W2S_STATUS_OK);
		assert_int_equal(res.steps, 200);
	}
	double worst = 0, scale = 0;
	for (size_t i = 0; i < all.nparams; i++) {
		double diff = fabs((double)all.params[i] - one.params[i]);
		worst = diff > worst ? diff : worst;
		scale = fabs(one.params[i]) > scale ? fabs(one.params[i]) : scale;
	}
	if (world.rank == 0)
		printf("batch 2 on %d ranks: largest parameter difference to 1 rank %.3g (largest "
		       "parameter %.3g)\n",
		       world.size, worst, scale);
	assert_true(worst <= 1e-4 * scale);
	w2s_mlp_free(&all);
	w2s_mlp_free(&one);
}

/* ---- train.reduce exact ---- */

/* What the exact runs vary. */
struct exact_case {
	const char *name;
	int hidden;            /* width of the one hidden layer; 0: linear */
	int probe;
	int classes;           /* 1: regression on reals */
	const float *soft;     /* soft targets (N, C), or NULL */
	const float *teacher;  /* teacher logits (N, C) for kd, or NULL */
	enum w2s_loss_kind loss;
	int64_t batch, micro;
	float input_scale;     /* inputs times this: large gradients; 0: xs_tiny */
	double min_acc;        /* accuracy on xs it must reach (0: not checked) */
};

static float logits_kd[N * C]; /* (N, C) a teacher's logits */
static float reals[N];         /* (N) a real target */
static float xs_big[N * D];    /* (N, D) xs, scaled */
static float xs_tiny[N * D];   /* (N, D) xs with column 0 times 2^-36 */

static void make_exact_data(float scale)
{
	for (int i = 0; i < N * D; i++)
		xs_tiny[i] = i % D == 0 ? ldexpf(xs[i], -36) : xs[i];
	for (int i = 0; i < N; i++) {
		for (int k = 0; k < C; k++)
			logits_kd[i * C + k] = logf(soft[i * C + k]) * 2.0f;
		double r = 0;
		for (int j = 0; j < D; j++)
			r += (j % 3 - 1) * xs[i * D + j];
		reals[i] = (float)r;
	}
	for (int i = 0; i < N * D; i++)
		xs_big[i] = xs[i] * scale;
}

/* A checkpoint that keeps nothing: stopping needs one to have been taken. */
static enum w2s_status save_nothing(void *ctx, const struct w2s_mlp *m, const struct w2s_optim *o,
				    const struct w2s_train_state *s, int final)
{
	++*(int *)ctx;
	return W2S_STATUS_OK;
}

static int saves;

/* Trains the case on c with reduce exact; returns the status.  With ck,
 * checkpoints and resumes through it, from its parameters `from`. */
static enum w2s_status train_exact_ckpt(const struct w2s_comm *c, struct w2s_mlp *m,
					const struct exact_case *k, volatile sig_atomic_t *stop,
					double lr, double clip, struct w2s_train_result *res,
					const struct w2s_train_ckpt *ck_in, const float *from)
{
	int Cout = k->classes;
	struct w2s_mlp_shape shape = {.nlayers = k->hidden ? 2 : 1, .act = W2S_ACT_GELU};
	shape.width[0] = D;
	shape.width[1] = k->hidden ? (size_t)k->hidden : (size_t)Cout;
	shape.width[2] = (size_t)Cout;
	assert_int_equal(w2s_mlp_init(m, &shape), 0);
	w2s_mlp_init_params(m, 5, W2S_STREAM_INIT);
	if (from)
		memcpy(m->params, from, m->nparams * sizeof *from);
	struct w2s_train_data d = {
		.n = N, .dim = D, .classes = Cout,
		.x = k->input_scale == 0.0f ? xs_tiny : k->input_scale != 1.0f ? xs_big : xs,
		.y = ys,
		.soft = Cout == 1 ? reals : k->soft, .teacher_logits = k->teacher,
		.regression = Cout == 1,
	};
	struct w2s_train_log log = {.label = k->name, .every = 1000};
	struct w2s_train_spec s = spec();
	s.lr = lr;
	s.clip = clip;
	s.batch = k->batch;
	s.probe = k->probe;
	s.reduce = W2S_REDUCE_EXACT;
	s.micro_batch = k->micro;
	struct w2s_train_loss loss = {
		.kind = k->loss, .confidence_alpha = 0.5, .confidence_warmup = 0.2,
		.product_b = 1, .product_c = 1, .kd_temperature = 2, .kd_weight = 0.5,
	};
	struct w2s_train_ckpt ck = {.every = 0, .save = save_nothing, .ctx = &saves, .stop = stop};
	return w2s_train_model(c, m, &s, &loss, &d, 1, W2S_STREAM_SHUFFLE, &log, ck_in ? ck_in : &ck,
			       res);
}

static enum w2s_status train_exact(const struct w2s_comm *c, struct w2s_mlp *m,
				   const struct exact_case *k, volatile sig_atomic_t *stop,
				   double lr, double clip, struct w2s_train_result *res)
{
	return train_exact_ckpt(c, m, k, stop, lr, clip, res, NULL, NULL);
}

/* Trains k on all ranks and on one; returns the steps recomputed. */
static int64_t exact_matches_one_rank(const struct exact_case *k)
{
	struct w2s_mlp all = {0}, one = {0};
	struct w2s_train_result ra, ro;
	assert_int_equal(train_exact(&world, &all, k, NULL, 3e-3, 1.0, &ra), W2S_STATUS_OK);
	assert_int_equal(train_exact(&self, &one, k, NULL, 3e-3, 1.0, &ro), W2S_STATUS_OK);
	size_t differ = 0;
	for (size_t i = 0; i < all.nparams; i++)
		differ += memcmp(&all.params[i], &one.params[i], sizeof(float)) != 0;
	int same_loss = memcmp(&ra.last_loss, &ro.last_loss, sizeof ra.last_loss) == 0;
	if (world.rank == 0)
		printf("exact, %s: %d ranks against 1: %zu of %zu parameters differ, last loss "
		       "%.17g vs %.17g, %lld step(s) recomputed\n",
		       k->name, world.size, differ, all.nparams, ra.last_loss, ro.last_loss,
		       (long long)ra.recomputed);
	assert_int_equal(differ, 0);
	assert_true(same_loss);
	assert_int_equal(ra.recomputed, ro.recomputed);
	if (k->min_acc > 0)
		assert_true(accuracy(&all) > k->min_acc); /* it learns: chance is 1/3 */
	w2s_mlp_free(&all);
	w2s_mlp_free(&one);
	return ra.recomputed;
}

static void exact_reduce_hard_targets_same_bits_as_one_rank(void **state)
{
	/* 64 = 24 + 24 + 16, and the last batch has 16 rows. */
	struct exact_case k = {"xent", 32, 0, C, NULL, NULL, W2S_LOSS_XENT, 64, 24, 1.0f, 0.8};
	exact_matches_one_rank(&k);
}

static void exact_reduce_soft_losses_same_bits_as_one_rank(void **state)
{
	const enum w2s_loss_kind kinds[] = {W2S_LOSS_XENT, W2S_LOSS_KL, W2S_LOSS_CONFIDENCE,
					    W2S_LOSS_PRODUCT};
	const char *names[] = {"soft xent", "kl", "confidence", "product"};
	for (int i = 0; i < 4; i++) {
		struct exact_case k = {names[i], 32, 0, C, soft, NULL, kinds[i], 64, 16, 1.0f, 0.8};
		exact_matches_one_rank(&k);
	}
}

static void exact_reduce_kd_regression_probe_same_bits_as_one_rank(void **state)
{
	struct exact_case kd = {"kd", 32, 0, C, NULL, logits_kd, W2S_LOSS_XENT, 100, 7, 1.0f, 0};
	exact_matches_one_rank(&kd);
	struct exact_case reg = {"regression", 16, 0, 1, NULL, NULL, W2S_LOSS_XENT, 64, 32, 1.0f, 0};
	exact_matches_one_rank(&reg);
	struct exact_case probe = {"probe", 32, 1, C, NULL, NULL, W2S_LOSS_XENT, 64, 16, 1.0f, 0};
	exact_matches_one_rank(&probe);
	/* One micro-batch per batch: a single rank computes each step. */
	struct exact_case whole = {"micro > batch", 0, 0, C, NULL, NULL, W2S_LOSS_XENT, 32, 500,
				   1.0f, 0};
	exact_matches_one_rank(&whole);
}

static void exact_reduce_refits_its_grid_to_large_gradients(void **state)
{
	/* Inputs 4096 times larger make gradients far above the first grid:
	 * the first step is computed again, and the result is still exact. */
	struct exact_case k = {"large gradients", 32, 0, C, NULL, NULL, W2S_LOSS_XENT, 64, 16,
			       4096.0f, 0};
	assert_true(exact_matches_one_rank(&k) >= 1);
}

static void exact_reduce_stops_and_diverges_on_every_rank_alike(void **state)
{
	struct exact_case k = {"stop", 32, 0, C, NULL, NULL, W2S_LOSS_XENT, 64, 16, 1.0f, 0};
	struct w2s_mlp m = {0};
	struct w2s_train_result r;
	/* Only the last rank is asked to stop; every rank stops after step 1. */
	volatile sig_atomic_t stop = world.rank == world.size - 1;
	saves = 0;
	assert_int_equal(train_exact(&world, &m, &k, &stop, 3e-3, 1.0, &r), W2S_STATUS_STOPPED);
	assert_int_equal(r.steps, 1);
	assert_int_equal(saves, 1);
	w2s_mlp_free(&m);
	/* A learning rate of 1e30 without clipping: not finite, on all ranks. */
	k.name = "diverging";
	assert_int_equal(train_exact(&world, &m, &k, NULL, 1e30, 0.0, &r), W2S_STATUS_NUMERIC);
	w2s_mlp_free(&m);
}

/* A checkpoint kept in memory, as w2s_ckpt_write keeps it in a file: the
 * first one taken stops training. */
struct kept {
	struct w2s_train_state s;
	float *params, *m, *v;
	struct w2s_trace_row rows[64];
};

static enum w2s_status keep_and_stop(void *ctx, const struct w2s_mlp *m, const struct w2s_optim *o,
				     const struct w2s_train_state *s, int final)
{
	struct kept *k = ctx;
	if (final)
		return W2S_STATUS_OK;
	assert_true(s->ntrace <= 64);
	k->s = *s;
	k->s.best_params = NULL;
	memcpy(k->rows, s->trace_rows, (size_t)s->ntrace * sizeof *k->rows);
	k->s.trace_rows = k->rows;
	k->params = malloc(m->nparams * sizeof *k->params);
	k->m = malloc(o->n * sizeof *k->m);
	k->v = malloc(o->n * sizeof *k->v);
	memcpy(k->params, m->params, m->nparams * sizeof *k->params);
	memcpy(k->m, o->m, o->n * sizeof *k->m);
	memcpy(k->v, o->v, o->n * sizeof *k->v);
	return W2S_STATUS_STOPPED;
}

static void exact_reduce_resumes_on_the_same_bits(void **state)
{
	/* Column 0 of the inputs 2^-36 times the others: its gradients sit
	 * below the float bits the grid keeps, so they round by the grid,
	 * which the checkpoint must carry (state.reduce_exp). */
	struct exact_case k = {"resume", 32, 0, C, NULL, NULL, W2S_LOSS_XENT, 64, 16, 0.0f, 0};
	struct w2s_mlp ref = {0}, part = {0}, all = {0}, one = {0};
	struct w2s_train_result r;
	assert_int_equal(train_exact(&self, &ref, &k, NULL, 3e-3, 1.0, &r), W2S_STATUS_OK);
	struct kept kept = {0};
	struct w2s_train_ckpt stop_at = {.every = 40, .save = keep_and_stop, .ctx = &kept};
	assert_int_equal(train_exact_ckpt(&world, &part, &k, NULL, 3e-3, 1.0, &r, &stop_at, NULL),
			 W2S_STATUS_STOPPED);
	assert_int_equal(kept.s.step, 40);
	struct w2s_train_ckpt go_on = {
		.from = &kept.s, .from_m = kept.m, .from_v = kept.v,
	};
	/* Stopped on all ranks; resumed on all of them, and on one. */
	assert_int_equal(train_exact_ckpt(&world, &all, &k, NULL, 3e-3, 1.0, &r, &go_on, kept.params),
			 W2S_STATUS_OK);
	assert_int_equal(train_exact_ckpt(&self, &one, &k, NULL, 3e-3, 1.0, &r, &go_on, kept.params),
			 W2S_STATUS_OK);
	size_t differ_all = 0, differ_one = 0;
	for (size_t i = 0; i < ref.nparams; i++) {
		differ_all += memcmp(&all.params[i], &ref.params[i], sizeof(float)) != 0;
		differ_one += memcmp(&one.params[i], &ref.params[i], sizeof(float)) != 0;
	}
	if (world.rank == 0)
		printf("exact, resumed at step 40 on %d ranks and on 1: %zu and %zu of %zu parameters "
		       "differ from a run never stopped\n",
		       world.size, differ_all, differ_one, ref.nparams);
	assert_int_equal(differ_all, 0);
	assert_int_equal(differ_one, 0);
	free(kept.params);
	free(kept.m);
	free(kept.v);
	w2s_mlp_free(&ref);
	w2s_mlp_free(&part);
	w2s_mlp_free(&all);
	w2s_mlp_free(&one);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	w2s_comm_init(&world, MPI_COMM_WORLD);
	w2s_comm_init(&self, MPI_COMM_SELF);
	w2s_log_init(world.rank, W2S_LOG_WARN);
	w2s_blas_init();
	make_data();
	make_exact_data(4096.0f);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hard_targets_same_parameters_on_all_ranks_and_close_to_one_rank),
		cmocka_unit_test(soft_targets_same_parameters_on_all_ranks_and_close_to_one_rank),
		cmocka_unit_test(batch_smaller_than_ranks_leaves_some_ranks_without_rows),
		cmocka_unit_test(exact_reduce_hard_targets_same_bits_as_one_rank),
		cmocka_unit_test(exact_reduce_soft_losses_same_bits_as_one_rank),
		cmocka_unit_test(exact_reduce_kd_regression_probe_same_bits_as_one_rank),
		cmocka_unit_test(exact_reduce_refits_its_grid_to_large_gradients),
		cmocka_unit_test(exact_reduce_stops_and_diverges_on_every_rank_alike),
		cmocka_unit_test(exact_reduce_resumes_on_the_same_bits),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	w2s_comm_free(&self);
	w2s_comm_free(&world);
	MPI_Finalize();
	return failed;
}

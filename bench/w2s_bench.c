/*
 * w2s_bench.c: the measuring half of `make bench` for libw2s.  It times the
 * real data-parallel loop (w2s_train_model), raw BLIS sgemm at the shapes
 * that loop runs, inference, and the gradient allreduce against the ring
 * bound, and prints `key=value` lines (rank 0 only) that bench/bench.py
 * turns into the table.
 *
 * The step is timed from inside w2s_train_model without changing it: the
 * program is linked with -Wl,--wrap for the functions the step calls
 * (forward, loss, backward, allreduce, clip, optimizer), and each wrapper
 * adds its own duration to the current step's row; the optimizer's wrapper
 * closes the step.  A clock read costs ~20 ns, a step at least ~20 us.
 *
 * Dimension legend: B global batch, n rows on this rank, D input width,
 * C classes, P parameters.
 *
 * Not here: the table, the ratios and targets (bench.py), PyTorch
 * (bench_torch.py).
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <mpi.h>

#include "w2s/blas.h"
#include "w2s/comm.h"
#include "w2s/config.h"
#include "w2s/log.h"
#include "w2s/loss.h"
#include "w2s/mlp.h"
#include "w2s/optim.h"
#include "w2s/rng.h"
#include "w2s/train.h"

/* ---- the three models of the benchmark ---- */

struct bench_model {
	const char *name;
	int nlayers;
	size_t width[W2S_MLP_MAX_LAYERS + 1];
	int64_t batch; /* per rank */
};

static const struct bench_model models[] = {
	{"weak", 2, {64, 64, 2}, 256},
	{"strong", 4, {64, 1024, 1024, 1024, 2}, 256},
	{"wide", 3, {256, 4096, 4096, 10}, 512},
};

static const struct bench_model *find_model(const char *name)
{
	for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
		if (strcmp(models[i].name, name) == 0)
			return &models[i];
	return NULL;
}

static struct w2s_mlp_shape model_shape(const struct bench_model *bm)
{
	struct w2s_mlp_shape s = {.nlayers = bm->nlayers, .act = W2S_ACT_RELU};
	for (int l = 0; l <= bm->nlayers; l++)
		s.width[l] = bm->width[l];
	return s;
}

/* Floating-point operations of the GEMMs of one training step on n rows:
 * forward, weight gradient, and input gradient for every layer but the
 * first (the gradient w.r.t. the data is never formed, here or in
 * PyTorch). */
static double step_gemm_flops(const struct w2s_mlp_shape *s, double n)
{
	double f = 0;
	for (int l = 0; l < s->nlayers; l++) {
		double mk = (double)s->width[l] * (double)s->width[l + 1];
		f += 2 * n * mk * (l == 0 ? 2 : 3);
	}
	return f;
}

/* ---- timing ---- */

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU seconds of this thread: what the step cost when others' processes
 * share the cores and the wall clock counts their time slices too. */
static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of v (n), sorting v. */
static double median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double peak_rss_bytes(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss * 1024.0; /* kilobytes on Linux */
}

/* ---- allocations during the measured steps ----
 *
 * The step must not allocate (STYLE.md), BLIS and MPI included.  This
 * program defines malloc and friends, which the shared libraries then call
 * too, counts the calls, and hands each to glibc's own allocator. */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
static volatile long alloc_calls;

void *malloc(size_t size)
{
	alloc_calls++;
	return __libc_malloc(size);
}

void *calloc(size_t count, size_t size)
{
	alloc_calls++;
	return __libc_calloc(count, size);
}

void *realloc(void *p, size_t size)
{
	alloc_calls++;
	return __libc_realloc(p, size);
}

int posix_memalign(void **p, size_t align, size_t size)
{
	alloc_calls++;
	*p = __libc_memalign(align, size);
	return *p ? 0 : 12; /* ENOMEM */
}

/* ---- the wrappers that time each phase of the step ---- */

enum phase { PH_FWD, PH_LOSS, PH_BWD, PH_ALLREDUCE, PH_CLIP, PH_ADAM, NPHASES };
static const char *phase_names[NPHASES] = {"fwd", "loss", "bwd", "allreduce", "norm", "adam"};

#define MAX_STEPS 4096
static double phase_time[MAX_STEPS][NPHASES];
static double step_end[MAX_STEPS]; /* clock when the optimizer step returned */
static double step_cpu[MAX_STEPS]; /* thread CPU time then */
static long step_allocs[MAX_STEPS]; /* alloc_calls when the optimizer step returned */
static int64_t cur_step;
static bool recording;

static void add_phase(enum phase p, double t0)
{
	if (recording && cur_step < MAX_STEPS)
		phase_time[cur_step][p] += now() - t0;
}

const float *__real_w2s_mlp_forward(const struct w2s_mlp *m, struct w2s_mlp_work *w,
				    const float *x, size_t n);
const float *__wrap_w2s_mlp_forward(const struct w2s_mlp *m, struct w2s_mlp_work *w,
				    const float *x, size_t n);
const float *__wrap_w2s_mlp_forward(const struct w2s_mlp *m, struct w2s_mlp_work *w,
				    const float *x, size_t n)
{
	double t0 = now();
	const float *r = __real_w2s_mlp_forward(m, w, x, n);
	add_phase(PH_FWD, t0);
	return r;
}

void __real_w2s_mlp_backward(struct w2s_mlp *m, struct w2s_mlp_work *w, const float *x,
			     size_t n, const float *dlogits);
void __wrap_w2s_mlp_backward(struct w2s_mlp *m, struct w2s_mlp_work *w, const float *x,
			     size_t n, const float *dlogits);
void __wrap_w2s_mlp_backward(struct w2s_mlp *m, struct w2s_mlp_work *w, const float *x,
			     size_t n, const float *dlogits)
{
	double t0 = now();
	__real_w2s_mlp_backward(m, w, x, n, dlogits);
	add_phase(PH_BWD, t0);
}

/* Weak: the library of an older tree has no backward_set. */
void __real_w2s_mlp_backward_set(struct w2s_mlp *m, struct w2s_mlp_work *w, const float *x,
				 size_t n, const float *dlogits) __attribute__((weak));
void __wrap_w2s_mlp_backward_set(struct w2s_mlp *m, struct w2s_mlp_work *w, const float *x,
				 size_t n, const float *dlogits);
void __wrap_w2s_mlp_backward_set(struct w2s_mlp *m, struct w2s_mlp_work *w, const float *x,
				 size_t n, const float *dlogits)
{
	double t0 = now();
	__real_w2s_mlp_backward_set(m, w, x, n, dlogits);
	add_phase(PH_BWD, t0);
}

/* Weak: the library of an older tree has no backward_parts (exact mode's
 * backward of a block of micro-batches). */
void __real_w2s_mlp_backward_parts(struct w2s_mlp *const *parts, size_t nparts, size_t rows,
				   struct w2s_mlp_work *w, const float *x, size_t n,
				   const float *dlogits) __attribute__((weak));
void __wrap_w2s_mlp_backward_parts(struct w2s_mlp *const *parts, size_t nparts, size_t rows,
				   struct w2s_mlp_work *w, const float *x, size_t n,
				   const float *dlogits);
void __wrap_w2s_mlp_backward_parts(struct w2s_mlp *const *parts, size_t nparts, size_t rows,
				   struct w2s_mlp_work *w, const float *x, size_t n,
				   const float *dlogits)
{
	double t0 = now();
	__real_w2s_mlp_backward_parts(parts, nparts, rows, w, x, n, dlogits);
	add_phase(PH_BWD, t0);
}

double __real_w2s_loss_xent_hard(const float *logits, const int32_t *y, size_t n, size_t C,
				 float scale, float *dlogits);
double __wrap_w2s_loss_xent_hard(const float *logits, const int32_t *y, size_t n, size_t C,
				 float scale, float *dlogits);
double __wrap_w2s_loss_xent_hard(const float *logits, const int32_t *y, size_t n, size_t C,
				 float scale, float *dlogits)
{
	double t0 = now();
	double r = __real_w2s_loss_xent_hard(logits, y, n, C, scale, dlogits);
	add_phase(PH_LOSS, t0);
	return r;
}

size_t __real_w2s_count_correct(const float *logits, const int32_t *y, size_t n, size_t C);
size_t __wrap_w2s_count_correct(const float *logits, const int32_t *y, size_t n, size_t C);
size_t __wrap_w2s_count_correct(const float *logits, const int32_t *y, size_t n, size_t C)
{
	double t0 = now();
	size_t r = __real_w2s_count_correct(logits, y, n, C);
	add_phase(PH_LOSS, t0);
	return r;
}

/* The gradient sum as libw2s did it before its own ring: one in-place
 * MPI_Allreduce per INT_MAX floats.  The yardstick of the allreduce rows,
 * and the step's sum under --allreduce mpi. */
static void mpi_sum_floats(const struct w2s_comm *c, float *buf, size_t n)
{
	while (n > 0) {
		int part = n > (size_t)INT_MAX ? INT_MAX : (int)n;
		W2S_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, part, MPI_FLOAT, MPI_SUM, c->comm) ==
			  MPI_SUCCESS);
		buf += part;
		n -= (size_t)part;
	}
}

static bool step_sum_mpi; /* --allreduce mpi */

void __real_w2s_comm_sum_floats(const struct w2s_comm *c, float *buf, size_t n);
void __wrap_w2s_comm_sum_floats(const struct w2s_comm *c, float *buf, size_t n);
void __wrap_w2s_comm_sum_floats(const struct w2s_comm *c, float *buf, size_t n)
{
	double t0 = now();
	if (step_sum_mpi)
		mpi_sum_floats(c, buf, n);
	else
		__real_w2s_comm_sum_floats(c, buf, n);
	add_phase(PH_ALLREDUCE, t0);
}

/* The exact reduction's allreduce (train.reduce exact). */
void __real_w2s_comm_sum_int64(const struct w2s_comm *c, int64_t *buf, size_t n);
void __wrap_w2s_comm_sum_int64(const struct w2s_comm *c, int64_t *buf, size_t n);
void __wrap_w2s_comm_sum_int64(const struct w2s_comm *c, int64_t *buf, size_t n)
{
	double t0 = now();
	__real_w2s_comm_sum_int64(c, buf, n);
	add_phase(PH_ALLREDUCE, t0);
}

double __real_w2s_grad_clip(float *g, size_t n, double max_norm);
double __wrap_w2s_grad_clip(float *g, size_t n, double max_norm);
double __wrap_w2s_grad_clip(float *g, size_t n, double max_norm)
{
	double t0 = now();
	double r = __real_w2s_grad_clip(g, n, max_norm);
	add_phase(PH_CLIP, t0);
	return r;
}

float __real_w2s_optim_step(struct w2s_optim *o, float *params, const float *grads);
float __wrap_w2s_optim_step(struct w2s_optim *o, float *params, const float *grads);
float __wrap_w2s_optim_step(struct w2s_optim *o, float *params, const float *grads)
{
	double t0 = now();
	float r = __real_w2s_optim_step(o, params, grads);
	double t1 = now();
	if (recording && cur_step < MAX_STEPS) {
		phase_time[cur_step][PH_ADAM] += t1 - t0;
		step_end[cur_step] = t1;
		step_cpu[cur_step] = cpu_now();
		step_allocs[cur_step] = alloc_calls;
	}
	cur_step++;
	return r;
}

/* ---- output ---- */

static int out_rank;

static void out(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(const char *key, const char *fmt, ...)
{
	if (out_rank != 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	printf("%s=", key);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

/* ---- train: the real loop ---- */

struct opts {
	const char *model;
	int warmup, steps, reps;
	int64_t rows; /* infer */
	int64_t batch; /* infer */
	enum w2s_reduce reduce; /* train: --reduce default | exact */
	int64_t micro; /* train, reduce exact: rows per micro-batch */
};

/* Random inputs and labels: throughput does not depend on what is learnt. */
static void make_data(int64_t N, int64_t D, int C, float *x, int32_t *y)
{
	for (int64_t i = 0; i < N; i++) {
		w2s_rng_normals(7, W2S_STREAM_INPUT, (uint64_t)i, x + i * D, (size_t)D);
		uint32_t r[4];
		w2s_rng_u32x4(7, W2S_STREAM_TARGET, (uint64_t)i, 0, r);
		y[i] = (int32_t)(r[0] % (uint32_t)C);
	}
}

static int run_train(const struct w2s_comm *c, const struct opts *o)
{
	const struct bench_model *bm = find_model(o->model);
	if (!bm)
		return 2;
	double rss0 = peak_rss_bytes();
	struct w2s_mlp_shape s = model_shape(bm);
	const int64_t B = bm->batch * c->size; /* global batch: per-rank batch fixed */
	const int64_t D = (int64_t)s.width[0], C = (int64_t)s.width[s.nlayers];
	const int64_t nsteps = o->warmup + (int64_t)o->steps * o->reps;
	W2S_CHECK(nsteps <= MAX_STEPS);
	const int64_t N = B * nsteps;

	float *x = w2s_xmalloc((size_t)(N * D) * sizeof *x); /* (N, D) */
	int32_t *y = w2s_xmalloc((size_t)N * sizeof *y);
	make_data(N, D, (int)C, x, y);
	struct w2s_mlp m;
	W2S_CHECK(w2s_mlp_init(&m, &s) == 0);
	w2s_mlp_init_params(&m, 1, W2S_STREAM_INIT);

	struct w2s_train_spec spec = {
		.optimizer = W2S_OPT_ADAM, .lr = 1e-3, .schedule = W2S_SCHED_CONSTANT,
		.batch = B, .epochs = 1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
		.reduce = o->reduce, .micro_batch = o->micro,
	};
	struct w2s_train_data d = {.n = N, .dim = D, .classes = (int)C, .x = x, .y = y};
	struct w2s_train_log log = {.label = o->model, .every = INT64_MAX};
	struct w2s_train_result res;
	memset(phase_time, 0, sizeof phase_time);
	cur_step = 0;
	recording = true;
	w2s_comm_barrier(c);
	enum w2s_status st = w2s_train_model(c, &m, &spec, NULL /* cross-entropy */, &d, 1,
					     W2S_STREAM_SHUFFLE, &log, NULL, &res);
	recording = false;
	W2S_CHECK(st == W2S_STATUS_OK && cur_step == nsteps);

	/* Throughput of each repetition: steps whose ends are all measured. */
	double *rate = w2s_xmalloc((size_t)o->reps * sizeof *rate);
	double *cpu_rate = w2s_xmalloc((size_t)o->reps * sizeof *cpu_rate);
	for (int r = 0; r < o->reps; r++) {
		int64_t first = o->warmup + (int64_t)r * o->steps; /* first step of the rep */
		double t = step_end[first + o->steps - 1] - step_end[first - 1];
		double tc = step_cpu[first + o->steps - 1] - step_cpu[first - 1];
		rate[r] = (double)(o->steps * B) / t;
		cpu_rate[r] = (double)(o->steps * B) / tc;
	}
	out("cpu_samples_per_s", "%.6g", median(cpu_rate, (size_t)o->reps));
	free(cpu_rate);
	double lo = rate[0], hi = rate[0];
	for (int r = 1; r < o->reps; r++) {
		lo = rate[r] < lo ? rate[r] : lo;
		hi = rate[r] > hi ? rate[r] : hi;
	}
	double med = median(rate, (size_t)o->reps);
	const int64_t nmeas = nsteps - o->warmup;
	double *v = w2s_xmalloc((size_t)nmeas * sizeof *v);
	for (int64_t i = 0; i < nmeas; i++)
		v[i] = step_end[o->warmup + i] - step_end[o->warmup + i - 1];
	double step_s = median(v, (size_t)nmeas);
	out("samples_per_s", "%.6g %.6g %.6g", med, lo, hi);
	out("step_s", "%.6g", step_s);
	out("gemm_flops", "%.6g", step_gemm_flops(&s, (double)bm->batch));
	double sum_phases = 0;
	for (int p = 0; p < NPHASES; p++) {
		for (int64_t i = 0; i < nmeas; i++)
			v[i] = phase_time[o->warmup + i][p];
		double t = median(v, (size_t)nmeas);
		sum_phases += t;
		char key[32];
		snprintf(key, sizeof key, "phase_%s_s", phase_names[p]);
		out(key, "%.6g", t);
	}
	out("phase_other_s", "%.6g", step_s > sum_phases ? step_s - sum_phases : 0.0);
	out("allocs_in_steps", "%ld", step_allocs[nsteps - 1] - step_allocs[o->warmup - 1]);

	/* What a rank needs: its data (every rank holds the whole split),
	 * parameters, gradients, two moments, one batch of activations. */
	double need = (double)N * (double)(D + 1) * 4 + 4.0 * (double)m.nparams * 4;
	double act = (double)D;
	for (int l = 1; l <= s.nlayers; l++)
		act += (double)s.width[l];
	need += act * (double)bm->batch * 4;
	double peak = peak_rss_bytes(), peak_max = peak;
	MPI_Allreduce(&peak, &peak_max, 1, MPI_DOUBLE, MPI_MAX, c->comm);
	out("nparams", "%zu", m.nparams);
	out("mem_need_bytes", "%.6g", need);
	out("mem_peak_bytes", "%.6g", peak_max);
	out("mem_base_bytes", "%.6g", rss0);

	if (c->size > 1) {
		/* The same allreduce alone (no imbalance between ranks), a plain
		 * MPI_Allreduce of the same buffer, and the exchange a ring makes
		 * at each of its 2(p-1) stages: a chunk of bytes/p to the next
		 * rank while receiving one from the previous.  The three in turns,
		 * so that others' load on a shared machine hits them alike. */
		enum { REPS = 11 };
		size_t ngrad = m.nparams + 2, bytes = ngrad * sizeof(float);
		size_t chunk = bytes / (size_t)c->size;
		char *sbuf = w2s_xmalloc(chunk), *rbuf = w2s_xmalloc(chunk);
		memset(sbuf, 1, chunk);
		memset(rbuf, 1, chunk);
		int next = (c->rank + 1) % c->size, prev = (c->rank + c->size - 1) % c->size;
		double t[3][REPS];
		for (int r = 0; r < REPS + 1; r++) {
			double dt[3];
			for (int k = 0; k < 3; k++) {
				w2s_comm_barrier(c);
				double t0 = now();
				if (k == 0)
					__real_w2s_comm_sum_floats(c, m.grads, ngrad);
				else if (k == 1)
					mpi_sum_floats(c, m.grads, ngrad);
				else
					MPI_Sendrecv(sbuf, (int)chunk, MPI_BYTE, next, 0, rbuf, (int)chunk,
						     MPI_BYTE, prev, 0, c->comm, MPI_STATUS_IGNORE);
				dt[k] = now() - t0;
			}
			for (int k = 0; k < 3 && r > 0; k++)
				t[k][r - 1] = dt[k];
		}
		double ar = median(t[0], REPS), ar_mpi = median(t[1], REPS);

		/* In the step, on the rank that came to the sum last: the other
		 * waited for it there, so its time is the sum's own, in the
		 * cache state the step leaves, without the ranks' imbalance. */
		for (int64_t i = 0; i < nmeas; i++)
			v[i] = phase_time[o->warmup + i][PH_ALLREDUCE];
		W2S_CHECK(MPI_Allreduce(MPI_IN_PLACE, v, (int)nmeas, MPI_DOUBLE, MPI_MIN, c->comm) ==
			  MPI_SUCCESS);
		out("phase_allreduce_last_s", "%.6g", median(v, (size_t)nmeas));
		double bw = (double)chunk / median(t[2], REPS);
		double p = (double)c->size;
		out("allreduce_bytes", "%zu", bytes);
		out("allreduce_alone_s", "%.6g", ar);
		out("allreduce_mpi_alone_s", "%.6g", ar_mpi);
		out("allreduce_in_step", "%s", step_sum_mpi ? "mpi" : "w2s");
		out("link_bytes_per_s", "%.6g", bw);
		out("ring_bound_s", "%.6g", 2 * (p - 1) / p * (double)bytes / bw);
		free(sbuf);
		free(rbuf);
	}
	free(v);
	free(rate);
	w2s_mlp_free(&m);
	free(y);
	free(x);
	return 0;
}

/* ---- sgemm: raw BLIS at the step's shapes ---- */

/* Median seconds of one sgemm call, after one untimed call. */
static double time_gemm(bool ta, bool tb, size_t m, size_t n, size_t k, float beta,
			const float *a, size_t lda, const float *b, size_t ldb, float *cc,
			size_t ldc, int reps)
{
	double t[64];
	if (reps > 64)
		reps = 64;
	for (int r = 0; r <= reps; r++) {
		double t0 = now();
		w2s_blas_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, cc, ldc);
		if (r > 0)
			t[r - 1] = now() - t0;
	}
	return median(t, (size_t)reps);
}

static int run_sgemm(const struct opts *o)
{
	const struct bench_model *bm = find_model(o->model);
	if (!bm)
		return 2;
	struct w2s_mlp_shape s = model_shape(bm);
	size_t n = (size_t)bm->batch, maxw = 0;
	for (int l = 0; l <= s.nlayers; l++)
		maxw = s.width[l] > maxw ? s.width[l] : maxw;
	size_t big = n * maxw > maxw * maxw ? n * maxw : maxw * maxw;
	float *a = w2s_xmalloc(big * sizeof *a), *b = w2s_xmalloc(big * sizeof *b);
	float *cc = w2s_xmalloc(big * sizeof *cc);
	for (size_t i = 0; i < big; i++)
		a[i] = b[i] = cc[i] = 0.001f * (float)(i % 97);
	/* The three GEMMs of each layer, with the transposes mlp.c uses. */
	double total = 0;
	int reps = o->reps;
	for (int l = 0; l < s.nlayers; l++) {
		size_t in = s.width[l], outw = s.width[l + 1];
		total += time_gemm(false, true, n, outw, in, 0.0f, a, in, b, in, cc, outw, reps);
		total += time_gemm(true, false, outw, in, n, 1.0f, a, outw, b, in, cc, in, reps);
		if (l > 0)
			total += time_gemm(false, false, n, in, outw, 0.0f, a, outw, b, in, cc, in,
					   reps);
	}
	double flops = step_gemm_flops(&s, (double)n);
	out("sgemm_step_s", "%.6g", total);
	out("sgemm_gflops", "%.6g", flops / total * 1e-9);
	free(a);
	free(b);
	free(cc);
	return 0;
}

/* ---- infer: w2s_train_predict in batches ---- */

static int run_infer(const struct opts *o)
{
	const struct bench_model *bm = find_model(o->model);
	if (!bm)
		return 2;
	struct w2s_mlp_shape s = model_shape(bm);
	const int64_t N = o->rows, D = (int64_t)s.width[0], C = (int64_t)s.width[s.nlayers];
	float *x = w2s_xmalloc((size_t)(N * D) * sizeof *x);
	int32_t *y = w2s_xmalloc((size_t)N * sizeof *y);
	float *logits = w2s_xmalloc((size_t)(N * C) * sizeof *logits);
	make_data(N, D, (int)C, x, y);
	struct w2s_mlp m;
	W2S_CHECK(w2s_mlp_init(&m, &s) == 0);
	w2s_mlp_init_params(&m, 1, W2S_STREAM_INIT);
	double *rate = w2s_xmalloc((size_t)o->reps * sizeof *rate);
	double lo = INFINITY, hi = 0;
	for (int r = -1; r < o->reps; r++) {
		double t0 = now();
		w2s_train_predict(&m, x, N, o->batch, NULL, logits, NULL, NULL);
		double v = (double)N / (now() - t0);
		if (r < 0)
			continue;
		rate[r] = v;
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	out("infer_samples_per_s", "%.6g %.6g %.6g", median(rate, (size_t)o->reps), lo, hi);
	free(rate);
	w2s_mlp_free(&m);
	free(logits);
	free(y);
	free(x);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: w2s-bench train|sgemm|infer MODEL [--warmup S] [--steps K] [--reps R]\n"
		"                 [--rows N] [--batch B] [--allreduce w2s|mpi]\n"
		"                 [--reduce default|exact] [--micro M]\n"
		"MODEL: weak, strong or wide.  Prints key=value lines on rank 0.\n"
		"--allreduce mpi: the training step sums its gradients with a plain\n"
		"MPI_Allreduce instead of w2s_comm_sum_floats (for comparing the two).\n");
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	struct w2s_comm c = {.comm = MPI_COMM_NULL};
	w2s_comm_init(&c, MPI_COMM_WORLD);
	out_rank = c.rank;
	w2s_log_init(c.rank, W2S_LOG_WARN);
	w2s_blas_init();

	int code = 0;
	struct opts o = {.warmup = 3, .steps = 5, .reps = 5, .rows = 8192, .batch = 1024};
	/* The micro-batch a run gets by default (train.micro_batch). */
	struct w2s_config defaults = {0};
	W2S_CHECK(w2s_config_load(&defaults, NULL, NULL, 0) == W2S_STATUS_OK);
	o.micro = defaults.train.micro_batch;
	w2s_config_free(&defaults);
	if (argc < 3) {
		usage();
		code = 2;
		goto done;
	}
	o.model = argv[2];
	for (int i = 3; i + 1 < argc; i += 2) {
		long long v = atoll(argv[i + 1]);
		if (!strcmp(argv[i], "--allreduce") &&
		    (!strcmp(argv[i + 1], "w2s") || !strcmp(argv[i + 1], "mpi")))
			step_sum_mpi = !strcmp(argv[i + 1], "mpi");
		else if (!strcmp(argv[i], "--reduce") && !strcmp(argv[i + 1], "exact"))
			o.reduce = W2S_REDUCE_EXACT;
		else if (!strcmp(argv[i], "--reduce") && !strcmp(argv[i + 1], "default"))
			o.reduce = W2S_REDUCE_DEFAULT;
		else if (!strcmp(argv[i], "--micro"))
			o.micro = v;
		else if (!strcmp(argv[i], "--warmup"))
			o.warmup = (int)v;
		else if (!strcmp(argv[i], "--steps"))
			o.steps = (int)v;
		else if (!strcmp(argv[i], "--reps"))
			o.reps = (int)v;
		else if (!strcmp(argv[i], "--rows"))
			o.rows = v;
		else if (!strcmp(argv[i], "--batch"))
			o.batch = v;
		else {
			usage();
			code = 2;
			goto done;
		}
	}
	if (o.warmup < 1 || o.steps < 1 || o.reps < 1 || o.rows < 1 || o.batch < 1 || o.micro < 1) {
		usage();
		code = 2;
		goto done;
	}
	size_t mc, kc, nc;
	w2s_blas_blocks(&mc, &kc, &nc);
	out("blas", "BLIS %s (%s kernels, blocks MC %zu KC %zu NC %zu), %s thread(s) per rank",
	    w2s_blas_version(), w2s_blas_arch(), mc, kc, nc,
	    getenv("BLIS_NUM_THREADS") ? getenv("BLIS_NUM_THREADS") : "1");
	out("ranks", "%d", c.size);
	if (o.reduce == W2S_REDUCE_EXACT)
		out("micro_batch", "%lld", (long long)o.micro);
	if (!strcmp(argv[1], "train"))
		code = run_train(&c, &o);
	else if (!strcmp(argv[1], "sgemm"))
		code = c.rank == 0 ? run_sgemm(&o) : 0;
	else if (!strcmp(argv[1], "infer"))
		code = c.rank == 0 ? run_infer(&o) : 0;
	else
		code = 2;
	if (code == 2)
		usage();
done:
	w2s_comm_free(&c);
	MPI_Finalize();
	return code;
}

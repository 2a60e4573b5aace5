/*
 * train.c: the data-parallel training loop; see train.h.
 *
 * All buffers are taken before the first step: the step itself gathers the
 * batch rows, runs forward and backward, sums over ranks, clips and updates,
 * and never allocates.  Two reductions make the summed gradient: the
 * default one (each rank its share, one float allreduce) and the exact one
 * (micro-batches summed as integers; the method is described in train.h),
 * after which the update is the same code.
 */
#include "w2s/train.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/blas.h"
#include "w2s/log.h"
#include "w2s/loss.h"
#include "w2s/optim.h"
#include "w2s/rng.h"
#include "vec_internal.h"

static void optim_opts_from_spec(const struct w2s_train_spec *spec, int64_t total_steps,
				 struct w2s_optim_opts *o)
{
	w2s_optim_opts_default(o);
	o->kind = spec->optimizer;
	o->lr = (float)spec->lr;
	o->lr_min = (float)spec->lr_min;
	o->weight_decay = (float)spec->weight_decay;
	o->beta1 = (float)spec->beta1;
	o->beta2 = (float)spec->beta2;
	o->eps = (float)spec->eps;
	o->momentum = (float)spec->momentum;
	o->schedule = spec->schedule;
	o->total_steps = total_steps;
	o->warmup_steps = (int64_t)(spec->warmup * (double)total_steps);
}

int64_t w2s_train_total_steps(const struct w2s_train_spec *spec, int64_t n)
{
	int64_t B = spec->batch < n ? spec->batch : n;
	if (B <= 0)
		return 0;
	int64_t per_epoch = (n + B - 1) / B;
	/* epochs is the user's, up to 2^63 - 1: saturate, not overflow. */
	return spec->epochs > INT64_MAX / per_epoch ? INT64_MAX : per_epoch * spec->epochs;
}

/* The state to save after the step just taken: it points at the batch
 * after this one. */
static struct w2s_train_state next_position(const struct w2s_train_state *s,
					    int64_t steps_per_epoch, double seconds)
{
	struct w2s_train_state at = *s;
	at.batch++;
	if (at.batch == steps_per_epoch) {
		at.epoch++;
		at.batch = 0;
	}
	at.seconds = seconds;
	return at;
}

void w2s_train_trainable(const struct w2s_mlp *m, int probe, size_t *offset, size_t *count)
{
	*offset = probe ? (size_t)(m->w[m->shape.nlayers - 1] - m->params) : 0;
	*count = m->nparams - *offset;
}

/* The loss of one step on the local rows: returns the sum over them and
 * writes dlogits.  tb (n, C) holds soft targets, kb (n, C) teacher logits. */
static double step_loss(const struct w2s_train_loss *loss, const struct w2s_train_data *d,
			const float *logits, const int32_t *yb, const float *tb, const float *kb,
			size_t n, size_t C, float scale, int64_t step, int64_t total,
			double *scratch, float *dlogits)
{
	if (d->regression)
		return w2s_loss_mse(logits, tb, n, scale, dlogits);
	if (d->teacher_logits)
		return w2s_loss_kd(logits, yb, kb, n, C, (float)loss->kd_temperature,
				   (float)loss->kd_weight, scale, dlogits);
	if (!d->soft)
		return w2s_loss_xent_hard(logits, yb, n, C, scale, dlogits);
	switch (loss->kind) {
	case W2S_LOSS_XENT_HARD:
		return w2s_loss_xent_hard(logits, yb, n, C, scale, dlogits);
	case W2S_LOSS_KL:
		return w2s_loss_kl(logits, tb, n, C, scale, dlogits);
	case W2S_LOSS_CONFIDENCE: {
		float a = w2s_loss_confidence_alpha((float)loss->confidence_alpha,
						    (float)loss->confidence_warmup, step, total);
		return w2s_loss_confidence(logits, tb, n, C, a, scratch, scale, dlogits);
	}
	case W2S_LOSS_PRODUCT:
		return w2s_loss_product(logits, tb, n, C, (float)loss->product_b,
					(float)loss->product_c, scale, dlogits);
	case W2S_LOSS_XENT:
		break;
	}
	return w2s_loss_xent_soft(logits, tb, n, C, scale, dlogits);
}

/* The rows of the global batch positions [from, from + n) of perm, packed
 * into the step's buffers: inputs (n, D), labels (n), soft targets and
 * teacher logits (n, C) when the data have them. */
static void gather_rows(const struct w2s_train_data *d, const int64_t *perm, int64_t from,
			int64_t n, float *xb, int32_t *yb, float *tb, float *kb)
{
	const int64_t D = d->dim, C = d->classes;
	for (int64_t r = 0; r < n; r++) {
		int64_t row = perm[from + r];
		memcpy(xb + r * D, d->x + row * D, (size_t)D * sizeof *xb);
		yb[r] = d->y[row];
		if (d->soft)
			memcpy(tb + r * C, d->soft + row * C, (size_t)C * sizeof *tb);
		if (kb)
			memcpy(kb + r * C, d->teacher_logits + row * C, (size_t)C * sizeof *kb);
	}
}

/* What a step's reduction leaves for the update, the same on every rank;
 * the summed gradient itself is in m->grads. */
struct step_sums {
	double loss;    /* summed over the batch's rows */
	double correct;
	bool stopping;  /* some rank was asked to stop */
	bool finite;    /* false: a gradient was not finite (grads then unset) */
};

/* ---- the exact reduction (train.reduce exact) ----
 *
 * The grid of a step is 2^(exp - bits): a gradient below 2^exp becomes an
 * integer below 2^bits (51, less beyond 2^11 micro-batches), so that the
 * sum of the step's K micro-batches fits an int64.  exp is the previous
 * step's largest |gradient| (its binary exponent) plus EXACT_HEADROOM
 * bits; a step whose largest is above the grid, or more than EXACT_SLACK
 * bits below its top (precision lost), is computed again with exp fitted
 * to it.  A float lies on the grid, and is summed without rounding, when
 * it is within 2^(bits - 24 - (exp - its largest)) of the largest: 2^23
 * at the usual 4 bits of headroom, 2^19 at worst with slack 8.  Smaller
 * ones are rounded to at most 2^-42 of the largest, far below what Adam's
 * eps lets matter.  Headroom 4 lets the gradients grow 16-fold in a step
 * before a recompute; slack 8 lets them shrink 16-fold (gradients change
 * far less from one step to the next, so recomputes are rare, but the
 * first step's exp is a guess). */
#define EXACT_HEADROOM 4
#define EXACT_SLACK 8
#define EXACT_FIRST_EXP EXACT_HEADROOM /* as if the step before had max |g| ~ 1 */
/* Micro-batch gradients a rank holds before folding them into the sums:
 * each fold reads and writes the int64 sums once, so folding four at a
 * time cuts that traffic fourfold, for three more gradients' memory.  The
 * same micro-batches go through the model together (see exact_plan). */
#define EXACT_GROUP 4

struct exact {
	int64_t micro;  /* rows per micro-batch (at most the batch) */
	int64_t kmax;   /* micro-batches of a whole batch */
	int group;      /* gradient buffers in use, 1..EXACT_GROUP */
	int block;      /* micro-batches per forward pass: group, or 1 */
	float *buf[EXACT_GROUP];            /* (nparams + extra) each; buf[0] is m->grads */
	struct w2s_mlp view[EXACT_GROUP];   /* the model, with its gradient in buf[g] */
	int64_t *msg;   /* the allreduce: (nparams) sums, correct, stop votes,
			 * (size) largest |g| per rank, (kmax) loss per micro-batch */
};

/* The two passes below run on vec_internal.h's half-width vectors (as many
 * floats as doubles and int64s), each compiled for AVX-512, AVX2 and the
 * baseline.  Every operation is lane by lane, so the lane count changes no
 * bit of the sums. */
typedef w2s_vh exact_vf;
typedef w2s_vhi exact_vi;
typedef w2s_vd exact_vd;
typedef w2s_vl exact_vl;
typedef w2s_vu exact_vu;
#define EXACT_CLONES W2S_CLONES
#define XL (VL / 2) /* lanes of those vectors */

/* Adding 1.5 * 2^52 to a double of magnitude at most 2^51 rounds it to an
 * integer (to nearest, ties to even) held in the low bits of the sum's
 * mantissa: its bits less the constant's are that integer.  No int64
 * conversion instruction is needed, which the baseline lacks in vectors. */
#define EXACT_MAGIC 6755399441055744.0

/* Folds G micro-batch gradients g[0..G) (n floats each) into the sums acc
 * (n): acc[i] = (acc[i] if add, else 0) + sum_j round(g[j][i] * up).
 * Terms beyond 2^51 (or not finite) make garbage, but defined garbage
 * (unsigned arithmetic): the step's largest |g|, which every rank learns,
 * then sends it back to be computed again.  With out (which may be g[0]),
 * the sums are not stored but written back as floats, out[i] = acc[i] *
 * unit, as exact_unfold does: a lone rank's last fold, which has nothing
 * to exchange, saves a pass over the int64s that way.  Returns the bits
 * of the largest |g| (a float >= 0 orders as its bits do; at or above
 * those of inf means one was not finite: inf, or NaN above it). */
EXACT_CLONES static uint32_t exact_fold(int64_t *acc, float *const *g, int G, size_t n, double up,
					bool add, float *out, double unit)
{
	const double magic = EXACT_MAGIC;
	uint64_t magic_bits;
	memcpy(&magic_bits, &magic, sizeof magic_bits);
	exact_vi vmax = {0};
	size_t i = 0;
	for (; i + XL <= n; i += XL) {
		exact_vu a = {0};
		if (add)
			memcpy(&a, acc + i, sizeof a);
		for (int j = 0; j < G; j++) {
			exact_vf v;
			memcpy(&v, g[j] + i, sizeof v);
			exact_vd x = __builtin_convertvector(v, exact_vd) * up + magic;
			a += (exact_vu)x - magic_bits;
			exact_vi mag = (exact_vi)v & 0x7fffffff, more = mag > vmax;
			vmax = (mag & more) | (vmax & ~more);
		}
		if (out) {
			exact_vf f = __builtin_convertvector(
				__builtin_convertvector((exact_vl)a, exact_vd) * unit, exact_vf);
			memcpy(out + i, &f, sizeof f);
		} else {
			memcpy(acc + i, &a, sizeof a);
		}
	}
	int32_t top = 0;
	for (int k = 0; k < XL; k++)
		top = vmax[k] > top ? vmax[k] : top;
	for (; i < n; i++) {
		uint64_t a = add ? (uint64_t)acc[i] : 0;
		for (int j = 0; j < G; j++) {
			double x = (double)g[j][i] * up + magic;
			uint64_t b;
			memcpy(&b, &x, sizeof b);
			a += b - magic_bits;
			int32_t mag;
			memcpy(&mag, &g[j][i], sizeof mag);
			mag &= 0x7fffffff;
			top = mag > top ? mag : top;
		}
		if (out)
			out[i] = (float)((double)(int64_t)a * unit);
		else
			acc[i] = (int64_t)a;
	}
	return (uint32_t)top;
}

/* g (n) = acc (n) * unit: the summed integers back on their grid. */
EXACT_CLONES static void exact_unfold(float *restrict g, const int64_t *restrict acc, size_t n,
				      double unit)
{
	size_t i = 0;
	for (; i + XL <= n; i += XL) {
		exact_vl a;
		memcpy(&a, acc + i, sizeof a);
		exact_vf v = __builtin_convertvector(__builtin_convertvector(a, exact_vd) * unit,
						     exact_vf);
		memcpy(g + i, &v, sizeof v);
	}
	for (; i < n; i++)
		g[i] = (float)((double)acc[i] * unit);
}

/* The sizes of the exact reduction of batches of B rows on c's ranks:
 * the buffers are taken by exact_init. */
static void exact_plan(struct exact *x, const struct w2s_comm *c, int64_t B, int64_t micro)
{
	memset(x, 0, sizeof *x);
	x->micro = micro < B ? micro : B;
	x->kmax = (B + x->micro - 1) / x->micro;
	int64_t per_rank = (x->kmax + c->size - 1) / c->size;
	x->group = per_rank < EXACT_GROUP ? (int)per_rank : EXACT_GROUP;
	/* A group's micro-batches go forward together, in products group
	 * times as tall, which is faster (BLIS packs each layer's weights once
	 * per product) and gives each row the same bits, unless BLIS sends
	 * some sizes to other kernels: then a rank count would decide which
	 * rows those are, and the bits would differ. */
	x->block = w2s_blas_rows_independent() ? x->group : 1;
}

/* Takes the buffers planned by exact_plan. */
static void exact_init(struct exact *x, const struct w2s_comm *c, struct w2s_mlp *m)
{
	for (int g = 0; g < x->group; g++) {
		x->buf[g] = g == 0 ? m->grads
				   : w2s_xmalloc((m->nparams + W2S_MLP_GRAD_EXTRA) * sizeof(float));
		x->view[g] = *m;
		x->view[g].grads = x->buf[g];
		for (int l = 0; l < m->shape.nlayers; l++) {
			x->view[g].gw[l] = x->buf[g] + (m->gw[l] - m->grads);
			x->view[g].gb[l] = x->buf[g] + (m->gb[l] - m->grads);
		}
	}
	x->msg = w2s_xmalloc((m->nparams + 2 + (size_t)c->size + (size_t)x->kmax) *
			     sizeof *x->msg);
}

static void exact_free(struct exact *x)
{
	for (int g = 1; g < x->group; g++)
		free(x->buf[g]);
	free(x->msg);
	memset(x, 0, sizeof *x);
}

/* What a micro-batch step needs besides the model: the data and this
 * step's position, the loss, and the step's scratch buffers. */
struct step_io {
	const struct w2s_train_data *d;
	const struct w2s_train_loss *loss;
	const int64_t *perm;
	int64_t step, total;
	struct w2s_mlp_work *work;
	float *xb, *tb, *kb, *dlogits;
	int32_t *yb;
	double *scratch;
	bool stop_vote;
};

/* Collective: the gradient of the global batch positions [gb, ge) of
 * io->perm, summed exactly, into m->grads, with the step's sums in out.
 * *exp is the grid's exponent (see above), updated for the next step. */
static void exact_step(const struct w2s_comm *c, struct w2s_mlp *m, struct exact *x,
		       const struct step_io *io, int64_t gb, int64_t ge, int64_t *exp,
		       struct step_sums *out, int64_t *recomputed)
{
	const struct w2s_train_data *d = io->d;
	const size_t P = m->nparams, C = (size_t)d->classes;
	const int64_t len = ge - gb, K = (len + x->micro - 1) / x->micro;
	int64_t *slots = x->msg + P; /* correct, stop, max per rank, loss per micro-batch */
	const size_t nslots = 2 + (size_t)c->size + (size_t)K;
	int64_t kb, ke;
	w2s_shard(K, c->rank, c->size, &kb, &ke);
	/* K terms below 2^bits each must sum below 2^62. */
	int bits = 62;
	while (bits > 1 && ((int64_t)1 << (62 - bits)) < K)
		bits--;
	bits = bits < 51 ? bits : 51;
	const float scale = 1.0f / (float)len;
	const bool alone = c->size == 1;
	for (int attempt = 0;; attempt++) {
		/* A second try has its grid fitted to the same gradients. */
		W2S_CHECK(attempt < 2);
		const double up = ldexp(1.0, bits - (int)*exp), unit = ldexp(1.0, (int)*exp - bits);
		memset(slots, 0, nslots * sizeof *slots);
		int64_t correct = 0;
		uint32_t top = 0; /* bits of the largest |g| */
		bool add = false;
		int held = 0;
		/* Blocks of micro-batches [k0, k1), each one forward and one
		 * backward; the loss and the parameter gradients per micro-batch,
		 * over its rows alone, as if it were computed by itself. */
		for (int64_t k0 = kb; k0 < ke; k0 += x->block) {
			const int64_t k1 = ke - k0 < x->block ? ke : k0 + x->block;
			const int64_t r0 = gb + k0 * x->micro;
			const int64_t n = ge - r0 < (k1 - k0) * x->micro ? ge - r0 : (k1 - k0) * x->micro;
			gather_rows(d, io->perm, r0, n, io->xb, io->yb, io->tb, io->kb);
			const float *logits = w2s_mlp_forward(m, io->work, io->xb, (size_t)n);
			if (!d->regression)
				correct += (int64_t)w2s_count_correct(logits, io->yb, (size_t)n, C);
			for (int64_t k = k0; k < k1; k++) {
				const size_t o = (size_t)((k - k0) * x->micro);
				const size_t nk = (size_t)n - o < (size_t)x->micro ? (size_t)n - o
										     : (size_t)x->micro;
				double l = step_loss(io->loss, d, logits + o * C, io->yb + o,
						     io->tb ? io->tb + o * C : NULL,
						     io->kb ? io->kb + o * C : NULL, nk, C, scale,
						     io->step, io->total, io->scratch,
						     io->dlogits + o * C);
				memcpy(&slots[2 + c->size + k], &l, sizeof l);
			}
			struct w2s_mlp *parts[EXACT_GROUP];
			for (int64_t k = k0; k < k1; k++)
				parts[k - k0] = &x->view[held + (k - k0)];
			w2s_mlp_backward_parts(parts, (size_t)(k1 - k0), (size_t)x->micro, io->work,
					       io->xb, (size_t)n, io->dlogits);
			held += (int)(k1 - k0);
			if (held == x->group || k1 == ke) {
				float *dst = alone && k1 == ke ? m->grads : NULL;
				uint32_t t = exact_fold(x->msg, x->buf, held, P, up, add, dst, unit);
				top = t > top ? t : top;
				add = true;
				held = 0;
			}
		}
		if (kb == ke)
			memset(x->msg, 0, P * sizeof *x->msg);
		slots[0] = correct;
		slots[1] = io->stop_vote;
		slots[2 + c->rank] = top;
		if (alone) /* the gradient is in m->grads already */
			w2s_comm_sum_int64(c, slots, nslots);
		else
			w2s_comm_sum_int64(c, x->msg, P + nslots);

		int64_t most = 0;
		for (int r = 0; r < c->size; r++)
			most = slots[2 + r] > most ? slots[2 + r] : most;
		uint32_t most_bits = (uint32_t)most;
		float gmax;
		memcpy(&gmax, &most_bits, sizeof gmax);
		out->loss = 0;
		for (int64_t k = 0; k < K; k++) {
			double l;
			memcpy(&l, &slots[2 + c->size + k], sizeof l);
			out->loss += l;
		}
		out->correct = (double)slots[0];
		out->stopping = slots[1] > 0;
		out->finite = isfinite(gmax);
		if (!out->finite || !isfinite(out->loss))
			return;
		int e = 0;
		if (gmax > 0.0f) {
			frexpf(gmax, &e); /* every |g| < 2^e */
			if (e > *exp || e < *exp - EXACT_SLACK) {
				*exp = e + EXACT_HEADROOM;
				++*recomputed;
				continue;
			}
		}
		if (!alone)
			exact_unfold(m->grads, x->msg, P, unit);
		if (gmax > 0.0f)
			*exp = e + EXACT_HEADROOM;
		return;
	}
}

enum w2s_status w2s_train_model(const struct w2s_comm *c, struct w2s_mlp *m,
				const struct w2s_train_spec *spec, const struct w2s_train_loss *loss,
				const struct w2s_train_data *d, uint64_t seed, uint32_t stream,
				const struct w2s_train_log *log, const struct w2s_train_ckpt *ckpt,
				struct w2s_train_result *res)
{
	const int64_t N = d->n, D = d->dim, C = d->classes;
	const int64_t B = spec->batch < N ? spec->batch : N;
	const int64_t steps_per_epoch = (N + B - 1) / B;
	const int64_t total = w2s_train_total_steps(spec, N);
	const bool exact = spec->reduce == W2S_REDUCE_EXACT;
	struct exact ex = {0};
	if (exact)
		exact_plan(&ex, c, B, spec->micro_batch);
	/* Rows a rank computes at once: its share of a batch, or a block of
	 * micro-batches. */
	const int64_t local_max = exact ? ex.micro * ex.block : (B + c->size - 1) / c->size;
	const struct w2s_train_state *from = ckpt ? ckpt->from : NULL;
	enum w2s_status st = W2S_STATUS_OK;
	memset(res, 0, sizeof *res);

	/* The trace rows are taken before the first step (none inside it):
	 * a run of absurdly many steps is refused here, on every rank alike. */
	const int64_t capacity = total / log->every + 2 + (from ? from->ntrace : 0);
	struct w2s_trace_row *rows = capacity < (INT64_C(1) << 26)
					     ? calloc((size_t)capacity, sizeof *rows)
					     : NULL;
	if (!rows)
		w2s_log_error_local("%s: %lld steps would make a trace of %lld rows, more than "
				    "memory holds; raise log.every or lower train.epochs",
				    log->label, (long long)total, (long long)capacity);
	if (w2s_comm_agree(c, rows == NULL)) {
		free(rows);
		return W2S_STATUS_NOMEM;
	}

	static const struct w2s_train_loss xent = {.kind = W2S_LOSS_XENT};
	if (!loss)
		loss = &xent;
	/* A probe's optimizer sees only the last layer, so neither its updates
	 * nor its weight decay touch the frozen ones. */
	size_t off, ntrain;
	w2s_train_trainable(m, spec->probe, &off, &ntrain);
	struct w2s_optim_opts oo;
	optim_opts_from_spec(spec, total, &oo);
	struct w2s_optim opt = {0};
	struct w2s_mlp_work work = {0};
	W2S_CHECK(w2s_optim_init(&opt, &oo, ntrain) == 0);
	W2S_CHECK(w2s_mlp_work_init(&work, &m->shape, (size_t)local_max) == 0);
	int64_t *perm = w2s_xmalloc((size_t)N * sizeof *perm);
	float *xb = w2s_xmalloc((size_t)(local_max * D) * sizeof *xb);  /* (local_max, D) */
	float *tb = w2s_xmalloc((size_t)(local_max * C) * sizeof *tb);  /* (local_max, C) */
	int32_t *yb = w2s_xmalloc((size_t)local_max * sizeof *yb);
	float *dlogits = w2s_xmalloc((size_t)(local_max * C) * sizeof *dlogits);
	float *kb = d->teacher_logits ? w2s_xmalloc((size_t)(local_max * C) * sizeof *kb) : NULL;
	double *scratch = w2s_xmalloc((size_t)(local_max + 3 * C) * sizeof *scratch);
	/* Default: the gradients, then the step's loss sum, correct count and
	 * stop votes; one allreduce carries them all. */
	const size_t ngrad = m->nparams + 3;
	W2S_CHECK(W2S_MLP_GRAD_EXTRA >= 3);
	if (exact) {
		exact_init(&ex, c, m);
		/* The work of a step is dealt by micro-batch: with fewer of them
		 * than ranks, some ranks only wait.  Said once, for the first
		 * model it concerns. */
		static bool warned;
		if (ex.kmax < c->size && !warned) {
			warned = true;
			w2s_log_warn("%s: train.reduce exact cuts a batch of %lld rows into %lld "
				     "micro-batch%s of %lld, so %lld of the %d ranks wait at every "
				     "step; a train.micro_batch of %lld or less gives each rank work",
				     log->label, (long long)B, (long long)ex.kmax,
				     ex.kmax > 1 ? "es" : "", (long long)ex.micro,
				     (long long)(c->size - ex.kmax), c->size,
				     (long long)(B / c->size > 0 ? B / c->size : 1));
		}
	}
	struct step_io io = {
		.d = d, .loss = loss, .perm = perm, .total = total, .work = &work,
		.xb = xb, .tb = tb, .kb = kb, .dlogits = dlogits, .yb = yb, .scratch = scratch,
	};

	struct w2s_train_state s = {
		.last_val = NAN, .best_val = -INFINITY, .reduce_exp = EXACT_FIRST_EXP,
	};
	const int evaluate = spec->eval_every > 0 && log->val_score != NULL;
	const int early = evaluate && spec->patience > 0;
	if (from)
		s = *from;
	s.trace_rows = rows;
	s.best_params = NULL;
	if (early) {
		s.best_params = w2s_xmalloc(m->nparams * sizeof *s.best_params);
		memcpy(s.best_params, from && from->best_params ? from->best_params : m->params,
		       m->nparams * sizeof *s.best_params);
	}
	int stop_early = 0;
	if (from) {
		memcpy(s.trace_rows, from->trace_rows, (size_t)from->ntrace * sizeof *s.trace_rows);
		opt.step = from->step;
		memcpy(opt.m, ckpt->from_m, ntrain * sizeof *opt.m);
		memcpy(opt.v, ckpt->from_v, ntrain * sizeof *opt.v);
		int bad = 0;
		for (int64_t i = 0; i < s.ntrace && log->trace && !bad; i++)
			bad = w2s_trace_append(log->trace, log->trace_index, &s.trace_rows[i]) != 0;
		if (w2s_comm_agree(c, bad))
			st = W2S_STATUS_IO;
	}

	const double t0 = w2s_comm_time() - s.seconds;
	double t_last = w2s_comm_time(), grad_norm = 0;
	float lr = 0;
	for (; s.epoch < spec->epochs && st == W2S_STATUS_OK && !stop_early;
	     s.epoch++, s.batch = 0) {
		w2s_rng_permutation(seed, stream, (uint64_t)s.epoch, perm, (size_t)N);
		for (; s.batch < steps_per_epoch; s.batch++) {
			int64_t gb = s.batch * B, ge = gb + B < N ? gb + B : N;
			io.step = s.step;
			io.stop_vote = ckpt && ckpt->stop && *ckpt->stop;
			struct step_sums sum;
			if (exact) {
				exact_step(c, m, &ex, &io, gb, ge, &s.reduce_exp, &sum,
					   &res->recomputed);
			} else {
				int64_t lb, le;
				w2s_shard(ge - gb, c->rank, c->size, &lb, &le);
				int64_t n = le - lb;
				gather_rows(d, perm, gb + lb, n, xb, yb, tb, kb);
				float scale = 1.0f / (float)(ge - gb);
				double lsum = 0;
				float correct = 0;
				if (n > 0) {
					const float *logits = w2s_mlp_forward(m, &work, xb, (size_t)n);
					lsum = step_loss(loss, d, logits, yb, tb, kb, (size_t)n, (size_t)C,
							 scale, s.step, total, scratch, dlogits);
					if (!d->regression)
						correct = (float)w2s_count_correct(logits, yb, (size_t)n,
										   (size_t)C);
					/* Writes every gradient: no zeroing pass first. */
					w2s_mlp_backward_set(m, &work, xb, (size_t)n, dlogits);
				} else {
					memset(m->grads, 0, m->nparams * sizeof *m->grads);
				}
				m->grads[m->nparams] = (float)lsum;
				m->grads[m->nparams + 1] = correct;
				m->grads[m->nparams + 2] = io.stop_vote ? 1.0f : 0.0f;
				w2s_comm_sum_floats(c, m->grads, ngrad);
				sum = (struct step_sums){
					.loss = m->grads[m->nparams],
					.correct = m->grads[m->nparams + 1],
					.stopping = m->grads[m->nparams + 2] > 0,
					.finite = true,
				};
			}

			/* After the sum every rank holds the same numbers, so these
			 * checks branch alike everywhere. */
			grad_norm = sum.finite ? w2s_grad_clip(m->grads + off, ntrain, spec->clip) : NAN;
			if (!isfinite(sum.loss) || !isfinite(grad_norm)) {
				w2s_log_error("%s: the %s is not finite at step %lld (epoch %lld); a "
					      "smaller train.lr or a train.clip may help",
					      log->label, isfinite(sum.loss) ? "gradient" : "loss",
					      (long long)s.step + 1, (long long)s.epoch + 1);
				st = W2S_STATUS_NUMERIC;
				break;
			}
			const int stopping = sum.stopping;
			lr = w2s_optim_step(&opt, m->params + off, m->grads + off);
			s.step++;
			s.loss_sum += sum.loss;
			s.correct += sum.correct;
			s.seen += (double)(ge - gb);

			if (evaluate && (s.step % spec->eval_every == 0 || s.step == total)) {
				/* Every rank gets the same score, so all decide alike. */
				s.last_val = log->val_score(log->val_ctx, m);
				if (s.last_val > s.best_val) {
					s.best_val = s.last_val;
					s.best_step = s.step;
					s.bad_evals = 0;
					if (early)
						memcpy(s.best_params, m->params,
						       m->nparams * sizeof *s.best_params);
				} else if (early && ++s.bad_evals >= spec->patience) {
					stop_early = 1;
				}
			}
			if (s.step % log->every == 0 || s.step == total || stop_early) {
				double now = w2s_comm_time();
				struct w2s_trace_row row = {
					.step = s.step,
					.epoch = (double)s.step / (double)steps_per_epoch,
					.loss = s.loss_sum / s.seen,
					.acc = d->regression ? NAN : s.correct / s.seen,
					.lr = lr,
					.grad_norm = grad_norm,
					.seconds = now - t0,
					.samples_per_s = s.seen / (now - t_last > 0 ? now - t_last : 1e-9),
					.val_acc = s.last_val,
				};
				struct w2s_log_progress pr = {
					.model = log->label,
					.step = s.step,
					.total = total,
					.epoch = row.epoch,
					.loss = row.loss,
					.acc = row.acc,
					.val_acc = evaluate ? s.last_val : NAN,
					.lr = row.lr,
					.samples_per_s = row.samples_per_s,
					.eta_seconds = (now - t0) / (double)s.step * (double)(total - s.step),
				};
				w2s_log_progress(&pr);
				W2S_CHECK(s.ntrace < capacity);
				s.trace_rows[s.ntrace++] = row;
				int bad = 0;
				if (log->trace)
					bad = w2s_trace_append(log->trace, log->trace_index, &row) != 0;
				if (w2s_comm_agree(c, bad)) {
					st = W2S_STATUS_IO;
					break;
				}
				res->last_loss = row.loss;
				t_last = now;
				s.loss_sum = s.correct = s.seen = 0;
			}
			if (stop_early) {
				w2s_log_info("%s: no better on val for %lld evaluations: stopping at "
					     "step %lld, keeping step %lld (val %.4f)",
					     log->label, (long long)spec->patience, (long long)s.step,
					     (long long)s.best_step, s.best_val);
				break;
			}
			int periodic = ckpt && ckpt->every > 0 && s.step % ckpt->every == 0;
			if (ckpt && ckpt->save && (periodic || stopping) && s.step < total) {
				struct w2s_train_state at =
					next_position(&s, steps_per_epoch, w2s_comm_time() - t0);
				st = ckpt->save(ckpt->ctx, m, &opt, &at, 0);
				if (st == W2S_STATUS_OK && stopping)
					st = W2S_STATUS_STOPPED;
				if (st != W2S_STATUS_OK)
					break;
			}
		}
	}
	/* The ranks did the same arithmetic on the same sums; if their
	 * parameters differ, that is a bug, not bad input. */
	W2S_CHECK(w2s_comm_same_bytes(c, m->params, m->nparams * sizeof *m->params));
	res->steps = s.step;
	res->chosen_step = s.step;
	if (early && st == W2S_STATUS_OK && s.best_step > 0) {
		memcpy(m->params, s.best_params, m->nparams * sizeof *m->params);
		res->chosen_step = s.best_step;
	}
	res->seconds = w2s_comm_time() - t0;
	res->samples_per_s = res->seconds > 0 ? (double)s.step * (double)B / res->seconds : 0;
	if (st == W2S_STATUS_OK && ckpt && ckpt->save) {
		s.seconds = res->seconds;
		st = ckpt->save(ckpt->ctx, m, &opt, &s, 1);
	}

	exact_free(&ex);
	free(s.best_params);
	free(s.trace_rows);
	free(scratch);
	free(kb);
	free(dlogits);
	free(yb);
	free(tb);
	free(xb);
	free(perm);
	w2s_mlp_work_free(&work);
	w2s_optim_free(&opt);
	return st;
}

double w2s_train_sum_exact(const struct w2s_comm *c, const double *v, int64_t n, int64_t total)
{
	/* Each rank's largest |v| in a slot of its own: one integer sum tells
	 * every rank the largest of all (a double >= 0 orders as its bits do,
	 * NaN above inf), which sets the grid, as in the training step. */
	int64_t *slots = w2s_xmalloc((size_t)c->size * sizeof *slots);
	memset(slots, 0, (size_t)c->size * sizeof *slots);
	double top = 0.0;
	bool bad = false;
	for (int64_t i = 0; i < n; i++) {
		double a = fabs(v[i]);
		bad = bad || isnan(a);
		top = a > top ? a : top;
	}
	if (bad)
		top = NAN;
	memcpy(&slots[c->rank], &top, sizeof top);
	w2s_comm_sum_int64(c, slots, (size_t)c->size);
	int64_t most = 0;
	for (int r = 0; r < c->size; r++)
		most = slots[r] > most ? slots[r] : most;
	free(slots);
	memcpy(&top, &most, sizeof top);
	if (!isfinite(top))
		return NAN;
	if (top == 0.0)
		return 0.0;
	int e, bits = 51;
	frexp(top, &e); /* every |v| < 2^e */
	while (bits > 1 && ((int64_t)1 << (62 - bits)) < total)
		bits--;
	const double up = ldexp(1.0, bits - e);
	int64_t sum = 0;
	for (int64_t i = 0; i < n; i++)
		sum += llrint(v[i] * up);
	w2s_comm_sum_int64(c, &sum, 1);
	return (double)sum * ldexp(1.0, e - bits);
}

double w2s_train_loss_sum_exact(const struct w2s_comm *c, const float *logits, const int32_t *y,
				const float *values, int64_t n, int64_t C, int64_t total)
{
	double *row = w2s_xmalloc((size_t)n * sizeof *row + 1);
	for (int64_t r = 0; r < n; r++)
		row[r] = values ? w2s_sum_squared_diff(logits + r, values + r, 1)
				: w2s_loss_xent_hard(logits + r * C, y + r, 1, (size_t)C, 0.0f, NULL);
	double sum = w2s_train_sum_exact(c, row, n, total);
	free(row);
	return sum;
}

void w2s_train_predict(const struct w2s_mlp *m, const float *x, int64_t n, int64_t batch,
		       const struct w2s_rows_at *at, float *logits, float *probs, int32_t *pred)
{
	const int64_t D = (int64_t)m->shape.width[0];
	const int64_t C = (int64_t)m->shape.width[m->shape.nlayers];
	const bool grid = at && !w2s_blas_rows_independent();
	if (grid && at->total < batch)
		batch = at->total > 0 ? at->total : 1;
	struct w2s_mlp_work work = {0};
	W2S_CHECK(w2s_mlp_work_init(&work, &m->shape, (size_t)batch) == 0);
	/* On the grid: a block the shard holds only part of is computed whole,
	 * from a copy with zeros for the rows of other shards. */
	float *block = grid ? w2s_xmalloc((size_t)(batch * D) * sizeof *block) : NULL;
	for (int64_t b = 0; b < n;) {
		int64_t k = n - b < batch ? n - b : batch;
		const float *in = x + b * D;
		int64_t rows = k, skip = 0; /* the call's rows; this shard's first among them */
		if (grid) {
			int64_t g = at->first + b, start = g / batch * batch;
			rows = at->total - start < batch ? at->total - start : batch;
			skip = g - start;
			k = rows - skip < n - b ? rows - skip : n - b;
			if (skip > 0 || k < rows) {
				memset(block, 0, (size_t)(rows * D) * sizeof *block);
				memcpy(block + skip * D, in, (size_t)(k * D) * sizeof *block);
				in = block;
			}
		}
		const float *out = w2s_mlp_forward(m, &work, in, (size_t)rows);
		memcpy(logits + b * C, out + skip * C, (size_t)(k * C) * sizeof *logits);
		b += k;
	}
	free(block);
	if (probs)
		w2s_softmax(logits, probs, (size_t)n, (size_t)C);
	if (pred)
		w2s_argmax_rows(logits, pred, (size_t)n, (size_t)C);
	w2s_mlp_work_free(&work);
}

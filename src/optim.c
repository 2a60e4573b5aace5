/*
 * optim.c: AdamW and SGD with momentum over one flat parameter buffer, the
 * learning-rate schedule, and gradient-norm clipping.
 *
 * Dimension legend: n parameters.  Every rank runs these on the same summed
 * gradients with the same arithmetic, in the same order, so parameters stay
 * bitwise identical across ranks without a broadcast.
 *
 * The loops over the parameters are vectors (vec_internal.h) compiled per
 * instruction set: the plain loops were not vectorized at -O2, and the
 * square root in Adam was a call per parameter.  The build compiles this
 * file with -fno-math-errno, so that square root is one vector
 * instruction, and -ffp-contract=off: every lane does the arithmetic of
 * the scalar formula, in its order, so all clones (ranks on different
 * CPUs) give the same bits.
 *
 * Not here: gradient reduction, anything that knows about layers.
 */
#include "w2s/optim.h"

#include "w2s/common.h"
#include "vec_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void w2s_optim_opts_default(struct w2s_optim_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = W2S_OPT_ADAM;
	o->lr = 1e-3f;
	o->weight_decay = 0.0f;
	o->beta1 = 0.9f;
	o->beta2 = 0.999f;
	o->eps = 1e-8f;
	o->momentum = 0.0f;
	o->schedule = W2S_SCHED_CONSTANT;
	o->warmup_steps = 0;
	o->total_steps = 0;
	o->lr_min = 0.0f;
}

/* Both moment buffers are allocated whatever the optimizer, so that a
 * checkpoint of the optimizer has the same datasets for Adam and SGD. */
int w2s_optim_init(struct w2s_optim *o, const struct w2s_optim_opts *opts, size_t n)
{
	memset(o, 0, sizeof(*o));
	size_t bytes;
	if (w2s_mul_size(n, sizeof(float), &bytes) != 0)
		return -1;
	/* calloc, not w2s_xcalloc: n is the model size the user chose. */
	float *m = calloc(1, bytes ? bytes : 1);
	float *v = calloc(1, bytes ? bytes : 1);
	if (m == NULL || v == NULL) {
		free(m);
		free(v);
		return -1;
	}
	o->opts = *opts;
	o->n = n;
	o->m = m;
	o->v = v;
	return 0;
}

void w2s_optim_free(struct w2s_optim *o)
{
	free(o->m);
	free(o->v);
	memset(o, 0, sizeof(*o));
}

/* Warm-up is linear and reaches lr at its last step (s + 1 over
 * warmup_steps) so that step 0 already moves the parameters.  The cosine
 * then runs from lr at step warmup_steps to lr_min at step total_steps and
 * stays there; computed in double so that long runs land on lr_min. */
float w2s_optim_lr(const struct w2s_optim_opts *o, int64_t step)
{
	if (o->warmup_steps > 0 && step < o->warmup_steps)
		return (float)((double)o->lr * (double)(step + 1) / (double)o->warmup_steps);
	if (o->schedule == W2S_SCHED_CONSTANT)
		return o->lr;

	int64_t warm = o->warmup_steps > 0 ? o->warmup_steps : 0;
	int64_t span = o->total_steps - warm;
	if (span <= 0)
		return o->lr;
	int64_t s = step - warm;
	if (s >= span)
		return o->lr_min;
	const double pi = 3.14159265358979323846;
	double frac = (double)s / (double)span;
	double lr = (double)o->lr_min +
		    0.5 * ((double)o->lr - (double)o->lr_min) * (1.0 + cos(pi * frac));
	return (float)lr;
}

/* Squares are summed in NORM_LANES partial sums of doubles, lane k taking
 * the entries i with i % NORM_LANES == k, and the lanes are added in
 * order at the end.  The result so depends on NORM_LANES alone, not on the
 * width of the vectors a clone has.  32 lanes are four chains of 8-wide
 * adds, enough to hide the latency of an add behind the loads. */
#define NORM_LANES 32
#define NORM_VECS (NORM_LANES / (VL / 2))

W2S_CLONES static double sum_squares(const float *restrict g, size_t n)
{
	w2s_vd acc[NORM_VECS];
	for (int j = 0; j < NORM_VECS; j++)
		acc[j] = (w2s_vd){0};
	size_t i = 0;
	for (; i + NORM_LANES <= n; i += NORM_LANES)
		for (int j = 0; j < NORM_VECS; j++) {
			w2s_vd x = vload_half_d(g + i + (size_t)j * (VL / 2));
			acc[j] += x * x;
		}
	double lane[NORM_LANES];
	memcpy(lane, acc, sizeof lane);
	for (size_t k = 0; i < n; i++, k++)
		lane[k] += (double)g[i] * (double)g[i];
	double sum = 0.0;
	for (int k = 0; k < NORM_LANES; k++)
		sum += lane[k];
	return sum;
}

double w2s_grad_norm(const float *g, size_t n)
{
	return sqrt(sum_squares(g, n));
}

W2S_CLONES static void scale_floats(float *restrict g, size_t n, float f)
{
	size_t i = 0;
	for (; i + VL <= n; i += VL)
		vstore(g + i, vload(g + i) * f);
	for (; i < n; i++)
		g[i] *= f;
}

/* A NaN or infinite norm is returned without touching g: scaling would
 * turn every entry into NaN or zero and hide where the problem came from;
 * the caller checks the returned norm. */
double w2s_grad_clip(float *g, size_t n, double max_norm)
{
	double norm = w2s_grad_norm(g, n);
	if (max_norm <= 0.0 || !isfinite(norm) || norm <= max_norm)
		return norm;
	scale_floats(g, n, (float)(max_norm / norm));
	return norm;
}

/* sqrt lane by lane; with -fno-math-errno one instruction per vector. */
static inline __attribute__((always_inline)) w2s_vf vsqrt(w2s_vf x)
{
	w2s_vf r;
	for (int j = 0; j < VL; j++)
		r[j] = sqrtf(x[j]);
	return r;
}

/* The step's constants of AdamW, the same for every parameter. */
struct adamw_coef {
	float b1, b2, eps;
	float step_size;    /* lr / (1 - beta1^t) */
	float inv_sqrt_bc2; /* 1 / sqrt(1 - beta2^t) */
	float decay;        /* 1 - lr * weight_decay */
};

/* One AdamW update of p, m, v (n) from g (n): one pass that reads each of
 * the four once and writes three.  The vector body and the scalar tail are
 * the same formula. */
W2S_CLONES static void adamw_update(float *restrict p, const float *restrict g,
				    float *restrict m, float *restrict v, size_t n,
				    struct adamw_coef c)
{
	const float b1 = c.b1, b2 = c.b2, eps = c.eps, step_size = c.step_size;
	const float inv_sqrt_bc2 = c.inv_sqrt_bc2, decay = c.decay;
	size_t i = 0;
	for (; i + VL <= n; i += VL) {
		w2s_vf gi = vload(g + i);
		w2s_vf mi = b1 * vload(m + i) + (1.0f - b1) * gi;
		w2s_vf vi = b2 * vload(v + i) + (1.0f - b2) * gi * gi;
		w2s_vf denom = vsqrt(vi) * inv_sqrt_bc2 + eps;
		vstore(m + i, mi);
		vstore(v + i, vi);
		vstore(p + i, vload(p + i) * decay - step_size * mi / denom);
	}
	for (; i < n; i++) {
		m[i] = b1 * m[i] + (1.0f - b1) * g[i];
		v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
		float denom = sqrtf(v[i]) * inv_sqrt_bc2 + eps;
		p[i] = p[i] * decay - step_size * m[i] / denom;
	}
}

/* AdamW as in Loshchilov & Hutter and PyTorch's AdamW: the decay shrinks p
 * directly and never enters the moments, so it is not rescaled by the
 * adaptive denominator. */
static void optim_adamw(struct w2s_optim *o, float lr, float *p, const float *g)
{
	const struct w2s_optim_opts *op = &o->opts;
	double t = (double)(o->step + 1);
	double bc1 = 1.0 - pow((double)op->beta1, t);
	double bc2 = 1.0 - pow((double)op->beta2, t);
	/* The bias corrections fold into one step size and one factor on
	 * sqrt(v), which saves two divisions per parameter. */
	struct adamw_coef c = {
		.b1 = op->beta1,
		.b2 = op->beta2,
		.eps = op->eps,
		.step_size = (float)((double)lr / bc1),
		.inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2)),
		.decay = 1.0f - lr * op->weight_decay,
	};
	adamw_update(p, g, o->m, o->v, o->n, c);
}

/* SGD with heavy-ball momentum (PyTorch's form, no dampening): the buffer
 * starts at zero, so its first value is the gradient itself. */
W2S_CLONES static void sgd_update(float *restrict p, const float *restrict g,
				  float *restrict buf, size_t n, float lr, float wd, float mu)
{
	size_t i = 0;
	if (mu != 0.0f) {
		for (; i + VL <= n; i += VL) {
			w2s_vf b = mu * vload(buf + i) + (vload(g + i) + wd * vload(p + i));
			vstore(buf + i, b);
			vstore(p + i, vload(p + i) - lr * b);
		}
	} else {
		for (; i + VL <= n; i += VL)
			vstore(p + i, vload(p + i) - lr * (vload(g + i) + wd * vload(p + i)));
	}
	for (; i < n; i++) {
		float d = g[i] + wd * p[i];
		if (mu != 0.0f) {
			buf[i] = mu * buf[i] + d;
			d = buf[i];
		}
		p[i] -= lr * d;
	}
}

static void optim_sgd(struct w2s_optim *o, float lr, float *p, const float *g)
{
	sgd_update(p, g, o->m, o->n, lr, o->opts.weight_decay, o->opts.momentum);
}

float w2s_optim_step(struct w2s_optim *o, float *params, const float *grads)
{
	float lr = w2s_optim_lr(&o->opts, o->step);
	switch (o->opts.kind) {
	case W2S_OPT_ADAM:
		optim_adamw(o, lr, params, grads);
		break;
	case W2S_OPT_SGD:
		optim_sgd(o, lr, params, grads);
		break;
	default:
		W2S_CHECK(!"unknown optimizer kind");
	}
	o->step++;
	return lr;
}

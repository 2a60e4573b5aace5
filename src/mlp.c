/*
 * mlp.c: forward and backward passes of a multilayer perceptron whose
 * parameters and gradients are each one flat buffer (layout in mlp.h).
 *
 * Dimension legend: B batch rows (n <= max_batch), D input width, C outputs;
 * layer l maps width[l] -> width[l+1].
 *
 * Each layer is one sgemm (pre = x W^T) followed by one pass over pre that
 * adds the bias and applies the activation, so the activations are read
 * once.  Only GELU's derivative needs the pre-activation; relu and tanh
 * take theirs from the output, so for them the pass works in place and
 * pre[] is post[] (the same memory).  The last layer has no activation: its
 * post[] is its pre[], which the logits then live in.  Backward is two sgemms per layer
 * (weight gradient, input gradient) and one pass that applies the
 * activation's derivative and sums the bias gradient together.  A narrow
 * output layer (a few classes) runs in its own loops instead of BLIS, one
 * pass over its input for both of its products.  Hidden activations are
 * stored feature-major (see "layouts" below); nothing is copied to change
 * a layout, and nothing is allocated.
 *
 * Not here: losses, optimizers, anything that knows about ranks.
 */
#include "w2s/mlp.h"

#include "w2s/blas.h"
#include "w2s/common.h"
#include "w2s/rng.h"
#include "vec_internal.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* sqrt(2/pi) and the cubic coefficient of the tanh approximation of GELU
 * (Hendrycks & Gimpel), as in GPT-2. */
#define GELU_SCALE 0.7978845608028654f
#define GELU_CUBIC 0.044715f

/* A shape init accepts: 1..MAX layers, no empty layer. */
static bool mlp_shape_valid(const struct w2s_mlp_shape *shape)
{
	if (shape->nlayers < 1 || shape->nlayers > W2S_MLP_MAX_LAYERS)
		return false;
	for (int l = 0; l <= shape->nlayers; l++)
		if (shape->width[l] == 0)
			return false;
	return true;
}

/* *out = number of parameters; -1 when it does not fit a size_t. */
static int mlp_count_params(const struct w2s_mlp_shape *shape, size_t *out)
{
	size_t total = 0;
	for (int l = 0; l < shape->nlayers; l++) {
		size_t nw;
		if (w2s_mul_size(shape->width[l + 1], shape->width[l], &nw) != 0)
			return -1;
		size_t layer = nw + shape->width[l + 1];
		if (layer < nw || total + layer < total)
			return -1;
		total += layer;
	}
	*out = total;
	return 0;
}

/* Returns 0 for a shape whose count overflows; init rejects those. */
size_t w2s_mlp_shape_nparams(const struct w2s_mlp_shape *shape)
{
	size_t n;
	if (mlp_count_params(shape, &n) != 0)
		return 0;
	return n;
}

int w2s_mlp_init(struct w2s_mlp *m, const struct w2s_mlp_shape *shape)
{
	memset(m, 0, sizeof(*m));
	size_t nparams, grad_bytes, param_bytes;
	if (!mlp_shape_valid(shape) || mlp_count_params(shape, &nparams) != 0)
		return -1;
	if (nparams > SIZE_MAX - W2S_MLP_GRAD_EXTRA ||
	    w2s_mul_size(nparams + W2S_MLP_GRAD_EXTRA, sizeof(float), &grad_bytes) != 0)
		return -1;
	param_bytes = nparams * sizeof(float);

	/* calloc, not w2s_xcalloc: the sizes come from the user's config, so
	 * running out of memory is a status, not a bug. */
	float *params = calloc(1, param_bytes);
	float *grads = calloc(1, grad_bytes);
	if (params == NULL || grads == NULL) {
		free(params);
		free(grads);
		return -1;
	}

	m->shape = *shape;
	m->nparams = nparams;
	m->params = params;
	m->grads = grads;
	size_t off = 0;
	for (int l = 0; l < shape->nlayers; l++) {
		size_t in = shape->width[l], out = shape->width[l + 1];
		m->w[l] = params + off;
		m->gw[l] = grads + off;
		off += out * in;
		m->b[l] = params + off;
		m->gb[l] = grads + off;
		off += out;
	}
	return 0;
}

void w2s_mlp_free(struct w2s_mlp *m)
{
	free(m->params);
	free(m->grads);
	memset(m, 0, sizeof(*m));
}

/* Glorot/Xavier uniform.  The gain mlp.h mentions is 1 for every
 * activation, so a seed gives the same weights whatever the activation. */
void w2s_mlp_init_params(struct w2s_mlp *m, uint64_t seed, uint32_t stream)
{
	const struct w2s_mlp_shape *s = &m->shape;
	size_t max_nw = 0;
	for (int l = 0; l < s->nlayers; l++) {
		size_t nw = s->width[l + 1] * s->width[l];
		if (nw > max_nw)
			max_nw = nw;
	}
	/* w2s_rng_uniforms has no offset, so a layer is drawn whole; init has
	 * already checked nw * sizeof(float), this checks the doubles. */
	size_t bytes;
	W2S_CHECK(w2s_mul_size(max_nw, sizeof(double), &bytes) == 0);
	double *u = w2s_xmalloc(bytes);

	for (int l = 0; l < s->nlayers; l++) {
		size_t in = s->width[l], out = s->width[l + 1];
		double bound = sqrt(6.0 / ((double)in + (double)out));
		w2s_rng_uniforms(seed, stream, (uint64_t)l, u, out * in);
		for (size_t i = 0; i < out * in; i++)
			m->w[l][i] = (float)((2.0 * u[i] - 1.0) * bound);
		memset(m->b[l], 0, out * sizeof(float));
	}
	free(u);
}

int w2s_mlp_work_init(struct w2s_mlp_work *w, const struct w2s_mlp_shape *shape, size_t max_batch)
{
	memset(w, 0, sizeof(*w));
	if (!mlp_shape_valid(shape))
		return -1;
	int L = shape->nlayers;
	/* The deltas hold gradients w.r.t. a layer's output or input for
	 * layers >= 1; the gradient w.r.t. x is never formed. */
	size_t maxw = 0;
	for (int l = 1; l <= L; l++)
		if (shape->width[l] > maxw)
			maxw = shape->width[l];

	/* A hidden layer keeps pre beside post only for GELU. */
	const size_t hidden_copies = shape->act == W2S_ACT_GELU ? 2 : 1;
	size_t bytes, total = 0;
	for (int l = 0; l < L; l++) {
		size_t copies = l < L - 1 ? hidden_copies : 1;
		size_t nl;
		if (w2s_mul_size(max_batch, shape->width[l + 1], &nl) != 0 ||
		    w2s_mul_size(nl, copies, &nl) != 0 || total + nl < total)
			return -1;
		total += nl;
	}
	size_t nd;
	if (w2s_mul_size(max_batch, maxw, &nd) != 0 || w2s_mul_size(nd, 2, &nd) != 0 ||
	    total + nd < total)
		return -1;
	total += nd;
	if (w2s_mul_size(total, sizeof(float), &bytes) != 0)
		return -1;

	/* One block for all of it; free() releases pre[0]. */
	float *block = malloc(bytes ? bytes : 1);
	if (block == NULL)
		return -1;
	w->max_batch = max_batch;
	size_t off = 0;
	for (int l = 0; l < L; l++) {
		size_t nl = max_batch * shape->width[l + 1];
		w->pre[l] = block + off;
		off += nl;
		if (l < L - 1 && hidden_copies == 2) {
			w->post[l] = block + off;
			off += nl;
		} else {
			w->post[l] = w->pre[l];
		}
	}
	w->delta = block + off;
	w->delta2 = block + off + max_batch * maxw;
	return 0;
}

void w2s_mlp_work_free(struct w2s_mlp_work *w)
{
	free(w->pre[0]);
	memset(w, 0, sizeof(*w));
}

static inline float mlp_act(enum w2s_act a, float x)
{
	switch (a) {
	case W2S_ACT_RELU:
		return x > 0.0f ? x : 0.0f;
	case W2S_ACT_GELU:
		return 0.5f * x * (1.0f + tanhf(GELU_SCALE * (x + GELU_CUBIC * x * x * x)));
	case W2S_ACT_TANH:
		return tanhf(x);
	}
	return x;
}

/* d act / d pre, from post, and from pre for GELU only (for relu and tanh
 * pre may be post itself, see w2s_mlp_work_init). */
static inline float mlp_act_grad(enum w2s_act a, float pre, float post)
{
	switch (a) {
	case W2S_ACT_RELU:
		/* post > 0 exactly when pre > 0; 0 at the kink, as the
		 * subgradient PyTorch uses. */
		return post > 0.0f ? 1.0f : 0.0f;
	case W2S_ACT_GELU: {
		float t = tanhf(GELU_SCALE * (pre + GELU_CUBIC * pre * pre * pre));
		float du = GELU_SCALE * (1.0f + 3.0f * GELU_CUBIC * pre * pre);
		return 0.5f * (1.0f + t) + 0.5f * pre * (1.0f - t * t) * du;
	}
	case W2S_ACT_TANH:
		return 1.0f - post * post;
	}
	return 1.0f;
}

/* ---- vector helpers ----
 *
 * The passes over activations are written in the vectors of
 * vec_internal.h, compiled per instruction set (W2S_CLONES).  Plain loops
 * are not vectorized at -O2, and the plain relu compiled to a branch that
 * the random signs of pre-activations mispredict half the time. */

/* ---- layouts ----
 *
 * Hidden activations (pre, post and the deltas) are stored feature-major:
 * (width, n), feature j of the n rows contiguous.  The forward GEMM then
 * reads W (out, in) as it is and writes a layout BLIS's skx kernels run
 * at ~85 GFLOP/s; writing (n, width) row-major from x W^T ran at ~55 on
 * this CPU (Zen 4) for a 256 x 1024 x 1024 layer, the backward GEMMs are
 * unchanged, and the activation passes below are contiguous either way.
 * The input x (n, D) and the logits (n, C) stay row-major: they belong to
 * the caller.  A matrix is described by (rs, cs) element strides. */
struct mlp_mat {
	float *p;
	size_t rs, cs;
};

static struct mlp_mat mlp_row_major(const float *p, size_t cols)
{
	return (struct mlp_mat){(float *)p, cols, 1};
}

static struct mlp_mat mlp_feature_major(const float *p, size_t n)
{
	return (struct mlp_mat){(float *)p, 1, n};
}

/* Output layers at most this wide (the classes) skip BLIS: its kernels
 * pad them to 12 columns and ran them at 3-10 GFLOP/s. */
#define NARROW_MAX 16

/* ---- forward passes ---- */

/* pre (width, n) += b per feature, then post = act(pre); feature-major.
 * post may be pre (in place). */
W2S_CLONES static void mlp_bias_act(float *pre, float *post, const float *b, size_t n,
				    size_t width, enum w2s_act a)
{
	for (size_t j = 0; j < width; j++) {
		float *p = pre + j * n, *q = post + j * n;
		const float bj = b[j];
		size_t i = 0;
		if (a == W2S_ACT_RELU) {
			for (; i + VL <= n; i += VL) {
				w2s_vf v = vload(p + i) + bj;
				vstore(p + i, v);
				vstore(q + i, vmask(v, v > 0.0f));
			}
		}
		for (; i < n; i++) {
			p[i] += bj;
			q[i] = mlp_act(a, p[i]);
		}
	}
}

/* logits (n, C) row-major += b per class; the output layer of a wide model. */
static void mlp_bias_rows(float *z, const float *b, size_t n, size_t C)
{
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < C; c++)
			z[i * C + c] += b[c];
}

/* z (n, C) row-major = in (n, K) W^T + b, in feature-major, C <= NARROW_MAX.
 * The input is read in its own order, row k (n floats) after row k - 1,
 * four rows a pass, while the C sums of every row build up in zt (C, n),
 * scratch small enough to stay in the cache; then zt is transposed into
 * z.  (Read across its rows instead, VL rows at a time, each load of the
 * input lands on another page: 8x slower on a 4096-wide input.)  Each sum
 * adds its terms in the order of k, one rounding per product and per sum,
 * as a loop over k for one row would. */
W2S_CLONES static void mlp_narrow_forward(const float *in, size_t n, size_t K, const float *W,
					  const float *b, size_t C, float *zt, float *z)
{
	const size_t nfull = n - n % VL;
	for (size_t c = 0; c < C; c++)
		for (size_t i = 0; i < n; i++)
			zt[c * n + i] = b[c];
	size_t k = 0;
	for (; k + 4 <= K; k += 4) {
		const float *x0 = in + k * n, *x1 = x0 + n, *x2 = x1 + n, *x3 = x2 + n;
		for (size_t c = 0; c < C; c++) {
			const float *w = W + c * K + k;
			float *t = zt + c * n;
			size_t i = 0;
			for (; i < nfull; i += VL) {
				w2s_vf v = vload(t + i);
				v += w[0] * vload(x0 + i);
				v += w[1] * vload(x1 + i);
				v += w[2] * vload(x2 + i);
				v += w[3] * vload(x3 + i);
				vstore(t + i, v);
			}
			for (; i < n; i++)
				t[i] = (((t[i] + w[0] * x0[i]) + w[1] * x1[i]) + w[2] * x2[i]) +
				       w[3] * x3[i];
		}
	}
	for (; k < K; k++) {
		const float *x = in + k * n;
		for (size_t c = 0; c < C; c++) {
			const float w = W[c * K + k];
			float *t = zt + c * n;
			size_t i = 0;
			for (; i < nfull; i += VL)
				vstore(t + i, vload(t + i) + w * vload(x + i));
			for (; i < n; i++)
				t[i] += w * x[i];
		}
	}
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < C; c++)
			z[i * C + c] = zt[c * n + i];
}

const float *w2s_mlp_forward(const struct w2s_mlp *m, struct w2s_mlp_work *w,
			     const float *x, size_t n)
{
	W2S_CHECK(n <= w->max_batch);
	const struct w2s_mlp_shape *s = &m->shape;
	int L = s->nlayers;
	struct mlp_mat in = mlp_row_major(x, s->width[0]); /* (n, width[l]) */
	for (int l = 0; l < L; l++) {
		size_t win = s->width[l], wout = s->width[l + 1];
		bool last = l == L - 1;
		if (last && l > 0 && wout <= NARROW_MAX) {
			/* delta2 is backward's scratch, free here. */
			mlp_narrow_forward(in.p, n, win, m->w[l], m->b[l], wout, w->delta2,
					   w->pre[l]);
			break;
		}
		/* pre (n, wout) = in (n, win) . W^T, W (wout, win) row-major */
		struct mlp_mat out = last ? mlp_row_major(w->pre[l], wout)
					  : mlp_feature_major(w->pre[l], n);
		w2s_blas_sgemm_strided(n, wout, win, 1.0f, in.p, in.rs, in.cs, m->w[l], 1, win,
				       0.0f, out.p, out.rs, out.cs);
		if (last) {
			mlp_bias_rows(w->pre[l], m->b[l], n, wout);
			break;
		}
		mlp_bias_act(w->pre[l], w->post[l], m->b[l], n, wout, s->act);
		in = mlp_feature_major(w->post[l], n);
	}
	return w->post[L - 1];
}

/* ---- backward passes ---- */

/* d (width, n) *= act'(pre), and each part's bias gradient: part p's
 * gb (width) += the row sums of the result over its rows [p * rows, ...).
 * The delta of a hidden layer and its bias gradients in one pass; a part
 * sums its rows in the same order wherever it starts, so its bits are
 * those of a pass over that part alone.  pre is read for GELU only. */
W2S_CLONES static void mlp_act_backward(float *d, const float *pre, const float *post,
					struct w2s_mlp *const *parts, int layer, size_t nparts,
					size_t rows, bool add, size_t n, size_t width,
					enum w2s_act a)
{
	for (size_t j = 0; j < width; j++) {
		for (size_t p = 0; p < nparts; p++) {
			const size_t r0 = p * rows, np = n - r0 < rows ? n - r0 : rows;
			float *dj = d + j * n + r0;
			const float *pj = pre + j * n + r0, *qj = post + j * n + r0;
			w2s_vf acc = {0};
			float sum = 0.0f;
			size_t i = 0;
			if (a == W2S_ACT_RELU) {
				for (; i + VL <= np; i += VL) {
					w2s_vf v = vmask(vload(dj + i), vload(qj + i) > 0.0f);
					vstore(dj + i, v);
					acc += v;
				}
			}
			for (; i < np; i++) {
				dj[i] *= mlp_act_grad(a, pj[i], qj[i]);
				sum += dj[i];
			}
			float g = vsum(acc) + sum;
			float *gb = parts[p]->gb[layer];
			gb[j] = add ? gb[j] + g : g;
		}
	}
}

/* gb (C) += column sums of dz (n, C) row-major. */
static void mlp_bias_grad_rows(const float *dz, size_t n, size_t C, float *gb, bool add)
{
	if (!add)
		memset(gb, 0, C * sizeof *gb);
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < C; c++)
			gb[c] += dz[i * C + c];
}

/* Four classes c0..c0+3 of mlp_narrow_backward at input feature k: their
 * gradients' lane sums acc and tails (sums over the rows of dz[c] * in[k])
 * and, when d, their terms of dh[k] added onto d, class after class (c0 =
 * 0 starts d from zero).  Named, not looped, so that the compiler keeps the
 * four sums in registers. */
static inline __attribute__((always_inline)) void
mlp_narrow_four(const float *x, const float *dzt, const float *W, size_t n, size_t K, size_t k,
		size_t c0, float *d, w2s_vf *acc, float *tail)
{
	const size_t nfull = n - n % VL;
	const float *t0 = dzt + c0 * n, *t1 = t0 + n, *t2 = t1 + n, *t3 = t2 + n;
	const float w0 = W[c0 * K + k], w1 = W[(c0 + 1) * K + k], w2 = W[(c0 + 2) * K + k],
		    w3 = W[(c0 + 3) * K + k];
	w2s_vf s0 = vsplat(0.0f), s1 = s0, s2 = s0, s3 = s0;
	for (size_t i = 0; i < nfull; i += VL) {
		w2s_vf v = vload(x + i), u0 = vload(t0 + i), u1 = vload(t1 + i),
		       u2 = vload(t2 + i), u3 = vload(t3 + i);
		s0 += u0 * v;
		s1 += u1 * v;
		s2 += u2 * v;
		s3 += u3 * v;
		if (d) {
			w2s_vf back = c0 == 0 ? vsplat(0.0f) : vload(d + i);
			back += w0 * u0;
			back += w1 * u1;
			back += w2 * u2;
			back += w3 * u3;
			vstore(d + i, back);
		}
	}
	acc[0] = s0;
	acc[1] = s1;
	acc[2] = s2;
	acc[3] = s3;
	for (size_t i = nfull; i < n; i++) {
		tail[0] += t0[i] * x[i];
		tail[1] += t1[i] * x[i];
		tail[2] += t2[i] * x[i];
		tail[3] += t3[i] * x[i];
		if (d)
			d[i] = ((((c0 == 0 ? 0.0f : d[i]) + w0 * t0[i]) + w1 * t1[i]) + w2 * t2[i]) +
			       w3 * t3[i];
	}
}

/* As mlp_narrow_four, for the one class c. */
static inline __attribute__((always_inline)) void
mlp_narrow_one(const float *x, const float *dzt, const float *W, size_t n, size_t K, size_t k,
	       size_t c, float *d, w2s_vf *acc, float *tail)
{
	const size_t nfull = n - n % VL;
	const float *t = dzt + c * n;
	const float w = W[c * K + k];
	w2s_vf s = vsplat(0.0f);
	for (size_t i = 0; i < nfull; i += VL) {
		w2s_vf u = vload(t + i);
		s += u * vload(x + i);
		if (d)
			vstore(d + i, (c == 0 ? vsplat(0.0f) : vload(d + i)) + w * u);
	}
	*acc = s;
	for (size_t i = nfull; i < n; i++) {
		*tail += t[i] * x[i];
		if (d)
			d[i] = (c == 0 ? 0.0f : d[i]) + w * t[i];
	}
}

/* The output layer when C <= NARROW_MAX and its input is a hidden layer:
 * given dz (n, C) row-major, adds into gW (C, K) and gb (C), and writes the
 * delta of the hidden layer below, dh (K, n) = act'(pre) * (dz W)^T, with
 * that layer's bias gradient gb_below (K).  The input in (K, n) (post of
 * the layer below) is read in its own order, row k after row k - 1; each
 * row serves both products, four classes a pass over it.  in, pre_in and
 * dh have feature k at [k * ld] (ld >= n: n rows of a longer block).  dzt
 * (C, n) is scratch for dz transposed, so each class is a contiguous row.
 * Every sum adds its terms in the same order as one loop over the classes
 * would. */
W2S_CLONES static void mlp_narrow_backward(const float *dz, size_t n, size_t C, const float *W,
					   const float *in, const float *pre_in, size_t K,
					   size_t ld, enum w2s_act a, float *gW, float *gb,
					   bool add, float *dzt, float *dh, float *gb_below)
{
	for (size_t c = 0; c < C; c++) {
		float s = 0.0f;
		for (size_t i = 0; i < n; i++) {
			dzt[c * n + i] = dz[i * C + c];
			s += dz[i * C + c];
		}
		gb[c] = add ? gb[c] + s : s;
	}
	const size_t nfull = n - n % VL;
	for (size_t k = 0; k < K; k++) {
		const float *x = in + k * ld, *p = pre_in + k * ld;
		float *d = dh ? dh + k * ld : NULL;
		w2s_vf acc[NARROW_MAX];
		float tail[NARROW_MAX] = {0};
		size_t c = 0;
		for (; c + 4 <= C; c += 4)
			mlp_narrow_four(x, dzt, W, n, K, k, c, d, acc + c, tail + c);
		for (; c < C; c++)
			mlp_narrow_one(x, dzt, W, n, K, k, c, d, acc + c, tail + c);
		for (c = 0; c < C; c++)
			gW[c * K + k] = (add ? gW[c * K + k] : 0.0f) + vsum(acc[c]) + tail[c];
		if (!d)
			continue;
		/* times the derivative of the activation, and summed */
		w2s_vf dsum = {0};
		float dsum_tail = 0.0f;
		for (size_t i = 0; i < nfull; i += VL) {
			w2s_vf back = vload(d + i);
			if (a == W2S_ACT_RELU) {
				/* post > 0 exactly when pre > 0 */
				back = vmask(back, vload(x + i) > 0.0f);
			} else {
				for (int r = 0; r < VL; r++)
					back[r] *= mlp_act_grad(a, p[i + r], x[i + r]);
			}
			vstore(d + i, back);
			dsum += back;
		}
		for (size_t i = nfull; i < n; i++) {
			d[i] *= mlp_act_grad(a, p[i], x[i]);
			dsum_tail += d[i];
		}
		gb_below[k] = (add ? gb_below[k] : 0.0f) + vsum(dsum) + dsum_tail;
	}
}

/* Backward over a block of n rows, each part's rows [p * rows, ...) into
 * that part's gradients; add: into them, else over what they held.  The
 * parts share the parameters (parts[0]'s are read).  The input gradients
 * are rows apart, so they are formed for the whole block at once; only the
 * parameter gradients are summed over rows, and those are summed per part,
 * in the order a block of that part alone would use. */
static void mlp_backward(struct w2s_mlp *const *parts, size_t nparts, size_t rows,
			 struct w2s_mlp_work *w, const float *x, size_t n, const float *dlogits,
			 bool add)
{
	W2S_CHECK(n <= w->max_batch);
	/* Every part has rows, the last one up to rows of them; an empty
	 * block is one empty part. */
	W2S_CHECK(n == 0 ? nparts == 1
			 : nparts >= 1 && rows >= 1 && (nparts - 1) * rows < n &&
				   n - (nparts - 1) * rows <= rows);
	const struct w2s_mlp *m = parts[0];
	const struct w2s_mlp_shape *s = &m->shape;
	int L = s->nlayers;
	/* d loss / d pre of layer l, (n, width[l+1]).  It starts as the
	 * caller's dlogits (row-major), which backward never writes, and then
	 * alternates between the two scratch buffers (feature-major) so that a
	 * layer's input and output gradients never share memory.  The bias
	 * gradient of a hidden layer is summed in the pass that forms its
	 * delta; the output layer's is summed here. */
	struct mlp_mat cur = mlp_row_major(dlogits, s->width[L]);
	float *next = w->delta;
	for (int l = L - 1; l >= 0; l--) {
		size_t win = s->width[l], wout = s->width[l + 1];
		struct mlp_mat in = l == 0 ? mlp_row_major(x, win)
					   : mlp_feature_major(w->post[l - 1], n);
		if (l == L - 1 && l > 0 && wout <= NARROW_MAX) {
			/* delta2 is free: dlogits never lives there. */
			for (size_t p = 0; p < nparts; p++) {
				size_t r0 = p * rows, np = n - r0 < rows ? n - r0 : rows;
				mlp_narrow_backward(dlogits + r0 * wout, np, wout, m->w[l], in.p + r0,
						    w->pre[l - 1] + r0, win, n, s->act,
						    parts[p]->gw[l], parts[p]->gb[l], add, w->delta2,
						    next + r0, parts[p]->gb[l - 1]);
			}
			cur = mlp_feature_major(next, n);
			next = w->delta2;
			continue;
		}
		for (size_t p = 0; p < nparts; p++) {
			size_t r0 = p * rows, np = n - r0 < rows ? n - r0 : rows;
			if (l == L - 1)
				mlp_bias_grad_rows(dlogits + r0 * wout, np, wout, parts[p]->gb[l], add);
			/* gW (wout, win) += cur^T (wout, np) . in (np, win) */
			w2s_blas_sgemm_strided(wout, win, np, 1.0f, cur.p + r0 * cur.rs, cur.cs,
					       cur.rs, in.p + r0 * in.rs, in.rs, in.cs,
					       add ? 1.0f : 0.0f, parts[p]->gw[l], win, 1);
		}
		if (l == 0)
			break;

		/* next (n, win) = cur (n, wout) . W (wout, win), then times the
		 * derivative of the activation that produced layer l's input. */
		w2s_blas_sgemm_strided(n, win, wout, 1.0f, cur.p, cur.rs, cur.cs, m->w[l], win, 1,
				       0.0f, next, 1, n);
		mlp_act_backward(next, w->pre[l - 1], w->post[l - 1], parts, l - 1, nparts, rows,
				 add, n, win, s->act);
		cur = mlp_feature_major(next, n);
		next = next == w->delta ? w->delta2 : w->delta;
	}
}

void w2s_mlp_backward(struct w2s_mlp *m, struct w2s_mlp_work *w,
		      const float *x, size_t n, const float *dlogits)
{
	mlp_backward(&m, 1, n, w, x, n, dlogits, true);
}

/* The caller's zeroing of the whole gradient buffer was a pass over it
 * each step, and the weight-gradient products then read it back
 * (beta = 1); overwriting skips both. */
void w2s_mlp_backward_set(struct w2s_mlp *m, struct w2s_mlp_work *w,
			  const float *x, size_t n, const float *dlogits)
{
	mlp_backward(&m, 1, n, w, x, n, dlogits, false);
}

void w2s_mlp_backward_parts(struct w2s_mlp *const *parts, size_t nparts, size_t rows,
			    struct w2s_mlp_work *w, const float *x, size_t n,
			    const float *dlogits)
{
	mlp_backward(parts, nparts, rows, w, x, n, dlogits, false);
}

const char *w2s_act_name(enum w2s_act a)
{
	switch (a) {
	case W2S_ACT_RELU: return "relu";
	case W2S_ACT_GELU: return "gelu";
	case W2S_ACT_TANH: return "tanh";
	}
	return "unknown";
}

/*
 * mlp.c: forward and backward passes of a multilayer perceptron whose
 * parameters and gradients are each one flat buffer (layout in mlp.h).
 *
 * Dimension legend: B batch rows (n <= max_batch), D input width, C outputs;
 * layer l maps width[l] -> width[l+1].
 *
 * Each layer is one sgemm (pre = x W^T) followed by one pass over pre that
 * adds the bias and applies the activation, so the activations are read
 * once.  The last layer has no activation: its post[] is its pre[] (the same
 * memory), which the logits then live in.
 *
 * Not here: losses, optimizers, anything that knows about ranks.
 */
#include "w2s/mlp.h"

#include "w2s/blas.h"
#include "w2s/common.h"
#include "w2s/rng.h"

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

	size_t bytes, total = 0;
	for (int l = 0; l < L; l++) {
		/* pre and post for hidden layers; the output layer only pre. */
		size_t copies = l < L - 1 ? 2 : 1;
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
		if (l < L - 1) {
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

/* d act / d pre, from pre and post (whichever is cheaper). */
static inline float mlp_act_grad(enum w2s_act a, float pre, float post)
{
	switch (a) {
	case W2S_ACT_RELU:
		/* 0 at the kink, as the subgradient PyTorch uses. */
		return pre > 0.0f ? 1.0f : 0.0f;
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

/* pre (n, width) += b row-wise, then post = act(pre); post may be pre
 * (output layer, act_on = false). */
static void mlp_bias_act(float *pre, float *post, const float *b, size_t n, size_t width,
			 enum w2s_act a, bool act_on)
{
	for (size_t i = 0; i < n; i++) {
		float *p = pre + i * width;
		float *q = post + i * width;
		if (act_on) {
			for (size_t j = 0; j < width; j++) {
				p[j] += b[j];
				q[j] = mlp_act(a, p[j]);
			}
		} else {
			for (size_t j = 0; j < width; j++)
				p[j] += b[j];
		}
	}
}

const float *w2s_mlp_forward(const struct w2s_mlp *m, struct w2s_mlp_work *w,
			     const float *x, size_t n)
{
	W2S_CHECK(n <= w->max_batch);
	const struct w2s_mlp_shape *s = &m->shape;
	int L = s->nlayers;
	const float *in = x; /* (n, width[l]) */
	for (int l = 0; l < L; l++) {
		size_t win = s->width[l], wout = s->width[l + 1];
		/* pre (n, wout) = in (n, win) . W^T, W (wout, win) */
		w2s_blas_sgemm(false, true, n, wout, win, 1.0f, in, win, m->w[l], win, 0.0f,
			       w->pre[l], wout);
		mlp_bias_act(w->pre[l], w->post[l], m->b[l], n, wout, s->act, l < L - 1);
		in = w->post[l];
	}
	return w->post[L - 1];
}

void w2s_mlp_backward(struct w2s_mlp *m, struct w2s_mlp_work *w,
		      const float *x, size_t n, const float *dlogits)
{
	W2S_CHECK(n <= w->max_batch);
	const struct w2s_mlp_shape *s = &m->shape;
	int L = s->nlayers;
	/* d loss / d pre of layer l, (n, width[l+1]).  It starts as the
	 * caller's dlogits, which backward never writes, and then alternates
	 * between the two scratch buffers so that a layer's input and output
	 * gradients never share memory. */
	const float *cur = dlogits;
	float *next = w->delta;
	for (int l = L - 1; l >= 0; l--) {
		size_t win = s->width[l], wout = s->width[l + 1];
		const float *in = l == 0 ? x : w->post[l - 1]; /* (n, win) */

		/* gW (wout, win) += cur^T (wout, n) . in (n, win) */
		w2s_blas_sgemm(true, false, wout, win, n, 1.0f, cur, wout, in, win, 1.0f,
			       m->gw[l], win);
		float *gb = m->gb[l];
		for (size_t i = 0; i < n; i++) {
			const float *row = cur + i * wout;
			for (size_t j = 0; j < wout; j++)
				gb[j] += row[j];
		}
		if (l == 0)
			break;

		/* next (n, win) = cur (n, wout) . W (wout, win), then times the
		 * derivative of the activation that produced layer l's input. */
		w2s_blas_sgemm(false, false, n, win, wout, 1.0f, cur, wout, m->w[l], win, 0.0f,
			       next, win);
		const float *pre = w->pre[l - 1], *post = w->post[l - 1];
		for (size_t i = 0; i < n * win; i++)
			next[i] *= mlp_act_grad(s->act, pre[i], post[i]);
		cur = next;
		next = next == w->delta ? w->delta2 : w->delta;
	}
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

/*
 * task.c: the synthetic tasks of task.h.  Every value of row i comes from the
 * counter-based generator at index i, so a shard is the same bytes whoever
 * makes it.  The teacher MLP is evaluated row by row in double rather than
 * through GEMM: a blocked GEMM may round a row differently depending on
 * where it falls in the batch, which would make the labels depend on the
 * number of ranks.
 */
#include "w2s/task.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/rng.h"

int64_t w2s_task_rows(const struct w2s_config *c)
{
	int64_t n = 0;
	for (int s = 0; s < W2S_NSPLITS; s++)
		n += c->data.rows[s];
	return n;
}

void w2s_task_split_range(const struct w2s_config *c, enum w2s_split s, int64_t *begin,
			  int64_t *end)
{
	int64_t b = 0;
	for (int k = 0; k < (int)s; k++)
		b += c->data.rows[k];
	*begin = b;
	*end = b + c->data.rows[s];
}

int w2s_task_nviews(const struct w2s_config *c)
{
	return c->data.task == W2S_TASK_LATENT ? c->data.latent.nviews : 1;
}

const char *w2s_task_view_name(const struct w2s_config *c, int v)
{
	return c->data.task == W2S_TASK_LATENT ? c->data.latent.views[v].name : "x";
}

void w2s_task_shard_free(struct w2s_task_shard *s)
{
	for (int v = 0; v < W2S_MAX_VIEWS; v++) {
		free(s->x[v]);
		s->x[v] = NULL;
	}
	free(s->target);
	free(s->value);
	free(s->scratch);
	s->target = NULL;
	s->value = NULL;
	s->scratch = NULL;
}

/* With probability p, replaces y by one of the other classes, uniformly. */
static int32_t noisy_label(const struct w2s_config *c, int64_t row, int32_t y, int classes,
			   double p)
{
	if (p <= 0.0 || classes < 2)
		return y;
	double u[2];
	w2s_rng_uniforms(c->seed, W2S_STREAM_NOISE, (uint64_t)row, u, 2);
	if (u[0] >= p)
		return y;
	int32_t shift = 1 + (int32_t)(u[1] * (classes - 1));
	if (shift >= classes)
		shift = classes - 1;
	return (y + shift) % classes;
}

static int32_t argmax_d(const double *v, int n)
{
	int32_t best = 0;
	for (int k = 1; k < n; k++)
		if (v[k] > v[best])
			best = k;
	return best;
}

/* sum_j a[j] b[j] in double, in four interleaved partial sums: a fixed
 * order (so a row's label does not depend on its neighbours), without one
 * long chain of dependent adds. */
static double dot4(const float *a, const float *b, int64_t n)
{
	double acc[4] = {0, 0, 0, 0};
	int64_t j = 0;
	for (; j + 4 <= n; j += 4)
		for (int t = 0; t < 4; t++)
			acc[t] += (double)a[j + t] * b[j + t];
	for (; j < n; j++)
		acc[j % 4] += (double)a[j] * b[j];
	return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/* Latent rows in one pass per stream: z and u of the whole block first
 * (the generator is vectorized across rows), then the label and the views
 * row by row from them. */
static void generate_latent(const struct w2s_config *c, struct w2s_task_shard *s)
{
	int64_t S = c->data.latent.signal, U = c->data.latent.nuisance;
	int64_t n = s->end - s->begin;
	/* Regression scores the first row of W alone. */
	int C = w2s_config_regression(c) ? 1 : c->data.latent.classes;
	float *w = w2s_xmalloc((size_t)(C * S) * sizeof *w); /* (C, S) the label's weights */
	double *score = w2s_xmalloc((size_t)C * sizeof *score);
	for (int k = 0; k < C; k++)
		w2s_rng_normals(c->seed, W2S_STREAM_TARGET, (uint64_t)k, w + k * S, (size_t)S);
	float *z = s->scratch;         /* (n, S) */
	float *u = s->scratch + n * S; /* (n, U) */
	float *e = u + n * U;          /* (n) regression noise */
	w2s_rng_normals_rows(c->seed, W2S_STREAM_LATENT_Z, (uint64_t)s->begin, (size_t)n,
			     (size_t)S, z, (size_t)S);
	w2s_rng_normals_rows(c->seed, W2S_STREAM_LATENT_U, (uint64_t)s->begin, (size_t)n,
			     (size_t)U, u, (size_t)U);
	double norm = 0; /* |W[0]|^2: theta = W[0] / |W[0]| for regression */
	for (int64_t j = 0; j < S; j++)
		norm += (double)w[j] * w[j];
	if (s->value && c->data.latent.label_noise > 0)
		w2s_rng_normals_rows(c->seed, W2S_STREAM_NOISE, (uint64_t)s->begin, (size_t)n, 1, e,
				     1);

	for (int64_t r = 0; r < n; r++) {
		const float *zr = z + r * S;
		int64_t i = s->begin + r;
		for (int k = 0; k < C; k++)
			score[k] = dot4(w + k * S, zr, S);
		if (s->value) {
			/* a unit-variance value, plus noise */
			double noise = c->data.latent.label_noise > 0
					       ? c->data.latent.label_noise * e[r]
					       : 0.0;
			s->value[r] = (float)(score[0] / sqrt(norm) + noise);
			s->target[r] = 0;
		} else {
			s->target[r] = noisy_label(c, i, argmax_d(score, C), C,
						   c->data.latent.label_noise);
		}
	}
	for (int v = 0; v < s->nviews; v++) {
		const struct w2s_view_spec *vs = &c->data.latent.views[v];
		int64_t W = s->width[v];
		for (int64_t r = 0; r < n; r++) {
			float *row = s->x[v] + r * W;
			const float *zr = z + r * S, *ur = u + r * U;
			if (vs->noise > 0) {
				for (int64_t j = 0; j < vs->z; j++)
					row[j] = (float)(zr[j] + vs->noise * ur[j]);
			} else {
				memcpy(row, zr, (size_t)vs->z * sizeof *row);
				memcpy(row + vs->z, ur, (size_t)vs->u * sizeof *row);
			}
		}
	}
	free(score);
	free(w);
}

/* The teacher's weights: Glorot-normal layers, drawn once per seed, so the
 * pre-activations stay O(1) at any width and every class is reachable. */
static void generate_teacher(const struct w2s_config *c, struct w2s_task_shard *s)
{
	int64_t D = c->data.teacher.dim, H = c->data.teacher.width;
	int L = c->data.teacher.depth + 1, C = c->data.teacher.classes;
	int64_t width[W2S_MLP_MAX_LAYERS + 1];
	width[0] = D;
	for (int l = 1; l < L; l++)
		width[l] = H;
	width[L] = C;
	int64_t maxw = D > H ? D : H;
	if (C > maxw)
		maxw = C;

	float *layer[W2S_MLP_MAX_LAYERS]; /* (width[l+1], width[l]) */
	for (int l = 0; l < L; l++) {
		size_t n = (size_t)(width[l + 1] * width[l]);
		layer[l] = w2s_xmalloc(n * sizeof(float));
		float scale = (float)sqrt(2.0 / (double)(width[l] + width[l + 1]));
		for (int64_t o = 0; o < width[l + 1]; o++) {
			float *row = layer[l] + o * width[l];
			w2s_rng_normals(c->seed, W2S_STREAM_TARGET, ((uint64_t)l << 32) | (uint64_t)o, row,
					(size_t)width[l]);
			for (int64_t k = 0; k < width[l]; k++)
				row[k] *= scale * 2.0f; /* gain 2: a sharper, less linear boundary */
		}
	}
	double *a = w2s_xmalloc((size_t)maxw * sizeof *a);
	double *b = w2s_xmalloc((size_t)maxw * sizeof *b);
	float *x = w2s_xmalloc((size_t)D * sizeof *x);

	for (int64_t i = s->begin; i < s->end; i++) {
		int64_t r = i - s->begin;
		w2s_rng_normals(c->seed, W2S_STREAM_INPUT, (uint64_t)i, x, (size_t)D);
		memcpy(s->x[0] + r * D, x, (size_t)D * sizeof *x);
		for (int64_t k = 0; k < D; k++)
			a[k] = x[k];
		for (int l = 0; l < L; l++) {
			for (int64_t o = 0; o < width[l + 1]; o++) {
				const float *wr = layer[l] + o * width[l];
				double acc = 0.0;
				for (int64_t k = 0; k < width[l]; k++)
					acc += (double)wr[k] * a[k];
				if (l + 1 < L) {
					switch (c->data.teacher.act) {
					case W2S_ACT_RELU: acc = acc > 0 ? acc : 0; break;
					case W2S_ACT_TANH: acc = tanh(acc); break;
					case W2S_ACT_GELU:
						acc = 0.5 * acc * (1.0 + tanh(0.7978845608028654 *
									      (acc + 0.044715 * acc * acc * acc)));
						break;
					}
				}
				b[o] = acc;
			}
			double *t = a;
			a = b;
			b = t;
		}
		s->target[r] = noisy_label(c, i, argmax_d(a, C), C, c->data.teacher.label_noise);
	}
	free(x);
	free(b);
	free(a);
	for (int l = 0; l < L; l++)
		free(layer[l]);
}

enum w2s_status w2s_task_shard_init(const struct w2s_config *c, int64_t capacity,
				    struct w2s_task_shard *s)
{
	memset(s, 0, sizeof *s);
	s->capacity = capacity;
	s->nviews = w2s_task_nviews(c);
	size_t n = (size_t)capacity, cells;
	for (int v = 0; v < s->nviews; v++) {
		s->name[v] = w2s_task_view_name(c, v);
		s->width[v] = w2s_config_view_width(c, s->name[v]);
		if (w2s_mul_size(n, (size_t)s->width[v], &cells) != 0 ||
		    w2s_mul_size(cells, sizeof(float), &cells) != 0)
			goto nomem;
		s->x[v] = malloc(cells ? cells : 1);
		if (!s->x[v])
			goto nomem;
	}
	s->target = malloc((n ? n : 1) * sizeof *s->target);
	if (!s->target)
		goto nomem;
	if (w2s_config_regression(c) && !(s->value = malloc((n ? n : 1) * sizeof *s->value)))
		goto nomem;
	if (c->data.task == W2S_TASK_LATENT) {
		/* z, u and one noise value per row */
		size_t per_row = (size_t)(c->data.latent.signal + c->data.latent.nuisance + 1);
		if (w2s_mul_size(n, per_row, &cells) != 0 ||
		    w2s_mul_size(cells, sizeof(float), &cells) != 0)
			goto nomem;
		if (!(s->scratch = malloc(cells ? cells : 1)))
			goto nomem;
	}
	return W2S_STATUS_OK;
nomem:
	w2s_task_shard_free(s);
	memset(s, 0, sizeof *s);
	return W2S_STATUS_NOMEM;
}

void w2s_task_fill(const struct w2s_config *c, int64_t begin, int64_t end,
		   struct w2s_task_shard *s)
{
	W2S_CHECK(begin <= end && end - begin <= s->capacity);
	s->begin = begin;
	s->end = end;
	if (c->data.task == W2S_TASK_LATENT)
		generate_latent(c, s);
	else
		generate_teacher(c, s);
}

enum w2s_status w2s_task_generate(const struct w2s_config *c, int64_t begin, int64_t end,
				  struct w2s_task_shard *s)
{
	enum w2s_status st = w2s_task_shard_init(c, end - begin, s);
	if (st == W2S_STATUS_OK)
		w2s_task_fill(c, begin, end, s);
	return st;
}

/*
 * test_mlp.c: the MLP's forward pass against hand computations, its
 * backward pass against central finite differences of the forward pass,
 * and the bookkeeping around them (gradients add up, initialization is
 * reproducible and bounded, sizes that overflow are refused).
 *
 * Finite differences run on the float model itself, so the step is large
 * (1e-2, 1e-3 next to a relu kink) and each entry may be off by 0.2% of
 * itself plus 0.02% of the largest gradient: about 3x what float rounding
 * and the O(step^2) error were seen to need, and tight enough that a
 * gradient 1% too small fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/blas.h"
#include "w2s/common.h"
#include "w2s/loss.h"
#include "w2s/mlp.h"
#include "w2s/rng.h"

enum test_loss { LOSS_XENT, LOSS_LINEAR };

/* A model, its workspace, a batch and a loss on its logits. */
struct fixture {
	struct w2s_mlp m;
	struct w2s_mlp_work w;
	size_t n;
	float *x;       /* (n, D) */
	int32_t *y;     /* (n) labels, for LOSS_XENT */
	float *r;       /* (n, C) weights of the linear functional, LOSS_LINEAR */
	float *dlogits; /* (n, C) */
	enum test_loss loss;
};

static struct w2s_mlp_shape make_shape(int nlayers, const size_t *width, enum w2s_act act)
{
	struct w2s_mlp_shape s;
	memset(&s, 0, sizeof(s));
	s.nlayers = nlayers;
	for (int l = 0; l <= nlayers; l++)
		s.width[l] = width[l];
	s.act = act;
	return s;
}

/* Biases are drawn too (init_params zeroes them) so that a bias mixed up
 * with another layer's shows in the forward pass. */
static void fixture_init(struct fixture *f, const struct w2s_mlp_shape *s, size_t n,
			 uint64_t seed, enum test_loss loss)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(w2s_mlp_init(&f->m, s), 0);
	w2s_mlp_init_params(&f->m, seed, W2S_STREAM_INIT);
	for (int l = 0; l < s->nlayers; l++)
		w2s_rng_normals(seed, 99, (uint64_t)l, f->m.b[l], s->width[l + 1]);
	/* max_batch above n, so a stride of max_batch rows would show. */
	assert_int_equal(w2s_mlp_work_init(&f->w, s, n + 3), 0);
	size_t D = s->width[0], C = s->width[s->nlayers];
	f->n = n;
	f->loss = loss;
	f->x = w2s_xmalloc(n * D * sizeof(float));
	f->y = w2s_xmalloc(n * sizeof(int32_t));
	f->r = w2s_xmalloc(n * C * sizeof(float));
	f->dlogits = w2s_xmalloc(n * C * sizeof(float));
	for (size_t i = 0; i < n; i++) {
		w2s_rng_normals(seed, 7, i, f->x + i * D, D);
		w2s_rng_normals(seed, 8, i, f->r + i * C, C);
		f->y[i] = (int32_t)((i * 7 + 3) % C);
	}
}

static void fixture_free(struct fixture *f)
{
	w2s_mlp_free(&f->m);
	w2s_mlp_work_free(&f->w);
	free(f->x);
	free(f->y);
	free(f->r);
	free(f->dlogits);
}

/* The loss in double; when grad is set, also its gradient w.r.t. the
 * logits into f->dlogits. */
static double fixture_loss(struct fixture *f, bool grad)
{
	size_t C = f->m.shape.width[f->m.shape.nlayers];
	const float *z = w2s_mlp_forward(&f->m, &f->w, f->x, f->n);
	if (f->loss == LOSS_XENT)
		return w2s_loss_xent_hard(z, f->y, f->n, C, 1.0f, grad ? f->dlogits : NULL);
	double sum = 0.0;
	for (size_t i = 0; i < f->n * C; i++)
		sum += (double)f->r[i] * (double)z[i];
	if (grad)
		memcpy(f->dlogits, f->r, f->n * C * sizeof(float));
	return sum;
}

/* Smallest |pre-activation| over the hidden layers of a relu model: how far
 * the batch is from a kink.  Computed here in double, since the forward
 * pass keeps only the relu's output. */
static double hidden_margin(struct fixture *f)
{
	const struct w2s_mlp_shape *s = &f->m.shape;
	double margin = INFINITY;
	size_t maxw = 0;
	for (int l = 0; l <= s->nlayers; l++)
		maxw = s->width[l] > maxw ? s->width[l] : maxw;
	double *h = w2s_xmalloc(maxw * sizeof(double)), *u = w2s_xmalloc(maxw * sizeof(double));
	for (size_t i = 0; i < f->n; i++) {
		for (size_t k = 0; k < s->width[0]; k++)
			h[k] = f->x[i * s->width[0] + k];
		for (int l = 0; l < s->nlayers - 1; l++) {
			size_t in = s->width[l], out = s->width[l + 1];
			for (size_t j = 0; j < out; j++) {
				u[j] = f->m.b[l][j];
				for (size_t k = 0; k < in; k++)
					u[j] += (double)f->m.w[l][j * in + k] * h[k];
				margin = fmin(margin, fabs(u[j]));
			}
			for (size_t j = 0; j < out; j++)
				h[j] = u[j] > 0 ? u[j] : 0.0;
		}
	}
	free(h);
	free(u);
	return margin;
}

static void check_backward_against_fd(int nlayers, const size_t *width, enum w2s_act act,
				      enum test_loss loss)
{
	struct w2s_mlp_shape s = make_shape(nlayers, width, act);
	struct fixture f;
	double eps = 1e-2;
	uint64_t seed = 1;
	fixture_init(&f, &s, 5, seed, loss);
	if (act == W2S_ACT_RELU && nlayers > 1) {
		/* A step across a kink breaks the finite difference, not the
		 * gradient: take the first seed whose batch keeps 0.05 away
		 * from every kink, and a step that cannot cover that. */
		eps = 1e-3;
		while (hidden_margin(&f) < 0.05) {
			fixture_free(&f);
			assert_true(++seed < 200);
			fixture_init(&f, &s, 5, seed, loss);
		}
	}

	memset(f.m.grads, 0, f.m.nparams * sizeof(float));
	(void)fixture_loss(&f, true);
	w2s_mlp_backward(&f.m, &f.w, f.x, f.n, f.dlogits);

	double *fd = w2s_xmalloc(f.m.nparams * sizeof(double));
	double fd_max = 0.0;
	for (size_t i = 0; i < f.m.nparams; i++) {
		float p0 = f.m.params[i];
		/* The step actually taken, after rounding to float. */
		f.m.params[i] = (float)(p0 + eps);
		double hp = f.m.params[i];
		double lp = fixture_loss(&f, false);
		f.m.params[i] = (float)(p0 - eps);
		double hm = f.m.params[i];
		double lm = fixture_loss(&f, false);
		f.m.params[i] = p0;
		fd[i] = (lp - lm) / (hp - hm);
		fd_max = fmax(fd_max, fabs(fd[i]));
	}

	double worst = -1.0, worst_diff = 0.0;
	size_t wi = 0;
	for (size_t i = 0; i < f.m.nparams; i++) {
		double diff = fabs((double)f.m.grads[i] - fd[i]);
		double tol = 2e-3 * fabs(fd[i]) + 2e-4 * fd_max;
		double ratio = isnan(diff) ? INFINITY : diff / tol;
		if (ratio > worst) {
			worst = ratio;
			worst_diff = diff;
			wi = i;
		}
	}
	if (worst > 1.0)
		fail_msg("%s, %d layer(s), %s loss: largest difference %g at param %zu "
			 "(backward %g, finite difference %g, largest |fd| %g)",
			 w2s_act_name(act), nlayers, loss == LOSS_XENT ? "xent" : "linear",
			 worst_diff, wi, f.m.grads[wi], fd[wi], fd_max);
	assert_true(fd_max > 1e-2); /* the check compared something */
	free(fd);
	fixture_free(&f);
}

static const size_t linear_widths[] = {4, 3};
static const size_t one_hidden_widths[] = {4, 6, 3};
static const size_t two_hidden_widths[] = {4, 6, 5, 3};

static void backward_of_linear_model_matches_finite_differences(void **state)
{
	check_backward_against_fd(1, linear_widths, W2S_ACT_RELU, LOSS_XENT);
	check_backward_against_fd(1, linear_widths, W2S_ACT_RELU, LOSS_LINEAR);
}

static void backward_with_one_hidden_layer_matches_finite_differences(void **state)
{
	for (int a = W2S_ACT_RELU; a <= W2S_ACT_TANH; a++) {
		check_backward_against_fd(2, one_hidden_widths, (enum w2s_act)a, LOSS_XENT);
		check_backward_against_fd(2, one_hidden_widths, (enum w2s_act)a, LOSS_LINEAR);
	}
}

static void backward_with_two_hidden_layers_matches_finite_differences(void **state)
{
	for (int a = W2S_ACT_RELU; a <= W2S_ACT_TANH; a++) {
		check_backward_against_fd(3, two_hidden_widths, (enum w2s_act)a, LOSS_XENT);
		check_backward_against_fd(3, two_hidden_widths, (enum w2s_act)a, LOSS_LINEAR);
	}
}

static void backward_adds_into_existing_gradients(void **state)
{
	struct w2s_mlp_shape s = make_shape(3, two_hidden_widths, W2S_ACT_GELU);
	struct fixture f;
	fixture_init(&f, &s, 6, 3, LOSS_XENT);
	size_t np = f.m.nparams;
	float *once = w2s_xmalloc(np * sizeof(float));

	(void)fixture_loss(&f, true);
	w2s_mlp_backward(&f.m, &f.w, f.x, f.n, f.dlogits);
	memcpy(once, f.m.grads, np * sizeof(float));
	w2s_mlp_backward(&f.m, &f.w, f.x, f.n, f.dlogits);

	double worst = 0.0;
	size_t wi = 0;
	for (size_t i = 0; i < np; i++) {
		double diff = fabs((double)f.m.grads[i] - 2.0 * once[i]);
		if (diff > worst) {
			worst = diff;
			wi = i;
		}
	}
	if (worst > 1e-6 * (1.0 + fabs(2.0 * once[wi])))
		fail_msg("two backward passes: largest difference from twice one pass %g at %zu",
			 worst, wi);
	/* The extra slots after the gradients are the caller's. */
	for (size_t i = np; i < np + W2S_MLP_GRAD_EXTRA; i++)
		assert_true(f.m.grads[i] == 0.0f);
	free(once);
	fixture_free(&f);
}

static void backward_accepts_dlogits_in_logits_buffer(void **state)
{
	struct w2s_mlp_shape s = make_shape(2, one_hidden_widths, W2S_ACT_TANH);
	struct fixture f;
	fixture_init(&f, &s, 5, 4, LOSS_XENT);
	size_t np = f.m.nparams, C = s.width[2];
	float *separate = w2s_xmalloc(np * sizeof(float));

	(void)fixture_loss(&f, true);
	w2s_mlp_backward(&f.m, &f.w, f.x, f.n, f.dlogits);
	memcpy(separate, f.m.grads, np * sizeof(float));

	memset(f.m.grads, 0, np * sizeof(float));
	float *z = (float *)w2s_mlp_forward(&f.m, &f.w, f.x, f.n);
	(void)w2s_loss_xent_hard(z, f.y, f.n, C, 1.0f, z);
	w2s_mlp_backward(&f.m, &f.w, f.x, f.n, z);
	for (size_t i = 0; i < np; i++)
		if (f.m.grads[i] != separate[i])
			fail_msg("dlogits in the logits buffer: grad[%zu] = %g, %g otherwise",
				 i, f.m.grads[i], separate[i]);
	free(separate);
	fixture_free(&f);
}

static void forward_of_linear_model_matches_hand_computation(void **state)
{
	const size_t width[] = {3, 2};
	struct w2s_mlp_shape s = make_shape(1, width, W2S_ACT_TANH);
	struct w2s_mlp m;
	struct w2s_mlp_work w;
	assert_int_equal(w2s_mlp_init(&m, &s), 0);
	assert_int_equal(w2s_mlp_work_init(&w, &s, 4), 0);
	assert_int_equal(m.nparams, 8);
	assert_int_equal(w2s_mlp_shape_nparams(&s), 8);
	/* W (2, 3), then b (2): the layout mlp.h promises. */
	const float p[8] = {1, 2, 3, -1, 0, 0.5f, 0.5f, -1};
	memcpy(m.params, p, sizeof(p));
	assert_ptr_equal(m.b[0], m.params + 6);
	const float x[2 * 3] = {1, 1, 1, 2, 0, -2};
	const float *z = w2s_mlp_forward(&m, &w, x, 2);
	/* row 0: 1+2+3+0.5, -1+0.5-1;  row 1: 2-6+0.5, -2-1-1 (no activation) */
	const float want[4] = {6.5f, -1.5f, -3.5f, -4.0f};
	for (int i = 0; i < 4; i++)
		if (fabsf(z[i] - want[i]) > 1e-6f)
			fail_msg("logit %d = %g, want %g", i, z[i], want[i]);
	w2s_mlp_work_free(&w);
	w2s_mlp_free(&m);
}

static void forward_applies_activation_to_hidden_layers_only(void **state)
{
	/* D = 1, H = 2, C = 1: W0 = (1, -1)^T, b0 = 0, W1 = (2 3), b1 = 1.
	 * relu: x = 2 -> h = (2, 0) -> 5;  x = -1 -> h = (0, 1) -> 4. */
	const size_t width[] = {1, 2, 1};
	struct w2s_mlp_shape s = make_shape(2, width, W2S_ACT_RELU);
	struct w2s_mlp m;
	struct w2s_mlp_work w;
	assert_int_equal(w2s_mlp_init(&m, &s), 0);
	assert_int_equal(w2s_mlp_work_init(&w, &s, 2), 0);
	const float p[7] = {1, -1, 0, 0, 2, 3, 1};
	memcpy(m.params, p, sizeof(p));
	const float x[2] = {2, -1};
	const float *z = w2s_mlp_forward(&m, &w, x, 2);
	assert_true(fabsf(z[0] - 5.0f) < 1e-6f && fabsf(z[1] - 4.0f) < 1e-6f);
	w2s_mlp_work_free(&w);
	w2s_mlp_free(&m);

	/* GELU (tanh form) and tanh against libm in double. */
	for (int a = W2S_ACT_GELU; a <= W2S_ACT_TANH; a++) {
		const size_t w2[] = {1, 9, 1};
		s = make_shape(2, w2, (enum w2s_act)a);
		assert_int_equal(w2s_mlp_init(&m, &s), 0);
		assert_int_equal(w2s_mlp_work_init(&w, &s, 1), 0);
		for (int j = 0; j < 9; j++) {
			m.w[0][j] = 1.0f;
			m.b[0][j] = (float)(j - 4) * 0.75f; /* pre = x + b */
		}
		const float one = 1.0f;
		(void)w2s_mlp_forward(&m, &w, &one, 1);
		for (int j = 0; j < 9; j++) {
			double u = 1.0 + (double)m.b[0][j], want;
			if (a == W2S_ACT_TANH)
				want = tanh(u);
			else
				want = 0.5 * u *
				       (1.0 + tanh(0.79788456080286535588 /* sqrt(2/pi) */ * (u + 0.044715 * u * u * u)));
			if (fabs(w.post[0][j] - want) > 1e-6 * (1.0 + fabs(want)))
				fail_msg("%s(%g) = %g, want %g", w2s_act_name((enum w2s_act)a), u,
					 w.post[0][j], want);
		}
		w2s_mlp_work_free(&w);
		w2s_mlp_free(&m);
	}
}

/* act(u) and d act / du in double, for the naive reference. */
static double ref_act(enum w2s_act a, double u, double *grad)
{
	const double k = 0.79788456080286535588; /* sqrt(2/pi) */
	switch (a) {
	case W2S_ACT_RELU:
		*grad = u > 0 ? 1.0 : 0.0;
		return u > 0 ? u : 0.0;
	case W2S_ACT_TANH:
		*grad = 1.0 - tanh(u) * tanh(u);
		return tanh(u);
	case W2S_ACT_GELU: {
		double t = tanh(k * (u + 0.044715 * u * u * u));
		*grad = 0.5 * (1.0 + t) + 0.5 * u * (1.0 - t * t) * k * (1.0 + 3 * 0.044715 * u * u);
		return 0.5 * u * (1.0 + t);
	}
	}
	*grad = 1.0;
	return u;
}

/* Logits (n, C) and gradients (nparams) of the fixture's model for the
 * linear loss, by the textbook loops in double: what the layouts and fused
 * passes of mlp.c must reproduce whatever the sizes. */
static void naive_reference(const struct fixture *f, double *logits, double *grads)
{
	const struct w2s_mlp_shape *s = &f->m.shape;
	const int L = s->nlayers;
	const size_t n = f->n;
	double *h[W2S_MLP_MAX_LAYERS + 1] = {0}, *dact[W2S_MLP_MAX_LAYERS + 1] = {0};
	for (int l = 0; l <= L; l++) {
		h[l] = w2s_xmalloc(n * s->width[l] * sizeof(double));
		dact[l] = w2s_xmalloc(n * s->width[l] * sizeof(double));
	}
	for (size_t i = 0; i < n * s->width[0]; i++)
		h[0][i] = f->x[i];
	for (int l = 0; l < L; l++) {
		size_t in = s->width[l], out = s->width[l + 1];
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < out; j++) {
				double u = f->m.b[l][j];
				for (size_t k = 0; k < in; k++)
					u += h[l][i * in + k] * (double)f->m.w[l][j * in + k];
				if (l == L - 1) {
					h[l + 1][i * out + j] = u;
					dact[l + 1][i * out + j] = 1.0;
				} else {
					h[l + 1][i * out + j] = ref_act(s->act, u, &dact[l + 1][i * out + j]);
				}
			}
	}
	size_t C = s->width[L];
	memcpy(logits, h[L], n * C * sizeof(double));
	memset(grads, 0, f->m.nparams * sizeof(double));
	/* d = d loss / d pre of layer l, (n, out) */
	double *d = w2s_xmalloc(n * C * sizeof(double));
	for (size_t i = 0; i < n * C; i++)
		d[i] = f->r[i];
	for (int l = L - 1; l >= 0; l--) {
		size_t in = s->width[l], out = s->width[l + 1];
		double *gw = grads + (f->m.gw[l] - f->m.grads), *gb = grads + (f->m.gb[l] - f->m.grads);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < out; j++) {
				gb[j] += d[i * out + j];
				for (size_t k = 0; k < in; k++)
					gw[j * in + k] += d[i * out + j] * h[l][i * in + k];
			}
		if (l == 0)
			break;
		double *dn = w2s_xcalloc(n * in, sizeof(double));
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < in; k++) {
				double v = 0;
				for (size_t j = 0; j < out; j++)
					v += d[i * out + j] * (double)f->m.w[l][j * in + k];
				dn[i * in + k] = v * dact[l][i * in + k];
			}
		free(d);
		d = dn;
	}
	free(d);
	for (int l = 0; l <= L; l++) {
		free(h[l]);
		free(dact[l]);
	}
}

/* Largest |got - want| over the largest |want|, and where. */
static double worst_relative(const float *got, const double *want, size_t count, size_t *at)
{
	double big = 1e-30, worst = 0;
	for (size_t i = 0; i < count; i++)
		big = fmax(big, fabs(want[i]));
	*at = 0;
	for (size_t i = 0; i < count; i++) {
		double e = fabs((double)got[i] - want[i]);
		if (isnan(e) || e > worst) {
			worst = isnan(e) ? INFINITY : e;
			*at = i;
		}
	}
	return worst / big;
}

static void check_against_naive(int nlayers, const size_t *width, size_t n, enum w2s_act act)
{
	struct w2s_mlp_shape s = make_shape(nlayers, width, act);
	struct fixture f;
	fixture_init(&f, &s, n, 11, LOSS_LINEAR);
	size_t C = width[nlayers], np = f.m.nparams;
	double *logits = w2s_xmalloc(n * C * sizeof(double));
	double *grads = w2s_xmalloc(np * sizeof(double));
	naive_reference(&f, logits, grads);

	memset(f.m.grads, 0, np * sizeof(float));
	const float *z = w2s_mlp_forward(&f.m, &f.w, f.x, n);
	size_t at;
	double e = worst_relative(z, logits, n * C, &at);
	if (e > 1e-5)
		fail_msg("%s, widths %zu..%zu, %zu rows: logit %zu is %g, want %g (relative %g)",
			 w2s_act_name(act), width[0], C, n, at, z[at], logits[at], e);
	w2s_mlp_backward(&f.m, &f.w, f.x, n, f.r);
	e = worst_relative(f.m.grads, grads, np, &at);
	if (e > 1e-5)
		fail_msg("%s, widths %zu..%zu, %zu rows: gradient %zu is %g, want %g (relative %g)",
			 w2s_act_name(act), width[0], C, n, at, f.m.grads[at], grads[at], e);
	free(logits);
	free(grads);
	fixture_free(&f);
}

/* Row counts around the vector width (16) and class counts around the
 * narrow output kernel's limit (16), each activation, a linear model and a
 * single row: every path of the forward and backward passes. */
static void forward_and_backward_match_naive_loops_at_odd_sizes(void **state)
{
	static const size_t narrow[] = {7, 33, 17, 5}, at_limit[] = {5, 40, 16},
			    past_limit[] = {5, 40, 17}, linear[] = {9, 20}, wide_in[] = {3, 70, 2};
	static const size_t rows[] = {1, 5, 16, 37};
	for (int a = W2S_ACT_RELU; a <= W2S_ACT_TANH; a++)
		for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
			check_against_naive(3, narrow, rows[r], (enum w2s_act)a);
			check_against_naive(2, at_limit, rows[r], (enum w2s_act)a);
			check_against_naive(2, past_limit, rows[r], (enum w2s_act)a);
			check_against_naive(1, linear, rows[r], (enum w2s_act)a);
			check_against_naive(2, wide_in, rows[r], (enum w2s_act)a);
		}
}

/* backward_set on a buffer of NaNs gives what backward gives on zeros, and
 * leaves the extra slots alone, on every path (narrow output, BLIS output,
 * linear model). */
static void backward_set_overwrites_whatever_the_gradients_held(void **state)
{
	static const size_t narrow[] = {7, 33, 17, 5}, wide_out[] = {5, 40, 17}, linear[] = {9, 20};
	const size_t *widths[] = {narrow, wide_out, linear};
	const int layers[] = {3, 2, 1};
	for (int c = 0; c < 3; c++) {
		struct w2s_mlp_shape s = make_shape(layers[c], widths[c], W2S_ACT_GELU);
		struct fixture f;
		fixture_init(&f, &s, 21, 5, LOSS_LINEAR);
		size_t np = f.m.nparams;
		float *added = w2s_xmalloc(np * sizeof(float));
		memset(f.m.grads, 0, np * sizeof(float));
		(void)w2s_mlp_forward(&f.m, &f.w, f.x, f.n);
		w2s_mlp_backward(&f.m, &f.w, f.x, f.n, f.r);
		memcpy(added, f.m.grads, np * sizeof(float));

		for (size_t i = 0; i < np; i++)
			f.m.grads[i] = NAN;
		for (size_t i = np; i < np + W2S_MLP_GRAD_EXTRA; i++)
			f.m.grads[i] = 7.0f;
		w2s_mlp_backward_set(&f.m, &f.w, f.x, f.n, f.r);
		for (size_t i = 0; i < np; i++)
			if (!(f.m.grads[i] == added[i]))
				fail_msg("%d layer(s): grad[%zu] = %g after backward_set, %g after "
					 "backward on zeros", layers[c], i, f.m.grads[i], added[i]);
		for (size_t i = np; i < np + W2S_MLP_GRAD_EXTRA; i++)
			assert_true(f.m.grads[i] == 7.0f);
		free(added);
		fixture_free(&f);
	}
}

/* backward_parts over a block of micro-batches gives each part the bits of
 * a forward and backward_set on its rows alone, on every path (narrow
 * output, BLIS output, linear model), for parts that are not whole vectors
 * of rows, a shorter last part, and a block taller than BLIS's row blocks.
 * The forward pass over the block gives each row the bits of the part's
 * own forward too: what the exact reduction relies on to cut a rank's rows
 * into blocks of any size.  It holds only where BLIS's products do not
 * depend on their row count, which blas reports. */
static void backward_parts_match_each_part_alone(void **state)
{
	(void)state;
	if (!w2s_blas_rows_independent())
		skip();
	static const size_t narrow[] = {7, 33, 17, 5}, wide_out[] = {5, 40, 17},
			    linear[] = {9, 20}, two[] = {6, 24, 2};
	const struct {
		int layers;
		const size_t *widths;
		size_t rows, nparts, last;
	} cases[] = {
		{3, narrow, 19, 3, 7},   {3, narrow, 16, 4, 16},   {2, wide_out, 5, 4, 1},
		{2, wide_out, 33, 2, 20}, {1, linear, 13, 3, 13},  {2, two, 150, 4, 149},
		{3, narrow, 1, 4, 1},    {2, two, 21, 1, 9},
	};
	for (int a = 0; a < 3; a++)
		for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
			struct w2s_mlp_shape s =
				make_shape(cases[c].layers, cases[c].widths, (enum w2s_act)a);
			const size_t rows = cases[c].rows, nparts = cases[c].nparts;
			const size_t n = (nparts - 1) * rows + cases[c].last;
			const size_t D = s.width[0], C = s.width[s.nlayers];
			struct fixture f;
			fixture_init(&f, &s, n, 17 + c, LOSS_LINEAR);
			const size_t np = f.m.nparams;
			float *block_logits = w2s_xmalloc(n * C * sizeof(float));
			memcpy(block_logits, w2s_mlp_forward(&f.m, &f.w, f.x, n),
			       n * C * sizeof(float));
			struct w2s_mlp views[4], *parts[4];
			for (size_t p = 0; p < nparts; p++) {
				views[p] = f.m;
				views[p].grads = w2s_xmalloc((np + W2S_MLP_GRAD_EXTRA) * sizeof(float));
				for (size_t i = 0; i < np; i++)
					views[p].grads[i] = NAN;
				for (int l = 0; l < s.nlayers; l++) {
					views[p].gw[l] = views[p].grads + (f.m.gw[l] - f.m.grads);
					views[p].gb[l] = views[p].grads + (f.m.gb[l] - f.m.grads);
				}
				parts[p] = &views[p];
			}
			w2s_mlp_backward_parts(parts, nparts, rows, &f.w, f.x, n, f.r);

			struct w2s_mlp_work alone;
			assert_int_equal(w2s_mlp_work_init(&alone, &s, rows), 0);
			for (size_t p = 0; p < nparts; p++) {
				const size_t r0 = p * rows, k = p + 1 < nparts ? rows : n - r0;
				const float *z = w2s_mlp_forward(&f.m, &alone, f.x + r0 * D, k);
				for (size_t i = 0; i < k * C; i++)
					if (memcmp(&z[i], &block_logits[r0 * C + i], sizeof *z))
						fail_msg("%s, case %zu, part %zu: logit %zu = %a alone, "
							 "%a in the block", w2s_act_name(s.act), c, p,
							 i, z[i], block_logits[r0 * C + i]);
				w2s_mlp_backward_set(&f.m, &alone, f.x + r0 * D, k, f.r + r0 * C);
				for (size_t i = 0; i < np; i++)
					if (memcmp(&f.m.grads[i], &views[p].grads[i], sizeof(float)))
						fail_msg("%s, case %zu, part %zu: grad[%zu] = %a alone, "
							 "%a from the block", w2s_act_name(s.act), c, p,
							 i, f.m.grads[i], views[p].grads[i]);
			}
			w2s_mlp_work_free(&alone);
			for (size_t p = 0; p < nparts; p++)
				free(views[p].grads);
			free(block_logits);
			fixture_free(&f);
		}
}

static void init_params_is_reproducible_and_within_glorot_bound(void **state)
{
	const size_t width[] = {20, 30, 10};
	struct w2s_mlp_shape s = make_shape(2, width, W2S_ACT_RELU);
	struct w2s_mlp a, b, c;
	assert_int_equal(w2s_mlp_init(&a, &s), 0);
	assert_int_equal(w2s_mlp_init(&b, &s), 0);
	assert_int_equal(w2s_mlp_init(&c, &s), 0);
	w2s_mlp_init_params(&a, 123, W2S_STREAM_INIT);
	w2s_mlp_init_params(&b, 123, W2S_STREAM_INIT);
	w2s_mlp_init_params(&c, 123, W2S_STREAM_INIT + 1);
	assert_memory_equal(a.params, b.params, a.nparams * sizeof(float));
	assert_memory_not_equal(a.params, c.params, a.nparams * sizeof(float));

	for (int l = 0; l < 2; l++) {
		size_t in = width[l], out = width[l + 1];
		double bound = sqrt(6.0 / (double)(in + out)), maxabs = 0.0, mean = 0.0;
		for (size_t i = 0; i < in * out; i++) {
			maxabs = fmax(maxabs, fabs(a.w[l][i]));
			mean += a.w[l][i];
		}
		mean /= (double)(in * out);
		if (maxabs > bound || maxabs < 0.9 * bound || fabs(mean) > 0.1 * bound)
			fail_msg("layer %d: largest |w| %g, mean %g; bound %g", l, maxabs, mean, bound);
		for (size_t j = 0; j < out; j++)
			assert_true(a.b[l][j] == 0.0f);
		/* Layer l is item l of the stream: what mlp.h promises callers
		 * that regenerate weights elsewhere. */
		double u;
		w2s_rng_uniforms(123, W2S_STREAM_INIT, (uint64_t)l, &u, 1);
		assert_true(a.w[l][0] == (float)((2.0 * u - 1.0) * bound));
	}
	w2s_mlp_free(&a);
	w2s_mlp_free(&b);
	w2s_mlp_free(&c);
}

static void init_refuses_overflowing_or_empty_shapes(void **state)
{
	struct w2s_mlp m;
	struct w2s_mlp_work w;
	const size_t huge[] = {4, SIZE_MAX / 2};
	struct w2s_mlp_shape s = make_shape(1, huge, W2S_ACT_RELU);
	memset(&m, 0xff, sizeof(m));
	assert_int_equal(w2s_mlp_init(&m, &s), -1);
	assert_null(m.params);
	assert_null(m.grads);
	assert_int_equal(m.nparams, 0);
	assert_int_equal(w2s_mlp_shape_nparams(&s), 0);
	assert_int_equal(w2s_mlp_work_init(&w, &s, 1000), -1);
	assert_null(w.pre[0]);

	const size_t ok[] = {4, 3};
	s = make_shape(1, ok, W2S_ACT_RELU);
	assert_int_equal(w2s_mlp_work_init(&w, &s, SIZE_MAX / 4), -1);
	s.nlayers = 0;
	assert_int_equal(w2s_mlp_init(&m, &s), -1);
	s.nlayers = W2S_MLP_MAX_LAYERS + 1;
	assert_int_equal(w2s_mlp_init(&m, &s), -1);
	const size_t empty[] = {4, 0, 3};
	s = make_shape(2, empty, W2S_ACT_RELU);
	assert_int_equal(w2s_mlp_init(&m, &s), -1);
}

/* The workspace holds one buffer per hidden layer for relu and tanh, whose
 * derivatives come from the output, and two for GELU: the memory a batch
 * of activations takes. */
static void work_keeps_pre_activations_only_for_gelu(void **state)
{
	for (int a = W2S_ACT_RELU; a <= W2S_ACT_TANH; a++) {
		struct w2s_mlp_shape s = make_shape(3, two_hidden_widths, (enum w2s_act)a);
		struct w2s_mlp_work w;
		assert_int_equal(w2s_mlp_work_init(&w, &s, 16), 0);
		for (int l = 0; l < 2; l++)
			if ((w.pre[l] != w.post[l]) != (a == W2S_ACT_GELU))
				fail_msg("%s: hidden layer %d has %s", w2s_act_name((enum w2s_act)a), l,
					 w.pre[l] == w.post[l] ? "no pre-activation buffer"
							       : "a pre-activation buffer it does not need");
		assert_ptr_equal(w.pre[2], w.post[2]); /* the logits */
		/* The buffers do not overlap: post of one layer, then the next. */
		assert_true(w.post[0] + 16 * s.width[1] <= w.pre[1]);
		assert_true(w.post[1] + 16 * s.width[2] <= w.pre[2]);
		w2s_mlp_work_free(&w);
	}
}

static void free_is_safe_on_zeroed_struct_and_twice(void **state)
{
	struct w2s_mlp m;
	struct w2s_mlp_work w;
	memset(&m, 0, sizeof(m));
	memset(&w, 0, sizeof(w));
	w2s_mlp_free(&m);
	w2s_mlp_work_free(&w);

	struct w2s_mlp_shape s = make_shape(2, one_hidden_widths, W2S_ACT_RELU);
	assert_int_equal(w2s_mlp_init(&m, &s), 0);
	assert_int_equal(w2s_mlp_work_init(&w, &s, 8), 0);
	w2s_mlp_free(&m);
	w2s_mlp_free(&m);
	w2s_mlp_work_free(&w);
	w2s_mlp_work_free(&w);
	assert_null(m.params);
	assert_null(w.delta);
}

int main(void)
{
	w2s_blas_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forward_of_linear_model_matches_hand_computation),
		cmocka_unit_test(forward_applies_activation_to_hidden_layers_only),
		cmocka_unit_test(backward_of_linear_model_matches_finite_differences),
		cmocka_unit_test(backward_with_one_hidden_layer_matches_finite_differences),
		cmocka_unit_test(backward_with_two_hidden_layers_matches_finite_differences),
		cmocka_unit_test(backward_adds_into_existing_gradients),
		cmocka_unit_test(backward_accepts_dlogits_in_logits_buffer),
		cmocka_unit_test(forward_and_backward_match_naive_loops_at_odd_sizes),
		cmocka_unit_test(backward_set_overwrites_whatever_the_gradients_held),
		cmocka_unit_test(backward_parts_match_each_part_alone),
		cmocka_unit_test(init_params_is_reproducible_and_within_glorot_bound),
		cmocka_unit_test(init_refuses_overflowing_or_empty_shapes),
		cmocka_unit_test(work_keeps_pre_activations_only_for_gelu),
		cmocka_unit_test(free_is_safe_on_zeroed_struct_and_twice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

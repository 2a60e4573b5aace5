/*
 * mlp.h: multilayer perceptrons whose parameters live in one flat buffer.
 *
 * Dimension legend: B batch rows, D input width, H a hidden width, C outputs
 * (classes).  Layer l maps width[l] -> width[l+1]; there are nlayers =
 * nhidden + 1 layers; 0 hidden layers is a linear model.  Every layer but the
 * last is followed by the activation.
 *
 * Layout of the flat buffer, layer after layer:  W_l (width[l+1], width[l])
 * row-major, then b_l (width[l+1]).  Gradients use the same layout, so one
 * allreduce syncs them and one dataset stores the parameters.
 *
 * Not here: losses (loss.h), optimizers (optim.h), the training loop.
 */
#ifndef W2S_MLP_H
#define W2S_MLP_H

#include <stddef.h>
#include <stdint.h>

enum w2s_act {
	W2S_ACT_RELU = 0,
	W2S_ACT_GELU, /* tanh approximation */
	W2S_ACT_TANH,
};

#define W2S_MLP_MAX_LAYERS 16

/* The shape of a model; a plain value, copied freely. */
struct w2s_mlp_shape {
	int nlayers;                        /* hidden layers + 1, >= 1 */
	size_t width[W2S_MLP_MAX_LAYERS + 1]; /* width[0] = D ... width[nlayers] = C */
	enum w2s_act act;
};

struct w2s_mlp {
	struct w2s_mlp_shape shape;
	size_t nparams;
	float *params; /* (nparams) owned */
	float *grads;  /* (nparams + W2S_MLP_GRAD_EXTRA) owned; see below */
	/* views into params / grads, per layer */
	float *w[W2S_MLP_MAX_LAYERS];  /* (width[l+1], width[l]) */
	float *b[W2S_MLP_MAX_LAYERS];  /* (width[l+1]) */
	float *gw[W2S_MLP_MAX_LAYERS];
	float *gb[W2S_MLP_MAX_LAYERS];
};

/* The gradient buffer has room for this many floats after the gradients, so
 * that per-step statistics (loss sum, correct count) travel in the same
 * allreduce as the gradients. */
#define W2S_MLP_GRAD_EXTRA 4

/* Activations kept for backward, sized for up to max_batch rows.  After a
 * forward on n rows, a hidden layer's post holds (width[l+1], n):
 * feature-major, feature j of all n rows contiguous at [j * n], the layout
 * BLIS computes the forward product fastest in; the logits, pre[nlayers-1]
 * = post[nlayers-1], are (n, C) row-major.  Only GELU's backward needs a
 * hidden layer's pre-activation: for relu and tanh pre[l] is post[l] (one
 * buffer, the activation applied in place), which halves the memory. */
struct w2s_mlp_work {
	size_t max_batch;
	float *pre[W2S_MLP_MAX_LAYERS];  /* (width[l+1], n) before activation (GELU; else = post) */
	float *post[W2S_MLP_MAX_LAYERS]; /* (width[l+1], n) after; post[nlayers-1] = logits */
	float *delta;                    /* (max_batch * max width) scratch */
	float *delta2;                   /* (max_batch * max width) scratch */
};

/* Total number of parameters of a shape. */
size_t w2s_mlp_shape_nparams(const struct w2s_mlp_shape *shape);

/* Allocates params and grads (zeroed).  Returns 0, or -1 if the sizes
 * overflow or memory runs out (m is then left zeroed). */
int w2s_mlp_init(struct w2s_mlp *m, const struct w2s_mlp_shape *shape);
/* Frees what init took; safe on a zeroed struct and twice. */
void w2s_mlp_free(struct w2s_mlp *m);

/* Fills params: weights uniform in +-sqrt(6/(fan_in+fan_out)) * gain from a
 * counter-based stream keyed by (seed, stream), biases zero.  Same seed and
 * stream give the same parameters on every rank and every run. */
void w2s_mlp_init_params(struct w2s_mlp *m, uint64_t seed, uint32_t stream);

int w2s_mlp_work_init(struct w2s_mlp_work *w, const struct w2s_mlp_shape *shape, size_t max_batch);
void w2s_mlp_work_free(struct w2s_mlp_work *w);

/* Forward pass over n <= max_batch rows of x (n, D).  Returns the logits
 * (n, C), a view into work, valid until the next forward. */
const float *w2s_mlp_forward(const struct w2s_mlp *m, struct w2s_mlp_work *w,
			     const float *x, size_t n);

/* Backward pass after a forward on the same x and n: given dlogits (n, C)
 * (may alias work memory only if it is the logits buffer itself), ADDS the
 * parameter gradients into m->grads.  No allocation. */
void w2s_mlp_backward(struct w2s_mlp *m, struct w2s_mlp_work *w,
		      const float *x, size_t n, const float *dlogits);

/* As w2s_mlp_backward, but WRITES the gradients: afterwards m->grads[0,
 * nparams) holds this batch's gradient whatever it held before (NaNs
 * included), so a training step need not zero the buffer first.  The
 * W2S_MLP_GRAD_EXTRA slots are left alone.  No allocation. */
void w2s_mlp_backward_set(struct w2s_mlp *m, struct w2s_mlp_work *w,
			  const float *x, size_t n, const float *dlogits);

/* As w2s_mlp_backward_set, for a block of n rows cut into nparts parts of
 * rows each (the last one may be shorter): writes the gradient of part p's
 * rows [p * rows, p * rows + rows) into parts[p]->grads, bit for bit what
 * a forward and backward_set on that part's rows alone would give, as long
 * as a row of a product does not depend on the rows beside it (see
 * w2s_blas_rows_independent).  The parts are views of one model: the same
 * shape and parameters, each its own gradient buffer.  The input
 * gradients run over the whole block, in products as large as the
 * block's; only the parameter gradients are summed part by part.  After a
 * forward on the same x and n.  No allocation. */
void w2s_mlp_backward_parts(struct w2s_mlp *const *parts, size_t nparts, size_t rows,
			    struct w2s_mlp_work *w, const float *x, size_t n,
			    const float *dlogits);

const char *w2s_act_name(enum w2s_act a);

#endif

/*
 * optim.h: optimizers, learning-rate schedules and gradient clipping over
 * one flat parameter buffer.
 *
 * Not here: anything that knows about layers or ranks; the training loop
 * applies these after the gradients are summed over ranks, so every rank
 * does identical arithmetic and the parameters stay identical.
 */
#ifndef W2S_OPTIM_H
#define W2S_OPTIM_H

#include <stddef.h>
#include <stdint.h>

enum w2s_optimizer {
	W2S_OPT_ADAM = 0, /* Adam with decoupled weight decay (AdamW) */
	W2S_OPT_SGD,      /* SGD with (optional) momentum, weight decay added to the gradient */
};

enum w2s_schedule {
	W2S_SCHED_CONSTANT = 0,
	W2S_SCHED_COSINE, /* cosine from lr to lr_min over the steps after warm-up */
};

struct w2s_optim_opts {
	enum w2s_optimizer kind;
	float lr;
	float weight_decay;
	float beta1, beta2, eps; /* Adam */
	float momentum;          /* SGD */
	enum w2s_schedule schedule;
	int64_t warmup_steps;    /* linear warm-up from 0 to lr */
	int64_t total_steps;     /* for the cosine schedule */
	float lr_min;            /* floor of the cosine */
};

/* Fills defaults: Adam, lr 1e-3, wd 0, betas 0.9/0.999, eps 1e-8,
 * momentum 0, constant schedule, no warm-up, lr_min 0. */
void w2s_optim_opts_default(struct w2s_optim_opts *o);

struct w2s_optim {
	struct w2s_optim_opts opts;
	size_t n;
	int64_t step;  /* updates taken so far */
	float *m;      /* (n) first moment / momentum buffer, owned */
	float *v;      /* (n) second moment (Adam), owned */
};

int w2s_optim_init(struct w2s_optim *o, const struct w2s_optim_opts *opts, size_t n);
void w2s_optim_free(struct w2s_optim *o);

/* Learning rate at a given step (0-based) under the schedule. */
float w2s_optim_lr(const struct w2s_optim_opts *o, int64_t step);

/* L2 norm of g (n), accumulated in double. */
double w2s_grad_norm(const float *g, size_t n);
/* Scales g so its norm is at most max_norm (max_norm <= 0: no clipping).
 * Returns the norm before clipping. */
double w2s_grad_clip(float *g, size_t n, double max_norm);

/* One update of params (n) with grads (n), which must not overlap; advances
 * o->step.  Returns the learning rate used.  The same inputs give the same
 * bits on every CPU (the vector loops do the scalar formula's arithmetic). */
float w2s_optim_step(struct w2s_optim *o, float *params, const float *grads);

#endif

/*
 * train.h: data-parallel training and sharded inference of one model.
 *
 * Every rank holds the whole training split of the model's view; each step
 * takes a global batch from one shuffled order (the same on every rank),
 * each rank computes the gradient of its contiguous share of that batch,
 * and one allreduce sums the flat gradient buffer (with the step's loss and
 * accuracy riding in its spare slots).  The update is then the same
 * arithmetic on every rank, so the parameters stay identical; the number of
 * ranks changes the result only through the order of the sum.
 *
 * With spec->reduce exact it does not change the result at all.  The batch
 * is cut into micro-batches of spec->micro_batch rows, a partition that
 * does not depend on the number of ranks; each rank takes a contiguous
 * block of them and computes each one's gradient from its rows alone (the
 * forward pass and the input gradients of up to four of them run as one
 * taller product where a row's bits do not depend on the product's height,
 * see w2s_blas_rows_independent; the weight gradients are summed per
 * micro-batch: the same shapes and inputs give the same bits).
 * A micro-batch's gradient is rounded to a fixed-point int64 grid, 2^-q
 * with q shared by all ranks, and the integers are summed, locally and
 * then over ranks: integer sums do not depend on their grouping.  The
 * grid comes from the largest |gradient| of the step before (a few bits of
 * headroom); when this step's largest falls outside it, which every rank
 * learns from the same allreduce, the step is computed again on a grid
 * that fits.  The loss of each micro-batch travels in a slot of its own
 * and is summed in micro-batch order.  The step still takes one allreduce
 * (of int64, twice the bytes), and costs a weight-gradient product and a
 * pass over a micro-batch's gradient per micro-batch; losses that look at the whole batch (the
 * confidence loss's hardening) look at the micro-batch instead.
 *
 * Dimension legend: N rows of the split, n rows on this rank, D the view's
 * width, C classes, B the global batch.
 *
 * Not here: files (the caller reads and writes them), which loss or teacher
 * (the caller passes the targets).
 */
#ifndef W2S_TRAIN_H
#define W2S_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "w2s/comm.h"
#include "w2s/config.h"
#include "w2s/h5io.h"
#include "w2s/mlp.h"
#include "w2s/optim.h"

struct w2s_train_data {
	int64_t n;          /* N rows */
	int64_t dim;        /* D */
	int classes;        /* C */
	const float *x;     /* (N, D) */
	const int32_t *y;   /* (N) class ids: hard targets, and what accuracy counts */
	const float *soft;  /* (N, C) a teacher's probabilities, or NULL to train on y */
	const float *teacher_logits; /* (N, C) for distillation (kd), or NULL */
	int regression;     /* C = 1 and soft holds real targets: squared error, no accuracy */
};

/* Which loss turns the targets into gradients.  With soft targets, `kind`
 * chooses among the losses of a student learning from its teacher (y then
 * holds the teacher's argmax); with teacher_logits, ground-truth
 * cross-entropy plus distillation at temperature kd_temperature with weight
 * kd_weight; otherwise cross-entropy on y. */
struct w2s_train_loss {
	enum w2s_loss_kind kind;
	double confidence_alpha, confidence_warmup;
	double product_b, product_c;
	double kd_temperature, kd_weight;
};

/* Where progress goes.  trace may be NULL (and is NULL on ranks != 0).
 * val_score, when given, is called collectively every spec->eval_every
 * steps and returns the model's score on validation (higher is better);
 * the newest score goes into the trace, and with spec->patience it decides
 * early stopping. */
struct w2s_train_log {
	const char *label;       /* printed at the start of progress lines */
	int64_t every;           /* steps between progress lines and trace rows */
	struct w2s_trace *trace;
	int trace_index;
	double (*val_score)(void *ctx, const struct w2s_mlp *m);
	void *val_ctx;
};

/* Where training stands between two steps: with the parameters and the
 * optimizer's moments, all that a checkpoint needs for an exact resume.
 * The batch order of an epoch is a function of (seed, stream, epoch), so
 * the position in the data is two integers. */
struct w2s_train_state {
	int64_t step;        /* updates done */
	int64_t epoch;       /* epoch of the next batch */
	int64_t batch;       /* index of the next batch within that epoch */
	double loss_sum;     /* sums over the steps since the last trace row */
	double correct;
	double seen;
	double seconds;      /* training time before this process took over */
	double last_val;     /* newest validation score (NaN before the first) */
	double best_val;     /* early stopping: best validation score so far */
	int64_t best_step;   /* the step it was reached at (0: none yet) */
	int64_t bad_evals;   /* evaluations since it improved */
	float *best_params;  /* (nparams) parameters at best_step, or NULL without early stopping */
	int64_t reduce_exp;  /* reduce exact: the next step's gradients are below 2^reduce_exp */
	int64_t ntrace;      /* trace rows so far, in trace_rows */
	struct w2s_trace_row *trace_rows; /* (capacity) every trace row written, owned by the loop */
};

/* Checkpointing and stopping.  save() is called collectively with the
 * model, optimizer and state every `every` steps, at the end (final true),
 * and when a stop was requested; it returns a status that every rank
 * agrees on.  stop points at a flag a signal handler sets (may be NULL):
 * the ranks sum it with the gradients, so all stop after the same step. */
struct w2s_train_ckpt {
	int64_t every;
	enum w2s_status (*save)(void *ctx, const struct w2s_mlp *m, const struct w2s_optim *o,
				const struct w2s_train_state *s, int final);
	void *ctx;
	volatile sig_atomic_t *stop;
	/* Resume from here instead of the start: state, and the moments m and
	 * v (nparams each); the parameters are already in the model. */
	const struct w2s_train_state *from;
	const float *from_m, *from_v;
};

struct w2s_train_result {
	int64_t steps;
	int64_t chosen_step; /* the step whose parameters were kept (early stopping), else steps */
	double seconds;
	double last_loss;   /* mean over the last logged interval */
	double samples_per_s;
	int64_t recomputed; /* reduce exact: steps computed again on a grid that fits */
};

/* Collective: trains m from its current parameters on d with the
 * hyperparameters of spec (with spec->probe, only the last layer) and the
 * loss of `loss` (NULL: cross-entropy); the shuffling comes from (seed,
 * stream).  ckpt
 * may be NULL (no checkpoints, no stopping, start from the beginning).
 * Returns W2S_STATUS_NUMERIC (on every rank, after one message) if the loss
 * or gradient stops being finite, W2S_STATUS_IO if a trace or checkpoint
 * write fails, W2S_STATUS_STOPPED after checkpointing on request. */
enum w2s_status w2s_train_model(const struct w2s_comm *c, struct w2s_mlp *m,
				const struct w2s_train_spec *spec, const struct w2s_train_loss *loss,
				const struct w2s_train_data *d, uint64_t seed, uint32_t stream,
				const struct w2s_train_log *log, const struct w2s_train_ckpt *ckpt,
				struct w2s_train_result *res);

/* The part of the flat parameters that trains: everything, or for a probe
 * only the last layer (a contiguous tail of the buffer).  Offset and count. */
void w2s_train_trainable(const struct w2s_mlp *m, int probe, size_t *offset, size_t *count);

/* Steps a model takes with this spec on n rows (epochs * batches). */
int64_t w2s_train_total_steps(const struct w2s_train_spec *spec, int64_t n);

/* Collective: the sum of the values of every rank (v, n on this rank;
 * total over all ranks), the same bits however the values are split among
 * the ranks: each is rounded to a grid of at most 2^-50 of the largest |v|
 * (coarser beyond 2^11 values, so that the sum fits an int64) and the
 * integers are summed.  NaN when a value is not finite.  For what models
 * with train.reduce exact report. */
double w2s_train_sum_exact(const struct w2s_comm *c, const double *v, int64_t n, int64_t total);

/* Collective: w2s_train_sum_exact of the losses of this rank's n rows:
 * cross-entropy of logits (n, C) against y, or with values (n) the squared
 * error of logits (n, C = 1) against them. */
double w2s_train_loss_sum_exact(const struct w2s_comm *c, const float *logits, const int32_t *y,
				const float *values, int64_t n, int64_t C, int64_t total);

/* Where a rank's rows sit in the set they are a shard of: rows [first,
 * first + n) of total. */
struct w2s_rows_at {
	int64_t first, total;
};

/* Not collective: logits (n, C) of rows x (n, D) in batches of `batch`;
 * probs (n, C) and pred (n) are filled when not NULL.  With at (train.reduce
 * exact), a row's logits are the same bits whatever shard it is in: where
 * BLIS's small products take other kernels (w2s_blas_rows_independent() is
 * false), a row's bits depend on the call it is in, so the batches are cut
 * on the set's own grid of min(batch, total) rows and each is computed
 * whole, the rows of other shards as zeros. */
void w2s_train_predict(const struct w2s_mlp *m, const float *x, int64_t n, int64_t batch,
		       const struct w2s_rows_at *at, float *logits, float *probs, int32_t *pred);

/* ---- checkpoints ----
 *
 * DIR/<name>-<step>.h5 holds /params, /adam_m, /adam_v (written collectively,
 * each rank its share), /best_params with early stopping, /trace (the trace
 * rows so far) and as attributes the state (step, epoch, batch, sums, the
 * early-stopping counters, the exponent of the exact reduction), final,
 * seed and stream of the batch order,
 * world size and the config (canonical JSON).  It is
 * written under a temporary name and renamed when complete, so a file with
 * the final name is always whole. */

struct w2s_ckpt_meta {
	const char *dir;          /* folder of the checkpoints */
	const char *name;         /* model instance */
	const char *config_json;  /* the run's config; a checkpoint of another is skipped */
	uint64_t seed;
	uint32_t stream;
	int64_t keep;             /* newest checkpoints of this instance kept */
	size_t ntrain;            /* parameters the optimizer holds moments for */
};

/* Collective: writes the checkpoint of the state after s->step steps and
 * removes the older ones beyond meta->keep.  The path written goes into
 * written (may be NULL). */
enum w2s_status w2s_ckpt_write(const struct w2s_comm *c, const struct w2s_ckpt_meta *meta,
			       const struct w2s_mlp *m, const struct w2s_optim *o,
			       const struct w2s_train_state *s, int final, char *written,
			       size_t size);

/* What w2s_ckpt_load found: the state (trace_rows owned), the moments
 * (nparams each, owned), whether training had finished, and the file. */
struct w2s_ckpt_loaded {
	struct w2s_train_state state;
	float *m, *v;
	int final;
	char path[4096];
};

/* Collective: loads the newest whole checkpoint of meta->name into m (whose
 * shape must match) and out.  A checkpoint that cannot be read, or that
 * belongs to another config, is skipped with a warning for the one before
 * it.  *found is 0 when there is none (m untouched). */
enum w2s_status w2s_ckpt_load(const struct w2s_comm *c, const struct w2s_ckpt_meta *meta,
			      struct w2s_mlp *m, struct w2s_ckpt_loaded *out, int *found);
/* Safe on a zeroed struct and twice. */
void w2s_ckpt_loaded_free(struct w2s_ckpt_loaded *l);

/* Collective (rank 0 acts): removes every checkpoint in dir. */
void w2s_ckpt_remove_all(const struct w2s_comm *c, const char *dir);

#endif

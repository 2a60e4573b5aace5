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
 * Dimension legend: N rows of the split, n rows on this rank, D the view's
 * width, C classes, B the global batch.
 *
 * Not here: files (the caller reads and writes them), which loss or teacher
 * (the caller passes the targets).
 */
#ifndef W2S_TRAIN_H
#define W2S_TRAIN_H

#include <stdint.h>

#include "w2s/comm.h"
#include "w2s/config.h"
#include "w2s/h5io.h"
#include "w2s/mlp.h"

struct w2s_train_data {
	int64_t n;          /* N rows */
	int64_t dim;        /* D */
	int classes;        /* C */
	const float *x;     /* (N, D) */
	const int32_t *y;   /* (N) class ids, used for accuracy and hard targets */
	const float *soft;  /* (N, C) target distributions, or NULL to train on y */
};

/* Where progress goes.  trace may be NULL (and is NULL on ranks != 0). */
struct w2s_train_log {
	const char *label;       /* printed at the start of progress lines */
	int64_t every;           /* steps between progress lines and trace rows */
	struct w2s_trace *trace;
	int trace_index;
};

struct w2s_train_result {
	int64_t steps;
	double seconds;
	double last_loss;   /* mean over the last logged interval */
	double samples_per_s;
};

/* Collective: trains m from its current parameters on d with the
 * hyperparameters of spec; the shuffling comes from (seed, stream).
 * Returns W2S_STATUS_NUMERIC (on every rank, after one message) if the loss
 * or gradient stops being finite, W2S_STATUS_IO if a trace write fails. */
enum w2s_status w2s_train_model(const struct w2s_comm *c, struct w2s_mlp *m,
				const struct w2s_train_spec *spec,
				const struct w2s_train_data *d, uint64_t seed, uint32_t stream,
				const struct w2s_train_log *log, struct w2s_train_result *res);

/* Not collective: logits (n, C) of rows x (n, D) in batches of `batch`;
 * probs (n, C) and pred (n) are filled when not NULL. */
void w2s_train_predict(const struct w2s_mlp *m, const float *x, int64_t n, int64_t batch,
		       float *logits, float *probs, int32_t *pred);

#endif

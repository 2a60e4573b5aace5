/*
 * task.h: synthetic data sets, generated row by row so that any rank can
 * make any range of rows and the bytes never depend on the number of ranks.
 *
 * Dimension legend: N rows in all, n rows in a shard, D_v columns of view v.
 * Rows are stored split after split in the order of enum w2s_split, so a
 * split is a contiguous range of rows.
 *
 * latent: z ~ N(0, I_signal) drives the label (argmax of W z, W a fixed
 *         random (classes, signal) matrix), u ~ N(0, I_nuisance) does not;
 *         each view sees part of z and of u (config.h, struct w2s_view_spec).
 * teacher: x ~ N(0, I_dim); the label is the argmax of a fixed random MLP.
 * Both: with probability label_noise the label is replaced by another class.
 *
 * Not here: writing files (h5io, stages) or importing user data.
 */
#ifndef W2S_TASK_H
#define W2S_TASK_H

#include <stdint.h>

#include "w2s/config.h"

/* Rows [begin, end) of every view and of the target, in buffers that hold
 * up to `capacity` rows (so one shard can be refilled block after block). */
struct w2s_task_shard {
	int64_t begin, end;
	int64_t capacity;
	int nviews;
	int64_t width[W2S_MAX_VIEWS];
	const char *name[W2S_MAX_VIEWS]; /* views of the config, not owned */
	float *x[W2S_MAX_VIEWS];         /* (capacity, width[v]) owned */
	int32_t *target;                 /* (capacity) owned: class ids */
	float *value;                    /* (capacity) owned: real targets (regression), else NULL */
	float *scratch;                  /* owned: the latent z and u of a block */
};

/* Total rows of all splits, and the row range of one split. */
int64_t w2s_task_rows(const struct w2s_config *c);
void w2s_task_split_range(const struct w2s_config *c, enum w2s_split s, int64_t *begin,
			  int64_t *end);

/* Number of views of the task and the name of view v ("x" for teacher). */
int w2s_task_nviews(const struct w2s_config *c);
const char *w2s_task_view_name(const struct w2s_config *c, int v);

/* Allocates s for up to `capacity` rows, holding none yet.  Returns
 * W2S_STATUS_NOMEM when it does not fit in memory (s is then zeroed), else
 * W2S_STATUS_OK. */
enum w2s_status w2s_task_shard_init(const struct w2s_config *c, int64_t capacity,
				    struct w2s_task_shard *s);
/* Fills s with rows [begin, end), end - begin <= s->capacity: the same
 * values whatever else s held and however the rows are cut into calls. */
void w2s_task_fill(const struct w2s_config *c, int64_t begin, int64_t end,
		   struct w2s_task_shard *s);
/* Both at once: a shard of exactly rows [begin, end). */
enum w2s_status w2s_task_generate(const struct w2s_config *c, int64_t begin, int64_t end,
				  struct w2s_task_shard *s);
/* Safe on a zeroed or freed shard, and twice. */
void w2s_task_shard_free(struct w2s_task_shard *s);

#endif

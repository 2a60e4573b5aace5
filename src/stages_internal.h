/*
 * stages_internal.h: what the files of the stages module share: the
 * experiment being run (its model instances, results and open files) and
 * the steps that train, label and evaluate one instance.  Not installed.
 */
#ifndef W2S_STAGES_INTERNAL_H
#define W2S_STAGES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "w2s/cascade.h"
#include "w2s/stages.h"
#include "w2s/train.h"


struct instance {
	char name[W2S_NAME_MAX + 16]; /* "<role>.<model>" */
	const char *role;
	int model;                    /* index into cfg->models */
};

/* A row of /results: one model instance on one split. */
struct result_row {
	char model[W2S_NAME_MAX + 16];
	char role[16];
	char base[W2S_NAME_MAX];
	char view[W2S_NAME_MAX];
	char split[16];
	int64_t n;
	double accuracy;
	double loss;
	double train_seconds;
	int64_t step; /* the training step whose parameters were evaluated */
};


/* A row of /pgr: one student's weak-to-strong outcome on test.  teacher is
 * the model whose labels it learned (the weak model, or the previous link
 * of a chain); p_weak is always the weak model's. */
struct pgr_row {
	char strong[W2S_NAME_MAX];
	char weak[W2S_NAME_MAX];
	char teacher[W2S_NAME_MAX];
	char filter[16]; /* how the transfer rows were filtered: none, confidence, knn */
	char metric[16]; /* accuracy, or mse (regression: PGR on error) */
	double p_weak, p_w2s, p_ceiling, pgr;
	double misfit;   /* regression: mean (f_student - f_weak)^2 on test; else NaN */
};


/* weak, student/ceiling per chain and strong model, unfiltered students,
 * kd, three synth sets and four select bands per model */
#define W2S_MAX_INSTANCES (1 + 3 * 2 * W2S_MAX_MODELS + 8 * W2S_MAX_MODELS)

struct experiment {
	const struct w2s_comm *c;
	const struct w2s_config *cfg;
	const struct w2s_run_opts *opts;
	bool resuming;
	char ckpt_dir[4096];
	char last_ckpt[4096]; /* the newest checkpoint of the model training, for messages */
	struct w2s_h5 data, run;
	struct w2s_trace trace; /* rank 0 only */
	int ninst;
	struct instance inst[W2S_MAX_INSTANCES];
	int64_t chosen_step[W2S_MAX_INSTANCES]; /* whose parameters were kept */
	double misfit[W2S_MAX_INSTANCES];       /* regression: against the weak model on test */
	int nfilter;
	struct filter_row {
		char strong[W2S_NAME_MAX];
		char method[16];
		double keep;
		int64_t rows, kept, errors, errors_removed, errors_kept;
		double precision, recall, error_before, error_after;
	} filter[W2S_MAX_MODELS];
	int nresults;
	struct result_row results[4 * W2S_MAX_INSTANCES];
	/* The cascade: this rank's shard of the weak model's and the large
	 * ceiling's probabilities on val and test, and seconds per query. */
	struct {
		float *small[W2S_NSPLITS], *large[W2S_NSPLITS]; /* (n, C) */
		int64_t n[W2S_NSPLITS];
		double seconds_small, seconds_large;
	} cascade;
};



/* Index of the instance `role`.`model`; it must exist. */
/* A teacher's outputs on every row of the transfer split, on every rank. */
struct teacher {
	const char *name;  /* instance */
	const char *model; /* its model in the config */
	int32_t *val_pred; /* (N_val) its argmax on the val split, for early stopping */
	float *prob;   /* (N, C) */
	float *logit;  /* (N, C) */
	int32_t *pred; /* (N) */
};

extern const struct w2s_h5_column stg_result_columns[10];
extern const struct w2s_h5_column stg_pgr_columns[10];

/* Every rank's status, agreed: the worst. */
enum w2s_status stg_agree(const struct w2s_comm *c, enum w2s_status st);
/* out = dir/name */
void stg_join(char *out, size_t size, const char *dir, const char *name);
/* Copies a name into a fixed-size field, truncating. */
void stg_set_field(char *dst, size_t size, const char *src);

/* Index of the instance role.model; it must exist. */
int stg_find_instance(const struct experiment *x, const char *role, const char *model);
int stg_add_instance(struct experiment *x, const char *role, const char *model);
/* The result row of an instance on a split, or NULL. */
const struct result_row *stg_find_result(const struct experiment *x, const char *model,
					 const char *split);
void stg_model_shape(const struct w2s_config *cfg, int model, struct w2s_mlp_shape *shape);
/* Not collective: rows [begin, end) of a view and of the target (allocated). */
enum w2s_status stg_load_rows(struct experiment *x, const char *view, int64_t begin, int64_t end,
			      float **xs, int32_t **ys);

/* Not collective: the real targets (regression) of rows [begin, end). */
enum w2s_status stg_load_values(struct experiment *x, int64_t begin, int64_t end, float **v);

void stg_teacher_alloc(struct teacher *t, int64_t n, int64_t n_val, int64_t C);
void stg_teacher_free(struct teacher *t);

/* Which rows an instance trains on, when not the whole split: a subset of
 * the split (indices into it, e.g. what a filter kept), or rows given
 * directly (synthetic ones, with their labels). */
struct stg_rows {
	const int64_t *subset; /* (nsubset) indices into the split, or NULL */
	int64_t nsubset;
	const float *x;        /* (n, D) rows of the model's view instead of the split, or NULL */
	const int32_t *y;      /* (n) their labels */
	int64_t n;
};

/* Collective: trains instance i on rows of `split` (or those of `rows`,
 * which may be NULL), from a teacher's labels when given (distill: from its
 * logits, on ground truth), resuming from checkpoints when resuming. */
enum w2s_status stg_train_instance(struct experiment *x, int i, enum w2s_split split,
				   const struct teacher *teacher, int distill,
				   const struct stg_rows *rows, struct w2s_mlp *m, double *seconds);

/* Collective: predicts `split` with instance i, each rank its shard; writes
 * /labels/<instance>/<split>/{logit, prob, pred}, adds a result row, and
 * when `all` is given gathers on every rank the whole split's
 * probabilities, logits and predictions (transfer) or predictions (val).
 * When keep is given, this rank's probabilities (n, C) are left there
 * (allocated) with their row count in *kept_n and the seconds per row
 * the prediction took (over all ranks) in *per_row. */
enum w2s_status stg_label_split(struct experiment *x, int i, const struct w2s_mlp *m,
				enum w2s_split split, double train_seconds, struct teacher *all,
				float **keep, int64_t *kept_n, double *per_row);

/* ---- methods.c: the optional stages ---- */

/* Collective: which transfer rows the student of `model` trains on after
 * w2s.filter, judged on the teacher's labels; writes a /filter row and
 * prints the filter's precision.  *rows (allocated) and *n. */
enum w2s_status stg_filter(struct experiment *x, const char *model, const struct teacher *teacher,
			   int64_t **rows, int64_t *n);
/* Collective, with the weak model still at hand: fits the generators, draws
 * the synthetic rows and trains the synth instances; results rows. */
enum w2s_status stg_synth(struct experiment *x, const struct w2s_mlp *weak);
/* Collective, with the weak model still at hand: scores the pool rows by
 * the weak model's loss and trains each select model on each band. */
enum w2s_status stg_select(struct experiment *x, const struct w2s_mlp *weak);
/* Collective: the cascade curve on val and test, the chosen threshold,
 * /cascade in run.h5 and a printed line. */
enum w2s_status stg_cascade(struct experiment *x);
/* Frees what the cascade kept. */
void stg_cascade_free(struct experiment *x);
/* Collective: writes the /filter table of the rows stg_filter made. */
enum w2s_status stg_filter_write(struct experiment *x);

#endif

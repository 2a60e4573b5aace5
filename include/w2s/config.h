/*
 * config.h: the experiment's configuration: YAML in, a checked struct out,
 * and the same struct back out as canonical JSON (stored in every HDF5 file)
 * and as YAML (written to OUT/config.yaml, loadable again).
 *
 * Every key has a default, so an empty file (or none) is the built-in
 * default experiment.  Overrides "--set a.b.c=VALUE" apply on top of the
 * file; VALUE is read as YAML ("[256, 256]", "0.5", "cosine").  Unknown keys
 * and bad values are refused with the file, the line, what was found and
 * what is accepted.  The reference of all keys is w2s_config_reference().
 *
 * The only module that calls libyaml and jansson.
 */
#ifndef W2S_CONFIG_H
#define W2S_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "w2s/common.h"
#include "w2s/mlp.h"
#include "w2s/optim.h"

#define W2S_NAME_MAX 64 /* names of views, models and splits, with the NUL */
#define W2S_MAX_VIEWS 16
#define W2S_MAX_MODELS 32
#define W2S_MAX_HIDDEN (W2S_MLP_MAX_LAYERS - 1)

/* What the latent task's target is. */
enum w2s_target_kind {
	W2S_TARGET_CLASS = 0,   /* argmax of W z: a class */
	W2S_TARGET_REGRESSION,  /* theta . z / |theta| (+ noise): a real value; models have one output */
};

enum w2s_task_kind {
	W2S_TASK_LATENT = 0,
	W2S_TASK_TEACHER,
	W2S_TASK_IMPORT, /* the user's arrays, in a data file written by `w2s import` */
};


/* The splits every task makes, in the order their rows are stored. */
enum w2s_split {
	W2S_SPLIT_WEAK_TRAIN = 0,
	W2S_SPLIT_TRANSFER,
	W2S_SPLIT_VAL,
	W2S_SPLIT_TEST,
	W2S_SPLIT_POOL,  /* candidates a small model selects from (0 rows unless select is used) */
	W2S_NSPLITS,
};
const char *w2s_split_name(enum w2s_split s);

#define W2S_PATH_MAX 1024 /* file paths in a config, with the NUL */

/* What an imported data file holds, read from it when the config is loaded
 * (import.h, w2s_import_describe): not keys, so never in the JSON. */
struct w2s_import_info {
	int nviews;
	struct {
		char name[W2S_NAME_MAX];
		int64_t width;
	} views[W2S_MAX_VIEWS];
	int classes;    /* 1 for a real target */
	int regression; /* /target is float32 */
	int64_t rows[W2S_NSPLITS]; /* per split, in the order of enum w2s_split */
};

/* How a student learns from its teacher's outputs (loss.h has the maths). */
enum w2s_loss_kind {
	W2S_LOSS_XENT = 0,   /* cross-entropy on the teacher's soft probabilities */
	W2S_LOSS_XENT_HARD,  /* cross-entropy on the teacher's argmax */
	W2S_LOSS_KL,         /* KL(teacher || student): xent less the teacher's entropy */
	W2S_LOSS_CONFIDENCE, /* auxiliary confidence loss (Burns et al., 2023) */
	W2S_LOSS_PRODUCT,    /* xent against p_student^b * p_teacher^c, normalized */
};

/* What a model is judged on when validation decides early stopping. */
enum w2s_stop_on {
	W2S_STOP_ON_TRUTH = 0, /* accuracy on val against ground truth */
	W2S_STOP_ON_TEACHER,   /* agreement on val with the model's training targets */
};

/* How a training step sums the gradients of the ranks (train.reduce). */
enum w2s_reduce {
	W2S_REDUCE_DEFAULT = 0, /* each rank its share of the batch, one float allreduce: the
				 * result depends on the number of ranks by rounding */
	W2S_REDUCE_EXACT,       /* fixed micro-batches summed as integers: the same bits on
				 * any number of ranks (train.h) */
};

/* A list of model names. */
struct w2s_name_list {
	int n;
	char name[W2S_MAX_MODELS][W2S_NAME_MAX];
};

#define W2S_MAX_SEEDS 64

enum w2s_filter_method {
	W2S_FILTER_NONE = 0,
	W2S_FILTER_CONFIDENCE, /* keep the rows the weak model is surest of */
	W2S_FILTER_KNN,        /* drop rows whose weak label its neighbours outvote */
};

enum w2s_synth_label {
	W2S_SYNTH_LABEL_CLASS = 0, /* the class of the mixture component that drew the row */
	W2S_SYNTH_LABEL_WEAK,      /* relabelled by the weak model */
};

enum w2s_synth_train {
	W2S_SYNTH_TRAIN_SYNTHETIC = 0, /* synthetic rows only */
	W2S_SYNTH_TRAIN_REAL,          /* the weak_train rows the generator was fitted on */
	W2S_SYNTH_TRAIN_MIX,           /* both */
};

/* A view of the latent task: its columns are z[0..z) then u[0..u), unless
 * noise > 0, when it is z[0..z) + noise * u[0..z) (u then must be 0 or equal
 * to z).  After loading, z and u are resolved counts (never "all"). */
struct w2s_view_spec {
	char name[W2S_NAME_MAX];
	int64_t z;
	int64_t u;
	double noise;
};

/* Training hyperparameters; `train:` gives the defaults of every model and
 * `models.<name>.train:` overrides any of them for one model. */
struct w2s_train_spec {
	enum w2s_optimizer optimizer;
	double lr;
	double lr_min;       /* floor of the cosine schedule */
	enum w2s_schedule schedule;
	double warmup;       /* fraction of all steps spent in linear warm-up, [0, 1) */
	int64_t batch;       /* global batch, summed over ranks */
	int64_t epochs;
	double weight_decay;
	double momentum;     /* SGD */
	double beta1, beta2, eps; /* Adam */
	double clip;         /* max gradient norm; 0 = none */
	int64_t eval_every;  /* steps between evaluations on val (trace); 0 = none */
	int64_t patience;    /* evaluations without improvement before stopping; 0 = never */
	enum w2s_stop_on stop_on;
	enum w2s_reduce reduce;
	int64_t micro_batch; /* exact: rows of a micro-batch, the unit one rank computes */
	int probe;           /* not a key of train: copied from models.NAME.probe */
};

struct w2s_model_spec {
	char name[W2S_NAME_MAX];
	char view[W2S_NAME_MAX]; /* a view name of the task */
	int nhidden;             /* 0 = linear */
	int64_t hidden[W2S_MAX_HIDDEN];
	enum w2s_act act;
	int probe;               /* 1: only the last layer trains; the others stay as initialized */
	struct w2s_train_spec train; /* resolved: global train + this model's overrides */
};

struct w2s_config {
	uint64_t seed;
	int nseeds;                     /* seeds: [..]; 0 = just `seed` */
	uint64_t seeds[W2S_MAX_SEEDS];
	struct {
		enum w2s_task_kind task;
		int64_t rows[W2S_NSPLITS];
		struct {
			int64_t signal;   /* dimension of z */
			int64_t nuisance; /* dimension of u */
			int classes;      /* argmax of W z over this many classes */
			enum w2s_target_kind target;
			double label_noise; /* probability a label is replaced by another class */
			int nviews;
			struct w2s_view_spec views[W2S_MAX_VIEWS];
		} latent;
		struct {
			int64_t dim;      /* x ~ N(0, I_dim) */
			int64_t width;    /* hidden width of the random teacher */
			int depth;        /* hidden layers of the random teacher */
			int classes;
			double label_noise;
			enum w2s_act act;
		} teacher;
		struct {
			char path[W2S_PATH_MAX]; /* data file of `w2s import`; relative to the working folder */
			struct w2s_import_info info; /* filled from the file; data.rows too */
		} import;
	} data;
	int nmodels;
	struct w2s_model_spec models[W2S_MAX_MODELS];
	struct w2s_train_spec train; /* the defaults models start from */
	struct {
		char weak[W2S_NAME_MAX];
		int nstrong;
		char strong[W2S_MAX_MODELS][W2S_NAME_MAX];
		enum w2s_loss_kind loss;
		struct {
			double alpha;   /* final weight of the hardened self-labels */
			double warmup;  /* fraction of training over which alpha ramps up from 0 */
		} confidence;
		struct {
			double b, c;    /* exponents of the student's and teacher's probabilities */
		} product;
		struct w2s_name_list chain; /* intermediate students: weak -> chain... -> strong */
		struct {
			enum w2s_filter_method method;
			double keep;    /* fraction of the transfer rows kept */
			int64_t k;      /* neighbours of the knn vote */
		} filter;
	} w2s;
	struct {
		int enabled;
		char large[W2S_NAME_MAX]; /* whose ceiling answers deferred queries; "" = first strong */
		int score;                /* enum w2s_cascade_score: max_prob or margin */
		int64_t thresholds;       /* grid size */
		double tolerance;         /* accuracy the cheapest threshold may give up on val */
	} cascade;
	struct {
		struct w2s_name_list models; /* each trains on ground truth of pool rows the weak model selected */
		double fraction;             /* of the pool kept by each band */
		struct {
			int n;
			int band[4];         /* enum w2s_filter_band: low, middle, high, random */
		} bands;
	} select;
	struct {
		struct w2s_name_list models; /* each trains on synthetic, real or mixed rows */
		int64_t rows;                /* synthetic rows drawn */
		int64_t components;          /* mixture components per class */
		enum w2s_synth_label label;
		struct {
			int n;
			enum w2s_synth_train kind[3];
		} train;
	} synth;
	struct {
		struct w2s_name_list models; /* trained on ground truth plus distillation from w2s.weak */
		double temperature;
		double weight;               /* l in (1 - l) CE + l T^2 KL */
	} kd;
	struct {
		int64_t every;  /* a progress line and a trace row every this many steps */
	} log;
	struct {
		int64_t every;  /* steps between checkpoints of a model; 0: only at its end */
		int64_t keep;   /* newest checkpoints kept per model */
	} checkpoint;
	/* Filled by w2s_config_load; owned, freed by w2s_config_free. */
	char *json; /* canonical JSON of the whole effective config (sorted keys, compact) */
	char *yaml; /* the same as block YAML, loadable by w2s_config_load */
};

/* Loads a config: path NULL means no file (the built-in default
 * experiment).  sets[0..nsets) are "key.path=VALUE" overrides applied after
 * the file.  Every rank may call it and gets the same result; errors are
 * printed once (w2s_log_error) as
 *   FILE:LINE: KEY.PATH: expected ..., found '...'
 * Returns W2S_STATUS_OK, W2S_STATUS_CONFIG (bad content or override) or
 * W2S_STATUS_IO (file missing or unreadable).  On failure c is left freed. */
enum w2s_status w2s_config_load(struct w2s_config *c, const char *path,
				const char *const *sets, int nsets);

/* Frees json and yaml; safe on a zeroed struct and twice. */
void w2s_config_free(struct w2s_config *c);

/* Index of a model or view by name, or -1. */
int w2s_config_model_index(const struct w2s_config *c, const char *name);
int w2s_config_view_index(const struct w2s_config *c, const char *name);

/* Width (number of columns) of a view: for the latent task from its spec,
 * for the teacher task the one view "x" of width dim. */
int64_t w2s_config_view_width(const struct w2s_config *c, const char *view);
/* Number of classes of the task; 1 (the one output) for regression. */
int w2s_config_classes(const struct w2s_config *c);
/* True when the target is a real value (the latent task with target:
 * regression): models then train with mean squared error. */
int w2s_config_regression(const struct w2s_config *c);

/* Where two configs (canonical JSON, as in c->json) differ: writes up to
 * three "key.path: A vs B" items into out and returns how many keys differ
 * (0: the same config).  Unparsable JSON counts as one difference. */
int w2s_config_diff(const char *json_a, const char *json_b, char *out, size_t size);

/* The reference of every key: name, type, default and meaning, one per
 * line, for `w2s run --help` and doc/config.md. */
const char *w2s_config_reference(void);

#endif

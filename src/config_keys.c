/*
 * config_keys.c: the tables of every key a config accepts, part of the
 * config module: type, bounds, default (as YAML text, read by the same code
 * as the user's) and meaning.  config_schema.c checks a tree against them;
 * config_emit.c writes the reference from them.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "config_internal.h"

_Static_assert(sizeof(enum w2s_task_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum w2s_act) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum w2s_optimizer) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum w2s_schedule) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum w2s_loss_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum w2s_reduce) == sizeof(int), "enums are stored as int");

/* Indexed by the enum values. */
static const char *const task_names[] = {"latent", "teacher", "import", NULL};
static const char *const act_names[] = {"relu", "gelu", "tanh", NULL};
static const char *const optimizer_names[] = {"adam", "sgd", NULL};
static const char *const schedule_names[] = {"constant", "cosine", NULL};
static const char *const loss_names[] = {"xent", "xent_hard", "kl", "confidence", "product", NULL};
static const char *const stop_on_names[] = {"truth", "teacher", NULL};
static const char *const reduce_names[] = {"default", "exact", NULL};
static const char *const bool_names[] = {"false", "true", NULL};
static const char *const target_names[] = {"class", "regression", NULL};
static const char *const filter_names[] = {"none", "confidence", "knn", NULL};
static const char *const score_names[] = {"max_prob", "margin", NULL};
static const char *const synth_label_names[] = {"class", "weak", NULL};
const char *const cfg_synth_train_names[] = {"synthetic", "real", "mix", NULL};

const char cfg_default_views[] =
	"x: {z: all, u: all}\n"
	"weak: {z: 12, u: 12, noise: 1.5}\n"
	"strong: {z: all}\n";

const char *cfg_default_models(enum w2s_task_kind task)
{
	/* The teacher task has the one view x, so its weak and strong models
	 * differ by size alone. */
	if (task == W2S_TASK_TEACHER)
		return "weak: {view: x, hidden: [16]}\n"
		       "strong: {view: x, hidden: [256, 256]}\n";
	return "weak: {view: weak, hidden: []}\n"
	       "strong: {view: strong, hidden: []}\n"
	       "big: {view: x, hidden: [256, 256]}\n";
}

const char *cfg_default_strong(enum w2s_task_kind task)
{
	return task == W2S_TASK_TEACHER ? "[strong]" : "[strong, big]";
}

/* Bounds, for the table rows below. */
#define INT_GE(lo) .ilo = (lo), .ihi = INT64_MAX
#define INT_IN(lo, hi) .ilo = (lo), .ihi = (hi)
#define REAL_GT0 .rlo = 0, .rlo_open = true, .rhi = INFINITY
#define REAL_GE0 .rlo = 0, .rhi = INFINITY
#define REAL_UNIT .rlo = 0, .rhi = 1, .rhi_open = true /* [0, 1) */

#define TRAIN(m) offsetof(struct w2s_train_spec, m)
static const struct cfg_key train_keys[] = {
	{"optimizer", CFG_T_ENUM, TRAIN(optimizer), .names = optimizer_names, .def = "adam",
	 .meaning = "adam (with decoupled weight decay, i.e. AdamW) or sgd (with momentum)"},
	{"lr", CFG_T_REAL, TRAIN(lr), REAL_GT0, .def = "0.01",
	 .meaning = "peak learning rate, reached at the end of warm-up"},
	{"lr_min", CFG_T_REAL, TRAIN(lr_min), REAL_GE0, .def = "0",
	 .meaning = "learning rate at the end of the cosine schedule"},
	{"schedule", CFG_T_ENUM, TRAIN(schedule), .names = schedule_names, .def = "cosine",
	 .meaning = "after warm-up: constant lr, or cosine from lr down to lr_min"},
	{"warmup", CFG_T_REAL, TRAIN(warmup), REAL_UNIT, .def = "0.05",
	 .meaning = "fraction of all steps spent in linear warm-up from 0 to lr"},
	{"batch", CFG_T_INT64, TRAIN(batch), INT_GE(1), .def = "64",
	 .meaning = "global batch size, summed over ranks"},
	{"epochs", CFG_T_INT64, TRAIN(epochs), INT_GE(1), .def = "10",
	 .meaning = "passes over the model's training rows"},
	{"weight_decay", CFG_T_REAL, TRAIN(weight_decay), REAL_GE0, .def = "0",
	 .meaning = "decoupled for adam, added to the gradient for sgd"},
	{"momentum", CFG_T_REAL, TRAIN(momentum), REAL_UNIT, .def = "0.9",
	 .meaning = "momentum of sgd"},
	{"beta1", CFG_T_REAL, TRAIN(beta1), REAL_UNIT, .def = "0.9",
	 .meaning = "decay of adam's first moment"},
	{"beta2", CFG_T_REAL, TRAIN(beta2), REAL_UNIT, .def = "0.999",
	 .meaning = "decay of adam's second moment"},
	{"eps", CFG_T_REAL, TRAIN(eps), REAL_GT0, .def = "1e-8",
	 .meaning = "added to adam's denominator"},
	{"clip", CFG_T_REAL, TRAIN(clip), REAL_GE0, .def = "1.0",
	 .meaning = "largest norm of the whole gradient (after the allreduce); 0 = no clipping"},
	{"eval_every", CFG_T_INT64, TRAIN(eval_every), INT_GE(0), .def = "0",
	 .meaning = "evaluate on val every this many steps, into the trace; 0 = never"},
	{"patience", CFG_T_INT64, TRAIN(patience), INT_GE(0), .def = "0",
	 .meaning = "stop after this many evaluations without improvement, keeping the best; 0 = never"},
	{"stop_on", CFG_T_ENUM, TRAIN(stop_on), .names = stop_on_names, .def = "truth",
	 .meaning = "early stopping judges val accuracy against ground truth, or against the teacher"},
	{"reduce", CFG_T_ENUM, TRAIN(reduce), .names = reduce_names, .def = "default",
	 .meaning = "default: float sum of the ranks' gradients; exact: the same bits on any number of ranks"},
	{"micro_batch", CFG_T_INT64, TRAIN(micro_batch), INT_GE(1), .def = "128",
	 .meaning = "reduce exact: rows of a micro-batch, the unit of work a rank takes"},
};
const struct cfg_section cfg_train_section = {train_keys, sizeof train_keys / sizeof *train_keys};

#define VIEW(m) offsetof(struct w2s_view_spec, m)
static const struct cfg_key view_keys[] = {
	{"z", CFG_T_COUNT, VIEW(z), .def = "0", .type_doc = "all | integer in [0, signal]",
	 .meaning = "the view sees z[:z], the leading z columns of the signal"},
	{"u", CFG_T_COUNT, VIEW(u), .def = "0", .type_doc = "all | integer in [0, nuisance]",
	 .def_doc = "0 (z if noise > 0)",
	 .meaning = "the view sees u[:u]; with noise > 0 leave it out or make it equal to z"},
	{"noise", CFG_T_REAL, VIEW(noise), REAL_GE0, .def = "0",
	 .meaning = "0: columns z[:z] then u[:u]; > 0: columns z[:z] + noise * u[:z]"},
};
const struct cfg_section cfg_view_section = {view_keys, sizeof view_keys / sizeof *view_keys};

#define MODEL(m) offsetof(struct w2s_model_spec, m)
static const struct cfg_key model_keys[] = {
	{"view", CFG_T_NAME, MODEL(view), .def_doc = "(required)",
	 .meaning = "the view the model reads (the teacher task has only x)"},
	{"hidden", CFG_T_HIDDEN, MODEL(hidden), .def_doc = "[]",
	 .type_doc = "list of integers in [1, 16777216]",
	 .meaning = "hidden layer widths, at most 15 layers; [] is a linear model"},
	{"activation", CFG_T_ENUM, MODEL(act), .names = act_names, .def = "relu",
	 .meaning = "activation of the hidden layers"},
	{"probe", CFG_T_ENUM, MODEL(probe), .names = bool_names, .def = "false",
	 .meaning = "true: only the last layer trains, the hidden layers stay as initialized"},
	{"train", CFG_T_OVERRIDE, MODEL(train), .def_doc = "{}", .type_doc = "map of train keys",
	 .meaning = "any train.* key, for this model alone; the rest follow train"},
};
const struct cfg_section cfg_model_section = {model_keys, sizeof model_keys / sizeof *model_keys};

#define CONF(m) offsetof(struct w2s_config, m)
static const struct cfg_key rows_keys[] = {
	{"weak_train", CFG_T_INT64, CONF(data.rows[W2S_SPLIT_WEAK_TRAIN]), INT_GE(1), .def = "4000",
	 .meaning = "rows the weak model trains on, with ground truth"},
	{"transfer", CFG_T_INT64, CONF(data.rows[W2S_SPLIT_TRANSFER]), INT_GE(1), .def = "4000",
	 .meaning = "rows the weak model labels; students learn its labels, ceilings the ground truth"},
	{"val", CFG_T_INT64, CONF(data.rows[W2S_SPLIT_VAL]), INT_GE(1), .def = "1000",
	 .meaning = "rows for validation during training"},
	{"test", CFG_T_INT64, CONF(data.rows[W2S_SPLIT_TEST]), INT_GE(1), .def = "10000",
	 .meaning = "rows every model is evaluated on"},
	{"pool", CFG_T_INT64, CONF(data.rows[W2S_SPLIT_POOL]), INT_GE(0), .def = "0",
	 .meaning = "candidate rows for select; stored after the other splits"},
};
static const struct cfg_section rows_section = {rows_keys, sizeof rows_keys / sizeof *rows_keys};

static const struct cfg_key latent_keys[] = {
	{"signal", CFG_T_INT64, CONF(data.latent.signal), INT_IN(1, CFG_MAX_WIDTH), .def = "16",
	 .meaning = "dimension of z ~ N(0, I), what the label depends on"},
	{"nuisance", CFG_T_INT64, CONF(data.latent.nuisance), INT_IN(0, CFG_MAX_WIDTH), .def = "16",
	 .meaning = "dimension of u ~ N(0, I), what it does not depend on"},
	{"classes", CFG_T_INT, CONF(data.latent.classes), INT_IN(2, 1000), .def = "2",
	 .meaning = "number of classes; the label is the argmax of W z"},
	{"label_noise", CFG_T_REAL, CONF(data.latent.label_noise), REAL_UNIT, .def = "0",
	 .meaning = "class: probability a label is replaced by another class; regression: sd of added noise"},
	{"target", CFG_T_ENUM, CONF(data.latent.target), .names = target_names, .def = "class",
	 .meaning = "class: argmax of W z; regression: theta.z / |theta|, trained with squared error"},
	{"views", CFG_T_VIEWS, CONF(data.latent.views), .type_doc = "map of views",
	 .def_doc = "x, weak, strong",
	 .meaning = "NAME: {z, u, noise}, in the order written; replaces the default map"},
};
static const struct cfg_section latent_section = {latent_keys,
						  sizeof latent_keys / sizeof *latent_keys};

static const struct cfg_key teacher_keys[] = {
	{"dim", CFG_T_INT64, CONF(data.teacher.dim), INT_IN(1, CFG_MAX_WIDTH), .def = "32",
	 .meaning = "dimension of x ~ N(0, I), the task's one view, named x"},
	{"width", CFG_T_INT64, CONF(data.teacher.width), INT_IN(1, CFG_MAX_WIDTH), .def = "64",
	 .meaning = "hidden width of the random teacher network"},
	{"depth", CFG_T_INT, CONF(data.teacher.depth), INT_IN(0, W2S_MAX_HIDDEN), .def = "2",
	 .meaning = "hidden layers of the random teacher network (0 = linear)"},
	{"classes", CFG_T_INT, CONF(data.teacher.classes), INT_IN(2, 1000), .def = "2",
	 .meaning = "number of classes; the label is the argmax of the teacher's outputs"},
	{"label_noise", CFG_T_REAL, CONF(data.teacher.label_noise), REAL_UNIT, .def = "0",
	 .meaning = "probability that a label is replaced by another class"},
	{"activation", CFG_T_ENUM, CONF(data.teacher.act), .names = act_names, .def = "tanh",
	 .meaning = "activation of the teacher's hidden layers"},
};
static const struct cfg_section teacher_section = {teacher_keys,
						   sizeof teacher_keys / sizeof *teacher_keys};

static const struct cfg_key import_keys[] = {
	{"path", CFG_T_PATH, CONF(data.import.path), .def = "", .def_doc = "(none)",
	 .meaning = "task import: the data.h5 `w2s import` wrote; its views, classes and rows replace data.*"},
};
static const struct cfg_section import_section = {import_keys,
						  sizeof import_keys / sizeof *import_keys};

static const struct cfg_key data_keys[] = {
	{"task", CFG_T_ENUM, CONF(data.task), .names = task_names, .def = "latent",
	 .meaning = "latent: labels from z, seen through views; teacher: labels from a random network on x; import: your arrays"},
	{"rows", CFG_T_SECTION, 0, .sub = &rows_section},
	{"latent", CFG_T_SECTION, 0, .sub = &latent_section},
	{"teacher", CFG_T_SECTION, 0, .sub = &teacher_section},
	{"import", CFG_T_SECTION, 0, .sub = &import_section},
};
static const struct cfg_section data_section = {data_keys, sizeof data_keys / sizeof *data_keys};

static const struct cfg_key confidence_keys[] = {
	{"alpha", CFG_T_REAL, CONF(w2s.confidence.alpha), .rlo = 0, .rhi = 1, .def = "0.5",
	 .meaning = "final weight a of the student's hardened predictions in the target"},
	{"warmup", CFG_T_REAL, CONF(w2s.confidence.warmup), REAL_UNIT, .def = "0.2",
	 .meaning = "fraction of training over which a ramps linearly from 0"},
};
static const struct cfg_section confidence_section = {
	confidence_keys, sizeof confidence_keys / sizeof *confidence_keys};

static const struct cfg_key product_keys[] = {
	{"b", CFG_T_REAL, CONF(w2s.product.b), REAL_GE0, .def = "1.0",
	 .meaning = "exponent of the student's own probabilities in the target"},
	{"c", CFG_T_REAL, CONF(w2s.product.c), REAL_GE0, .def = "1.0",
	 .meaning = "exponent of the teacher's probabilities in the target"},
};
static const struct cfg_section product_section = {product_keys,
						   sizeof product_keys / sizeof *product_keys};

static const struct cfg_key filter_keys[] = {
	{"method", CFG_T_ENUM, CONF(w2s.filter.method), .names = filter_names, .def = "none",
	 .meaning = "filter the transfer rows before students train: none, confidence, knn"},
	{"keep", CFG_T_REAL, CONF(w2s.filter.keep), .rlo = 0, .rlo_open = true, .rhi = 1,
	 .def = "0.8", .meaning = "fraction of the transfer rows kept"},
	{"k", CFG_T_INT64, CONF(w2s.filter.k), INT_IN(1, 1000), .def = "10",
	 .meaning = "knn: neighbours (in the student's view) that vote on each weak label"},
};
static const struct cfg_section filter_section = {filter_keys,
						  sizeof filter_keys / sizeof *filter_keys};

static const struct cfg_key w2s_keys[] = {
	{"weak", CFG_T_NAME, CONF(w2s.weak), .def = "weak",
	 .meaning = "the model trained on ground truth (weak_train) that labels transfer"},
	{"strong", CFG_T_STRONG, CONF(w2s.strong), .type_doc = "model name or list of them",
	 .def_doc = "[strong, big]",
	 .meaning = "the students (on the weak labels) and ceilings (on ground truth); teacher task: [strong]"},
	{"loss", CFG_T_ENUM, CONF(w2s.loss), .names = loss_names, .def = "xent",
	 .meaning = "the students' loss on the weak model's outputs: soft xent, xent on its argmax, kl, confidence, product"},
	{"confidence", CFG_T_SECTION, 0, .sub = &confidence_section},
	{"product", CFG_T_SECTION, 0, .sub = &product_section},
	{"filter", CFG_T_SECTION, 0, .sub = &filter_section},
	{"chain", CFG_T_NAMELIST, CONF(w2s.chain), .type_doc = "list of model names",
	 .def_doc = "[]",
	 .meaning = "intermediate students: each learns the previous one's labels; the strong ones learn the last"},
};
static const struct cfg_section w2s_section = {w2s_keys, sizeof w2s_keys / sizeof *w2s_keys};

static const struct cfg_key kd_keys[] = {
	{"models", CFG_T_NAMELIST, CONF(kd.models), .type_doc = "list of model names",
	 .def_doc = "[]",
	 .meaning = "each trains on transfer ground truth plus distillation from w2s.weak"},
	{"temperature", CFG_T_REAL, CONF(kd.temperature), REAL_GT0, .def = "2.0",
	 .meaning = "T: both distributions are softened as softmax(logits / T)"},
	{"weight", CFG_T_REAL, CONF(kd.weight), .rlo = 0, .rhi = 1, .def = "0.5",
	 .meaning = "l in (1 - l) CE(truth) + l T^2 KL(teacher_T || student_T)"},
};
static const struct cfg_section kd_section = {kd_keys, sizeof kd_keys / sizeof *kd_keys};

static const struct cfg_key log_keys[] = {
	{"every", CFG_T_INT64, CONF(log.every), INT_GE(1), .def = "50",
	 .meaning = "a progress line and a trace row every this many steps"},
};
static const struct cfg_section log_section = {log_keys, sizeof log_keys / sizeof *log_keys};

static const struct cfg_key cascade_keys[] = {
	{"enabled", CFG_T_ENUM, CONF(cascade.enabled), .names = bool_names, .def = "true",
	 .meaning = "the weak model answers first and defers unsure test queries to a ceiling"},
	{"large", CFG_T_NAME, CONF(cascade.large), .def_doc = "(largest strong)",
	 .meaning = "the strong model whose ceiling answers deferred queries; default: the one with most parameters"},
	{"score", CFG_T_ENUM, CONF(cascade.score), .names = score_names, .def = "max_prob",
	 .meaning = "the weak model's confidence: its largest probability, or the top-two margin"},
	{"thresholds", CFG_T_INT64, CONF(cascade.thresholds), INT_IN(2, 100000), .def = "101",
	 .meaning = "thresholds in the grid: 0 to 1 evenly, and one that defers everything"},
	{"tolerance", CFG_T_REAL, CONF(cascade.tolerance), .rlo = 0, .rhi = 1, .def = "0.005",
	 .meaning = "the chosen threshold is the cheapest within this accuracy of the large model on val"},
};
static const struct cfg_section cascade_section = {cascade_keys,
						   sizeof cascade_keys / sizeof *cascade_keys};

const char *const cfg_band_names[] = {"low", "middle", "high", "random", NULL};

static const struct cfg_key select_keys[] = {
	{"models", CFG_T_NAMELIST, CONF(select.models), .type_doc = "list of model names",
	 .def_doc = "[]",
	 .meaning = "each trains on ground truth of pool rows chosen by the weak model's loss, once per band"},
	{"fraction", CFG_T_REAL, CONF(select.fraction), .rlo = 0, .rlo_open = true, .rhi = 1,
	 .def = "0.5", .meaning = "fraction of the pool each band keeps"},
	{"bands", CFG_T_BANDS, CONF(select.bands), .type_doc = "list of low | middle | high | random",
	 .def_doc = "[low, middle, high, random]",
	 .meaning = "which rows by the weak model's loss: lowest, middle, highest, or at random"},
};
static const struct cfg_section select_section = {select_keys,
						  sizeof select_keys / sizeof *select_keys};

static const struct cfg_key synth_keys[] = {
	{"models", CFG_T_NAMELIST, CONF(synth.models), .type_doc = "list of model names",
	 .def_doc = "[]",
	 .meaning = "each trains on ground truth of synthetic, real or mixed rows of its view"},
	{"rows", CFG_T_INT64, CONF(synth.rows), INT_IN(1, INT64_C(1) << 40), .def = "4000",
	 .meaning = "synthetic rows drawn from the mixtures fitted on weak_train"},
	{"components", CFG_T_INT64, CONF(synth.components), INT_IN(1, 256), .def = "4",
	 .meaning = "Gaussian components per class (diagonal covariance), fitted by EM"},
	{"label", CFG_T_ENUM, CONF(synth.label), .names = synth_label_names, .def = "class",
	 .meaning = "a synthetic row's label: its component's class, or the weak model's (same view only)"},
	{"train", CFG_T_SYNTH_TRAIN, CONF(synth.train), .type_doc = "list of synthetic | real | mix",
	 .def_doc = "[synthetic, real, mix]",
	 .meaning = "the training sets compared, each a model instance synth-<set>.<model>"},
};
static const struct cfg_section synth_section = {synth_keys,
						 sizeof synth_keys / sizeof *synth_keys};

static const struct cfg_key checkpoint_keys[] = {
	{"every", CFG_T_INT64, CONF(checkpoint.every), INT_GE(0), .def = "500",
	 .meaning = "a checkpoint every this many steps of each model (0: only at its end)"},
	{"keep", CFG_T_INT64, CONF(checkpoint.keep), INT_GE(1), .def = "2",
	 .meaning = "how many of a model's newest checkpoints stay on disk"},
};
static const struct cfg_section checkpoint_section = {
	checkpoint_keys, sizeof checkpoint_keys / sizeof *checkpoint_keys};

static const struct cfg_key top_keys[] = {
	{"seed", CFG_T_SEED, CONF(seed), INT_GE(0), .def = "1",
	 .meaning = "seed of every random stream: data, initialization, batch order"},
	{"seeds", CFG_T_SEEDS, CONF(seeds), .type_doc = "list of integers in [0, 2^63)",
	 .def_doc = "[]",
	 .meaning = "repeat the experiment once per seed (replacing seed); results per seed and their spread"},
	{"data", CFG_T_SECTION, 0, .sub = &data_section},
	{"models", CFG_T_MODELS, CONF(models), .type_doc = "map of models",
	 .def_doc = "weak, strong, big",
	 .meaning = "NAME: {view, hidden, activation, train}; replaces the default map"},
	{"train", CFG_T_SECTION, CONF(train), .sub = &cfg_train_section},
	{"w2s", CFG_T_SECTION, 0, .sub = &w2s_section},
	{"log", CFG_T_SECTION, 0, .sub = &log_section},
	{"checkpoint", CFG_T_SECTION, 0, .sub = &checkpoint_section},
	{"kd", CFG_T_SECTION, 0, .sub = &kd_section},
	{"cascade", CFG_T_SECTION, 0, .sub = &cascade_section},
	{"synth", CFG_T_SECTION, 0, .sub = &synth_section},
	{"select", CFG_T_SECTION, 0, .sub = &select_section},
};
const struct cfg_section cfg_top_section = {top_keys, sizeof top_keys / sizeof *top_keys};

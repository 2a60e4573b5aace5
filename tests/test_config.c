/*
 * test_config.c: the config module as a user meets it: the defaults, the
 * values of good configs, --set overrides, the canonical JSON and the YAML
 * that loads back to it, and the one message each bad config gets (the
 * files tests/configs/bad/NAME.yaml, whose first line names the message).
 *
 * Finds tests/configs and doc/config.md under $W2S_SRCDIR, or under the
 * current directory when it is not set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "w2s/config.h"
#include "w2s/log.h"

/* ---- helpers */

static void src_path(char *buf, size_t len, const char *rel)
{
	const char *dir = getenv("W2S_SRCDIR");
	if (dir != NULL && dir[0] != '\0')
		snprintf(buf, len, "%s/%s", dir, rel);
	else
		snprintf(buf, len, "%s", rel);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *s = malloc(cap + 1);
	size_t got;
	while (s != NULL && (got = fread(s + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			s = realloc(s, cap + 1);
		}
	}
	fclose(f);
	if (s != NULL)
		s[n] = '\0';
	return s;
}

/* Writes text to a new temporary file; its path goes to path[64]. */
static void write_temp(const char *text, char *path)
{
	snprintf(path, 64, "/tmp/w2s_test_config_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
}

/* Loads with stderr redirected to a file, whose text goes to err. */
static enum w2s_status load_capturing(struct w2s_config *c, const char *path,
				      const char *const *sets, int nsets, char *err, size_t errlen)
{
	char tmp[] = "/tmp/w2s_test_stderr_XXXXXX";
	int fd = mkstemp(tmp);
	assert_true(fd >= 0);
	unlink(tmp);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	dup2(fd, 2);
	enum w2s_status st = w2s_config_load(c, path, sets, nsets);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, err, errlen - 1);
	err[n > 0 ? n : 0] = '\0';
	close(fd);
	return st;
}

static int count_of(const char *haystack, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void load_ok(struct w2s_config *c, const char *path, const char *const *sets, int nsets)
{
	char err[4096];
	enum w2s_status st = load_capturing(c, path, sets, nsets, err, sizeof err);
	if (st != W2S_STATUS_OK)
		fail_msg("loading %s failed: %s", path ? path : "(defaults)", err);
	assert_non_null(c->json);
	assert_non_null(c->yaml);
}

static void load_good(struct w2s_config *c, const char *name, const char *const *sets, int nsets)
{
	char path[1024], rel[256];
	snprintf(rel, sizeof rel, "tests/configs/good/%s", name);
	src_path(path, sizeof path, rel);
	load_ok(c, path, sets, nsets);
}

/* Values are parsed from decimal text: they must be the double that the
 * same text gives in C, exactly. */
static void assert_real(double got, double want)
{
	if (got != want)
		fail_msg("got %.17g, want %.17g (difference %g)", got, want, got - want);
}

static void assert_train(const struct w2s_train_spec *t, const struct w2s_train_spec *want)
{
	assert_int_equal(t->optimizer, want->optimizer);
	assert_real(t->lr, want->lr);
	assert_real(t->lr_min, want->lr_min);
	assert_int_equal(t->schedule, want->schedule);
	assert_real(t->warmup, want->warmup);
	assert_int_equal(t->batch, want->batch);
	assert_int_equal(t->epochs, want->epochs);
	assert_real(t->weight_decay, want->weight_decay);
	assert_real(t->momentum, want->momentum);
	assert_real(t->beta1, want->beta1);
	assert_real(t->beta2, want->beta2);
	assert_real(t->eps, want->eps);
	assert_real(t->clip, want->clip);
}

static const struct w2s_train_spec default_train = {
	.optimizer = W2S_OPT_ADAM, .lr = 1e-2, .lr_min = 0, .schedule = W2S_SCHED_COSINE,
	.warmup = 0.05, .batch = 64, .epochs = 10, .weight_decay = 0, .momentum = 0.9,
	.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .clip = 1.0,
};

static void assert_view(const struct w2s_config *c, int i, const char *name, int64_t z, int64_t u,
			double noise)
{
	assert_true(i < c->data.latent.nviews);
	assert_string_equal(c->data.latent.views[i].name, name);
	assert_int_equal(c->data.latent.views[i].z, z);
	assert_int_equal(c->data.latent.views[i].u, u);
	assert_real(c->data.latent.views[i].noise, noise);
}

static void assert_model(const struct w2s_config *c, int i, const char *name, const char *view,
			 int nhidden, const int64_t *hidden, enum w2s_act act)
{
	assert_true(i < c->nmodels);
	const struct w2s_model_spec *m = &c->models[i];
	assert_string_equal(m->name, name);
	assert_string_equal(m->view, view);
	assert_int_equal(m->nhidden, nhidden);
	for (int l = 0; l < nhidden; l++)
		assert_int_equal(m->hidden[l], hidden[l]);
	assert_int_equal(m->act, act);
}

/* ---- defaults and good configs */

static void defaults_without_a_file_are_the_documented_ones(void **state)
{
	struct w2s_config c;
	load_ok(&c, NULL, NULL, 0);

	assert_int_equal(c.seed, 1);
	assert_int_equal(c.data.task, W2S_TASK_LATENT);
	assert_int_equal(c.data.rows[W2S_SPLIT_WEAK_TRAIN], 4000);
	assert_int_equal(c.data.rows[W2S_SPLIT_TRANSFER], 4000);
	assert_int_equal(c.data.rows[W2S_SPLIT_VAL], 1000);
	assert_int_equal(c.data.rows[W2S_SPLIT_TEST], 10000);

	assert_int_equal(c.data.latent.signal, 16);
	assert_int_equal(c.data.latent.nuisance, 16);
	assert_int_equal(c.data.latent.classes, 2);
	assert_real(c.data.latent.label_noise, 0.0);
	assert_int_equal(c.data.latent.nviews, 3);
	assert_view(&c, 0, "x", 16, 16, 0.0);
	assert_view(&c, 1, "weak", 12, 12, 1.5);
	assert_view(&c, 2, "strong", 16, 0, 0.0);

	assert_int_equal(c.data.teacher.dim, 32);
	assert_int_equal(c.data.teacher.width, 64);
	assert_int_equal(c.data.teacher.depth, 2);
	assert_int_equal(c.data.teacher.classes, 2);
	assert_real(c.data.teacher.label_noise, 0.0);
	assert_int_equal(c.data.teacher.act, W2S_ACT_TANH);

	static const int64_t big[] = {256, 256};
	assert_int_equal(c.nmodels, 3);
	assert_model(&c, 0, "weak", "weak", 0, NULL, W2S_ACT_RELU);
	assert_model(&c, 1, "strong", "strong", 0, NULL, W2S_ACT_RELU);
	assert_model(&c, 2, "big", "x", 2, big, W2S_ACT_RELU);

	assert_train(&c.train, &default_train);
	for (int i = 0; i < c.nmodels; i++)
		assert_train(&c.models[i].train, &default_train);

	assert_string_equal(c.w2s.weak, "weak");
	assert_int_equal(c.w2s.nstrong, 2);
	assert_string_equal(c.w2s.strong[0], "strong");
	assert_string_equal(c.w2s.strong[1], "big");
	assert_int_equal(c.w2s.loss, W2S_LOSS_XENT);
	assert_int_equal(c.log.every, 50);
	w2s_config_free(&c);
}

static void empty_file_is_the_default_experiment(void **state)
{
	struct w2s_config def, empty;
	char path[64];
	write_temp("# nothing but a comment\n", path);
	load_ok(&def, NULL, NULL, 0);
	load_ok(&empty, path, NULL, 0);
	unlink(path);
	assert_string_equal(empty.json, def.json);
	assert_string_equal(empty.yaml, def.yaml);
	w2s_config_free(&def);
	w2s_config_free(&empty);
}

static void lookups_answer_for_the_default_experiment(void **state)
{
	struct w2s_config c;
	load_ok(&c, NULL, NULL, 0);
	assert_string_equal(w2s_split_name(W2S_SPLIT_WEAK_TRAIN), "weak_train");
	assert_string_equal(w2s_split_name(W2S_SPLIT_TRANSFER), "transfer");
	assert_string_equal(w2s_split_name(W2S_SPLIT_VAL), "val");
	assert_string_equal(w2s_split_name(W2S_SPLIT_TEST), "test");
	assert_null(w2s_split_name(W2S_NSPLITS));
	assert_int_equal(w2s_config_model_index(&c, "big"), 2);
	assert_int_equal(w2s_config_model_index(&c, "nope"), -1);
	assert_int_equal(w2s_config_view_index(&c, "weak"), 1);
	assert_int_equal(w2s_config_view_index(&c, "nope"), -1);
	assert_int_equal(w2s_config_view_width(&c, "x"), 32);
	assert_int_equal(w2s_config_view_width(&c, "weak"), 12); /* z + noise * u: z columns */
	assert_int_equal(w2s_config_view_width(&c, "strong"), 16);
	assert_int_equal(w2s_config_view_width(&c, "nope"), -1);
	assert_int_equal(w2s_config_classes(&c), 2);
	w2s_config_free(&c);
}

static void teacher_config_gets_the_teacher_default_models(void **state)
{
	struct w2s_config c;
	load_good(&c, "teacher.yaml", NULL, 0);
	assert_int_equal(c.seed, 7);
	assert_int_equal(c.data.task, W2S_TASK_TEACHER);
	assert_int_equal(c.data.rows[W2S_SPLIT_WEAK_TRAIN], 2000);
	assert_int_equal(c.data.rows[W2S_SPLIT_TRANSFER], 3000);
	assert_int_equal(c.data.rows[W2S_SPLIT_VAL], 500);
	assert_int_equal(c.data.rows[W2S_SPLIT_TEST], 5000);
	assert_int_equal(c.data.teacher.dim, 20);
	assert_int_equal(c.data.teacher.width, 48);
	assert_int_equal(c.data.teacher.depth, 3);
	assert_int_equal(c.data.teacher.classes, 4);
	assert_real(c.data.teacher.label_noise, 0.1);
	assert_int_equal(c.data.teacher.act, W2S_ACT_GELU);

	static const int64_t weak[] = {16}, strong[] = {256, 256};
	assert_int_equal(c.nmodels, 2);
	assert_model(&c, 0, "weak", "x", 1, weak, W2S_ACT_RELU);
	assert_model(&c, 1, "strong", "x", 2, strong, W2S_ACT_RELU);
	assert_string_equal(c.w2s.weak, "weak");
	assert_int_equal(c.w2s.nstrong, 1);
	assert_string_equal(c.w2s.strong[0], "strong");

	assert_int_equal(w2s_config_view_index(&c, "x"), 0);
	assert_int_equal(w2s_config_view_index(&c, "weak"), -1);
	assert_int_equal(w2s_config_view_width(&c, "x"), 20);
	assert_int_equal(w2s_config_view_width(&c, "weak"), -1);
	assert_int_equal(w2s_config_classes(&c), 4);
	w2s_config_free(&c);
}

static void latent_config_keeps_its_views_in_the_order_written(void **state)
{
	struct w2s_config c;
	load_good(&c, "latent_views.yaml", NULL, 0);
	assert_int_equal(c.seed, 12345);
	assert_int_equal(c.data.latent.signal, 12);
	assert_int_equal(c.data.latent.nuisance, 20);
	assert_int_equal(c.data.latent.classes, 3);
	assert_real(c.data.latent.label_noise, 0.05);
	assert_int_equal(c.data.latent.nviews, 3);
	assert_view(&c, 0, "full", 12, 20, 0.0);
	assert_view(&c, 1, "hint", 2, 2, 2.5);
	assert_view(&c, 2, "probe", 10, 5, 0.0);
	assert_int_equal(w2s_config_view_width(&c, "full"), 32);
	assert_int_equal(w2s_config_view_width(&c, "hint"), 2);
	assert_int_equal(w2s_config_view_width(&c, "probe"), 15);

	static const int64_t mid[] = {32}, large[] = {128, 128, 64};
	assert_int_equal(c.nmodels, 3);
	assert_model(&c, 0, "small", "hint", 0, NULL, W2S_ACT_RELU);
	assert_model(&c, 1, "mid", "probe", 1, mid, W2S_ACT_GELU);
	assert_model(&c, 2, "large", "full", 3, large, W2S_ACT_TANH);
	assert_string_equal(c.w2s.weak, "small");
	assert_int_equal(c.w2s.nstrong, 2);
	assert_string_equal(c.w2s.strong[0], "mid");
	assert_string_equal(c.w2s.strong[1], "large");
	assert_int_equal(c.log.every, 10);
	w2s_config_free(&c);
}

static void model_train_overrides_replace_only_their_keys(void **state)
{
	struct w2s_config c;
	load_good(&c, "train_overrides.yaml", NULL, 0);
	struct w2s_train_spec global = default_train;
	global.optimizer = W2S_OPT_SGD;
	global.lr = 0.05;
	global.momentum = 0.8;
	global.batch = 128;
	global.epochs = 4;
	global.schedule = W2S_SCHED_CONSTANT;
	assert_train(&c.train, &global);

	struct w2s_train_spec weak = global;
	weak.epochs = 20;
	weak.lr = 0.01;
	assert_train(&c.models[0].train, &weak);
	assert_train(&c.models[1].train, &global);
	struct w2s_train_spec big = global;
	big.optimizer = W2S_OPT_ADAM;
	big.lr = 3.0e-4;
	big.weight_decay = 0.01;
	big.warmup = 0.1;
	assert_train(&c.models[2].train, &big);
	w2s_config_free(&c);
}

/* ---- --set */

static void set_changes_a_scalar_for_every_model_that_does_not_override_it(void **state)
{
	struct w2s_config c;
	const char *sets[] = {"train.lr=0.2", "train.epochs=7"};
	load_good(&c, "train_overrides.yaml", sets, 2);
	assert_real(c.train.lr, 0.2);
	assert_real(c.models[0].train.lr, 0.01);  /* weak overrides lr */
	assert_int_equal(c.models[0].train.epochs, 20); /* and epochs */
	assert_real(c.models[1].train.lr, 0.2);   /* strong overrides nothing */
	assert_int_equal(c.models[1].train.epochs, 7);
	assert_real(c.models[2].train.lr, 3.0e-4); /* big overrides lr */
	assert_int_equal(c.models[2].train.epochs, 7);
	w2s_config_free(&c);

	const char *one[] = {"seed=42"};
	load_ok(&c, NULL, one, 1);
	assert_int_equal(c.seed, 42);
	w2s_config_free(&c);
}

static void set_edits_one_key_of_a_default_model(void **state)
{
	struct w2s_config c;
	const char *sets[] = {"models.big.hidden=[512]"};
	load_ok(&c, NULL, sets, 1);
	static const int64_t big[] = {512};
	assert_int_equal(c.nmodels, 3);
	assert_model(&c, 0, "weak", "weak", 0, NULL, W2S_ACT_RELU);
	assert_model(&c, 1, "strong", "strong", 0, NULL, W2S_ACT_RELU);
	assert_model(&c, 2, "big", "x", 1, big, W2S_ACT_RELU);
	w2s_config_free(&c);
}

static void set_edits_a_default_model_of_the_task_it_sets(void **state)
{
	/* The task is read after all overrides, whatever their order. */
	struct w2s_config c;
	const char *sets[] = {"models.weak.hidden=[8]", "data.task=teacher"};
	load_ok(&c, NULL, sets, 2);
	static const int64_t weak[] = {8}, strong[] = {256, 256};
	assert_int_equal(c.data.task, W2S_TASK_TEACHER);
	assert_int_equal(c.nmodels, 2);
	assert_model(&c, 0, "weak", "x", 1, weak, W2S_ACT_RELU);
	assert_model(&c, 1, "strong", "x", 2, strong, W2S_ACT_RELU);
	w2s_config_free(&c);
}

static void set_adds_a_model_and_a_per_model_override(void **state)
{
	struct w2s_config c;
	const char *sets[] = {"models.huge={view: x, hidden: [1024, 1024, 1024]}",
			      "models.huge.train.lr=1e-4", "w2s.strong=[big, huge]"};
	load_ok(&c, NULL, sets, 3);
	assert_int_equal(c.nmodels, 4);
	int i = w2s_config_model_index(&c, "huge");
	assert_int_equal(i, 3);
	assert_int_equal(c.models[i].nhidden, 3);
	assert_real(c.models[i].train.lr, 1e-4);
	assert_real(c.models[2].train.lr, 1e-2);
	assert_int_equal(c.w2s.nstrong, 2);
	assert_string_equal(c.w2s.strong[1], "huge");
	w2s_config_free(&c);
}

static void set_replaces_a_nested_map_in_its_place(void **state)
{
	struct w2s_config c;
	const char *sets[] = {"data.latent.views.weak={z: 4, noise: 2}", "data.rows.test=5e4",
			      "data.latent.label_noise=0.25"};
	load_ok(&c, NULL, sets, 3);
	assert_int_equal(c.data.latent.nviews, 3);
	assert_view(&c, 0, "x", 16, 16, 0.0);
	assert_view(&c, 1, "weak", 4, 4, 2.0);
	assert_view(&c, 2, "strong", 16, 0, 0.0);
	assert_int_equal(c.data.rows[W2S_SPLIT_TEST], 50000);
	assert_int_equal(c.data.rows[W2S_SPLIT_VAL], 1000);
	assert_real(c.data.latent.label_noise, 0.25);
	w2s_config_free(&c);
}

static void set_overrides_the_file(void **state)
{
	struct w2s_config c;
	const char *sets[] = {"w2s.strong=large", "models.mid.activation=relu"};
	load_good(&c, "latent_views.yaml", sets, 2);
	assert_int_equal(c.w2s.nstrong, 1);
	assert_string_equal(c.w2s.strong[0], "large");
	assert_int_equal(c.models[1].act, W2S_ACT_RELU);
	assert_int_equal(c.models[2].act, W2S_ACT_TANH);
	w2s_config_free(&c);
}

static void bad_set_forms_are_refused_naming_the_override(void **state)
{
	static const struct {
		const char *set, *message;
	} cases[] = {
		{"foo", "w2s: error: --set 'foo': expected KEY=VALUE"},
		{"=1", "--set '=1': expected KEY=VALUE"},
		{"a..b=1", "--set 'a..b=1': expected KEY=VALUE with KEY like train.lr"},
		{"trian.lr=1",
		 "--set trian.lr=1: unknown key 'trian' (accepted: seed, seeds, data, models, train, w2s, log, checkpoint, kd, cascade, synth, select)"},
		{"train.lrr=1", "--set train.lrr=1: unknown key 'lrr' in train (accepted: optimizer,"},
		{"train.lr=abc", "--set train.lr=abc: train.lr: expected a number > 0, found 'abc'"},
		{"train.lr=", "--set train.lr=: train.lr: expected a number > 0, found nothing"},
		{"train.lr=[1", "--set train.lr=[1: YAML syntax error: "},
		{"train.lr.x=1", "--set train.lr.x=1: train.lr: expected a number > 0, found a map"},
		{"train.optimizer=adamw", "--set train.optimizer=adamw: train.optimizer: found 'adamw' (accepted: adam, sgd)"},
		{"models.big.hidden=[0]",
		 "--set models.big.hidden=[0]: models.big.hidden: expected a list of integers in [1, 16777216], found '0'"},
		{"train={lr: 1, lr: 2}", "--set train={lr: 1, lr: 2}: duplicate key 'lr' in train"},
		{"seed.x=1", "--set seed.x=1: seed: expected an integer >= 0, found a map"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct w2s_config c;
		char err[4096];
		const char *sets[] = {cases[i].set};
		enum w2s_status st = load_capturing(&c, NULL, sets, 1, err, sizeof err);
		if (st != W2S_STATUS_CONFIG || strstr(err, cases[i].message) == NULL ||
		    count_of(err, "w2s: error:") != 1)
			fail_msg("--set %s: status %d, message:\n%s\nwanted: %s", cases[i].set, st, err,
				 cases[i].message);
		assert_null(c.json);
	}

	/* A set through a value of the file that is not a map. */
	struct w2s_config c;
	char err[4096], path[64];
	write_temp("train:\n  lr: 0.1\n", path);
	const char *sets[] = {"train.lr.x=1"};
	enum w2s_status st = load_capturing(&c, path, sets, 1, err, sizeof err);
	unlink(path);
	assert_int_equal(st, W2S_STATUS_CONFIG);
	assert_non_null(strstr(err, "--set train.lr.x=1: train.lr is '0.1', not a map of keys"));
}

/* ---- output */

static void json_is_the_same_whatever_the_order_and_spelling(void **state)
{
	static const char *const a =
		"seed: 3\n"
		"train: {lr: 0.001, epochs: 5, batch: 32}\n"
		"data:\n"
		"  latent:\n"
		"    views: {x: {z: all, u: all}, w: {z: 2, noise: 0.5}}\n"
		"  rows: {test: 100, val: 10}\n"
		"models:\n"
		"  s: {view: x, hidden: [8]}\n"
		"  w: {view: w}\n"
		"w2s: {weak: w, strong: s}\n";
	static const char *const b =
		"w2s:\n"
		"  strong: [s]\n"
		"  weak: w\n"
		"models:\n"
		"  w: {view: w, train: {}}\n"
		"  s: {hidden: [8], view: x}\n"
		"data:\n"
		"  rows: {val: 10, test: 1e2}\n"
		"  latent:\n"
		"    views:\n"
		"      w: {noise: 5.0e-1, u: 2, z: 2}\n"
		"      x: {u: 16, z: 16}\n"
		"train:\n"
		"  batch: 32\n"
		"  epochs: 5\n"
		"  lr: 1e-3\n"
		"seed: 3\n";
	char pa[64], pb[64];
	write_temp(a, pa);
	write_temp(b, pb);
	struct w2s_config ca, cb;
	load_ok(&ca, pa, NULL, 0);
	load_ok(&cb, pb, NULL, 0);
	unlink(pa);
	unlink(pb);
	assert_string_equal(ca.json, cb.json);
	/* Sorted and compact: the first key is "cascade", no spaces. */
	assert_true(strncmp(ca.json, "{\"cascade\":{", 12) == 0);
	assert_null(strchr(ca.json, ' '));
	w2s_config_free(&ca);
	w2s_config_free(&cb);
}

static void yaml_loads_back_to_the_same_config(void **state)
{
	static const char *const tricky =
		"seed: 9223372036854775807\n"
		"data:\n"
		"  latent:\n"
		"    label_noise: 0.1\n"
		"    views: {\"1\": {z: all}, \"yes\": {u: 3}, _n-1: {z: 1, noise: 0.3333333333333333}}\n"
		"models:\n"
		"  \"null\": {view: \"1\", hidden: [3, 1]}\n"
		"  \"-m\": {view: \"yes\", train: {lr: 0.1234567890123456789, eps: 1e-300}}\n"
		"w2s: {weak: \"-m\", strong: \"null\"}\n"
		"train: {weight_decay: -0, clip: 0, momentum: 0.3}\n";
	char tricky_path[64];
	write_temp(tricky, tricky_path);
	char good[3][1024];
	src_path(good[0], sizeof good[0], "tests/configs/good/teacher.yaml");
	src_path(good[1], sizeof good[1], "tests/configs/good/latent_views.yaml");
	src_path(good[2], sizeof good[2], "tests/configs/good/train_overrides.yaml");
	const char *paths[] = {NULL, good[0], good[1], good[2], tricky_path};

	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		struct w2s_config c, back;
		char out[64];
		load_ok(&c, paths[i], NULL, 0);
		write_temp(c.yaml, out);
		load_ok(&back, out, NULL, 0);
		unlink(out);
		if (strcmp(c.json, back.json) != 0 || strcmp(c.yaml, back.yaml) != 0)
			fail_msg("%s does not round-trip:\n%s\n%s\nYAML:\n%s",
				 paths[i] ? paths[i] : "(defaults)", c.json, back.json, c.yaml);
		w2s_config_free(&c);
		w2s_config_free(&back);
	}
	unlink(tricky_path);
}

static void yaml_keeps_only_the_train_keys_a_model_overrides(void **state)
{
	/* So that "--set train.lr=..." on a saved config.yaml still reaches
	 * every model that did not override lr. */
	struct w2s_config c, back;
	char out[64];
	load_good(&c, "train_overrides.yaml", NULL, 0);
	assert_non_null(strstr(c.yaml, "train: {lr: 0.01, epochs: 20}"));
	write_temp(c.yaml, out);
	const char *sets[] = {"train.momentum=0.5"};
	load_ok(&back, out, sets, 1);
	unlink(out);
	assert_real(back.models[0].train.momentum, 0.5);
	assert_real(back.models[0].train.lr, 0.01);
	w2s_config_free(&c);
	w2s_config_free(&back);
}

/* ---- errors */

static void bad_configs_fail_with_their_one_message(void **state)
{
	char dir[1024];
	src_path(dir, sizeof dir, "tests/configs/bad");
	DIR *d = opendir(dir);
	if (d == NULL)
		fail_msg("cannot open %s (set W2S_SRCDIR to the source tree)", dir);
	int tried = 0, failed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".yaml") != 0)
			continue;
		char path[2048];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		char *text = read_all(path);
		assert_non_null(text);
		const char *tag = "# expect: ";
		if (strncmp(text, tag, strlen(tag)) != 0) {
			print_error("%s: first line is not '# expect: MESSAGE'\n", path);
			failed++;
			free(text);
			continue;
		}
		char *expect = text + strlen(tag);
		expect[strcspn(expect, "\n")] = '\0';

		struct w2s_config c;
		char err[8192];
		enum w2s_status st = load_capturing(&c, path, NULL, 0, err, sizeof err);
		tried++;
		if (st != W2S_STATUS_CONFIG || strstr(err, expect) == NULL ||
		    count_of(err, "w2s: error:") != 1 || c.json != NULL || c.yaml != NULL) {
			print_error("%s: status %d (want %d), stderr:\n%swanted a message with: %s\n",
				    de->d_name, st, W2S_STATUS_CONFIG, err, expect);
			failed++;
		}
		free(text);
	}
	closedir(d);
	if (failed > 0)
		fail_msg("%d of %d bad configs did not fail as expected", failed, tried);
	assert_true(tried >= 20);
}

static void missing_file_is_an_io_error(void **state)
{
	struct w2s_config c;
	char err[4096];
	enum w2s_status st = load_capturing(&c, "/nonexistent/w2s.yaml", NULL, 0, err, sizeof err);
	assert_int_equal(st, W2S_STATUS_IO);
	assert_non_null(strstr(err, "cannot read config '/nonexistent/w2s.yaml': No such file or directory"));
	assert_int_equal(count_of(err, "w2s: error:"), 1);
	assert_null(c.json);
	assert_null(c.yaml);
	w2s_config_free(&c);
	w2s_config_free(&c);
}

/* ---- the reference */

static void reference_and_doc_name_every_key(void **state)
{
	static const char *const keys[] = {
		"seed", "seeds", "data.task", "data.rows.weak_train", "data.rows.transfer", "data.rows.val",
		"data.rows.test", "data.rows.pool", "data.latent.signal", "data.latent.nuisance",
		"data.latent.classes", "data.latent.label_noise", "data.latent.target", "data.latent.views",
		"data.latent.views.NAME.z", "data.latent.views.NAME.u", "data.latent.views.NAME.noise",
		"data.teacher.dim", "data.teacher.width", "data.teacher.depth", "data.teacher.classes",
		"data.teacher.label_noise", "data.teacher.activation", "data.import.path", "models",
		"models.NAME.view", "models.NAME.hidden", "models.NAME.activation", "models.NAME.probe", "models.NAME.train.KEY",
		"train.optimizer", "train.lr", "train.lr_min", "train.schedule", "train.warmup",
		"train.batch", "train.epochs", "train.weight_decay", "train.momentum", "train.beta1",
		"train.beta2", "train.eps", "train.clip", "train.eval_every", "train.patience",
		"train.stop_on", "train.reduce", "train.micro_batch", "w2s.weak", "w2s.strong", "w2s.loss", "w2s.confidence.alpha",
		"w2s.confidence.warmup", "w2s.product.b", "w2s.product.c", "w2s.filter.method",
		"w2s.filter.keep", "w2s.filter.k", "w2s.chain", "log.every", "checkpoint.every",
		"checkpoint.keep", "kd.models", "kd.temperature", "kd.weight", "cascade.enabled",
		"cascade.large", "cascade.score", "cascade.thresholds", "cascade.tolerance", "synth.models",
		"synth.rows", "synth.components", "synth.label", "synth.train", "select.models",
		"select.fraction", "select.bands",
	};
	const char *ref = w2s_config_reference();
	int lines = count_of(ref, "\n");
	assert_int_equal(lines, (int)(sizeof keys / sizeof keys[0]));
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char line_start[80];
		snprintf(line_start, sizeof line_start, "%s ", keys[i]);
		bool found = strncmp(ref, line_start, strlen(line_start)) == 0;
		snprintf(line_start, sizeof line_start, "\n%s ", keys[i]);
		found = found || strstr(ref, line_start) != NULL;
		if (!found)
			fail_msg("the reference has no line for %s:\n%s", keys[i], ref);
	}

	char path[1024];
	src_path(path, sizeof path, "doc/config.md");
	char *doc = read_all(path);
	if (doc == NULL)
		fail_msg("cannot read %s", path);
	/* Every line of the reference, as generated, is in the doc. */
	for (const char *line = ref; *line != '\0';) {
		size_t n = strcspn(line, "\n");
		char buf[512];
		snprintf(buf, sizeof buf, "%.*s", (int)n, line);
		if (strstr(doc, buf) == NULL)
			fail_msg("doc/config.md lacks the reference line:\n%s\n(regenerate its reference block)",
				 buf);
		line += n + (line[n] == '\n');
	}
	free(doc);
}

int main(void)
{
	w2s_log_init(0, W2S_LOG_INFO);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_without_a_file_are_the_documented_ones),
		cmocka_unit_test(empty_file_is_the_default_experiment),
		cmocka_unit_test(lookups_answer_for_the_default_experiment),
		cmocka_unit_test(teacher_config_gets_the_teacher_default_models),
		cmocka_unit_test(latent_config_keeps_its_views_in_the_order_written),
		cmocka_unit_test(model_train_overrides_replace_only_their_keys),
		cmocka_unit_test(set_changes_a_scalar_for_every_model_that_does_not_override_it),
		cmocka_unit_test(set_edits_one_key_of_a_default_model),
		cmocka_unit_test(set_edits_a_default_model_of_the_task_it_sets),
		cmocka_unit_test(set_adds_a_model_and_a_per_model_override),
		cmocka_unit_test(set_replaces_a_nested_map_in_its_place),
		cmocka_unit_test(set_overrides_the_file),
		cmocka_unit_test(bad_set_forms_are_refused_naming_the_override),
		cmocka_unit_test(json_is_the_same_whatever_the_order_and_spelling),
		cmocka_unit_test(yaml_loads_back_to_the_same_config),
		cmocka_unit_test(yaml_keeps_only_the_train_keys_a_model_overrides),
		cmocka_unit_test(bad_configs_fail_with_their_one_message),
		cmocka_unit_test(missing_file_is_an_io_error),
		cmocka_unit_test(reference_and_doc_name_every_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

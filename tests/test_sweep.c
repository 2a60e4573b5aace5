/*
 * test_sweep.c: sweep specs as a user writes them: how many trials a grid,
 * seeds and random draws make and in which order; random draws that are
 * repeatable, within their ranges and shared across the grid; values handed
 * to --set as YAML that reads back the same; the inline base kept as
 * written; the manifest read back as written; and the one message each bad
 * spec gets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "w2s/config_sweep.h"
#include "w2s/log.h"
#include "w2s/sweep.h"

/* ---- helpers */

/* Parses spec text with stderr captured into err (may be NULL). */
static enum w2s_status parse_capturing(struct w2s_sweep_spec *s, const char *text,
				       const char *name, char *err, size_t errlen)
{
	char tmp[] = "/tmp/w2s_test_sweep_stderr_XXXXXX";
	int fd = mkstemp(tmp);
	assert_true(fd >= 0);
	unlink(tmp);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	dup2(fd, 2);
	enum w2s_status st = w2s_sweep_spec_parse(s, text, strlen(text), name);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	if (err)
		snprintf(err, errlen, "%s", buf);
	return st;
}

/* Parses and expands a spec that must be good. */
static void expand_ok(const char *text, struct w2s_sweep_spec *s, struct w2s_sweep *w)
{
	char err[4096];
	enum w2s_status st = parse_capturing(s, text, "spec.yaml", err, sizeof err);
	if (st != W2S_STATUS_OK)
		fail_msg("spec refused: %s\n%s", err, text);
	assert_int_equal(w2s_sweep_expand(s, w), W2S_STATUS_OK);
}

static const char *text_of(const struct w2s_sweep *w, int64_t t, int k)
{
	return w->values[t * w->nkeys + k].text;
}

static double number_of(const struct w2s_sweep *w, int64_t t, int k)
{
	assert_true(w->values[t * w->nkeys + k].numeric);
	return w->values[t * w->nkeys + k].number;
}

static int key_index(const struct w2s_sweep *w, const char *key)
{
	for (int k = 0; k < w->nkeys; k++)
		if (!strcmp(w->keys[k], key))
			return k;
	fail_msg("no key %s", key);
	return -1;
}

/* ---- grid and seeds */

static void grid_is_the_cartesian_product_with_the_last_key_fastest(void **state)
{
	struct w2s_sweep_spec s;
	struct w2s_sweep w;
	expand_ok("grid:\n"
		  "  train.lr: [0.001, 0.003, 1e-2]\n"
		  "  train.optimizer: [adam, sgd]\n",
		  &s, &w);
	assert_int_equal(w.nkeys, 2);
	assert_int_equal(w.ntrials, 6);
	assert_string_equal(w.keys[0], "train.lr");
	assert_string_equal(w.keys[1], "train.optimizer");
	const char *lr[6] = {"0.001", "0.001", "0.003", "0.003", "1e-2", "1e-2"};
	const char *opt[6] = {"adam", "sgd", "adam", "sgd", "adam", "sgd"};
	for (int t = 0; t < 6; t++) {
		assert_string_equal(text_of(&w, t, 0), lr[t]);
		assert_string_equal(text_of(&w, t, 1), opt[t]);
		assert_false(w.values[t * 2 + 1].numeric);
	}
	assert_true(number_of(&w, 4, 0) == 0.01);
	char set[64];
	w2s_sweep_set_text(&w, 3, 0, set, sizeof set);
	assert_string_equal(set, "train.lr=0.003");
	w2s_sweep_free(&w);
	w2s_sweep_spec_free(&s);
}

static void seeds_are_a_grid_over_seed_that_varies_fastest(void **state)
{
	struct w2s_sweep_spec s;
	struct w2s_sweep w;
	expand_ok("seeds: [1, 2, 3]\n"
		  "grid: {train.lr: [0.1, 0.2]}\n",
		  &s, &w);
	assert_int_equal(w.ntrials, 6);
	assert_int_equal(w.nkeys, 2);
	assert_string_equal(w.keys[1], "seed");
	for (int t = 0; t < 6; t++) {
		assert_true(number_of(&w, t, 1) == (double)(1 + t % 3));
		assert_true(number_of(&w, t, 0) == (t < 3 ? 0.1 : 0.2));
	}
	w2s_sweep_free(&w);
	w2s_sweep_spec_free(&s);
}

static void nested_grid_maps_are_key_paths(void **state)
{
	struct w2s_sweep_spec s;
	struct w2s_sweep w;
	expand_ok("grid:\n"
		  "  train:\n"
		  "    lr: [0.1, 0.2]\n"
		  "  models:\n"
		  "    big: {hidden: [[64], [256, 256], []]}\n",
		  &s, &w);
	assert_int_equal(w.ntrials, 6);
	assert_string_equal(w.keys[0], "train.lr");
	assert_string_equal(w.keys[1], "models.big.hidden");
	assert_string_equal(text_of(&w, 0, 1), "[64]");
	assert_string_equal(text_of(&w, 1, 1), "[256, 256]");
	assert_string_equal(text_of(&w, 2, 1), "[]");
	assert_false(w.values[1].numeric);
	w2s_sweep_free(&w);
	w2s_sweep_spec_free(&s);
}

static void values_reach_set_as_yaml_that_reads_back_the_same(void **state)
{
	struct w2s_sweep_spec s;
	struct w2s_sweep w;
	expand_ok("grid:\n"
		  "  a: [plain, 'two words', \"null\", 'x: y', '-dash', -1.5, {k: [1, 'a b']}, ~]\n",
		  &s, &w);
	const char *want[] = {"plain",        "\"two words\"", "\"null\"",
			      "\"x: y\"",     "\"-dash\"",     "-1.5",
			      "{k: [1, \"a b\"]}", "null"};
	assert_int_equal(w.ntrials, 8);
	for (int t = 0; t < 8; t++)
		assert_string_equal(text_of(&w, t, 0), want[t]);
	assert_true(number_of(&w, 5, 0) == -1.5);
	w2s_sweep_free(&w);
	w2s_sweep_spec_free(&s);
}

static void an_empty_spec_is_one_trial_of_the_default_experiment(void **state)
{
	struct w2s_sweep_spec s;
	struct w2s_sweep w;
	expand_ok("# nothing swept\n", &s, &w);
	assert_int_equal(w.ntrials, 1);
	assert_int_equal(w.nkeys, 0);
	assert_null(s.config);
	assert_null(s.base_yaml);
	w2s_sweep_free(&w);
	w2s_sweep_spec_free(&s);
}

/* ---- random */

static const char random_spec[] =
	"grid: {train.optimizer: [adam, sgd]}\n"
	"random:\n"
	"  n: 400\n"
	"  seed: %d\n"
	"  keys:\n"
	"    train.warmup: {uniform: [0.1, 0.2]}\n"
	"    train.weight_decay: {log_uniform: [1.0e-5, 1.0e-1]}\n"
	"    models.big.activation: {choice: [relu, gelu, tanh]}\n"
	"%s";

static void expand_random(int seed, const char *extra, struct w2s_sweep_spec *s,
			  struct w2s_sweep *w)
{
	char text[1024];
	snprintf(text, sizeof text, random_spec, seed, extra);
	expand_ok(text, s, w);
}

static void random_draws_stay_in_range_and_meet_every_grid_point(void **state)
{
	struct w2s_sweep_spec s;
	struct w2s_sweep w;
	expand_random(7, "", &s, &w);
	assert_int_equal(w.ntrials, 800);
	assert_int_equal(w.nkeys, 4);
	int warm = key_index(&w, "train.warmup"), wd = key_index(&w, "train.weight_decay");
	int act = key_index(&w, "models.big.activation"), opt = key_index(&w, "train.optimizer");
	int below_mid = 0, below_geo = 0, seen[3] = {0, 0, 0};
	double geo = sqrt(1.0e-5 * 1.0e-1);
	for (int64_t r = 0; r < 400; r++) {
		/* Draw r meets both grid points, adam first. */
		for (int k = 0; k < w.nkeys; k++)
			if (k != opt)
				assert_string_equal(text_of(&w, 2 * r, k), text_of(&w, 2 * r + 1, k));
		assert_string_equal(text_of(&w, 2 * r, opt), "adam");
		assert_string_equal(text_of(&w, 2 * r + 1, opt), "sgd");
		double u = number_of(&w, 2 * r, warm), l = number_of(&w, 2 * r, wd);
		if (!(u >= 0.1 && u <= 0.2) || !(l >= 1.0e-5 && l <= 1.0e-1))
			fail_msg("draw %lld out of range: warmup %g, weight_decay %g", (long long)r,
				 u, l);
		/* The value recorded is the text the trial runs with. */
		assert_true(strtod(text_of(&w, 2 * r, warm), NULL) == u);
		below_mid += u < 0.15;
		below_geo += l < geo;
		const char *a = text_of(&w, 2 * r, act);
		seen[0] += !strcmp(a, "relu");
		seen[1] += !strcmp(a, "gelu");
		seen[2] += !strcmp(a, "tanh");
	}
	/* 400 fair coin flips land within [150, 250] but for 1 in 10^6. */
	if (below_mid < 150 || below_mid > 250 || below_geo < 150 || below_geo > 250)
		fail_msg("uniform: %d of 400 below the middle; log-uniform: %d of 400 below the "
			 "geometric middle",
			 below_mid, below_geo);
	assert_int_equal(seen[0] + seen[1] + seen[2], 400);
	for (int i = 0; i < 3; i++)
		if (seen[i] < 90 || seen[i] > 180)
			fail_msg("choice %d drawn %d times of 400", i, seen[i]);
	w2s_sweep_free(&w);
	w2s_sweep_spec_free(&s);
}

static void random_draws_repeat_for_a_seed_and_change_with_it(void **state)
{
	struct w2s_sweep_spec s1, s2, s3;
	struct w2s_sweep w1, w2, w3;
	expand_random(7, "", &s1, &w1);
	expand_random(7, "", &s2, &w2);
	expand_random(8, "", &s3, &w3);
	int differ = 0;
	for (int64_t i = 0; i < w1.ntrials * w1.nkeys; i++) {
		assert_string_equal(w1.values[i].text, w2.values[i].text);
		differ += strcmp(w1.values[i].text, w3.values[i].text) != 0;
	}
	assert_true(differ > 400);
	w2s_sweep_free(&w1);
	w2s_sweep_free(&w2);
	w2s_sweep_free(&w3);
	w2s_sweep_spec_free(&s1);
	w2s_sweep_spec_free(&s2);
	w2s_sweep_spec_free(&s3);
}

static void adding_a_random_key_leaves_the_other_keys_draws_alone(void **state)
{
	struct w2s_sweep_spec s1, s2;
	struct w2s_sweep w1, w2;
	expand_random(7, "", &s1, &w1);
	expand_random(7, "    train.clip: {uniform: [0.5, 2]}\n", &s2, &w2);
	assert_int_equal(w2.nkeys, w1.nkeys + 1);
	for (int64_t t = 0; t < w1.ntrials; t++)
		for (int k = 0; k < w1.nkeys; k++)
			assert_string_equal(text_of(&w1, t, k),
					    text_of(&w2, t, key_index(&w2, w1.keys[k])));
	w2s_sweep_free(&w1);
	w2s_sweep_free(&w2);
	w2s_sweep_spec_free(&s1);
	w2s_sweep_spec_free(&s2);
}

/* ---- the base */

static void inline_base_is_kept_as_written(void **state)
{
	struct w2s_sweep_spec s;
	struct w2s_sweep w;
	expand_ok("seeds: [1]\n"
		  "base:\n"
		  "  # a comment the user wrote\n"
		  "  train:\n"
		  "    lr: 0.5    # why\n"
		  "  w2s: {strong: [strong]}\n"
		  "\n"
		  "grid: {train.epochs: [1, 2]}\n",
		  &s, &w);
	assert_non_null(s.base_yaml);
	assert_string_equal(s.base_yaml, "# a comment the user wrote\n"
					 "train:\n"
					 "  lr: 0.5    # why\n"
					 "w2s: {strong: [strong]}\n");
	w2s_sweep_free(&w);
	w2s_sweep_spec_free(&s);

	expand_ok("base: {seed: 4, train: {lr: 0.1}}\n", &s, &w);
	assert_string_equal(s.base_yaml, "{seed: 4, train: {lr: 0.1}}\n");
	w2s_sweep_free(&w);
	w2s_sweep_spec_free(&s);
}

static void config_path_is_relative_to_the_spec(void **state)
{
	struct w2s_sweep_spec s;
	assert_int_equal(parse_capturing(&s, "config: small.yaml\n", "runs/a/spec.yaml", NULL, 0),
			 W2S_STATUS_OK);
	assert_string_equal(s.config, "runs/a/small.yaml");
	w2s_sweep_spec_free(&s);
	assert_int_equal(parse_capturing(&s, "config: /etc/x.yaml\n", "runs/spec.yaml", NULL, 0),
			 W2S_STATUS_OK);
	assert_string_equal(s.config, "/etc/x.yaml");
	w2s_sweep_spec_free(&s);
	assert_int_equal(parse_capturing(&s, "config: x.yaml\n", "spec.yaml", NULL, 0),
			 W2S_STATUS_OK);
	assert_string_equal(s.config, "x.yaml");
	w2s_sweep_spec_free(&s);
}

/* ---- the manifest */

static void manifest_reads_back_what_was_written(void **state)
{
	struct w2s_sweep_spec s;
	struct w2s_sweep w, back;
	expand_random(3, "", &s, &w);
	char dir[] = "/tmp/w2s_test_sweep_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof path, "%s/sweep.json", dir);
	assert_int_equal(w2s_sweep_manifest_write(&w, path, "spec.yaml", NULL), W2S_STATUS_OK);
	assert_int_equal(w2s_sweep_manifest_read(&back, path), W2S_STATUS_OK);
	assert_int_equal(back.nkeys, w.nkeys);
	assert_int_equal(back.ntrials, w.ntrials);
	for (int k = 0; k < w.nkeys; k++)
		assert_string_equal(back.keys[k], w.keys[k]);
	for (int64_t i = 0; i < w.ntrials * w.nkeys; i++) {
		assert_int_equal(back.values[i].numeric, w.values[i].numeric);
		if (w.values[i].numeric)
			assert_true(back.values[i].number == w.values[i].number);
		else
			assert_string_equal(back.values[i].text, w.values[i].text);
	}
	w2s_sweep_free(&back);
	unlink(path);
	rmdir(dir);
	w2s_sweep_free(&w);
	w2s_sweep_spec_free(&s);
}

/* ---- bad specs */

static const struct {
	const char *text, *message;
} bad[] = {
	{"- a\n- b\n", "spec.yaml:1: expected a map of keys (config or base, grid, seeds, random)"},
	{"grids: {a: [1]}\n", "spec.yaml:1: 'grids' is not a key of a sweep spec"},
	{"grid: {train.lr: 0.1}\n", "spec.yaml:1: grid.train.lr: expected a list of values"},
	{"grid:\n  train.lr: []\n", "spec.yaml:2: grid.train.lr: expected a list of values"},
	{"grid: [1, 2]\n", "grid: expected a map of KEY: [values]"},
	{"grid: {'train lr': [1]}\n", "grid: 'train lr' is not a config key path"},
	{"grid: {train..lr: [1]}\n", "grid: 'train..lr' is not a config key path"},
	{"grid: {a: [1], a: [2]}\n", "spec.yaml:1:"},
	{"grid: {seed: [1]}\nseeds: [2]\n", "spec.yaml:2: seeds: seed is in grid too"},
	{"seeds: 3\n", "seeds: expected a list of seeds"},
	{"config: a.yaml\nbase: {seed: 1}\n", "spec.yaml:2: base: give the base config either"},
	{"config: {a: 1}\n", "config: expected the path of a config file, found a map"},
	{"base: [1]\n", "base: expected a map of config keys written in place, found a list"},
	{"random: {n: 1, keys: {a: &b {choice: [1]}}}\nbase: *b\n", "base: expected a map of config keys written in place, found an alias"},
	{"random: {seed: 1, keys: {a: {uniform: [0, 1]}}}\n", "random: n, the number of draws, is missing"},
	{"random: {n: 0, keys: {a: {uniform: [0, 1]}}}\n", "random.n: expected an integer in [1, 100000], found '0'"},
	{"random: {n: 2, seed: -1, keys: {a: {uniform: [0, 1]}}}\n", "random.seed: expected an integer >= 0, found '-1'"},
	{"random: {n: 2}\n", "random.keys: expected a map of KEY"},
	{"random: {n: 2, keys: {a: {normal: [0, 1]}}}\n", "random.keys.a: expected one of {uniform: [lo, hi]}"},
	{"random: {n: 2, keys: {a: {uniform: [1, 0]}}}\n", "random.keys.a.uniform: expected [lo, hi], two numbers with lo < hi"},
	{"random: {n: 2, keys: {a: {uniform: [0, x]}}}\n", "random.keys.a.uniform: expected [lo, hi]"},
	{"random: {n: 2, keys: {a: {log_uniform: [0, 1]}}}\n", "random.keys.a.log_uniform: expected [lo, hi] with 0 < lo < hi"},
	{"random: {n: 2, keys: {a: {choice: []}}}\n", "random.keys.a.choice: expected a list of values"},
	{"random: {n: 2, bogus: 1, keys: {a: {choice: [1]}}}\n", "random: unknown key 'bogus'"},
	{"grid: {a: [1]}\nrandom:\n  n: 2\n  keys:\n    a: {choice: [1]}\n", "spec.yaml:5: random.keys.a: a is in grid too"},
	{"seeds: [1]\nrandom: {n: 2, keys: {seed: {choice: [1]}}}\n", "random.keys.seed: seed is in seeds too"},
	{"grid: {a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\n"
	 "random: {n: 1001, keys: {c: {uniform: [0, 1]}}}\n", "more than 100000 trials"},
	{"grid: {a: [1}\n", "spec.yaml:1: YAML syntax error"},
};

static void bad_specs_fail_with_their_one_message(void **state)
{
	int failed = 0;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct w2s_sweep_spec s;
		char err[4096];
		enum w2s_status st = parse_capturing(&s, bad[i].text, "spec.yaml", err, sizeof err);
		int lines = 0;
		for (const char *p = err; *p; p++)
			lines += *p == '\n';
		if (st != W2S_STATUS_CONFIG || strstr(err, bad[i].message) == NULL || lines != 1 ||
		    s.path != NULL) {
			print_error("spec:\n%sstatus %d, stderr:\n%swanted one line with: %s\n\n",
				    bad[i].text, st, err, bad[i].message);
			failed++;
		}
	}
	if (failed)
		fail_msg("%d bad specs did not fail as expected", failed);
}

static void missing_spec_is_an_io_error(void **state)
{
	struct w2s_sweep_spec s;
	fflush(stderr);
	int saved = dup(2), null = open("/dev/null", 1);
	dup2(null, 2);
	enum w2s_status st = w2s_sweep_spec_load(&s, "/nonexistent/sweep.yaml");
	dup2(saved, 2);
	close(saved);
	close(null);
	assert_int_equal(st, W2S_STATUS_IO);
}

int main(void)
{
	w2s_log_init(0, W2S_LOG_INFO);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(grid_is_the_cartesian_product_with_the_last_key_fastest),
		cmocka_unit_test(seeds_are_a_grid_over_seed_that_varies_fastest),
		cmocka_unit_test(nested_grid_maps_are_key_paths),
		cmocka_unit_test(values_reach_set_as_yaml_that_reads_back_the_same),
		cmocka_unit_test(an_empty_spec_is_one_trial_of_the_default_experiment),
		cmocka_unit_test(random_draws_stay_in_range_and_meet_every_grid_point),
		cmocka_unit_test(random_draws_repeat_for_a_seed_and_change_with_it),
		cmocka_unit_test(adding_a_random_key_leaves_the_other_keys_draws_alone),
		cmocka_unit_test(inline_base_is_kept_as_written),
		cmocka_unit_test(config_path_is_relative_to_the_spec),
		cmocka_unit_test(manifest_reads_back_what_was_written),
		cmocka_unit_test(bad_specs_fail_with_their_one_message),
		cmocka_unit_test(missing_spec_is_an_io_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

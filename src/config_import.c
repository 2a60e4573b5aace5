/*
 * config_import.c: the spec of `w2s import` (import.h): YAML in, a checked
 * struct w2s_import_spec out, and the spec back out as canonical JSON.  Part
 * of the config module, which alone calls libyaml and jansson; reading the
 * arrays the spec names is import.c's.
 *
 *   views:  {NAME: SOURCE, ...}          at least one, in the order written
 *   labels: SOURCE
 *   target: class | regression            (class)
 *   classes: K                            (the largest label + 1)
 *   splits: {weak_train: SOURCE, transfer: SOURCE, val: SOURCE, test: SOURCE[, pool: SOURCE]}
 *       or  {weak_train: 0.2, transfer: 0.4, val: 0.1, test: 0.3[, pool: F], seed: S}
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "w2s/import.h"
#include "w2s/log.h"

static bool import_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= W2S_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static int split_index(const char *name)
{
	for (int s = 0; s < W2S_NSPLITS; s++)
		if (strcmp(name, w2s_split_name((enum w2s_split)s)) == 0)
			return s;
	return -1;
}

/* A source path: relative ones are taken from dir (the spec's folder).
 * Returns false when it does not fit. */
static bool resolve(char *out, const char *dir, const char *src)
{
	int n = src[0] == '/' || dir[0] == '\0' ? snprintf(out, W2S_PATH_MAX, "%s", src)
						: snprintf(out, W2S_PATH_MAX, "%s/%s", dir, src);
	return n >= 0 && n < W2S_PATH_MAX;
}

/* A number with nothing after it (strtod alone takes "inf" and hex). */
static bool parse_number(const char *s, double *out)
{
	if (s[0] == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
		return false;
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (*end != '\0' || errno == ERANGE || !isfinite(d))
		return false;
	*out = d;
	return true;
}

static bool parse_count(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	if (s[0] == '\0' || strspn(s, "0123456789") != strlen(s))
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0' || errno == ERANGE || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* One split's value: a fraction or a source; kind is set by the first one
 * and the rest must match.  why gets the reason on failure. */
static bool set_split(struct w2s_import_spec *s, int k, const char *value, const char *dir,
		      char *why, size_t size)
{
	double f;
	bool number = parse_number(value, &f);
	enum w2s_import_split_kind kind = number ? W2S_IMPORT_SPLITS_FRACTIONS : W2S_IMPORT_SPLITS_FILES;
	if (s->splits != W2S_IMPORT_SPLITS_NONE && s->splits != kind) {
		snprintf(why, size, "give every split as a fraction, or every split as an index file, "
				    "not both");
		return false;
	}
	s->splits = kind;
	if (number) {
		if (!(f >= 0 && f <= 1)) {
			snprintf(why, size, "expected a fraction in [0, 1] or an index file, found '%s'",
				 value);
			return false;
		}
		s->fraction[k] = f;
		return true;
	}
	if (!resolve(s->split_file[k], dir, value)) {
		snprintf(why, size, "path longer than %d characters", W2S_PATH_MAX - 1);
		return false;
	}
	return true;
}

static bool add_view(struct w2s_import_spec *s, const char *name, const char *source,
		     const char *dir, char *why, size_t size)
{
	if (!import_name_ok(name)) {
		snprintf(why, size, "invalid view name '%s' (use letters, digits, '_' and '-', at "
				    "most 63 characters)", name);
		return false;
	}
	int v = 0;
	while (v < s->nviews && strcmp(s->views[v].name, name) != 0)
		v++;
	if (v == W2S_MAX_VIEWS) {
		snprintf(why, size, "at most %d views", W2S_MAX_VIEWS);
		return false;
	}
	snprintf(s->views[v].name, W2S_NAME_MAX, "%s", name);
	if (!resolve(s->views[v].source, dir, source)) {
		snprintf(why, size, "path longer than %d characters", W2S_PATH_MAX - 1);
		return false;
	}
	if (v == s->nviews)
		s->nviews++;
	return true;
}

static enum w2s_status read_text(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		w2s_log_error("cannot read import spec '%s': %s", path, strerror(errno));
		return W2S_STATUS_IO;
	}
	size_t cap = 4096, n = 0;
	char *buf = w2s_xmalloc(cap);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			char *bigger = realloc(buf, cap);
			W2S_CHECK(bigger != NULL);
			buf = bigger;
		}
	}
	fclose(f);
	*text = buf;
	*len = n;
	return W2S_STATUS_OK;
}

/* The scalar text of node n, or NULL after a message. */
static const char *scalar(struct cfg_ctx *x, const struct cfg_node *n, const char *key,
			  const char *want)
{
	char what[80];
	if (n->kind == CFG_SCALAR)
		return n->text;
	cfg_fail(x, &n->at, "%s: expected %s, found %s", key, want, cfg_node_what(n, what, sizeof what));
	return NULL;
}

static enum w2s_status check_spec(struct cfg_ctx *x, const struct cfg_node *root,
				  struct w2s_import_spec *s, const char *dir)
{
	char what[80], why[256];
	if (root == NULL || root->kind != CFG_MAP) {
		struct cfg_origin top = {.kind = CFG_SRC_FILE, .line = 1, .src = x->file};
		return cfg_fail(x, root ? &root->at : &top,
				"expected a map of keys (views, labels, target, classes, splits), "
				"found %s", root ? cfg_node_what(root, what, sizeof what) : "nothing");
	}
	for (size_t i = 0; i < root->n; i++) {
		const struct cfg_entry *e = &root->entries[i];
		const struct cfg_node *v = e->val;
		const char *t;
		if (!strcmp(e->key, "views")) {
			if (v->kind != CFG_MAP || v->n == 0)
				return cfg_fail(x, &v->at, "views: expected a map NAME: SOURCE with at "
							   "least one view, found %s",
						cfg_node_what(v, what, sizeof what));
			for (size_t j = 0; j < v->n; j++) {
				char key[128];
				snprintf(key, sizeof key, "views.%s", v->entries[j].key);
				if (!(t = scalar(x, v->entries[j].val, key, "a file (.npy, .csv or FILE.h5:/DATASET)")))
					return W2S_STATUS_CONFIG;
				if (!add_view(s, v->entries[j].key, t, dir, why, sizeof why))
					return cfg_fail(x, &v->entries[j].at, "%s: %s", key, why);
			}
		} else if (!strcmp(e->key, "labels")) {
			if (!(t = scalar(x, v, "labels", "a file (.npy, .csv or FILE.h5:/DATASET)")))
				return W2S_STATUS_CONFIG;
			if (!resolve(s->labels, dir, t))
				return cfg_fail(x, &v->at, "labels: path too long");
		} else if (!strcmp(e->key, "target")) {
			if (!(t = scalar(x, v, "target", "class or regression")))
				return W2S_STATUS_CONFIG;
			if (strcmp(t, "class") != 0 && strcmp(t, "regression") != 0)
				return cfg_fail(x, &v->at, "target: found '%s' (accepted: class, regression)", t);
			s->target = t[0] == 'c' ? W2S_TARGET_CLASS : W2S_TARGET_REGRESSION;
		} else if (!strcmp(e->key, "classes")) {
			int64_t k;
			if (!(t = scalar(x, v, "classes", "an integer in [2, 1000]")))
				return W2S_STATUS_CONFIG;
			if (!parse_count(t, 2, 1000, &k))
				return cfg_fail(x, &v->at, "classes: expected an integer in [2, 1000], found '%s'", t);
			s->classes = (int)k;
		} else if (!strcmp(e->key, "splits")) {
			if (v->kind != CFG_MAP)
				return cfg_fail(x, &v->at, "splits: expected a map of splits (weak_train, "
							   "transfer, val, test, pool; seed), found %s",
						cfg_node_what(v, what, sizeof what));
			for (size_t j = 0; j < v->n; j++) {
				const struct cfg_entry *se = &v->entries[j];
				char key[128];
				snprintf(key, sizeof key, "splits.%s", se->key);
				if (!(t = scalar(x, se->val, key, "a fraction or an index file")))
					return W2S_STATUS_CONFIG;
				if (!strcmp(se->key, "seed")) {
					int64_t seed;
					if (!parse_count(t, 0, INT64_MAX, &seed))
						return cfg_fail(x, &se->val->at, "splits.seed: expected an integer >= 0, found '%s'", t);
					s->seed = (uint64_t)seed;
					continue;
				}
				int k = split_index(se->key);
				if (k < 0)
					return cfg_fail(x, &se->at, "unknown key '%s' in splits (accepted: weak_train, "
								    "transfer, val, test, pool, seed)", se->key);
				if (!set_split(s, k, t, dir, why, sizeof why))
					return cfg_fail(x, &se->val->at, "%s: %s", key, why);
			}
		} else {
			return cfg_fail(x, &e->at, "unknown key '%s' (accepted: views, labels, target, "
						   "classes, splits)", e->key);
		}
	}
	return W2S_STATUS_OK;
}

enum w2s_status w2s_import_spec_load(struct w2s_import_spec *s, const char *path)
{
	memset(s, 0, sizeof *s);
	struct cfg_ctx x = {.file = path};
	struct cfg_origin top = {.kind = CFG_SRC_FILE, .line = 1, .src = path};
	char *text = NULL;
	size_t len = 0;
	struct cfg_node *root = NULL;
	enum w2s_status st = read_text(path, &text, &len);
	if (st == W2S_STATUS_OK)
		st = cfg_parse(&x, text, len, top, NULL, &root);
	char dir[W2S_PATH_MAX] = "";
	const char *slash = strrchr(path, '/');
	if (slash != NULL)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	if (slash == path)
		snprintf(dir, sizeof dir, "/");
	if (st == W2S_STATUS_OK)
		st = check_spec(&x, root, s, dir);
	cfg_node_free(&root);
	free(text);
	return st;
}

enum w2s_status w2s_import_spec_set(struct w2s_import_spec *s, const char *what,
				    const char *value)
{
	char why[256] = "";
	const char *eq = strchr(value, '=');
	char name[W2S_NAME_MAX + 64] = "";
	if (eq != NULL)
		snprintf(name, sizeof name, "%.*s", (int)(eq - value), value);
	if (!strcmp(what, "target")) {
		if (!strcmp(value, "class"))
			s->target = W2S_TARGET_CLASS;
		else if (!strcmp(value, "regression"))
			s->target = W2S_TARGET_REGRESSION;
		else
			snprintf(why, sizeof why, "--target '%s': expected class or regression", value);
	} else if (!strcmp(what, "classes")) {
		int64_t k;
		if (parse_count(value, 2, 1000, &k))
			s->classes = (int)k;
		else
			snprintf(why, sizeof why, "--classes '%s': expected an integer in [2, 1000]", value);
	} else if (!strcmp(what, "seed")) {
		int64_t seed;
		if (parse_count(value, 0, INT64_MAX, &seed))
			s->seed = (uint64_t)seed;
		else
			snprintf(why, sizeof why, "--seed '%s': expected an integer >= 0", value);
	} else if (!strcmp(what, "labels")) {
		if (!resolve(s->labels, "", value))
			snprintf(why, sizeof why, "--labels: path too long");
	} else if (!strcmp(what, "view") || !strcmp(what, "split")) {
		char reason[200];
		if (eq == NULL || eq == value || eq[1] == '\0')
			snprintf(why, sizeof why, "--%s '%s': expected NAME=%s", what, value,
				 what[0] == 'v' ? "SOURCE" : "SOURCE or NAME=FRACTION");
		else if (what[0] == 'v' && !add_view(s, name, eq + 1, "", reason, sizeof reason))
			snprintf(why, sizeof why, "--view '%s': %s", value, reason);
		else if (what[0] == 's' && split_index(name) < 0)
			snprintf(why, sizeof why, "--split '%s': unknown split '%s' (splits: weak_train, "
						  "transfer, val, test, pool)", value, name);
		else if (what[0] == 's' &&
			 !set_split(s, split_index(name), eq + 1, "", reason, sizeof reason))
			snprintf(why, sizeof why, "--split '%s': %s", value, reason);
	} else {
		W2S_CHECK(!"unknown import setting");
	}
	if (why[0] == '\0')
		return W2S_STATUS_OK;
	w2s_log_error("%s", why);
	return W2S_STATUS_USAGE;
}

char *w2s_import_spec_json(const struct w2s_import_spec *s)
{
	json_t *j = json_object(), *views = json_object(), *splits = json_object();
	for (int v = 0; v < s->nviews; v++)
		json_object_set_new(views, s->views[v].name, json_string(s->views[v].source));
	json_object_set_new(j, "views", views);
	json_object_set_new(j, "labels", json_string(s->labels));
	json_object_set_new(j, "target",
			    json_string(s->target == W2S_TARGET_REGRESSION ? "regression" : "class"));
	json_object_set_new(j, "classes", json_integer(s->classes));
	for (int k = 0; k < W2S_NSPLITS; k++) {
		const char *name = w2s_split_name((enum w2s_split)k);
		if (s->splits == W2S_IMPORT_SPLITS_FRACTIONS)
			json_object_set_new(splits, name, json_real(s->fraction[k]));
		else if (s->split_file[k][0] != '\0')
			json_object_set_new(splits, name, json_string(s->split_file[k]));
	}
	if (s->splits == W2S_IMPORT_SPLITS_FRACTIONS)
		json_object_set_new(splits, "seed", json_integer((json_int_t)s->seed));
	json_object_set_new(j, "splits", splits);
	char *text = cfg_json_dump(j);
	json_decref(j);
	return text;
}

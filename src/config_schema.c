/*
 * config_schema.c: every key a config accepts, as tables, and the check of
 * a config tree against them into a struct w2s_config.
 *
 * A table row gives a key's type, bounds, default (as the YAML text a user
 * would write, read by the same code as the user's text, so the documented
 * default is the default) and meaning.  The rows of maps whose keys are
 * names the user picks (views, models) and of the few keys that depend on
 * others (z, u, hidden, w2s.strong) are checked by their own functions
 * below; the tables still list them, for the check of unknown keys and for
 * the reference.
 *
 * The check stops at the first error: a failure prints one message.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "w2s/import.h"


/* ---- reading values */

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= W2S_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

#define NAME_RULE "letters, digits, '_' and '-', at most 63 characters"

/* Only what a decimal number is made of: strtod alone would also take
 * "inf", "nan" and hex. */
static bool numeric_chars(const char *s)
{
	if (s[0] == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s) && strchr("+-.eE", *s) == NULL)
			return false;
	return true;
}

/* A decimal integer.  Exponent forms (1e6, 2.5e5) are taken too when they
 * are whole numbers below 2^53, since row counts are often written so. */
static bool read_int(const char *s, int64_t *out)
{
	if (!numeric_chars(s))
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end == '\0') {
		if (errno == ERANGE)
			return false;
		*out = v;
		return true;
	}
	if (strpbrk(s, "eE") == NULL)
		return false;
	errno = 0;
	double d = strtod(s, &end);
	if (*end != '\0' || errno == ERANGE || !isfinite(d) || d != floor(d) ||
	    fabs(d) > 9007199254740992.0)
		return false;
	*out = (int64_t)d;
	return true;
}

/* A whole number that read_int refused for its size alone. */
static bool too_large(const char *s)
{
	int64_t v;
	size_t digits = strspn(s + (s[0] == '-' || s[0] == '+'), "0123456789");
	return digits > 0 && digits == strlen(s) - (s[0] == '-' || s[0] == '+') && !read_int(s, &v);
}

static bool read_real(const char *s, double *out)
{
	if (!numeric_chars(s))
		return false;
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (*end != '\0' || errno == ERANGE || !isfinite(d))
		return false;
	/* -0 and 0 are one value: the canonical JSON must not tell them apart. */
	*out = d == 0 ? 0.0 : d;
	return true;
}

static bool real_in_range(const struct cfg_key *k, double d)
{
	if (k->rlo_open ? !(d > k->rlo) : !(d >= k->rlo))
		return false;
	return k->rhi_open ? d < k->rhi : d <= k->rhi;
}

static void join_names(const char *const *names, const char *sep, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; names[i] != NULL && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? sep : "", names[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static void join_keys(const struct cfg_section *sec, char *buf, size_t len)
{
	const char *names[32];
	int n = sec->nkeys < 31 ? sec->nkeys : 31;
	for (int i = 0; i < n; i++)
		names[i] = sec->keys[i].name;
	names[n] = NULL;
	join_names(names, ", ", buf, len);
}

void cfg_key_describe(const struct cfg_key *k, bool article, char *buf, size_t len)
{
	switch (k->type) {
	case CFG_T_INT:
	case CFG_T_INT64:
	case CFG_T_SEED:
		if (k->ihi == INT64_MAX)
			snprintf(buf, len, "%sinteger >= %lld", article ? "an " : "", (long long)k->ilo);
		else
			snprintf(buf, len, "%sinteger in [%lld, %lld]", article ? "an " : "",
				 (long long)k->ilo, (long long)k->ihi);
		break;
	case CFG_T_REAL:
		if (isinf(k->rhi))
			snprintf(buf, len, "%snumber %s %g", article ? "a " : "",
				 k->rlo_open ? ">" : ">=", k->rlo);
		else
			snprintf(buf, len, "%snumber in %c%g, %g%c", article ? "a " : "",
				 k->rlo_open ? '(' : '[', k->rlo, k->rhi, k->rhi_open ? ')' : ']');
		break;
	case CFG_T_ENUM:
		join_names(k->names, " | ", buf, len);
		break;
	case CFG_T_NAME:
		if (article)
			snprintf(buf, len, "a name (%s)", NAME_RULE);
		else
			snprintf(buf, len, "name");
		break;
	case CFG_T_PATH:
		snprintf(buf, len, "%sfile path", article ? "a " : "");
		break;
	default:
		snprintf(buf, len, "%s", k->type_doc ? k->type_doc : "");
		break;
	}
}

/* Reads the value v of the scalar key k into base + k->off. */
static enum w2s_status read_key(struct cfg_ctx *x, const struct cfg_key *k, const struct cfg_node *v,
				const char *path, char *base)
{
	char what[80], want[160];
	char *p = base + k->off;
	const char *s = v->kind == CFG_SCALAR ? v->text : NULL;
	int64_t i;
	double d;

	switch (k->type) {
	case CFG_T_INT:
		if (s != NULL && read_int(s, &i) && i >= k->ilo && i <= k->ihi) {
			int iv = (int)i;
			memcpy(p, &iv, sizeof iv);
			return W2S_STATUS_OK;
		}
		break;
	case CFG_T_INT64:
		if (s != NULL && read_int(s, &i) && i >= k->ilo && i <= k->ihi) {
			memcpy(p, &i, sizeof i);
			return W2S_STATUS_OK;
		}
		break;
	case CFG_T_SEED:
		if (s != NULL && read_int(s, &i) && i >= k->ilo && i <= k->ihi) {
			uint64_t u = (uint64_t)i;
			memcpy(p, &u, sizeof u);
			return W2S_STATUS_OK;
		}
		break;
	case CFG_T_REAL:
		if (s != NULL && read_real(s, &d) && real_in_range(k, d)) {
			memcpy(p, &d, sizeof d);
			return W2S_STATUS_OK;
		}
		break;
	case CFG_T_ENUM:
		for (int e = 0; s != NULL && k->names[e] != NULL; e++) {
			if (strcmp(s, k->names[e]) == 0) {
				memcpy(p, &e, sizeof e);
				return W2S_STATUS_OK;
			}
		}
		join_names(k->names, ", ", want, sizeof want);
		return cfg_fail(x, &v->at, "%s: found %s (accepted: %s)", path,
				cfg_node_what(v, what, sizeof what), want);
	case CFG_T_NAME:
		if (s != NULL && valid_name(s)) {
			snprintf(p, W2S_NAME_MAX, "%s", s);
			return W2S_STATUS_OK;
		}
		break;
	case CFG_T_PATH:
		if (s != NULL && strlen(s) < W2S_PATH_MAX) {
			snprintf(p, W2S_PATH_MAX, "%s", s);
			return W2S_STATUS_OK;
		}
		break;
	default:
		W2S_CHECK(!"read_key on a key with its own checks");
	}
	cfg_key_describe(k, true, want, sizeof want);
	return cfg_fail(x, &v->at, "%s: expected %s, found %s%s", path, want,
			cfg_node_what(v, what, sizeof what),
			s != NULL && too_large(s) ? " (out of range)" : "");
}

static void child_path(char *buf, size_t len, const char *path, const char *key)
{
	if (path[0] == '\0')
		snprintf(buf, len, "%s", key);
	else
		snprintf(buf, len, "%s.%s", path, key);
}

/* Checks map (NULL when absent: all defaults) against sec: no unknown key,
 * every scalar key read into base.  Absent keys get their default when
 * defaults is true and are left alone otherwise (a model's train
 * overrides).  The bit of every key given goes into *given. */
static enum w2s_status check_section(struct cfg_ctx *x, const struct cfg_section *sec,
				     const struct cfg_node *map, const char *path, char *base,
				     bool defaults, uint32_t *given)
{
	char list[512], what[80];
	if (map != NULL && map->kind == CFG_MAP) {
		for (size_t j = 0; j < map->n; j++) {
			const struct cfg_entry *e = &map->entries[j];
			bool known = false;
			for (int i = 0; i < sec->nkeys && !known; i++)
				known = strcmp(sec->keys[i].name, e->key) == 0;
			if (!known) {
				join_keys(sec, list, sizeof list);
				return cfg_fail(x, &e->at, "unknown key '%s'%s%s (accepted: %s)", e->key,
						path[0] ? " in " : "", path, list);
			}
		}
	} else if (map != NULL && map->kind != CFG_NULL) {
		join_keys(sec, list, sizeof list);
		return cfg_fail(x, &map->at, "%s: expected a map of keys (%s), found %s", path, list,
				cfg_node_what(map, what, sizeof what));
	}

	for (int i = 0; i < sec->nkeys; i++) {
		const struct cfg_key *k = &sec->keys[i];
		const struct cfg_entry *e = cfg_map_find(map, k->name);
		enum w2s_status st = W2S_STATUS_OK;
		char sub[256];
		child_path(sub, sizeof sub, path, k->name);
		if (k->type == CFG_T_SECTION) {
			st = check_section(x, k->sub, e ? e->val : NULL, sub, base + k->off, defaults, NULL);
		} else if (k->type >= CFG_T_VIEWS) {
			continue; /* checked by its own function */
		} else if (e != NULL) {
			st = read_key(x, k, e->val, sub, base);
			if (given != NULL)
				*given |= UINT32_C(1) << i;
		} else if (defaults && k->def != NULL) {
			struct cfg_node def = {.kind = CFG_SCALAR, .text = (char *)k->def,
					       .at = {.kind = CFG_SRC_DEFAULT}};
			W2S_CHECK(read_key(x, k, &def, sub, base) == W2S_STATUS_OK);
		}
		if (st != W2S_STATUS_OK)
			return st;
	}
	return W2S_STATUS_OK;
}

/* The node at path, or the built-in default text's tree (put in *owned,
 * which the caller frees). */
static const struct cfg_node *given_or_default(struct cfg_ctx *x, const struct cfg_node *root,
					       const char *path, const char *def,
					       struct cfg_node **owned, const struct cfg_origin **at)
{
	const struct cfg_entry *e = cfg_find_path(root, path);
	if (e != NULL) {
		*at = &e->at;
		return e->val;
	}
	*owned = cfg_default_tree(x, def);
	*at = &(*owned)->at;
	return *owned;
}

/* A map of named things (views, models): a map, not empty, not too long. */
static enum w2s_status check_named_map(struct cfg_ctx *x, const struct cfg_node *map,
				       const struct cfg_origin *at, const char *path, const char *what,
				       const char *shape, int max)
{
	char buf[80];
	if (map->kind != CFG_MAP)
		return cfg_fail(x, map->kind == CFG_NULL ? at : &map->at,
				"%s: expected a map of %ss (NAME: %s), found %s", path, what, shape,
				cfg_node_what(map, buf, sizeof buf));
	if (map->n == 0)
		return cfg_fail(x, &map->at, "%s: expected at least one %s, found an empty map", path,
				what);
	if (map->n > (size_t)max)
		return cfg_fail(x, &map->entries[max].at, "%s: at most %d %ss, found %zu", path, max,
				what, map->n);
	for (size_t i = 0; i < map->n; i++) {
		const struct cfg_entry *e = &map->entries[i];
		if (!valid_name(e->key))
			return cfg_fail(x, &e->at, "%s: invalid %s name '%s' (use " NAME_RULE ")", path,
					what, e->key);
		if (e->val->kind != CFG_MAP && e->val->kind != CFG_NULL) {
			char sub[256];
			child_path(sub, sizeof sub, path, e->key);
			return cfg_fail(x, &e->val->at, "%s: expected a map of keys %s, found %s", sub,
					shape, cfg_node_what(e->val, buf, sizeof buf));
		}
	}
	return W2S_STATUS_OK;
}

/* z or u of a view: "all" (= max) or an integer in [0, max]; 0 when absent. */
static enum w2s_status read_count(struct cfg_ctx *x, const struct cfg_entry *e, const char *path,
				  int64_t max, const char *max_key, int64_t *out)
{
	char what[80];
	int64_t v;
	*out = 0;
	if (e == NULL)
		return W2S_STATUS_OK;
	const struct cfg_node *n = e->val;
	if (n->kind == CFG_SCALAR && strcmp(n->text, "all") == 0) {
		*out = max;
		return W2S_STATUS_OK;
	}
	if (n->kind == CFG_SCALAR && read_int(n->text, &v) && v >= 0 && v <= max) {
		*out = v;
		return W2S_STATUS_OK;
	}
	return cfg_fail(x, &n->at, "%s: expected all or an integer in [0, %lld] (%s), found %s", path,
			(long long)max, max_key, cfg_node_what(n, what, sizeof what));
}

static enum w2s_status check_views(struct cfg_ctx *x, const struct cfg_node *root,
				   struct w2s_config *c)
{
	const char *path = "data.latent.views";
	struct cfg_node *owned = NULL;
	const struct cfg_origin *at;
	const struct cfg_node *map = given_or_default(x, root, path, cfg_default_views, &owned, &at);
	int64_t signal = c->data.latent.signal, nuisance = c->data.latent.nuisance;

	enum w2s_status st = check_named_map(x, map, at, path, "view", "{z, u, noise}",
					     W2S_MAX_VIEWS);
	for (size_t i = 0; st == W2S_STATUS_OK && i < map->n; i++) {
		const struct cfg_entry *e = &map->entries[i];
		struct w2s_view_spec *v = &c->data.latent.views[i];
		char sub[256], zpath[300], upath[300];
		snprintf(v->name, sizeof v->name, "%s", e->key);
		child_path(sub, sizeof sub, path, e->key);
		snprintf(zpath, sizeof zpath, "%s.z", sub);
		snprintf(upath, sizeof upath, "%s.u", sub);

		st = check_section(x, &cfg_view_section, e->val, sub, (char *)v, true, NULL);
		if (st != W2S_STATUS_OK)
			break;
		const struct cfg_entry *ze = cfg_map_find(e->val, "z");
		const struct cfg_entry *ue = cfg_map_find(e->val, "u");
		st = read_count(x, ze, zpath, signal, "data.latent.signal", &v->z);
		if (st == W2S_STATUS_OK)
			st = read_count(x, ue, upath, nuisance, "data.latent.nuisance", &v->u);
		if (st != W2S_STATUS_OK)
			break;

		if (v->noise > 0) {
			/* z[:z] + noise * u[:z]: u has no say of its own. */
			if (ue != NULL && v->u != v->z) {
				char what[80];
				st = cfg_fail(x, &ue->val->at,
					      "%s: with noise > 0 the view is z[:z] + noise * u[:z], so u must "
					      "be left out or equal z (%lld), found %s",
					      upath, (long long)v->z, cfg_node_what(ue->val, what, sizeof what));
			} else if (v->z > nuisance) {
				st = cfg_fail(x, ze ? &ze->val->at : &e->at,
					      "%s: with noise > 0 the view mixes in u[:z], so z (%lld) must be "
					      "at most data.latent.nuisance (%lld)",
					      zpath, (long long)v->z, (long long)nuisance);
			} else if (v->z == 0) {
				st = cfg_fail(x, &e->at, "%s: the view has no columns (z = 0)", sub);
			}
			v->u = v->z;
		} else if (v->z + v->u == 0) {
			st = cfg_fail(x, &e->at, "%s: the view has no columns (z + u = 0)", sub);
		}
		c->data.latent.nviews = (int)i + 1;
	}
	cfg_node_free(&owned);
	return st;
}

/* "x, weak, strong": the views of the task, for messages. */
static void list_views(const struct w2s_config *c, char *buf, size_t len)
{
	const char *names[W2S_MAX_VIEWS + 1];
	int n = 0;
	if (c->data.task == W2S_TASK_TEACHER)
		names[n++] = "x";
	else if (c->data.task == W2S_TASK_IMPORT)
		for (; n < c->data.import.info.nviews; n++)
			names[n] = c->data.import.info.views[n].name;
	else
		for (; n < c->data.latent.nviews; n++)
			names[n] = c->data.latent.views[n].name;
	names[n] = NULL;
	join_names(names, ", ", buf, len);
}

static void list_models(const struct w2s_config *c, char *buf, size_t len)
{
	const char *names[W2S_MAX_MODELS + 1];
	int n = 0;
	for (; n < c->nmodels; n++)
		names[n] = c->models[n].name;
	names[n] = NULL;
	join_names(names, ", ", buf, len);
}

static enum w2s_status check_hidden(struct cfg_ctx *x, const struct cfg_entry *e, const char *path,
				    struct w2s_model_spec *m)
{
	char what[80];
	m->nhidden = 0;
	if (e == NULL || e->val->kind == CFG_NULL)
		return W2S_STATUS_OK;
	const struct cfg_node *list = e->val;
	if (list->kind != CFG_SEQ)
		return cfg_fail(x, &list->at, "%s: expected a list of integers in [1, %lld], found %s",
				path, (long long)CFG_MAX_WIDTH, cfg_node_what(list, what, sizeof what));
	if (list->n > W2S_MAX_HIDDEN)
		return cfg_fail(x, &list->at, "%s: at most %d hidden layers, found %zu", path,
				W2S_MAX_HIDDEN, list->n);
	for (size_t i = 0; i < list->n; i++) {
		const struct cfg_node *w = list->items[i];
		int64_t v;
		if (w->kind != CFG_SCALAR || !read_int(w->text, &v) || v < 1 || v > CFG_MAX_WIDTH)
			return cfg_fail(x, &w->at,
					"%s: expected a list of integers in [1, %lld], found %s", path,
					(long long)CFG_MAX_WIDTH, cfg_node_what(w, what, sizeof what));
		m->hidden[i] = v;
	}
	m->nhidden = (int)list->n;
	return W2S_STATUS_OK;
}

static enum w2s_status check_model(struct cfg_ctx *x, const struct cfg_entry *e, const char *path,
				   struct w2s_config *c, struct w2s_model_spec *m, uint32_t *given)
{
	char list[1024], sub[300];
	snprintf(m->name, sizeof m->name, "%s", e->key);
	m->train = c->train;
	enum w2s_status st = check_section(x, &cfg_model_section, e->val, path, (char *)m, true, NULL);
	if (st != W2S_STATUS_OK)
		return st;

	const struct cfg_entry *ve = cfg_map_find(e->val, "view");
	if (ve == NULL) {
		list_views(c, list, sizeof list);
		return cfg_fail(x, &e->at, "%s: missing key 'view' (the view the model reads: %s)", path,
				list);
	}
	if (w2s_config_view_index(c, m->view) < 0) {
		list_views(c, list, sizeof list);
		snprintf(sub, sizeof sub, "%s.view", path);
		return cfg_fail(x, &ve->val->at, "%s: unknown view '%s' (views: %s)%s", sub, m->view, list,
				ve->val->at.kind == CFG_SRC_DEFAULT
					? "; the config gives no 'models', so the default models apply"
					: "");
	}

	snprintf(sub, sizeof sub, "%s.hidden", path);
	st = check_hidden(x, cfg_map_find(e->val, "hidden"), sub, m);
	if (st != W2S_STATUS_OK)
		return st;

	const struct cfg_entry *te = cfg_map_find(e->val, "train");
	if (te != NULL) {
		snprintf(sub, sizeof sub, "%s.train", path);
		st = check_section(x, &cfg_train_section, te->val, sub, (char *)&m->train, false, given);
	}
	m->train.probe = m->probe;
	return st;
}

static enum w2s_status check_models(struct cfg_ctx *x, const struct cfg_node *root,
				    struct w2s_config *c, uint32_t *models_given)
{
	struct cfg_node *owned = NULL;
	const struct cfg_origin *at;
	const struct cfg_node *map = given_or_default(x, root, "models",
						      cfg_default_models(c->data.task), &owned, &at);
	enum w2s_status st = check_named_map(x, map, at, "models", "model",
					     "{view, hidden, activation, train}", W2S_MAX_MODELS);
	for (size_t i = 0; st == W2S_STATUS_OK && i < map->n; i++) {
		char path[256];
		child_path(path, sizeof path, "models", map->entries[i].key);
		st = check_model(x, &map->entries[i], path, c, &c->models[i], &models_given[i]);
		c->nmodels = (int)i + 1;
	}
	cfg_node_free(&owned);
	return st;
}

static enum w2s_status check_w2s(struct cfg_ctx *x, const struct cfg_node *root,
				 struct w2s_config *c)
{
	char list[1024], what[80];
	enum w2s_status st = W2S_STATUS_OK;

	if (w2s_config_model_index(c, c->w2s.weak) < 0) {
		const struct cfg_entry *e = cfg_find_path(root, "w2s.weak");
		struct cfg_origin def = {.kind = CFG_SRC_DEFAULT};
		list_models(c, list, sizeof list);
		return cfg_fail(x, e ? &e->val->at : &def, "w2s.weak: '%s' is not a model (models: %s)",
				c->w2s.weak, list);
	}

	struct cfg_node *owned = NULL;
	const struct cfg_origin *at;
	const struct cfg_node *strong = given_or_default(x, root, "w2s.strong",
							 cfg_default_strong(c->data.task), &owned, &at);
	const struct cfg_node *const *items = &strong;
	size_t n = 1;
	if (strong->kind == CFG_SEQ) {
		items = (const struct cfg_node *const *)strong->items;
		n = strong->n;
	} else if (strong->kind != CFG_SCALAR) {
		st = cfg_fail(x, strong->kind == CFG_NULL ? at : &strong->at,
			      "w2s.strong: expected a model name or a list of them, found %s",
			      cfg_node_what(strong, what, sizeof what));
		goto cleanup;
	}
	if (n == 0) {
		st = cfg_fail(x, &strong->at, "w2s.strong: expected at least one model, found an empty list");
		goto cleanup;
	}
	list_models(c, list, sizeof list);
	for (size_t i = 0; i < n; i++) {
		const struct cfg_node *s = items[i];
		if (s->kind != CFG_SCALAR || w2s_config_model_index(c, s->text) < 0) {
			st = cfg_fail(x, &s->at, "w2s.strong: %s is not a model (models: %s)",
				      cfg_node_what(s, what, sizeof what), list);
			goto cleanup;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(c->w2s.strong[j], s->text) == 0) {
				st = cfg_fail(x, &s->at, "w2s.strong: '%s' is listed twice", s->text);
				goto cleanup;
			}
		}
		/* n <= nmodels here, since the names are distinct models. */
		snprintf(c->w2s.strong[i], W2S_NAME_MAX, "%s", s->text);
		c->w2s.nstrong = (int)i + 1;
	}
cleanup:
	cfg_node_free(&owned);
	return st;
}

/* A list of model names at `path` into out; absent or [] is empty. */
static enum w2s_status check_name_list(struct cfg_ctx *x, const struct cfg_node *root,
				       const char *path, const struct w2s_config *c,
				       struct w2s_name_list *out)
{
	char list[1024], what[80];
	out->n = 0;
	const struct cfg_entry *e = cfg_find_path(root, path);
	if (e == NULL || e->val->kind == CFG_NULL)
		return W2S_STATUS_OK;
	const struct cfg_node *l = e->val;
	if (l->kind != CFG_SEQ)
		return cfg_fail(x, &l->at, "%s: expected a list of model names, found %s", path,
				cfg_node_what(l, what, sizeof what));
	list_models(c, list, sizeof list);
	for (size_t i = 0; i < l->n; i++) {
		const struct cfg_node *s = l->items[i];
		if (s->kind != CFG_SCALAR || w2s_config_model_index(c, s->text) < 0)
			return cfg_fail(x, &s->at, "%s: %s is not a model (models: %s)", path,
					cfg_node_what(s, what, sizeof what), list);
		for (size_t j = 0; j < i; j++)
			if (strcmp(out->name[j], s->text) == 0)
				return cfg_fail(x, &s->at, "%s: '%s' is listed twice", path, s->text);
		snprintf(out->name[i], W2S_NAME_MAX, "%s", s->text);
		out->n = (int)i + 1;
	}
	return W2S_STATUS_OK;
}

static enum w2s_status check_seeds(struct cfg_ctx *x, const struct cfg_node *root,
				   struct w2s_config *c)
{
	char what[80];
	c->nseeds = 0;
	const struct cfg_entry *e = cfg_find_path(root, "seeds");
	if (e == NULL || e->val->kind == CFG_NULL)
		return W2S_STATUS_OK;
	const struct cfg_node *l = e->val;
	if (l->kind != CFG_SEQ)
		return cfg_fail(x, &l->at, "seeds: expected a list of integers in [0, 2^63), found %s",
				cfg_node_what(l, what, sizeof what));
	if (l->n > W2S_MAX_SEEDS)
		return cfg_fail(x, &l->at, "seeds: at most %d seeds, found %zu", W2S_MAX_SEEDS, l->n);
	for (size_t i = 0; i < l->n; i++) {
		int64_t v;
		const struct cfg_node *s = l->items[i];
		if (s->kind != CFG_SCALAR || !read_int(s->text, &v) || v < 0)
			return cfg_fail(x, &s->at, "seeds: expected a list of integers in [0, 2^63), found %s",
					cfg_node_what(s, what, sizeof what));
		for (size_t j = 0; j < i; j++)
			if (c->seeds[j] == (uint64_t)v)
				return cfg_fail(x, &s->at, "seeds: %lld is listed twice", (long long)v);
		c->seeds[i] = (uint64_t)v;
		c->nseeds = (int)i + 1;
	}
	return W2S_STATUS_OK;
}

static enum w2s_status check_synth(struct cfg_ctx *x, const struct cfg_node *root,
				   struct w2s_config *c)
{
	char what[80];
	enum w2s_status st = check_name_list(x, root, "synth.models", c, &c->synth.models);
	if (st != W2S_STATUS_OK)
		return st;
	const struct cfg_entry *e = cfg_find_path(root, "synth.train");
	if (e == NULL || e->val->kind == CFG_NULL) {
		c->synth.train.n = 3;
		for (int i = 0; i < 3; i++)
			c->synth.train.kind[i] = (enum w2s_synth_train)i;
	} else {
		const struct cfg_node *l = e->val;
		if (l->kind != CFG_SEQ || l->n == 0 || l->n > 3)
			return cfg_fail(x, &l->at, "synth.train: expected a list of synthetic, real, mix, found %s",
					cfg_node_what(l, what, sizeof what));
		c->synth.train.n = 0;
		for (size_t i = 0; i < l->n; i++) {
			const struct cfg_node *s = l->items[i];
			int k = -1;
			for (int j = 0; s->kind == CFG_SCALAR && cfg_synth_train_names[j]; j++)
				if (strcmp(s->text, cfg_synth_train_names[j]) == 0)
					k = j;
			if (k < 0)
				return cfg_fail(x, &s->at, "synth.train: found %s (accepted: synthetic, real, mix)",
						cfg_node_what(s, what, sizeof what));
			for (int j = 0; j < c->synth.train.n; j++)
				if ((int)c->synth.train.kind[j] == k)
					return cfg_fail(x, &s->at, "synth.train: '%s' is listed twice", s->text);
			c->synth.train.kind[c->synth.train.n++] = (enum w2s_synth_train)k;
		}
	}
	/* Relabelling by the weak model needs the synthetic rows in its view. */
	const char *weak_view = c->models[w2s_config_model_index(c, c->w2s.weak)].view;
	for (int i = 0; c->synth.label == W2S_SYNTH_LABEL_WEAK && i < c->synth.models.n; i++) {
		const char *v = c->models[w2s_config_model_index(c, c->synth.models.name[i])].view;
		if (strcmp(v, weak_view) != 0)
			return cfg_fail(x, &cfg_find_path(root, "synth.label")->val->at,
					"synth.label: weak relabels rows of view '%s' only; synth model '%s' reads '%s'",
					weak_view, c->synth.models.name[i], v);
	}
	return W2S_STATUS_OK;
}

static enum w2s_status check_select(struct cfg_ctx *x, const struct cfg_node *root,
				    struct w2s_config *c)
{
	char what[80];
	enum w2s_status st = check_name_list(x, root, "select.models", c, &c->select.models);
	if (st != W2S_STATUS_OK)
		return st;
	const struct cfg_entry *e = cfg_find_path(root, "select.bands");
	if (e == NULL || e->val->kind == CFG_NULL) {
		c->select.bands.n = 4;
		for (int i = 0; i < 4; i++)
			c->select.bands.band[i] = i;
	} else {
		const struct cfg_node *l = e->val;
		if (l->kind != CFG_SEQ || l->n == 0 || l->n > 4)
			return cfg_fail(x, &l->at, "select.bands: expected a list of low, middle, high, random, found %s",
					cfg_node_what(l, what, sizeof what));
		c->select.bands.n = 0;
		for (size_t i = 0; i < l->n; i++) {
			const struct cfg_node *s = l->items[i];
			int k = -1;
			for (int j = 0; s->kind == CFG_SCALAR && cfg_band_names[j]; j++)
				if (strcmp(s->text, cfg_band_names[j]) == 0)
					k = j;
			if (k < 0)
				return cfg_fail(x, &s->at, "select.bands: found %s (accepted: low, middle, high, random)",
						cfg_node_what(s, what, sizeof what));
			for (int j = 0; j < c->select.bands.n; j++)
				if (c->select.bands.band[j] == k)
					return cfg_fail(x, &s->at, "select.bands: '%s' is listed twice", s->text);
			c->select.bands.band[c->select.bands.n++] = k;
		}
	}
	if (c->select.models.n > 0 && c->data.rows[W2S_SPLIT_POOL] < 1) {
		const struct cfg_entry *m = cfg_find_path(root, "select.models");
		return cfg_fail(x, &m->val->at,
				"select.models: selection needs a pool: set data.rows.pool to the number of candidate rows");
	}
	return W2S_STATUS_OK;
}

/* The methods built on class probabilities have no meaning for a real
 * target; the cascade, on by default, is simply skipped. */
static enum w2s_status check_regression(struct cfg_ctx *x, const struct cfg_node *root,
					struct w2s_config *c)
{
	static const char *const paths[5] = {"w2s.loss", "w2s.filter.method", "kd.models",
					     "synth.models", "select.models"};
	const int bad[5] = {
		c->w2s.loss != W2S_LOSS_XENT, c->w2s.filter.method != W2S_FILTER_NONE,
		c->kd.models.n > 0, c->synth.models.n > 0, c->select.models.n > 0,
	};
	for (int i = 0; i < 5; i++) {
		if (!bad[i])
			continue;
		const struct cfg_entry *e = cfg_find_path(root, paths[i]);
		struct cfg_origin def = {.kind = CFG_SRC_DEFAULT};
		return cfg_fail(x, e ? &e->val->at : &def,
				"%s: not available with %s (students "
				"learn the weak model's predictions by squared error)",
				paths[i], c->data.task == W2S_TASK_IMPORT
						  ? "an imported real-valued target"
						  : "data.latent.target: regression");
	}
	c->cascade.enabled = 0;
	return W2S_STATUS_OK;
}

static enum w2s_status check_cascade(struct cfg_ctx *x, const struct cfg_node *root,
				     struct w2s_config *c)
{
	char list[1024];
	if (c->cascade.large[0] == '\0') {
		/* The strong model a cascade would most want to spare: the one
		 * with the most parameters (the first, on a tie). */
		int64_t best = -1;
		for (int s = 0; s < c->w2s.nstrong; s++) {
			const struct w2s_model_spec *m =
				&c->models[w2s_config_model_index(c, c->w2s.strong[s])];
			int64_t prev = w2s_config_view_width(c, m->view), size = 0;
			for (int l = 0; l < m->nhidden; l++) {
				size += (prev + 1) * m->hidden[l];
				prev = m->hidden[l];
			}
			size += (prev + 1) * w2s_config_classes(c);
			if (size > best) {
				best = size;
				snprintf(c->cascade.large, W2S_NAME_MAX, "%s", c->w2s.strong[s]);
			}
		}
		return W2S_STATUS_OK;
	}
	for (int s = 0; s < c->w2s.nstrong; s++)
		if (strcmp(c->cascade.large, c->w2s.strong[s]) == 0)
			return W2S_STATUS_OK;
	snprintf(list, sizeof list, "%s", c->w2s.strong[0]);
	for (int s = 1; s < c->w2s.nstrong; s++) {
		size_t len = strlen(list);
		snprintf(list + len, sizeof list - len, ", %s", c->w2s.strong[s]);
	}
	return cfg_fail(x, &cfg_find_path(root, "cascade.large")->val->at,
			"cascade.large: '%s' is not in w2s.strong (%s)", c->cascade.large, list);
}

/* The generated data holds every view of every row as float32: its size
 * must be a number, and one a cluster can hold. */
static enum w2s_status check_size(struct cfg_ctx *x, const struct cfg_node *root,
				  const struct w2s_config *c)
{
	const struct cfg_entry *e = cfg_find_path(root, "data.rows");
	if (e == NULL)
		e = cfg_find_path(root, "data");
	struct cfg_origin def = {.kind = CFG_SRC_DEFAULT};
	const struct cfg_origin *at = e ? &e->at : &def;

	int64_t rows = 0;
	for (int s = 0; s < W2S_NSPLITS; s++) {
		if (c->data.rows[s] > INT64_MAX - rows)
			return cfg_fail(x, at, "data too large: the rows of all splits add up past 2^63");
		rows += c->data.rows[s];
	}
	/* The random teacher's weights are made in memory: width^2 per layer. */
	if (c->data.task == W2S_TASK_TEACHER) {
		int64_t w = c->data.teacher.width, dim = c->data.teacher.dim;
		int64_t big = w > dim ? w : dim;
		/* 64 GiB: more than a node of ours holds, far below overflow */
		if (big * big > (INT64_C(1) << 36) / 4 / (c->data.teacher.depth + 1))
			return cfg_fail(x, at, "data.teacher: a teacher of width %lld and input %lld "
					"has more weights than memory holds (width^2 * layers * 4 bytes "
					"must stay below 64 GiB)",
					(long long)w, (long long)dim);
	}
	int64_t cols = 0; /* at most 16 views of 2 * 2^24 columns: no overflow */
	if (c->data.task == W2S_TASK_IMPORT)
		return W2S_STATUS_OK; /* the data exist already */
	if (c->data.task == W2S_TASK_TEACHER)
		cols = c->data.teacher.dim;
	else
		for (int v = 0; v < c->data.latent.nviews; v++)
			cols += w2s_config_view_width(c, c->data.latent.views[v].name);
	if (rows > CFG_MAX_DATA_BYTES / 4 / cols)
		return cfg_fail(x, at,
				"data too large: %lld rows x %lld columns (all views) x 4 bytes is more "
				"than 2^46 bytes (64 TiB)",
				(long long)rows, (long long)cols);
	return W2S_STATUS_OK;
}

/* Task import: the views, classes, target and rows are what the data file
 * holds.  A row count the config gives must be the file's (a config written
 * for other data should not run silently on these); absent ones are taken
 * from the file, so the JSON records what ran. */
static enum w2s_status check_import(struct cfg_ctx *x, const struct cfg_node *root,
				    struct w2s_config *c)
{
	const struct cfg_entry *e = cfg_find_path(root, "data.import.path");
	const struct cfg_entry *task = cfg_find_path(root, "data.task");
	struct cfg_origin def = {.kind = CFG_SRC_DEFAULT};
	if (c->data.import.path[0] == '\0')
		return cfg_fail(x, task ? &task->val->at : &def,
				"data.import.path: task import needs the data file that `w2s import` "
				"wrote (data: {task: import, import: {path: DIR/data.h5}})");
	char why[512];
	if (w2s_import_describe(c->data.import.path, &c->data.import.info, why, sizeof why) !=
	    W2S_STATUS_OK)
		return cfg_fail(x, e ? &e->val->at : &def, "data.import.path: %s", why);
	for (int s = 0; s < W2S_NSPLITS; s++) {
		char path[64];
		snprintf(path, sizeof path, "data.rows.%s", w2s_split_name((enum w2s_split)s));
		const struct cfg_entry *r = cfg_find_path(root, path);
		const int64_t have = c->data.import.info.rows[s];
		if (r != NULL && c->data.rows[s] != have)
			return cfg_fail(x, &r->val->at,
					"%s: %lld, but '%s' holds %lld %s rows (leave data.rows out "
					"with task import: the rows come from the file)",
					path, (long long)c->data.rows[s], c->data.import.path,
					(long long)have, w2s_split_name((enum w2s_split)s));
		if (s != W2S_SPLIT_POOL && have < 1)
			return cfg_fail(x, e ? &e->val->at : &def,
					"data.import.path: '%s' has no %s rows (every split but pool "
					"needs at least one)",
					c->data.import.path, w2s_split_name((enum w2s_split)s));
		c->data.rows[s] = have;
	}
	return W2S_STATUS_OK;
}

enum w2s_status cfg_check(struct cfg_ctx *x, const struct cfg_node *root, struct w2s_config *c,
			  uint32_t *models_given)
{
	enum w2s_status st = check_section(x, &cfg_top_section, root, "", (char *)c, true, NULL);
	if (st == W2S_STATUS_OK && c->data.task == W2S_TASK_IMPORT)
		st = check_import(x, root, c);
	if (st == W2S_STATUS_OK)
		st = check_views(x, root, c);
	if (st == W2S_STATUS_OK)
		st = check_models(x, root, c, models_given);
	if (st == W2S_STATUS_OK)
		st = check_w2s(x, root, c);
	if (st == W2S_STATUS_OK)
		st = check_name_list(x, root, "w2s.chain", c, &c->w2s.chain);
	for (int k = 0; st == W2S_STATUS_OK && k < c->w2s.chain.n; k++) {
		const char *name = c->w2s.chain.name[k];
		int clash = strcmp(name, c->w2s.weak) == 0;
		for (int s = 0; s < c->w2s.nstrong; s++)
			clash |= strcmp(name, c->w2s.strong[s]) == 0;
		if (clash)
			st = cfg_fail(x, &cfg_find_path(root, "w2s.chain")->val->at,
				      "w2s.chain: '%s' is also w2s.weak or in w2s.strong; a chain link "
				      "must be a model of its own",
				      name);
	}
	if (st == W2S_STATUS_OK)
		st = check_name_list(x, root, "kd.models", c, &c->kd.models);
	if (st == W2S_STATUS_OK)
		st = check_seeds(x, root, c);
	if (st == W2S_STATUS_OK)
		st = check_synth(x, root, c);
	if (st == W2S_STATUS_OK)
		st = check_cascade(x, root, c);
	if (st == W2S_STATUS_OK)
		st = check_select(x, root, c);
	if (st == W2S_STATUS_OK && w2s_config_regression(c))
		st = check_regression(x, root, c);
	if (st == W2S_STATUS_OK)
		st = check_size(x, root, c);
	return st;
}

/*
 * config_sweep.c: a sweep spec's YAML into a checked struct, and the sweep
 * folder's JSON manifest out and back in; see config_sweep.h.
 *
 * The spec is read by the config module's own parser (config.c), so it
 * gets the same syntax messages, duplicate-key checks and aliases as a
 * config.  What the spec's keys and values mean for an experiment is not
 * checked here: the expansion loads every trial through w2s_config_load
 * with the values as --set overrides, which gives the messages of `w2s run`.
 *
 * An inline `base:` is taken as the text written in the spec rather than
 * rebuilt from the tree, so the base config file the expansion writes keeps
 * the user's comments, order and spelling.
 */
#include "w2s/config_sweep.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "config_internal.h"
#include "w2s/log.h"

#define SPEC_MAX_FILE (4L << 20)

/* ---- a growing string */

struct sbuf {
	char *s;
	size_t n, cap;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *grown = w2s_xmalloc(cap);
		if (b->n > 0)
			memcpy(grown, b->s, b->n);
		free(b->s);
		b->s = grown;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

/* The string built so far (never NULL); b is left empty. */
static char *sb_take(struct sbuf *b)
{
	char *s = b->s ? b->s : w2s_xstrdup("");
	memset(b, 0, sizeof *b);
	return s;
}

/* ---- values */

bool w2s_sweep_number(const char *text, double *v)
{
	if (text == NULL || text[0] == '\0')
		return false;
	bool digit = false;
	for (const char *p = text; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digit = true;
		else if (strchr("+-.eE", *p) == NULL)
			return false;
	}
	if (!digit)
		return false;
	char *end = NULL;
	errno = 0;
	double x = strtod(text, &end);
	if (*end != '\0' || errno == ERANGE || !isfinite(x))
		return false;
	*v = x;
	return true;
}

static bool is_null_word(const char *s)
{
	return s[0] == '\0' || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* Whether a scalar can go unquoted into flow YAML and read back the same:
 * names, numbers and paths can; anything with YAML punctuation cannot. */
static bool plain_ok(const char *s)
{
	if (is_null_word(s))
		return false;
	if (s[0] == '-' && !(s[1] >= '0' && s[1] <= '9') && s[1] != '.')
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && strchr("_.+-/", c) == NULL)
			return false;
	}
	return true;
}

static void emit_scalar(struct sbuf *b, const char *s)
{
	if (plain_ok(s)) {
		sb_puts(b, s);
		return;
	}
	sb_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			sb_putn(b, esc, 2);
		} else if (*p == '\n') {
			sb_puts(b, "\\n");
		} else if (*p == '\t') {
			sb_puts(b, "\\t");
		} else if (*p < 0x20) {
			snprintf(esc, sizeof esc, "\\x%02x", *p);
			sb_puts(b, esc);
		} else {
			sb_putn(b, (const char *)p, 1);
		}
	}
	sb_puts(b, "\"");
}

/* A node as one line of flow YAML: what --set KEY=VALUE reads back to it. */
static void emit_flow(struct sbuf *b, const struct cfg_node *n)
{
	switch (n->kind) {
	case CFG_NULL:
		sb_puts(b, "null");
		break;
	case CFG_SCALAR:
		emit_scalar(b, n->text);
		break;
	case CFG_SEQ:
		sb_puts(b, "[");
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				sb_puts(b, ", ");
			emit_flow(b, n->items[i]);
		}
		sb_puts(b, "]");
		break;
	case CFG_MAP:
		sb_puts(b, "{");
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				sb_puts(b, ", ");
			emit_scalar(b, n->entries[i].key);
			sb_puts(b, ": ");
			emit_flow(b, n->entries[i].val);
		}
		sb_puts(b, "}");
		break;
	}
}

static void value_of(const struct cfg_node *n, struct w2s_sweep_value *v)
{
	struct sbuf b = {0};
	emit_flow(&b, n);
	v->text = sb_take(&b);
	v->numeric = n->kind == CFG_SCALAR && w2s_sweep_number(n->text, &v->number);
}

static void axis_free(struct w2s_sweep_axis *a)
{
	for (int i = 0; i < a->nvalues; i++)
		free(a->values[i].text);
	free(a->values);
	free(a->key);
	memset(a, 0, sizeof *a);
}

void w2s_sweep_spec_free(struct w2s_sweep_spec *s)
{
	for (int i = 0; i < s->ngrid; i++)
		axis_free(&s->grid[i]);
	for (int i = 0; i < s->nrandom; i++)
		axis_free(&s->random[i]);
	free(s->grid);
	free(s->random);
	free(s->path);
	free(s->config);
	free(s->base_yaml);
	memset(s, 0, sizeof *s);
}

void w2s_sweep_free(struct w2s_sweep *w)
{
	for (int64_t i = 0; i < w->ntrials * w->nkeys; i++)
		free(w->values[i].text);
	for (int k = 0; k < w->nkeys; k++)
		free(w->keys[k]);
	free(w->values);
	free(w->keys);
	memset(w, 0, sizeof *w);
}

/* ---- the spec */

struct spec_parser {
	struct cfg_ctx x;
	struct w2s_sweep_spec *s;
};

/* A key path as --set takes it: names of letters, digits, '_' and '-'
 * joined by single dots. */
static bool key_path_ok(const char *k)
{
	if (k[0] == '\0' || k[0] == '.' || strlen(k) > 200)
		return false;
	for (const char *p = k; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '-' || (c == '.' && p[1] != '.' && p[1] != '\0');
		if (!ok)
			return false;
	}
	return true;
}

static struct w2s_sweep_axis *add_axis(struct w2s_sweep_axis **axes, int *n, const char *key,
				       int line)
{
	struct w2s_sweep_axis *grown = w2s_xcalloc((size_t)*n + 1, sizeof *grown);
	if (*n > 0)
		memcpy(grown, *axes, (size_t)*n * sizeof *grown);
	free(*axes);
	*axes = grown;
	struct w2s_sweep_axis *a = &grown[(*n)++];
	a->key = w2s_xstrdup(key);
	a->line = line;
	return a;
}

static void axis_values(struct w2s_sweep_axis *a, const struct cfg_node *seq)
{
	a->nvalues = (int)seq->n;
	a->values = w2s_xcalloc(seq->n, sizeof *a->values);
	for (size_t i = 0; i < seq->n; i++)
		value_of(seq->items[i], &a->values[i]);
}

/* grid: KEY: [values], where KEY may also be written as nested maps
 * (train: {lr: [...]}), since a list is the only thing a grid key holds. */
static enum w2s_status parse_grid(struct spec_parser *p, const struct cfg_node *map,
				  const char *path)
{
	char what[80];
	if (map->kind != CFG_MAP)
		return cfg_fail(&p->x, &map->at,
				"%s: expected a map of KEY: [values] (e.g. train.lr: [0.001, 0.003]), "
				"found %s",
				path, cfg_node_what(map, what, sizeof what));
	for (size_t i = 0; i < map->n; i++) {
		const struct cfg_entry *e = &map->entries[i];
		char key[512];
		const char *prefix = strchr(path, '.');
		if (prefix)
			snprintf(key, sizeof key, "%s.%s", prefix + 1, e->key);
		else
			snprintf(key, sizeof key, "%s", e->key);
		char full[560];
		snprintf(full, sizeof full, "%s.%s", path, e->key);
		if (!key_path_ok(key))
			return cfg_fail(&p->x, &e->at,
					"grid: '%s' is not a config key path (names joined by dots, "
					"as in train.lr)",
					key);
		if (e->val->kind == CFG_MAP) {
			enum w2s_status st = parse_grid(p, e->val, full);
			if (st != W2S_STATUS_OK)
				return st;
			continue;
		}
		if (e->val->kind != CFG_SEQ || e->val->n == 0)
			return cfg_fail(&p->x, &e->val->at,
					"%s: expected a list of values (e.g. [0.001, 0.003]), found %s",
					full, cfg_node_what(e->val, what, sizeof what));
		axis_values(add_axis(&p->s->grid, &p->s->ngrid, key, e->at.line), e->val);
	}
	return W2S_STATUS_OK;
}

static bool integer_of(const struct cfg_node *n, int64_t lo, int64_t hi, int64_t *v)
{
	if (n->kind != CFG_SCALAR || n->text[0] == '\0')
		return false;
	for (const char *c = n->text; *c; c++)
		if (*c < '0' || *c > '9')
			return false;
	errno = 0;
	unsigned long long x = strtoull(n->text, NULL, 10);
	if (errno == ERANGE || x > (unsigned long long)hi || (int64_t)x < lo)
		return false;
	*v = (int64_t)x;
	return true;
}

static enum w2s_status parse_draw(struct spec_parser *p, const struct cfg_entry *e)
{
	static const char *const kinds[] = {"uniform", "log_uniform", "choice"};
	char what[80], full[300];
	snprintf(full, sizeof full, "random.keys.%s", e->key);
	if (!key_path_ok(e->key))
		return cfg_fail(&p->x, &e->at,
				"random.keys: '%s' is not a config key path (names joined by dots, "
				"as in train.lr)",
				e->key);
	const struct cfg_node *m = e->val;
	int kind = -1;
	if (m->kind == CFG_MAP && m->n == 1)
		for (int k = 0; k < 3; k++)
			if (!strcmp(m->entries[0].key, kinds[k]))
				kind = k;
	if (kind < 0)
		return cfg_fail(&p->x, &m->at,
				"%s: expected one of {uniform: [lo, hi]}, {log_uniform: [lo, hi]} "
				"or {choice: [values]}, found %s",
				full, cfg_node_what(m, what, sizeof what));
	const struct cfg_node *v = m->entries[0].val;
	struct w2s_sweep_axis *a = add_axis(&p->s->random, &p->s->nrandom, e->key, e->at.line);
	a->draw = (enum w2s_sweep_draw)kind;
	if (kind == W2S_SWEEP_CHOICE) {
		if (v->kind != CFG_SEQ || v->n == 0)
			return cfg_fail(&p->x, &v->at, "%s.choice: expected a list of values, found %s",
					full, cfg_node_what(v, what, sizeof what));
		axis_values(a, v);
		return W2S_STATUS_OK;
	}
	bool ok = v->kind == CFG_SEQ && v->n == 2 && v->items[0]->kind == CFG_SCALAR &&
		  v->items[1]->kind == CFG_SCALAR && w2s_sweep_number(v->items[0]->text, &a->lo) &&
		  w2s_sweep_number(v->items[1]->text, &a->hi) && a->lo < a->hi;
	if (ok && kind == W2S_SWEEP_LOG_UNIFORM && !(a->lo > 0))
		return cfg_fail(&p->x, &v->at, "%s.log_uniform: expected [lo, hi] with 0 < lo < hi, "
				"found a lower bound of %s", full, v->items[0]->text);
	if (!ok)
		return cfg_fail(&p->x, &v->at, "%s.%s: expected [lo, hi], two numbers with lo < hi",
				full, kinds[kind]);
	return W2S_STATUS_OK;
}

static enum w2s_status parse_random(struct spec_parser *p, const struct cfg_node *map)
{
	char what[80];
	if (map->kind != CFG_MAP)
		return cfg_fail(&p->x, &map->at, "random: expected a map {n, seed, keys}, found %s",
				cfg_node_what(map, what, sizeof what));
	const struct cfg_entry *keys = NULL;
	bool have_n = false;
	for (size_t i = 0; i < map->n; i++) {
		const struct cfg_entry *e = &map->entries[i];
		if (!strcmp(e->key, "n")) {
			if (!integer_of(e->val, 1, W2S_SWEEP_MAX_TRIALS, &p->s->draws))
				return cfg_fail(&p->x, &e->val->at,
						"random.n: expected an integer in [1, %d], found %s",
						W2S_SWEEP_MAX_TRIALS,
						cfg_node_what(e->val, what, sizeof what));
			have_n = true;
		} else if (!strcmp(e->key, "seed")) {
			int64_t seed = 0;
			if (!integer_of(e->val, 0, INT64_MAX, &seed))
				return cfg_fail(&p->x, &e->val->at,
						"random.seed: expected an integer >= 0, found %s",
						cfg_node_what(e->val, what, sizeof what));
			p->s->random_seed = (uint64_t)seed;
		} else if (!strcmp(e->key, "keys")) {
			keys = e;
		} else {
			return cfg_fail(&p->x, &e->at,
					"random: unknown key '%s'; expected n, seed or keys", e->key);
		}
	}
	if (!have_n)
		return cfg_fail(&p->x, &map->at, "random: n, the number of draws, is missing");
	if (keys == NULL || keys->val->kind != CFG_MAP || keys->val->n == 0)
		return cfg_fail(&p->x, keys ? &keys->val->at : &map->at,
				"random.keys: expected a map of KEY: {uniform | log_uniform | choice: "
				"...}, found %s",
				keys ? cfg_node_what(keys->val, what, sizeof what) : "nothing");
	for (size_t i = 0; i < keys->val->n; i++) {
		enum w2s_status st = parse_draw(p, &keys->val->entries[i]);
		if (st != W2S_STATUS_OK)
			return st;
	}
	return W2S_STATUS_OK;
}

/* The text of the top-level `base:` value as the spec writes it, shifted
 * left by its column so that it reads as a config file of its own.  Runs
 * after cfg_parse accepted the text, so libyaml does not fail here. */
static char *base_text(const char *text, size_t len, bool *alias)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	W2S_CHECK(yaml_parser_initialize(&yp));
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	int depth = 0;         /* collections open around the next event */
	bool key_turn = true;  /* in the top map: the next node is a key */
	bool is_base = false;  /* the last top key read was "base" */
	bool found = false, done = false;
	size_t begin = 0, end = 0, col = 0, key_line = 0, key_end = 0;
	*alias = false;
	while (!done && yaml_parser_parse(&yp, &ev)) {
		yaml_event_type_t t = ev.type;
		bool open = t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT;
		bool close = t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT;
		if (depth == 1 && (open || t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT)) {
			/* A node right inside the top map: keys and values take turns,
			 * and a nested value counts as one node. */
			if (!key_turn && is_base) {
				found = true;
				begin = ev.start_mark.index;
				col = ev.start_mark.column;
				/* A block map below the key: start on the line after
				 * the key, so the comments above its first line come too. */
				if (ev.start_mark.line > key_line) {
					const char *nl = memchr(text + key_end, '\n', begin - key_end);
					if (nl)
						begin = (size_t)(nl - text) + 1;
				}
				*alias = t == YAML_ALIAS_EVENT;
				if (!open) {
					end = ev.end_mark.index;
					done = true;
				}
			}
			if (key_turn) {
				is_base = t == YAML_SCALAR_EVENT &&
					  !strcmp((const char *)ev.data.scalar.value, "base");
				key_line = ev.end_mark.line;
				key_end = ev.end_mark.index;
			}
			key_turn = !key_turn;
		}
		if (open)
			depth++;
		if (close && --depth == 1 && found && !done) {
			end = ev.end_mark.index;
			done = true;
		}
		if (t == YAML_STREAM_END_EVENT)
			done = true;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	if (!found || end <= begin || end > len)
		return NULL;

	struct sbuf b = {0};
	const char *p = text + begin, *stop = text + end;
	for (size_t i = 0; i < col && p < stop && *p == ' '; i++)
		p++;
	while (p < stop) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		const char *eol = nl ? nl + 1 : stop;
		sb_putn(&b, p, (size_t)(eol - p));
		p = eol;
		for (size_t i = 0; i < col && p < stop && *p == ' '; i++)
			p++;
	}
	/* A block map's end is where the next key starts: drop the blank tail. */
	while (b.n > 0 && (b.s[b.n - 1] == '\n' || b.s[b.n - 1] == ' '))
		b.s[--b.n] = '\0';
	sb_puts(&b, "\n");
	return sb_take(&b);
}

static char *join_dir(const char *spec, const char *rel)
{
	const char *slash = strrchr(spec, '/');
	if (rel[0] == '/' || slash == NULL)
		return w2s_xstrdup(rel);
	size_t n = (size_t)(slash - spec) + 1 + strlen(rel) + 1;
	char *s = w2s_xmalloc(n);
	snprintf(s, n, "%.*s/%s", (int)(slash - spec), spec, rel);
	return s;
}

enum w2s_status w2s_sweep_spec_parse(struct w2s_sweep_spec *s, const char *text, size_t len,
				     const char *name)
{
	memset(s, 0, sizeof *s);
	struct spec_parser p = {.x = {.file = name}, .s = s};
	struct cfg_origin top = {.kind = CFG_SRC_FILE, .line = 1, .src = name};
	struct cfg_node *root = NULL;
	const struct cfg_entry *config = NULL, *base = NULL, *seeds = NULL;
	char what[80];
	s->path = w2s_xstrdup(name);

	enum w2s_status st = cfg_parse(&p.x, text, len, top, NULL, &root);
	if (st != W2S_STATUS_OK || root == NULL || root->kind == CFG_NULL)
		goto cleanup; /* an empty spec: one trial of the default experiment */
	if (root->kind != CFG_MAP) {
		st = cfg_fail(&p.x, &root->at,
			      "expected a map of keys (config or base, grid, seeds, random) at the "
			      "top, found %s",
			      cfg_node_what(root, what, sizeof what));
		goto cleanup;
	}
	for (size_t i = 0; i < root->n && st == W2S_STATUS_OK; i++) {
		const struct cfg_entry *e = &root->entries[i];
		if (!strcmp(e->key, "config"))
			config = e;
		else if (!strcmp(e->key, "base"))
			base = e;
		else if (!strcmp(e->key, "grid"))
			st = e->val->kind == CFG_NULL ? W2S_STATUS_OK : parse_grid(&p, e->val, "grid");
		else if (!strcmp(e->key, "seeds"))
			seeds = e;
		else if (!strcmp(e->key, "random"))
			st = parse_random(&p, e->val);
		else
			st = cfg_fail(&p.x, &e->at,
				      "'%s' is not a key of a sweep spec; expected config, base, grid, "
				      "seeds or random",
				      e->key);
	}
	if (st != W2S_STATUS_OK)
		goto cleanup;

	if (config && base) {
		st = cfg_fail(&p.x, &base->at,
			      "base: give the base config either as a file (config:) or inline "
			      "(base:), not both");
		goto cleanup;
	}
	if (config) {
		if (config->val->kind != CFG_SCALAR) {
			st = cfg_fail(&p.x, &config->val->at,
				      "config: expected the path of a config file, found %s",
				      cfg_node_what(config->val, what, sizeof what));
			goto cleanup;
		}
		s->config = join_dir(name, config->val->text);
	}
	if (base && base->val->kind != CFG_NULL) {
		bool alias = false;
		if (base->val->kind == CFG_MAP)
			s->base_yaml = base_text(text, len, &alias);
		if (base->val->kind != CFG_MAP || alias || s->base_yaml == NULL) {
			st = cfg_fail(&p.x, &base->val->at,
				      "base: expected a map of config keys written in place, found %s",
				      alias ? "an alias" : cfg_node_what(base->val, what, sizeof what));
			goto cleanup;
		}
	}
	if (seeds) {
		for (int i = 0; i < s->ngrid; i++) {
			if (!strcmp(s->grid[i].key, "seed")) {
				st = cfg_fail(&p.x, &seeds->at,
					      "seeds: seed is in grid too; give its values once");
				goto cleanup;
			}
		}
		if (seeds->val->kind != CFG_SEQ || seeds->val->n == 0) {
			st = cfg_fail(&p.x, &seeds->val->at,
				      "seeds: expected a list of seeds (e.g. [1, 2, 3]), found %s",
				      cfg_node_what(seeds->val, what, sizeof what));
			goto cleanup;
		}
		axis_values(add_axis(&s->grid, &s->ngrid, "seed", seeds->at.line), seeds->val);
	}
	for (int i = 0; i < s->nrandom; i++) {
		for (int j = 0; j < s->ngrid; j++) {
			if (strcmp(s->random[i].key, s->grid[j].key) != 0)
				continue;
			struct cfg_origin at = {.kind = CFG_SRC_FILE, .line = s->random[i].line,
						.src = name};
			st = cfg_fail(&p.x, &at, "random.keys.%s: %s is in %s too; sweep a key one way",
				      s->random[i].key, s->random[i].key,
				      strcmp(s->grid[j].key, "seed") || !seeds ? "grid" : "seeds");
			goto cleanup;
		}
	}
	if (s->ngrid + s->nrandom > W2S_SWEEP_MAX_KEYS) {
		st = cfg_fail(&p.x, &root->at, "%d swept keys; a sweep takes at most %d",
			      s->ngrid + s->nrandom, W2S_SWEEP_MAX_KEYS);
		goto cleanup;
	}
	int64_t n = s->draws > 0 ? s->draws : 1;
	for (int i = 0; i < s->ngrid; i++) {
		n *= s->grid[i].nvalues; /* both factors <= W2S_SWEEP_MAX_TRIALS: no overflow */
		if (n > W2S_SWEEP_MAX_TRIALS) {
			st = cfg_fail(&p.x, &root->at,
				      "more than %d trials: that many runs is a typo, or wants "
				      "several sweeps",
				      W2S_SWEEP_MAX_TRIALS);
			goto cleanup;
		}
	}

cleanup:
	cfg_node_free(&root);
	if (st != W2S_STATUS_OK)
		w2s_sweep_spec_free(s);
	return st;
}

enum w2s_status w2s_sweep_spec_load(struct w2s_sweep_spec *s, const char *path)
{
	memset(s, 0, sizeof *s);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		w2s_log_error("cannot read sweep spec '%s': %s", path, strerror(errno));
		return W2S_STATUS_IO;
	}
	struct sbuf b = {0};
	char chunk[65536];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.n <= (size_t)SPEC_MAX_FILE)
		sb_putn(&b, chunk, got);
	bool bad = ferror(f) != 0;
	fclose(f);
	if (bad || b.n > (size_t)SPEC_MAX_FILE) {
		w2s_log_error("cannot read sweep spec '%s': %s", path,
			      bad ? strerror(errno) : "larger than 4 MiB");
		free(b.s);
		return W2S_STATUS_IO;
	}
	char *text = sb_take(&b);
	enum w2s_status st = w2s_sweep_spec_parse(s, text, strlen(text), path);
	free(text);
	return st;
}

/* ---- the manifest */

static int shortest_digits(double v)
{
	for (int p = 1; p < 17; p++) {
		char buf[48];
		snprintf(buf, sizeof buf, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return p;
	}
	return 17;
}

static bool integral(double v)
{
	return v == floor(v) && fabs(v) < 9007199254740992.0; /* 2^53 */
}

enum w2s_status w2s_sweep_manifest_write(const struct w2s_sweep *w, const char *path,
					 const char *spec, const char *base)
{
	json_t *root = json_object(), *keys = json_array(), *trials = json_array();
	int digits = 1;
	json_object_set_new(root, "spec", json_string(spec));
	json_object_set_new(root, "base", base ? json_string(base) : json_null());
	for (int k = 0; k < w->nkeys; k++)
		json_array_append_new(keys, json_string(w->keys[k]));
	json_object_set_new(root, "keys", keys);
	json_object_set_new(root, "ntrials", json_integer(w->ntrials));
	for (int64_t t = 0; t < w->ntrials; t++) {
		json_t *trial = json_object(), *values = json_object(), *sets = json_array();
		json_object_set_new(trial, "trial", json_integer(t));
		for (int k = 0; k < w->nkeys; k++) {
			const struct w2s_sweep_value *v = &w->values[t * w->nkeys + k];
			json_t *j;
			if (v->numeric && integral(v->number)) {
				j = json_integer((json_int_t)v->number);
			} else if (v->numeric) {
				j = json_real(v->number);
				int d = shortest_digits(v->number);
				digits = d > digits ? d : digits;
			} else {
				j = json_string(v->text);
			}
			json_object_set_new(values, w->keys[k], j);
			size_t n = strlen(w->keys[k]) + strlen(v->text) + 2;
			char *set = w2s_xmalloc(n);
			snprintf(set, n, "%s=%s", w->keys[k], v->text);
			json_array_append_new(sets, json_string(set));
			free(set);
		}
		json_object_set_new(trial, "values", values);
		json_object_set_new(trial, "sets", sets);
		json_array_append_new(trials, trial);
	}
	json_object_set_new(root, "trials", trials);

	/* One precision for all reals (jansson has no other): the largest any
	 * value needs keeps each exact and the common ones short. */
	char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER |
					      JSON_REAL_PRECISION(digits));
	json_decref(root);
	if (text == NULL) {
		w2s_log_error_local("cannot write '%s': %s", path, strerror(ENOMEM));
		return W2S_STATUS_IO;
	}
	size_t len = strlen(text);
	char *line = w2s_xmalloc(len + 2);
	memcpy(line, text, len);
	memcpy(line + len, "\n", 2);
	free(text);
	enum w2s_status st = w2s_write_file_atomic(path, line, 0);
	free(line);
	return st;
}

enum w2s_status w2s_sweep_manifest_read(struct w2s_sweep *w, const char *path)
{
	memset(w, 0, sizeof *w);
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err);
	if (root == NULL) {
		if (err.line > 0)
			w2s_log_error("cannot read sweep manifest '%s': line %d: %s", path, err.line,
				      err.text);
		else
			w2s_log_error("cannot read sweep manifest '%s': %s (is it a folder "
				      "made by `w2s sweep expand`?)",
				      path, err.text);
		return W2S_STATUS_IO;
	}
	const char *why = NULL;
	json_t *keys = json_object_get(root, "keys"), *trials = json_object_get(root, "trials");
	if (!json_is_array(keys) || !json_is_array(trials) ||
	    json_array_size(keys) > W2S_SWEEP_MAX_KEYS ||
	    json_array_size(trials) > W2S_SWEEP_MAX_TRIALS) {
		why = "no 'keys' and 'trials' lists of a sweep";
		goto cleanup;
	}
	w->nkeys = (int)json_array_size(keys);
	w->keys = w2s_xcalloc((size_t)w->nkeys + 1, sizeof *w->keys);
	for (int k = 0; k < w->nkeys; k++) {
		const char *key = json_string_value(json_array_get(keys, (size_t)k));
		w->keys[k] = w2s_xstrdup(key ? key : "");
		if (key == NULL)
			why = "a key that is not a string";
	}
	w->ntrials = (int64_t)json_array_size(trials);
	w->values = w2s_xcalloc((size_t)(w->ntrials * w->nkeys) + 1, sizeof *w->values);
	for (int64_t t = 0; t < w->ntrials && why == NULL; t++) {
		json_t *trial = json_array_get(trials, (size_t)t);
		json_t *values = json_object_get(trial, "values");
		json_t *id = json_object_get(trial, "trial");
		if (!json_is_integer(id) || json_integer_value(id) != t || !json_is_object(values)) {
			why = "trials out of order or without values";
			break;
		}
		for (int k = 0; k < w->nkeys; k++) {
			struct w2s_sweep_value *v = &w->values[t * w->nkeys + k];
			json_t *j = json_object_get(values, w->keys[k]);
			char buf[48];
			if (json_is_number(j)) {
				v->numeric = true;
				v->number = json_number_value(j);
				snprintf(buf, sizeof buf, "%.*g", shortest_digits(v->number), v->number);
				v->text = w2s_xstrdup(buf);
			} else if (json_is_string(j)) {
				v->text = w2s_xstrdup(json_string_value(j));
			} else {
				v->text = w2s_xstrdup("");
				why = "a trial without a value for every key";
			}
		}
	}
cleanup:
	json_decref(root);
	if (why != NULL) {
		w2s_log_error("sweep manifest '%s' holds %s", path, why);
		w2s_sweep_free(w);
		return W2S_STATUS_IO;
	}
	return W2S_STATUS_OK;
}

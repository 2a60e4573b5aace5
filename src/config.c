/*
 * config.c: reading a config: the file's YAML into a tree, the --set
 * overrides applied to that tree, then the checks of config_schema.c and
 * the output of config_emit.c.  Also the small lookups of config.h.
 *
 * libyaml is used at the level of parser events rather than its document
 * loader: the loader keeps no check for duplicate keys and its nodes cannot
 * be edited by the overrides.  Aliases (*name) are expanded into copies;
 * merge keys (<<) are not YAML 1.2 and are refused as unknown keys.
 *
 * Nothing here depends on the rank: every rank reads the same file and
 * reaches the same result, and rank 0 alone prints the one message.
 */
#include "w2s/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_internal.h"
#include "w2s/log.h"

#define CFG_MAX_DEPTH 32          /* no config nests deeper than 6 */
#define CFG_MAX_NODES 1000000     /* bounds what aliases can expand to */
#define CFG_MAX_FILE (16L << 20)  /* a config past 16 MiB is a mistake */

enum w2s_status cfg_fail(struct cfg_ctx *x, const struct cfg_origin *at, const char *fmt, ...)
{
	if (x->failed)
		return W2S_STATUS_CONFIG;
	x->failed = true;

	char place[512] = "";
	if (at != NULL) {
		switch (at->kind) {
		case CFG_SRC_FILE:
			if (at->line > 0)
				snprintf(place, sizeof place, "%s:%d: ", at->src, at->line);
			else
				snprintf(place, sizeof place, "%s: ", at->src);
			break;
		case CFG_SRC_SET:
			snprintf(place, sizeof place, "--set %s: ", at->src);
			break;
		case CFG_SRC_DEFAULT:
			if (x->file != NULL)
				snprintf(place, sizeof place, "%s: built-in default: ", x->file);
			else
				snprintf(place, sizeof place, "built-in default: ");
			break;
		}
	}
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	w2s_log_error("%s%s", place, msg);
	return W2S_STATUS_CONFIG;
}

/* ---- the tree */

struct cfg_node *cfg_node_new(enum cfg_kind kind, struct cfg_origin at)
{
	struct cfg_node *n = w2s_xcalloc(1, sizeof *n);
	n->kind = kind;
	n->at = at;
	return n;
}

void cfg_node_free(struct cfg_node **np)
{
	struct cfg_node *n = *np;
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->kind == CFG_SEQ) {
			cfg_node_free(&n->items[i]);
		} else if (n->kind == CFG_MAP) {
			free(n->entries[i].key);
			cfg_node_free(&n->entries[i].val);
		}
	}
	free(n->items);
	free(n->entries);
	free(n->text);
	free(n);
	*np = NULL;
}

static void grow(struct cfg_node *n)
{
	if (n->n < n->cap)
		return;
	n->cap = n->cap ? 2 * n->cap : 8;
	if (n->kind == CFG_SEQ) {
		struct cfg_node **items = w2s_xmalloc(n->cap * sizeof *items);
		if (n->n > 0)
			memcpy(items, n->items, n->n * sizeof *items);
		free(n->items);
		n->items = items;
	} else {
		struct cfg_entry *entries = w2s_xmalloc(n->cap * sizeof *entries);
		if (n->n > 0)
			memcpy(entries, n->entries, n->n * sizeof *entries);
		free(n->entries);
		n->entries = entries;
	}
}

static void seq_push(struct cfg_node *seq, struct cfg_node *item)
{
	grow(seq);
	seq->items[seq->n++] = item;
}

/* Appends key: val to map, or replaces the value of an existing key in its
 * place (so overriding a view does not move it).  Takes val. */
static void map_put(struct cfg_node *map, const char *key, struct cfg_origin at,
		    struct cfg_node *val)
{
	struct cfg_entry *e = cfg_map_find(map, key);
	if (e != NULL) {
		cfg_node_free(&e->val);
		e->val = val;
		e->at = at;
		return;
	}
	grow(map);
	e = &map->entries[map->n++];
	e->key = w2s_xstrdup(key);
	e->at = at;
	e->val = val;
}

struct cfg_entry *cfg_map_find(const struct cfg_node *map, const char *key)
{
	if (map == NULL || map->kind != CFG_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->entries[i].key, key) == 0)
			return &map->entries[i];
	return NULL;
}

struct cfg_entry *cfg_find_path(const struct cfg_node *root, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", path);
	struct cfg_entry *e = NULL;
	const struct cfg_node *map = root;
	char *save = NULL;
	for (char *part = strtok_r(buf, ".", &save); part != NULL;
	     part = strtok_r(NULL, ".", &save)) {
		e = cfg_map_find(map, part);
		if (e == NULL)
			return NULL;
		map = e->val;
	}
	return e;
}

static size_t node_count(const struct cfg_node *n)
{
	size_t count = 1;
	for (size_t i = 0; i < n->n; i++)
		count += node_count(n->kind == CFG_SEQ ? n->items[i] : n->entries[i].val);
	return count;
}

static struct cfg_node *node_copy(const struct cfg_node *n)
{
	struct cfg_node *c = cfg_node_new(n->kind, n->at);
	if (n->text != NULL)
		c->text = w2s_xstrdup(n->text);
	for (size_t i = 0; i < n->n; i++) {
		if (n->kind == CFG_SEQ)
			seq_push(c, node_copy(n->items[i]));
		else
			map_put(c, n->entries[i].key, n->entries[i].at, node_copy(n->entries[i].val));
	}
	return c;
}

const char *cfg_node_what(const struct cfg_node *n, char *buf, size_t len)
{
	switch (n != NULL ? n->kind : CFG_NULL) {
	case CFG_NULL:
		return "nothing";
	case CFG_SEQ:
		return n->n == 0 ? "an empty list" : "a list";
	case CFG_MAP:
		return n->n == 0 ? "an empty map" : "a map";
	case CFG_SCALAR:
		break;
	}
	/* Long values are cut: the message must stay one readable line. */
	if (strlen(n->text) > 60)
		snprintf(buf, len, "'%.57s...'", n->text);
	else
		snprintf(buf, len, "'%s'", n->text);
	return buf;
}

/* ---- YAML text to tree */

struct anchor {
	char *name;
	const struct cfg_node *node; /* borrowed: a node of the tree being built */
};

struct parser {
	struct cfg_ctx *x;
	yaml_parser_t yp;
	struct cfg_origin base;
	const char *text;
	size_t len;
	struct anchor *anchors;
	size_t nanchors, capanchors;
};

static struct cfg_origin origin_at(const struct parser *p, yaml_mark_t mark)
{
	struct cfg_origin o = p->base;
	if (o.kind == CFG_SRC_FILE)
		o.line = (int)mark.line + 1;
	return o;
}

static enum w2s_status syntax_error(struct parser *p)
{
	const yaml_parser_t *y = &p->yp;
	struct cfg_origin o = p->base;
	if (o.kind == CFG_SRC_FILE) {
		if (y->error == YAML_READER_ERROR) {
			/* Reader errors carry a byte offset, not a mark. */
			o.line = 1;
			for (size_t i = 0; i < y->problem_offset && i < p->len; i++)
				o.line += p->text[i] == '\n';
		} else {
			o.line = (int)y->problem_mark.line + 1;
		}
	}
	const char *problem = y->problem != NULL ? y->problem : "unreadable input";
	if (y->context != NULL)
		return cfg_fail(p->x, &o, "YAML syntax error: %s (%s)", problem, y->context);
	return cfg_fail(p->x, &o, "YAML syntax error: %s", problem);
}

static enum w2s_status next_event(struct parser *p, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&p->yp, ev))
		return syntax_error(p);
	return W2S_STATUS_OK;
}

static bool is_null_word(const char *s)
{
	return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static void remember_anchor(struct parser *p, const yaml_char_t *name, const struct cfg_node *n)
{
	if (name == NULL)
		return;
	if (p->nanchors == p->capanchors) {
		p->capanchors = p->capanchors ? 2 * p->capanchors : 8;
		struct anchor *a = w2s_xmalloc(p->capanchors * sizeof *a);
		if (p->nanchors > 0)
			memcpy(a, p->anchors, p->nanchors * sizeof *a);
		free(p->anchors);
		p->anchors = a;
	}
	p->anchors[p->nanchors].name = w2s_xstrdup((const char *)name);
	p->anchors[p->nanchors].node = n;
	p->nanchors++;
}

static void child_path(char *buf, size_t len, const char *path, const char *key)
{
	if (path == NULL || path[0] == '\0')
		snprintf(buf, len, "%s", key);
	else
		snprintf(buf, len, "%s.%s", path, key);
}

static enum w2s_status parse_value(struct parser *p, yaml_event_t *ev, const char *path, int depth,
				   struct cfg_node **out);

static enum w2s_status parse_seq(struct parser *p, struct cfg_node *seq, const char *path, int depth)
{
	for (;;) {
		yaml_event_t ev;
		enum w2s_status st = next_event(p, &ev);
		if (st != W2S_STATUS_OK)
			return st;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return W2S_STATUS_OK;
		}
		struct cfg_node *item = NULL;
		st = parse_value(p, &ev, path, depth + 1, &item);
		if (st != W2S_STATUS_OK)
			return st;
		seq_push(seq, item);
	}
}

static enum w2s_status parse_map(struct parser *p, struct cfg_node *map, const char *path, int depth)
{
	for (;;) {
		yaml_event_t kev;
		enum w2s_status st = next_event(p, &kev);
		if (st != W2S_STATUS_OK)
			return st;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return W2S_STATUS_OK;
		}
		struct cfg_origin kat = origin_at(p, kev.start_mark);
		if (kev.type != YAML_SCALAR_EVENT) {
			const char *what = kev.type == YAML_ALIAS_EVENT ? "an alias" : "a list or map";
			yaml_event_delete(&kev);
			if (path != NULL)
				return cfg_fail(p->x, &kat, "%s: keys must be names, found %s", path, what);
			return cfg_fail(p->x, &kat, "keys must be names, found %s", what);
		}
		char *key = w2s_xstrdup((const char *)kev.data.scalar.value);
		yaml_event_delete(&kev);

		const struct cfg_entry *dup = cfg_map_find(map, key);
		if (dup != NULL) {
			char first[64] = "";
			if (dup->at.kind == CFG_SRC_FILE && dup->at.line > 0)
				snprintf(first, sizeof first, " (first on line %d)", dup->at.line);
			st = cfg_fail(p->x, &kat, "duplicate key '%s'%s%s%s", key,
				      path ? " in " : "", path ? path : "", first);
			free(key);
			return st;
		}

		char sub[256];
		child_path(sub, sizeof sub, path, key);
		yaml_event_t vev;
		st = next_event(p, &vev);
		struct cfg_node *val = NULL;
		if (st == W2S_STATUS_OK)
			st = parse_value(p, &vev, sub, depth + 1, &val);
		if (st == W2S_STATUS_OK)
			map_put(map, key, kat, val);
		free(key);
		if (st != W2S_STATUS_OK)
			return st;
	}
}

/* Builds the node that starts with *ev, reading the events of its children;
 * deletes *ev. */
static enum w2s_status parse_value(struct parser *p, yaml_event_t *ev, const char *path, int depth,
				   struct cfg_node **out)
{
	enum w2s_status st = W2S_STATUS_OK;
	struct cfg_node *n = NULL;
	struct cfg_origin at = origin_at(p, ev->start_mark);
	*out = NULL;

	if (depth > CFG_MAX_DEPTH) {
		st = cfg_fail(p->x, &at, "YAML nested deeper than %d levels", CFG_MAX_DEPTH);
		goto cleanup;
	}
	if (++p->x->nodes > CFG_MAX_NODES) {
		st = cfg_fail(p->x, &at, "more than %d YAML values (aliases expand too far)",
			      CFG_MAX_NODES);
		goto cleanup;
	}

	switch (ev->type) {
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		const struct cfg_node *target = NULL;
		for (size_t i = p->nanchors; i-- > 0;) {
			if (strcmp(p->anchors[i].name, name) == 0) {
				target = p->anchors[i].node;
				break;
			}
		}
		if (target == NULL) {
			st = cfg_fail(p->x, &at, "unknown alias '*%s'", name);
			goto cleanup;
		}
		p->x->nodes += node_count(target);
		if (p->x->nodes > CFG_MAX_NODES) {
			st = cfg_fail(p->x, &at, "more than %d YAML values (aliases expand too far)",
				      CFG_MAX_NODES);
			goto cleanup;
		}
		n = node_copy(target);
		break;
	}
	case YAML_SCALAR_EVENT: {
		const char *text = (const char *)ev->data.scalar.value;
		bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (plain && is_null_word(text)) {
			n = cfg_node_new(CFG_NULL, at);
		} else {
			n = cfg_node_new(CFG_SCALAR, at);
			n->text = w2s_xstrdup(text);
		}
		remember_anchor(p, ev->data.scalar.anchor, n);
		break;
	}
	case YAML_SEQUENCE_START_EVENT:
		n = cfg_node_new(CFG_SEQ, at);
		st = parse_seq(p, n, path, depth);
		if (st == W2S_STATUS_OK)
			remember_anchor(p, ev->data.sequence_start.anchor, n);
		break;
	case YAML_MAPPING_START_EVENT:
		n = cfg_node_new(CFG_MAP, at);
		st = parse_map(p, n, path, depth);
		if (st == W2S_STATUS_OK)
			remember_anchor(p, ev->data.mapping_start.anchor, n);
		break;
	default:
		/* libyaml only hands out well-nested events. */
		W2S_CHECK(!"unexpected YAML event");
	}

cleanup:
	yaml_event_delete(ev);
	if (st != W2S_STATUS_OK)
		cfg_node_free(&n);
	*out = n;
	return st;
}

/* Reads the events of a stream: nothing, or one document. */
static enum w2s_status parse_stream(struct parser *p, const char *path, struct cfg_node **out)
{
	yaml_event_t ev;
	enum w2s_status st = next_event(p, &ev); /* STREAM_START */
	if (st != W2S_STATUS_OK)
		return st;
	yaml_event_delete(&ev);
	st = next_event(p, &ev);
	if (st != W2S_STATUS_OK)
		return st;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return W2S_STATUS_OK;
	}
	yaml_event_delete(&ev); /* DOCUMENT_START */

	st = next_event(p, &ev);
	if (st == W2S_STATUS_OK)
		st = parse_value(p, &ev, path, 0, out);
	if (st == W2S_STATUS_OK)
		st = next_event(p, &ev); /* DOCUMENT_END */
	if (st != W2S_STATUS_OK)
		return st;
	yaml_event_delete(&ev);

	st = next_event(p, &ev);
	if (st != W2S_STATUS_OK)
		return st;
	if (ev.type != YAML_STREAM_END_EVENT) {
		struct cfg_origin at = origin_at(p, ev.start_mark);
		yaml_event_delete(&ev);
		return cfg_fail(p->x, &at, "more than one YAML document ('---'): a config is one");
	}
	yaml_event_delete(&ev);
	return W2S_STATUS_OK;
}

enum w2s_status cfg_parse(struct cfg_ctx *x, const char *text, size_t len,
			  struct cfg_origin base, const char *path, struct cfg_node **out)
{
	struct parser p = {.x = x, .base = base, .text = text, .len = len};
	*out = NULL;
	W2S_CHECK(yaml_parser_initialize(&p.yp));
	yaml_parser_set_input_string(&p.yp, (const unsigned char *)text, len);
	enum w2s_status st = parse_stream(&p, path, out);
	if (st != W2S_STATUS_OK)
		cfg_node_free(out);
	yaml_parser_delete(&p.yp);
	for (size_t i = 0; i < p.nanchors; i++)
		free(p.anchors[i].name);
	free(p.anchors);
	return st;
}

/* ---- --set overrides */

/* The maps whose default is a whole map that a given map replaces. */
static const char *default_map_text(const char *path, enum w2s_task_kind task)
{
	if (strcmp(path, "models") == 0)
		return cfg_default_models(task);
	if (strcmp(path, "data.latent.views") == 0)
		return cfg_default_views;
	return NULL;
}

struct cfg_node *cfg_default_tree(struct cfg_ctx *x, const char *text)
{
	struct cfg_origin at = {.kind = CFG_SRC_DEFAULT};
	struct cfg_node *n = NULL;
	W2S_CHECK(cfg_parse(x, text, strlen(text), at, NULL, &n) == W2S_STATUS_OK);
	W2S_CHECK(n != NULL);
	return n;
}

/* Applies "a.b.c=VALUE" to root: VALUE (read as YAML) replaces a.b.c,
 * creating the maps on the way.  When the way passes through an absent map
 * whose default is a whole map (models, data.latent.views), that default is
 * put there first, so "models.big.hidden=[512]" edits the default big
 * model; task (-1 for none) says which default models. */
static enum w2s_status apply_set(struct cfg_ctx *x, struct cfg_node *root, const char *set, int task)
{
	enum w2s_status st = W2S_STATUS_OK;
	struct cfg_origin at = {.kind = CFG_SRC_SET, .src = set};
	struct cfg_node *val = NULL;
	const char *eq = strchr(set, '=');
	if (eq == NULL || eq == set)
		return cfg_fail(x, NULL, "--set '%s': expected KEY=VALUE", set);

	size_t klen = (size_t)(eq - set);
	char *key = w2s_xmalloc(klen + 1);
	memcpy(key, set, klen);
	key[klen] = '\0';
	if (key[0] == '.' || key[klen - 1] == '.' || strstr(key, "..") != NULL ||
	    strpbrk(key, " \t") != NULL) {
		st = cfg_fail(x, NULL, "--set '%s': expected KEY=VALUE with KEY like train.lr", set);
		goto cleanup;
	}

	st = cfg_parse(x, eq + 1, strlen(eq + 1), at, key, &val);
	if (st != W2S_STATUS_OK)
		goto cleanup;
	if (val == NULL)
		val = cfg_node_new(CFG_NULL, at);

	struct cfg_node *map = root;
	char path[256] = "";
	char *save = NULL;
	char *part = strtok_r(key, ".", &save);
	for (char *next = strtok_r(NULL, ".", &save); next != NULL;
	     part = next, next = strtok_r(NULL, ".", &save)) {
		char sub[256];
		child_path(sub, sizeof sub, path, part);
		snprintf(path, sizeof path, "%s", sub);
		struct cfg_entry *e = cfg_map_find(map, part);
		if (e == NULL) {
			const char *def = task >= 0 ? default_map_text(path, task) : NULL;
			map_put(map, part, at, def ? cfg_default_tree(x, def) : cfg_node_new(CFG_MAP, at));
			e = cfg_map_find(map, part);
		} else if (e->val->kind == CFG_NULL) {
			cfg_node_free(&e->val);
			e->val = cfg_node_new(CFG_MAP, at);
		} else if (e->val->kind != CFG_MAP) {
			char buf[80];
			st = cfg_fail(x, &at, "%s is %s, not a map of keys", path,
				      cfg_node_what(e->val, buf, sizeof buf));
			goto cleanup;
		}
		map = e->val;
	}
	map_put(map, part, at, val);
	val = NULL;

cleanup:
	cfg_node_free(&val);
	free(key);
	return st;
}

/* The task the overrides leave: it picks the default models they edit. */
static enum w2s_task_kind task_after_sets(struct cfg_ctx *x, const struct cfg_node *root,
					  const char *const *sets, int nsets, enum w2s_status *st)
{
	struct cfg_node *probe = node_copy(root);
	enum w2s_task_kind task = W2S_TASK_LATENT;
	*st = W2S_STATUS_OK;
	for (int i = 0; i < nsets && *st == W2S_STATUS_OK; i++)
		*st = apply_set(x, probe, sets[i], -1);
	const struct cfg_entry *e = cfg_find_path(probe, "data.task");
	if (e != NULL && e->val->kind == CFG_SCALAR && strcmp(e->val->text, "teacher") == 0)
		task = W2S_TASK_TEACHER;
	cfg_node_free(&probe);
	return task;
}

/* ---- loading */

static enum w2s_status read_file(const char *path, char **text, size_t *len)
{
	enum w2s_status st = W2S_STATUS_OK;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		w2s_log_error("cannot read config '%s': %s", path, strerror(errno));
		return W2S_STATUS_IO;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= (size_t)CFG_MAX_FILE) {
				w2s_log_error("cannot read config '%s': larger than %ld MiB", path,
					      CFG_MAX_FILE >> 20);
				st = W2S_STATUS_IO;
				goto cleanup;
			}
			cap = cap ? 2 * cap : 4096;
			char *grown = w2s_xmalloc(cap + 1);
			if (n > 0)
				memcpy(grown, buf, n);
			free(buf);
			buf = grown;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				w2s_log_error("cannot read config '%s': %s", path, strerror(errno));
				st = W2S_STATUS_IO;
				goto cleanup;
			}
			break;
		}
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	buf = NULL;
cleanup:
	free(buf);
	fclose(f);
	return st;
}

enum w2s_status w2s_config_load(struct w2s_config *c, const char *path,
				const char *const *sets, int nsets)
{
	struct cfg_ctx x = {.file = path};
	struct cfg_origin top = {.kind = path ? CFG_SRC_FILE : CFG_SRC_DEFAULT, .line = 1, .src = path};
	struct cfg_node *root = NULL;
	char *text = NULL;
	size_t len = 0;
	uint32_t models_given[W2S_MAX_MODELS] = {0};
	json_t *full = NULL, *brief = NULL;
	enum w2s_status st = W2S_STATUS_OK;

	memset(c, 0, sizeof *c);
	W2S_CHECK(nsets == 0 || sets != NULL);

	if (path != NULL) {
		st = read_file(path, &text, &len);
		if (st != W2S_STATUS_OK)
			goto cleanup;
		st = cfg_parse(&x, text, len, top, NULL, &root);
		if (st != W2S_STATUS_OK)
			goto cleanup;
	}
	if (root == NULL || root->kind == CFG_NULL) {
		cfg_node_free(&root);
		root = cfg_node_new(CFG_MAP, top);
	} else if (root->kind != CFG_MAP) {
		char buf[80];
		st = cfg_fail(&x, &root->at,
			      "expected a map of keys (seed, seeds, data, models, train, w2s, log, checkpoint, kd, cascade, synth, select) at the top, found %s",
			      cfg_node_what(root, buf, sizeof buf));
		goto cleanup;
	}

	if (nsets > 0) {
		enum w2s_task_kind task = task_after_sets(&x, root, sets, nsets, &st);
		for (int i = 0; i < nsets && st == W2S_STATUS_OK; i++)
			st = apply_set(&x, root, sets[i], (int)task);
		if (st != W2S_STATUS_OK)
			goto cleanup;
	}

	st = cfg_check(&x, root, c, models_given);
	if (st != W2S_STATUS_OK)
		goto cleanup;

	full = cfg_to_json(c, NULL);
	brief = cfg_to_json(c, models_given);
	c->json = cfg_json_dump(full);
	c->yaml = cfg_yaml_dump(brief);

cleanup:
	json_decref(full);
	json_decref(brief);
	cfg_node_free(&root);
	free(text);
	if (st != W2S_STATUS_OK) {
		w2s_config_free(c);
		memset(c, 0, sizeof *c);
	}
	return st;
}

void w2s_config_free(struct w2s_config *c)
{
	free(c->json);
	c->json = NULL;
	free(c->yaml);
	c->yaml = NULL;
}

/* ---- lookups */

const char *w2s_split_name(enum w2s_split s)
{
	static const char *const names[W2S_NSPLITS] = {"weak_train", "transfer", "val", "test",
						       "pool"};
	if ((int)s < 0 || s >= W2S_NSPLITS)
		return NULL;
	return names[s];
}

int w2s_config_model_index(const struct w2s_config *c, const char *name)
{
	for (int i = 0; i < c->nmodels; i++)
		if (strcmp(c->models[i].name, name) == 0)
			return i;
	return -1;
}

int w2s_config_view_index(const struct w2s_config *c, const char *name)
{
	if (c->data.task == W2S_TASK_TEACHER)
		return strcmp(name, "x") == 0 ? 0 : -1;
	if (c->data.task == W2S_TASK_IMPORT) {
		for (int i = 0; i < c->data.import.info.nviews; i++)
			if (strcmp(c->data.import.info.views[i].name, name) == 0)
				return i;
		return -1;
	}
	for (int i = 0; i < c->data.latent.nviews; i++)
		if (strcmp(c->data.latent.views[i].name, name) == 0)
			return i;
	return -1;
}

int64_t w2s_config_view_width(const struct w2s_config *c, const char *view)
{
	int i = w2s_config_view_index(c, view);
	if (i < 0)
		return -1;
	if (c->data.task == W2S_TASK_TEACHER)
		return c->data.teacher.dim;
	if (c->data.task == W2S_TASK_IMPORT)
		return c->data.import.info.views[i].width;
	const struct w2s_view_spec *v = &c->data.latent.views[i];
	return v->noise > 0 ? v->z : v->z + v->u;
}

int w2s_config_classes(const struct w2s_config *c)
{
	if (w2s_config_regression(c))
		return 1;
	if (c->data.task == W2S_TASK_IMPORT)
		return c->data.import.info.classes;
	return c->data.task == W2S_TASK_TEACHER ? c->data.teacher.classes : c->data.latent.classes;
}

int w2s_config_regression(const struct w2s_config *c)
{
	if (c->data.task == W2S_TASK_IMPORT)
		return c->data.import.info.regression;
	return c->data.task == W2S_TASK_LATENT && c->data.latent.target == W2S_TARGET_REGRESSION;
}

/* ---- differences between two configs */

struct diff {
	int count;
	char *out;
	size_t size;
};

static void diff_note(struct diff *d, const char *path, const json_t *a, const json_t *b)
{
	d->count++;
	if (d->count > 3)
		return;
	char *va = a ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char *vb = b ? json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	size_t len = strlen(d->out);
	snprintf(d->out + len, d->size - len, "%s%s: %s vs %s", len ? "; " : "", path,
		 va ? va : "(absent)", vb ? vb : "(absent)");
	free(va);
	free(vb);
}

static void diff_walk(struct diff *d, const char *path, const json_t *a, const json_t *b)
{
	if (json_is_object(a) && json_is_object(b)) {
		const char *key;
		json_t *va;
		char sub[512];
		json_object_foreach((json_t *)a, key, va) {
			snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", key);
			diff_walk(d, sub, va, json_object_get(b, key));
		}
		json_object_foreach((json_t *)b, key, va) {
			if (json_object_get(a, key))
				continue;
			snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", key);
			diff_note(d, sub, NULL, va);
		}
		return;
	}
	if (!a || !b || !json_equal((json_t *)a, (json_t *)b))
		diff_note(d, path[0] ? path : "(whole config)", a, b);
}

int w2s_config_diff(const char *json_a, const char *json_b, char *out, size_t size)
{
	struct diff d = {0, out, size};
	out[0] = '\0';
	json_t *a = json_loads(json_a, 0, NULL), *b = json_loads(json_b, 0, NULL);
	if (!a || !b) {
		snprintf(out, size, "a config that cannot be read");
		d.count = 1;
	} else {
		diff_walk(&d, "", a, b);
	}
	json_decref(a);
	json_decref(b);
	return d.count;
}

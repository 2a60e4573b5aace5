/*
 * config_emit.c: a checked config back out, as canonical JSON (stored in
 * every HDF5 file, compared across runs) and as block YAML (OUT/config.yaml,
 * which w2s_config_load reads back to the same JSON), and the reference of
 * every key.  All three walk the tables of config_schema.c.
 *
 * Reals are printed with the fewest digits that read back to the same
 * double, so 0.1 stays 0.1 and the round trip is exact.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"

#define ALL_KEYS UINT32_MAX

static json_t *section_json(const struct cfg_section *sec, const char *base,
			    const struct w2s_config *c, const uint32_t *given, uint32_t keep);

/* The value of the key k of a section whose struct is at base; c for the
 * keys that need the whole config, given for a model's train overrides. */
static json_t *key_json(const struct cfg_key *k, const char *base, const struct w2s_config *c,
			const uint32_t *given)
{
	const char *p = base + k->off;
	int i;
	int64_t i64;
	uint64_t u64;
	double d;
	json_t *a;

	switch (k->type) {
	case CFG_T_SECTION:
		return section_json(k->sub, p, c, given, ALL_KEYS);
	case CFG_T_INT:
		memcpy(&i, p, sizeof i);
		return json_integer(i);
	case CFG_T_INT64:
	case CFG_T_COUNT:
		memcpy(&i64, p, sizeof i64);
		return json_integer(i64);
	case CFG_T_SEED:
		/* The check keeps seeds below 2^63, which json_int_t holds. */
		memcpy(&u64, p, sizeof u64);
		return json_integer((json_int_t)u64);
	case CFG_T_REAL:
		memcpy(&d, p, sizeof d);
		return json_real(d);
	case CFG_T_ENUM:
		memcpy(&i, p, sizeof i);
		return json_string(k->names[i]);
	case CFG_T_NAME:
	case CFG_T_PATH:
		return json_string(p);
	case CFG_T_VIEWS:
		a = json_object();
		for (int v = 0; v < c->data.latent.nviews; v++) {
			const struct w2s_view_spec *view = &c->data.latent.views[v];
			json_object_set_new(a, view->name,
					    section_json(&cfg_view_section, (const char *)view, c,
							 NULL, ALL_KEYS));
		}
		return a;
	case CFG_T_MODELS:
		a = json_object();
		for (int m = 0; m < c->nmodels; m++) {
			const struct w2s_model_spec *model = &c->models[m];
			json_object_set_new(a, model->name,
					    section_json(&cfg_model_section, (const char *)model, c,
							 given ? &given[m] : NULL, ALL_KEYS));
		}
		return a;
	case CFG_T_HIDDEN: {
		const struct w2s_model_spec *model =
			(const struct w2s_model_spec *)(base);
		a = json_array();
		for (int l = 0; l < model->nhidden; l++)
			json_array_append_new(a, json_integer(model->hidden[l]));
		return a;
	}
	case CFG_T_OVERRIDE:
		return section_json(&cfg_train_section, p, c, NULL, given ? *given : ALL_KEYS);
	case CFG_T_STRONG:
		a = json_array();
		for (int s = 0; s < c->w2s.nstrong; s++)
			json_array_append_new(a, json_string(c->w2s.strong[s]));
		return a;
	case CFG_T_NAMELIST: {
		const struct w2s_name_list *l = (const struct w2s_name_list *)p;
		a = json_array();
		for (int s = 0; s < l->n; s++)
			json_array_append_new(a, json_string(l->name[s]));
		return a;
	}
	case CFG_T_SYNTH_TRAIN: {
		static const char *const names[] = {"synthetic", "real", "mix"};
		a = json_array();
		for (int s = 0; s < c->synth.train.n; s++)
			json_array_append_new(a, json_string(names[c->synth.train.kind[s]]));
		return a;
	}
	case CFG_T_BANDS: {
		static const char *const names[] = {"low", "middle", "high", "random"};
		a = json_array();
		for (int s = 0; s < c->select.bands.n; s++)
			json_array_append_new(a, json_string(names[c->select.bands.band[s]]));
		return a;
	}
	case CFG_T_SEEDS:
		a = json_array();
		for (int s = 0; s < c->nseeds; s++)
			json_array_append_new(a, json_integer((json_int_t)c->seeds[s]));
		return a;
	}
	W2S_CHECK(!"unknown key type");
	return NULL;
}

/* The keys of sec whose bit is in keep, in the table's order.  A model's
 * train without overrides is left out, so YAML keeps only what was given. */
static json_t *section_json(const struct cfg_section *sec, const char *base,
			    const struct w2s_config *c, const uint32_t *given, uint32_t keep)
{
	json_t *obj = json_object();
	W2S_CHECK(obj != NULL);
	for (int i = 0; i < sec->nkeys; i++) {
		const struct cfg_key *k = &sec->keys[i];
		if (!(keep & (UINT32_C(1) << i)))
			continue;
		if (k->type == CFG_T_OVERRIDE && given != NULL && *given == 0)
			continue;
		json_t *v = key_json(k, base, c, given);
		W2S_CHECK(v != NULL);
		json_object_set_new(obj, k->name, v);
	}
	return obj;
}

json_t *cfg_to_json(const struct w2s_config *c, const uint32_t *models_given)
{
	return section_json(&cfg_top_section, (const char *)c, c, models_given, ALL_KEYS);
}

/* ---- numbers */

/* The fewest significant digits that read back to exactly v. */
static int shortest_digits(double v)
{
	char buf[40];
	for (int p = 1; p < 17; p++) {
		snprintf(buf, sizeof buf, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return p;
	}
	return 17;
}

static int max_digits(const json_t *j)
{
	int p = 1;
	const char *key;
	json_t *v;
	size_t i;
	switch (json_typeof(j)) {
	case JSON_REAL:
		return shortest_digits(json_real_value(j));
	case JSON_OBJECT:
		json_object_foreach((json_t *)j, key, v) {
			int q = max_digits(v);
			p = q > p ? q : p;
		}
		return p;
	case JSON_ARRAY:
		json_array_foreach(j, i, v) {
			int q = max_digits(v);
			p = q > p ? q : p;
		}
		return p;
	default:
		return p;
	}
}

char *cfg_json_dump(const json_t *j)
{
	/* jansson prints every real with one precision: the largest any of
	 * them needs keeps each exact, and the common ones short. */
	int p = max_digits(j);
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(p));
	W2S_CHECK(s != NULL);
	return s;
}

/* A real as YAML reads it back exactly, with a '.' so that YAML 1.1
 * readers (PyYAML) take it for a float too: 1.0e-08, 0.5, 2.0. */
static void yaml_real(FILE *f, double v)
{
	char buf[48];
	snprintf(buf, sizeof buf, "%.*g", shortest_digits(v), v);
	if (strchr(buf, '.') == NULL) {
		char *e = strchr(buf, 'e');
		if (e != NULL)
			fprintf(f, "%.*s.0%s", (int)(e - buf), buf, e);
		else
			fprintf(f, "%s.0", buf);
		return;
	}
	fputs(buf, f);
}

/* Names are letters, digits, '_' and '-'; the ones a YAML reader would
 * take for a number, a boolean, null or a list item are quoted.  Paths
 * may hold any character: one beyond those and '.' and '/' is quoted,
 * with '\\' and '"' escaped. */
static void yaml_string(FILE *f, const char *s)
{
	static const char *const words[] = {"y", "n", "yes", "no", "true", "false",
					    "on", "off", "null", NULL};
	bool quote = s[0] == '\0' || s[0] == '-' || (s[0] >= '0' && s[0] <= '9');
	for (int i = 0; words[i] != NULL && !quote; i++)
		quote = strcasecmp(s, words[i]) == 0;
	bool odd = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./") !=
		   strlen(s);
	if (!odd) {
		fprintf(f, quote ? "\"%s\"" : "%s", s);
		return;
	}
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void yaml_flow(FILE *f, const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		bool first = true;
		fputc('{', f);
		json_object_foreach((json_t *)v, key, item) {
			fputs(first ? "" : ", ", f);
			yaml_string(f, key);
			fputs(": ", f);
			yaml_flow(f, item);
			first = false;
		}
		fputc('}', f);
		break;
	}
	case JSON_ARRAY:
		fputc('[', f);
		json_array_foreach(v, i, item) {
			fputs(i ? ", " : "", f);
			yaml_flow(f, item);
		}
		fputc(']', f);
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		yaml_real(f, json_real_value(v));
		break;
	case JSON_STRING:
		yaml_string(f, json_string_value(v));
		break;
	default:
		W2S_CHECK(!"no such value in a config");
	}
}

/* A small map of plain values (a view, the rows, a model without train
 * overrides) reads best on one line. */
static bool fits_one_line(const json_t *obj)
{
	const char *key;
	json_t *v;
	if (json_object_size(obj) > 5)
		return false;
	json_object_foreach((json_t *)obj, key, v)
		if (json_is_object(v))
			return false;
	return true;
}

static void yaml_block(FILE *f, const json_t *obj, int indent)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		fprintf(f, "%*s", indent, "");
		yaml_string(f, key);
		fputc(':', f);
		if (json_is_object(v) && json_object_size(v) > 0 && (indent == 0 || !fits_one_line(v))) {
			fputc('\n', f);
			yaml_block(f, v, indent + 2);
		} else {
			fputc(' ', f);
			yaml_flow(f, v);
			fputc('\n', f);
		}
	}
}

char *cfg_yaml_dump(const json_t *j)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	W2S_CHECK(f != NULL);
	yaml_block(f, j, 0);
	W2S_CHECK(fclose(f) == 0);
	return s;
}

/* ---- the reference */

struct ref_row {
	char key[64];
	char type[64];
	char def[32];
	const char *meaning;
};

struct ref {
	struct ref_row rows[96];
	int n;
};

static void ref_add(struct ref *r, const char *key, const char *type, const char *def,
		    const char *meaning)
{
	W2S_CHECK(r->n < (int)(sizeof r->rows / sizeof r->rows[0]));
	struct ref_row *row = &r->rows[r->n++];
	snprintf(row->key, sizeof row->key, "%s", key);
	snprintf(row->type, sizeof row->type, "%s", type);
	snprintf(row->def, sizeof row->def, "%s", def ? def : "");
	row->meaning = meaning;
}

static void ref_walk(struct ref *r, const struct cfg_section *sec, const char *prefix)
{
	for (int i = 0; i < sec->nkeys; i++) {
		const struct cfg_key *k = &sec->keys[i];
		char path[64], type[64];
		if (prefix[0] != '\0')
			snprintf(path, sizeof path, "%s.%s", prefix, k->name);
		else
			snprintf(path, sizeof path, "%s", k->name);
		if (k->type == CFG_T_SECTION) {
			ref_walk(r, k->sub, path);
			continue;
		}
		cfg_key_describe(k, false, type, sizeof type);
		if (k->type == CFG_T_OVERRIDE) {
			char key[80];
			snprintf(key, sizeof key, "%s.KEY", path);
			ref_add(r, key, "as train.KEY", "train.KEY", k->meaning);
			continue;
		}
		ref_add(r, path, type, k->def_doc ? k->def_doc : k->def, k->meaning);
		if (k->type == CFG_T_VIEWS || k->type == CFG_T_MODELS) {
			char sub[80];
			snprintf(sub, sizeof sub, "%s.NAME", path);
			ref_walk(r, k->type == CFG_T_VIEWS ? &cfg_view_section : &cfg_model_section, sub);
		}
	}
}

const char *w2s_config_reference(void)
{
	/* Built once from the tables; the same on every call. */
	static char text[16384];
	if (text[0] != '\0')
		return text;

	static struct ref r;
	r.n = 0;
	ref_walk(&r, &cfg_top_section, "");
	int wk = 0, wt = 0, wd = 0;
	for (int i = 0; i < r.n; i++) {
		int k = (int)strlen(r.rows[i].key), t = (int)strlen(r.rows[i].type);
		int d = (int)strlen(r.rows[i].def);
		wk = k > wk ? k : wk;
		wt = t > wt ? t : wt;
		wd = d > wd ? d : wd;
	}
	size_t used = 0;
	for (int i = 0; i < r.n; i++) {
		int n = snprintf(text + used, sizeof text - used, "%-*s  %-*s  %-*s  %s\n", wk,
				 r.rows[i].key, wt, r.rows[i].type, wd, r.rows[i].def,
				 r.rows[i].meaning ? r.rows[i].meaning : "");
		W2S_CHECK(n > 0 && (size_t)n < sizeof text - used);
		used += (size_t)n;
	}
	return text;
}

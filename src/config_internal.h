/*
 * config_internal.h: what the three files of the config module share, and
 * nothing outside them includes.
 *
 *   config.c         YAML text -> tree, --set overrides, w2s_config_load
 *   config_schema.c  the key tables, tree -> checked struct w2s_config
 *   config_emit.c    struct -> canonical JSON and block YAML, the reference
 *
 * Between reading and checking, a config is a tree of maps, lists and
 * scalars that keeps the order keys were written in and where each came
 * from (file line, override, built-in default), so that every message can
 * point at its cause.  The tables in config_schema.c drive checking,
 * output and the reference alike, so the three cannot drift apart.
 */
#ifndef W2S_CONFIG_INTERNAL_H
#define W2S_CONFIG_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "w2s/config.h"

/* Where a key or a value came from. */
enum cfg_src {
	CFG_SRC_FILE = 0, /* the config file, at line */
	CFG_SRC_SET,      /* a --set override; src is its text */
	CFG_SRC_DEFAULT,  /* a built-in default map (views, models, w2s.strong) */
};

struct cfg_origin {
	enum cfg_src kind;
	int line;        /* 1-based, FILE only; 0 = unknown */
	const char *src; /* FILE: the path; SET: the override text; borrowed */
};

enum cfg_kind {
	CFG_NULL = 0, /* an empty value, ~ or null (plain, unquoted) */
	CFG_SCALAR,
	CFG_SEQ,
	CFG_MAP,
};

struct cfg_node;

struct cfg_entry {
	char *key;            /* owned */
	struct cfg_origin at; /* of the key */
	struct cfg_node *val; /* owned */
};

struct cfg_node {
	enum cfg_kind kind;
	struct cfg_origin at;
	char *text;                /* CFG_SCALAR: as written, owned */
	size_t n, cap;
	struct cfg_node **items;   /* CFG_SEQ: (n) owned */
	struct cfg_entry *entries; /* CFG_MAP: (n) in the order written, owned */
};

/* One load's state: the file's path for messages, and whether the one
 * message a failure is allowed has been printed. */
struct cfg_ctx {
	const char *file; /* NULL when there is no file */
	bool failed;
	size_t nodes;     /* nodes made so far; aliases may not blow this up */
};

/* Prints "PLACE: message" through w2s_log_error, unless a message was
 * already printed for this load, and returns W2S_STATUS_CONFIG.  PLACE is
 * "FILE:LINE", "--set TEXT", "FILE: built-in default" or nothing (at NULL). */
enum w2s_status cfg_fail(struct cfg_ctx *x, const struct cfg_origin *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- the tree (config.c) */

struct cfg_node *cfg_node_new(enum cfg_kind kind, struct cfg_origin at);
/* Frees a tree and sets *n to NULL; safe on NULL. */
void cfg_node_free(struct cfg_node **n);
struct cfg_entry *cfg_map_find(const struct cfg_node *map, const char *key);
/* The entry at "a.b.c" below root through maps only, or NULL. */
struct cfg_entry *cfg_find_path(const struct cfg_node *root, const char *path);
/* "'abc'", "a list", "a map", "nothing": what a message says was found. */
const char *cfg_node_what(const struct cfg_node *n, char *buf, size_t len);

/* Reads YAML text (one document at most) into *out.  Lines and the origin
 * kind come from base; path names the place of the text's root in
 * messages about duplicate keys (NULL at the top).  *out is NULL for a text
 * without a document (empty, only comments). */
enum w2s_status cfg_parse(struct cfg_ctx *x, const char *text, size_t len,
			  struct cfg_origin base, const char *path, struct cfg_node **out);

/* The tree of a built-in default (text without errors), every node marked
 * CFG_SRC_DEFAULT. */
struct cfg_node *cfg_default_tree(struct cfg_ctx *x, const char *text);

/* ---- the schema (config_schema.c) */

enum cfg_type {
	CFG_T_SECTION = 0, /* a nested map with its own table */
	CFG_T_INT,         /* int */
	CFG_T_INT64,       /* int64_t */
	CFG_T_SEED,        /* uint64_t, within [ilo, ihi] */
	CFG_T_REAL,        /* double */
	CFG_T_ENUM,        /* an enum, stored as int: index into names */
	CFG_T_NAME,        /* char[W2S_NAME_MAX] */
	CFG_T_PATH,        /* char[W2S_PATH_MAX]: a file path, any characters but NUL */
	/* Handled by their own code, listed for the key check and the reference: */
	CFG_T_VIEWS,       /* data.latent.views */
	CFG_T_COUNT,       /* views.NAME.z and .u: all or an integer */
	CFG_T_MODELS,      /* models */
	CFG_T_HIDDEN,      /* models.NAME.hidden */
	CFG_T_OVERRIDE,    /* models.NAME.train */
	CFG_T_STRONG,      /* w2s.strong */
	CFG_T_NAMELIST,    /* a struct w2s_name_list of models, possibly empty */
	CFG_T_SEEDS,       /* seeds: a list of seeds */
	CFG_T_SYNTH_TRAIN, /* synth.train: a list of synthetic | real | mix */
	CFG_T_BANDS,       /* select.bands: a list of low | middle | high | random */
};

struct cfg_section;

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;                      /* of the value (or sub-base) from the section's base */
	int64_t ilo, ihi;                /* integers: inclusive bounds */
	double rlo, rhi;                 /* reals: bounds, rhi = INFINITY for none */
	bool rlo_open, rhi_open;
	const char *const *names;        /* CFG_T_ENUM: NULL-terminated */
	const struct cfg_section *sub;   /* CFG_T_SECTION */
	const char *def;                 /* default as YAML text; NULL: none */
	const char *type_doc;            /* reference: type, when not derived */
	const char *def_doc;             /* reference: default, when not def */
	const char *meaning;
};

struct cfg_section {
	const struct cfg_key *keys;
	int nkeys;
};

extern const struct cfg_section cfg_top_section;   /* base: struct w2s_config */
extern const struct cfg_section cfg_train_section; /* base: struct w2s_train_spec */
extern const struct cfg_section cfg_view_section;  /* base: struct w2s_view_spec */
extern const struct cfg_section cfg_model_section; /* base: struct w2s_model_spec */

/* The built-in default maps as YAML text. */
/* Widths (latent parts, teacher, hidden layers) above this are typos; it
 * also keeps every product of two widths far from overflowing int64. */
#define CFG_MAX_WIDTH ((int64_t)1 << 24)
/* The generated data (float32, every view of every row) must stay below
 * this many bytes: 64 TiB is more than any run here will hold. */
#define CFG_MAX_DATA_BYTES ((int64_t)1 << 46)

/* Names of the list-valued enums, checked by config_schema.c. */
extern const char *const cfg_synth_train_names[];
extern const char *const cfg_band_names[];

extern const char cfg_default_views[];
const char *cfg_default_models(enum w2s_task_kind task);
const char *cfg_default_strong(enum w2s_task_kind task);

/* Describes what a key accepts, e.g. "an integer >= 1" (article true) or
 * "integer >= 1" (false). */
void cfg_key_describe(const struct cfg_key *k, bool article, char *buf, size_t len);

/* Checks the tree (a map, after the overrides) and fills c; models_given
 * [i] gets the bit (1 << key index in cfg_train_section) of every train
 * key model i overrides.  c->json and c->yaml are not touched. */
enum w2s_status cfg_check(struct cfg_ctx *x, const struct cfg_node *root, struct w2s_config *c,
			  uint32_t *models_given);

/* ---- output (config_emit.c) */

/* The effective config as a JSON tree in the order of the tables; each
 * model's train is complete when models_given is NULL, else only the keys
 * whose bit is set (and absent when none is).  New reference. */
json_t *cfg_to_json(const struct w2s_config *c, const uint32_t *models_given);
/* Compact, sorted keys, reals printed in the fewest digits that read back
 * exactly.  Returns a malloc'ed string. */
char *cfg_json_dump(const json_t *j);
/* Block YAML in the tree's order.  Returns a malloc'ed string. */
char *cfg_yaml_dump(const json_t *j);

#endif

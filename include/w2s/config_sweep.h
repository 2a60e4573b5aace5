/*
 * config_sweep.h: the spec of a sweep (YAML in, a checked struct out) and
 * the manifest a sweep folder keeps (JSON out and back in).  Part of the
 * config module, the only one that calls libyaml and jansson; expanding a
 * spec into trials and everything a sweep writes is sweep.h.
 *
 * A spec, every part optional:
 *
 *   config: small.yaml           # the base config, relative to the spec's folder; or
 *   base: {train: {epochs: 5}}   # the base config written inline; neither: the default
 *   grid:                        # every combination, the last key varying fastest
 *     train.lr: [1.0e-3, 3.0e-3]
 *     models.big.hidden: [[64], [256, 256]]
 *   seeds: [1, 2, 3]             # a grid over `seed`, varying fastest of all
 *   random:                      # n draws, each crossed with every grid point
 *     n: 8
 *     seed: 0                    # of the draws (default 0), not of the runs
 *     keys:
 *       train.weight_decay: {log_uniform: [1.0e-5, 1.0e-2]}
 *       train.warmup: {uniform: [0, 0.2]}
 *       train.optimizer: {choice: [adam, sgd]}
 *
 * Keys are config key paths, exactly as `--set KEY=VALUE` takes them; values
 * are YAML, exactly as VALUE.  Whether a key and a value are good is the
 * config's to say: the expansion loads every trial with its overrides.
 * Problems of the spec itself are refused with one message,
 *   SPEC:LINE: grid.train.lr: expected a list of values, found '0.1'
 */
#ifndef W2S_CONFIG_SWEEP_H
#define W2S_CONFIG_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "w2s/common.h"

#define W2S_SWEEP_MAX_KEYS 48          /* swept keys: columns of the collected table */
#define W2S_SWEEP_MAX_TRIALS 100000    /* a sweep past this is a typo */

/* One value of a swept key. */
struct w2s_sweep_value {
	char *text;    /* YAML, as --set takes it ("0.003", "[64, 64]", "adam"); owned */
	bool numeric;  /* a number: collected as a float64 column */
	double number; /* its value when numeric */
};

enum w2s_sweep_draw {
	W2S_SWEEP_UNIFORM = 0, /* lo + u (hi - lo) */
	W2S_SWEEP_LOG_UNIFORM, /* exp of uniform in [log lo, log hi]; 0 < lo */
	W2S_SWEEP_CHOICE,      /* one of values, equally likely */
};

/* A swept key: a grid axis (its values), or a random one (how it is drawn). */
struct w2s_sweep_axis {
	char *key;                      /* "train.lr"; owned */
	int line;                       /* where the spec names it; 0 unknown */
	int nvalues;
	struct w2s_sweep_value *values; /* (nvalues) grid values or choices; owned */
	enum w2s_sweep_draw draw;       /* random axes */
	double lo, hi;                  /* UNIFORM, LOG_UNIFORM: lo < hi */
};

struct w2s_sweep_spec {
	char *path;      /* the spec, for messages; owned */
	char *config;    /* `config:` joined to the spec's folder, or NULL; owned */
	char *base_yaml; /* `base:` as written there, re-indented to a config file's text, or NULL; owned */
	int ngrid;
	struct w2s_sweep_axis *grid;   /* (ngrid) in the order written, `seeds` last; owned */
	int nrandom;
	struct w2s_sweep_axis *random; /* (nrandom) in the order written; owned */
	int64_t draws;                 /* random.n; 0 without random */
	uint64_t random_seed;          /* random.seed */
};

/* Reads and checks the spec file at path.  Returns W2S_STATUS_OK,
 * W2S_STATUS_CONFIG (one message printed, w2s_log_error) or W2S_STATUS_IO
 * (unreadable file).  On failure s is left freed.  Every rank may call it
 * and gets the same result. */
enum w2s_status w2s_sweep_spec_load(struct w2s_sweep_spec *s, const char *path);
/* The same from text in memory; name stands for the file in messages and
 * as the folder `config:` is relative to. */
enum w2s_status w2s_sweep_spec_parse(struct w2s_sweep_spec *s, const char *text, size_t len,
				     const char *name);
/* Safe on a zeroed struct and twice. */
void w2s_sweep_spec_free(struct w2s_sweep_spec *s);

/* The trials of a sweep and what each sets: made by w2s_sweep_expand
 * (sweep.h), or read back from a sweep folder's manifest. */
struct w2s_sweep {
	int nkeys;
	char **keys;                    /* (nkeys) grid keys, then random keys; owned */
	int64_t ntrials;
	struct w2s_sweep_value *values; /* (ntrials, nkeys): trial t, key k at t * nkeys + k; owned */
};
/* Safe on a zeroed struct and twice. */
void w2s_sweep_free(struct w2s_sweep *w);

/* Not collective (rank 0 writes it): the manifest, JSON, as path (written
 * to path.tmp and renamed, so it is whole or absent):
 *   {"spec": SPEC, "base": BASE, "keys": [K...], "ntrials": N,
 *    "trials": [{"trial": 0, "values": {K: V...}, "sets": ["K=V"...]}...]}
 * Numbers are JSON numbers that read back exactly; other values are their
 * YAML text.  base may be NULL (the built-in default).  On failure, one
 * message is kept for w2s_comm_agree (w2s_log_error_local). */
enum w2s_status w2s_sweep_manifest_write(const struct w2s_sweep *w, const char *path,
					 const char *spec, const char *base);
/* Reads a manifest back into w (texts of numbers in their shortest exact
 * form).  Every rank may call it; on failure one message (w2s_log_error)
 * and W2S_STATUS_IO. */
enum w2s_status w2s_sweep_manifest_read(struct w2s_sweep *w, const char *path);

/* Classifies the YAML text of a scalar: true and *v when it is a number
 * ("3", "-0.5", "1e-3"), false otherwise (names, lists, "inf"). */
bool w2s_sweep_number(const char *text, double *v);

#endif

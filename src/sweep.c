/*
 * sweep.c: a spec expanded into trial folders and a slurm job array, and
 * the results of every trial collected into one table; see sweep.h.
 *
 * Every rank does the same reading and checking, so all reach the same
 * verdict without talking; rank 0 alone writes plain files, and the ranks
 * agree on the outcome before going on.  The job script is plain bash
 * written from a template here: what it does on a signal (forward it to
 * srun, requeue after a checkpoint) is easier to read there than in C.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "w2s/sweep.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "w2s/config.h"
#include "w2s/h5io_table.h"
#include "w2s/log.h"
#include "w2s/rng.h"

/* ---- expansion */

/* The random stream of a key: FNV-1a of its name, so that a key's draws do
 * not move when keys are added, removed or reordered. */
static uint32_t key_stream(const char *key)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static void copy_value(struct w2s_sweep_value *dst, const struct w2s_sweep_value *src)
{
	*dst = *src;
	dst->text = w2s_xstrdup(src->text);
}

/* Draw r of a random axis. */
static void draw(const struct w2s_sweep_axis *a, uint64_t seed, int64_t r,
		 struct w2s_sweep_value *v)
{
	double u;
	w2s_rng_uniforms(seed, key_stream(a->key), (uint64_t)r, &u, 1);
	if (a->draw == W2S_SWEEP_CHOICE) {
		int i = (int)(u * a->nvalues);
		copy_value(v, &a->values[i < a->nvalues ? i : a->nvalues - 1]);
		return;
	}
	double x = a->draw == W2S_SWEEP_UNIFORM
			   ? a->lo + u * (a->hi - a->lo)
			   : exp(log(a->lo) + u * (log(a->hi) - log(a->lo)));
	x = fmin(fmax(x, a->lo), a->hi); /* exp(log(hi)) may land an ulp past hi */
	/* Six digits read better in logs and tables than seventeen, and the
	 * run uses exactly the value recorded. */
	char buf[48];
	snprintf(buf, sizeof buf, "%.6g", x);
	double y = strtod(buf, NULL);
	if (!(y >= a->lo && y <= a->hi)) {
		snprintf(buf, sizeof buf, "%.17g", x);
		y = x;
	}
	v->text = w2s_xstrdup(buf);
	v->numeric = true;
	v->number = y;
}

enum w2s_status w2s_sweep_expand(const struct w2s_sweep_spec *s, struct w2s_sweep *w)
{
	memset(w, 0, sizeof *w);
	int64_t G = 1, R = s->nrandom > 0 && s->draws > 0 ? s->draws : 1;
	for (int i = 0; i < s->ngrid; i++)
		G *= s->grid[i].nvalues; /* bounded by the spec's check */
	W2S_CHECK(G * R <= W2S_SWEEP_MAX_TRIALS);
	w->nkeys = s->ngrid + s->nrandom;
	w->ntrials = G * R;
	w->keys = w2s_xcalloc((size_t)w->nkeys + 1, sizeof *w->keys);
	for (int i = 0; i < s->ngrid; i++)
		w->keys[i] = w2s_xstrdup(s->grid[i].key);
	for (int i = 0; i < s->nrandom; i++)
		w->keys[s->ngrid + i] = w2s_xstrdup(s->random[i].key);
	w->values = w2s_xcalloc((size_t)(w->ntrials * w->nkeys) + 1, sizeof *w->values);

	struct w2s_sweep_value drawn[W2S_SWEEP_MAX_KEYS];
	for (int64_t r = 0; r < R; r++) {
		for (int i = 0; i < s->nrandom; i++)
			draw(&s->random[i], s->random_seed, r, &drawn[i]);
		for (int64_t g = 0; g < G; g++) {
			struct w2s_sweep_value *row = &w->values[(r * G + g) * w->nkeys];
			int64_t rest = g;
			for (int i = s->ngrid - 1; i >= 0; i--) {
				const struct w2s_sweep_axis *a = &s->grid[i];
				copy_value(&row[i], &a->values[rest % a->nvalues]);
				rest /= a->nvalues;
			}
			for (int i = 0; i < s->nrandom; i++)
				copy_value(&row[s->ngrid + i], &drawn[i]);
		}
		for (int i = 0; i < s->nrandom; i++)
			free(drawn[i].text);
	}
	return W2S_STATUS_OK;
}

void w2s_sweep_set_text(const struct w2s_sweep *w, int64_t t, int k, char *buf, size_t size)
{
	snprintf(buf, size, "%s=%s", w->keys[k], w->values[t * w->nkeys + k].text);
}

/* ---- files */

static bool exists(const char *dir, const char *name)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static char *read_small(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0, got;
	char *s = w2s_xmalloc(cap + 1);
	while ((got = fread(s + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *grown = w2s_xmalloc(2 * cap + 1);
			memcpy(grown, s, n);
			free(s);
			s = grown;
			cap *= 2;
		}
	}
	fclose(f);
	s[n] = '\0';
	return s;
}

/* ---- the job script */

/* "#SBATCH OPTION   # comment", the comments in one column. */
static void sbatch_line(FILE *f, const char *option, const char *comment)
{
	fprintf(f, "#SBATCH %-30s # %s\n", option, comment);
}

/* Writes DIR/sweep.sbatch.  dir is absolute and free of blanks and quotes. */
static enum w2s_status write_sbatch(const struct w2s_sweep_opts *o, const struct w2s_sweep *w,
				    const char *dir, const char *w2s, const char *spec)
{
	char array[64], keys[1024] = "", path[4200];
	if (o->parallel > 0)
		snprintf(array, sizeof array, "0-%lld%%%d", (long long)w->ntrials - 1, o->parallel);
	else
		snprintf(array, sizeof array, "0-%lld", (long long)w->ntrials - 1);
	for (int k = 0; k < w->nkeys; k++) {
		size_t n = strlen(keys);
		snprintf(keys + n, sizeof keys - n, "%s%s", k ? ", " : "", w->keys[k]);
	}
	char parallel[64] = "";
	if (o->parallel > 0)
		snprintf(parallel, sizeof parallel, ", at most %d running at once", o->parallel);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	W2S_CHECK(f != NULL);
	fprintf(f,
		"#!/bin/bash\n"
		"# A w2s sweep as a slurm job array, written by `w2s sweep expand`: array task i\n"
		"# runs trial i, `w2s run trials/i/config.yaml --out trials/i --resume`, on its\n"
		"# own ranks.\n"
		"#\n"
		"#   sbatch %s/sweep.sbatch                # all %lld trials\n"
		"#   sbatch --array=3,7 %s/sweep.sbatch    # only trials 3 and 7 (a rerun, say)\n"
		"#   w2s sweep collect %s                  # one table of every trial, done or not\n"
		"#\n"
		"# Options given to sbatch override the lines below.  Spec: %s\n"
		"# Swept: %s.\n"
		"#\n"
		"# Time limits and preemption: 60 s before the time limit slurm sends USR1 to this\n"
		"# script, which hands it to srun and so to every rank; w2s then writes a\n"
		"# checkpoint and exits with code 8, and the script requeues the task, which\n"
		"# resumes from the checkpoint (w2s run --resume).  A task that slurm requeues\n"
		"# itself (preemption with requeue, node failure) resumes the same way.  slurm\n"
		"# holds a requeued task for about two minutes before it starts again.\n",
		dir, (long long)w->ntrials, dir, dir, spec, w->nkeys ? keys : "nothing (one trial)");
	char opt[PATH_MAX + 64];
	sbatch_line(f, "--job-name=w2s-sweep", "name in squeue");
	snprintf(opt, sizeof opt, "--chdir=%s", dir);
	sbatch_line(f, opt, "the sweep folder: the paths below are relative to it");
	snprintf(opt, sizeof opt, "--array=%s", array);
	char what[96];
	snprintf(what, sizeof what, "trial ids%s", parallel);
	sbatch_line(f, opt, what);
	snprintf(opt, sizeof opt, "--ntasks=%d", o->ntasks);
	sbatch_line(f, opt, "MPI ranks of each trial (data-parallel width)");
	sbatch_line(f, "--cpus-per-task=1", "one core per rank: w2s runs one BLIS thread per rank");
	snprintf(opt, sizeof opt, "--time=%s", o->time);
	sbatch_line(f, opt, "wall-clock limit of each trial");
	sbatch_line(f, "--output=trials/%a/slurm.log", "each trial's progress lines and results");
	sbatch_line(f, "--open-mode=append", "a requeued or rerun trial adds to its log");
	sbatch_line(f, "--requeue", "slurm may requeue a task (preemption, node failure)");
	sbatch_line(f, "--signal=B:USR1@60", "USR1 to this script 60 s before the time limit");
	fprintf(f,
		"set -uo pipefail\n"
		"\n"
		"W2S=${W2S:-%s}  # the program that wrote this script, unless W2S is set\n"
		"id=${SLURM_ARRAY_TASK_ID:?run this script as a job array: sbatch %s/sweep.sbatch}\n"
		"trial=trials/$id\n"
		"[ -f \"$trial/config.yaml\" ] || { echo \"no $PWD/$trial/config.yaml\" >&2; exit 2; }\n"
		"\n"
		"# exit_code tells `w2s sweep collect` how the last attempt ended.\n"
		"rm -f \"$trial/exit_code\"\n"
		"export BLIS_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}\n"
		"echo \"trial $id: job $SLURM_JOB_ID, restart ${SLURM_RESTART_COUNT:-0}, $(date)\"\n"
		"\n"
		"# The trial's folder holds its config from the start, which w2s run takes for\n"
		"# a run to finish: every attempt passes --resume, and the first, finding\n"
		"# nothing done, starts the run.  A requeued attempt, or one submitted again,\n"
		"# goes on from the last checkpoint; a trial already done ends as it was.\n"
		"#\n"
		"# srun runs in the background so that a signal reaches the trap at once (bash\n"
		"# runs traps only between commands); the trap hands it to srun, srun to every\n"
		"# rank.  Open MPI needs PMIx under srun.\n"
		"pid=\n"
		"forward() { [ -n \"$pid\" ] && kill -s \"$1\" \"$pid\" 2>/dev/null; }\n"
		"trap 'forward USR1' USR1\n"
		"trap 'forward TERM' TERM\n"
		"srun --mpi=pmix \"$W2S\" run \"$trial/config.yaml\" --out \"$trial\" --resume &\n"
		"pid=$!\n"
		"while :; do\n"
		"\twait \"$pid\"\n"
		"\tcode=$?\n"
		"\tkill -0 \"$pid\" 2>/dev/null || break # else a trap cut the wait short\n"
		"done\n"
		"echo \"$code\" >\"$trial/exit_code.tmp\" && mv -f \"$trial/exit_code.tmp\" \"$trial/exit_code\"\n"
		"\n"
		"if [ \"$code\" -eq 8 ]; then\n"
		"\t# Stopped after a checkpoint.  Requeue only a job that still runs: one that\n"
		"\t# scancel or a preemption is ending must stay ended (slurm requeues the\n"
		"\t# preempted ones itself when the partition says so).\n"
		"\tstate=$(scontrol show job \"$SLURM_JOB_ID\" 2>/dev/null | grep -o 'JobState=[A-Z_]*' || true)\n"
		"\tif [ \"$state\" = JobState=RUNNING ]; then\n"
		"\t\techo \"trial $id stopped after a checkpoint: requeueing job $SLURM_JOB_ID\"\n"
		"\t\tscontrol requeue \"$SLURM_JOB_ID\"\n"
		"\telse\n"
		"\t\techo \"trial $id stopped after a checkpoint (${state:-state unknown});\" \\\n"
		"\t\t\t\"to resume: sbatch --array=$id $PWD/sweep.sbatch\"\n"
		"\tfi\n"
		"fi\n"
		"exit \"$code\"\n",
		w2s, dir);
	W2S_CHECK(fclose(f) == 0);
	snprintf(path, sizeof path, "%s/sweep.sbatch", dir);
	enum w2s_status st = w2s_write_file_atomic(path, text, 0755);
	free(text);
	return st;
}

/* ---- expand */

/* A trial is one run: a config that repeats itself over seeds (seeds:
 * [...], into OUT/seed-S) would leave no run.h5 where collect and the job
 * script look, and the sweep has its own seeds for that.  t < 0: the base. */
static enum w2s_status one_seed(const struct w2s_config *cfg, const char *base, int64_t t,
				const struct w2s_sweep *w)
{
	if (cfg->nseeds == 0)
		return W2S_STATUS_OK;
	char what[1024] = "";
	if (t >= 0)
		for (int k = 0; k < w->nkeys; k++) {
			size_t n = strlen(what);
			snprintf(what + n, sizeof what - n, " --set %s=%s", w->keys[k],
				 w->values[t * w->nkeys + k].text);
		}
	w2s_log_error("%s%s: the config repeats the run over seeds (seeds: [...]), but a sweep "
		      "trial is one run; list the seeds in the sweep spec instead (seeds: [...] "
		      "there makes a trial per seed)",
		      base ? base : "built-in default", what);
	return W2S_STATUS_CONFIG;
}

/* A path that #SBATCH lines and the bash script carry unquoted. */
static bool script_safe(const char *s)
{
	return strpbrk(s, " \t\n'\"\\$`%") == NULL;
}

enum w2s_status w2s_sweep_write(const struct w2s_comm *c, const struct w2s_sweep_opts *o)
{
	struct w2s_sweep_spec spec = {0};
	struct w2s_sweep w = {0};
	struct w2s_config cfg = {0};
	char dir[PATH_MAX] = "", base_path[PATH_MAX + 16] = "", path[PATH_MAX + 64];
	char w2s[PATH_MAX] = "", spec_abs[PATH_MAX] = "";
	const char *base = NULL;
	const char **sets = NULL;
	char *set_text = NULL;
	const size_t SET_MAX = 8192;

	enum w2s_status st = w2s_sweep_spec_load(&spec, o->spec);
	if (st != W2S_STATUS_OK)
		goto cleanup;
	st = w2s_sweep_expand(&spec, &w);
	if (st != W2S_STATUS_OK)
		goto cleanup;

	/* The folder, made by rank 0; the others wait for the verdict. */
	if (c->rank == 0) {
		snprintf(path, sizeof path, "%s/trials", o->out);
		if (w2s_mkdir_p(path) != 0) {
			w2s_log_error_local("cannot create sweep folder '%s': %s", o->out,
					    strerror(errno));
			st = W2S_STATUS_IO;
		} else if (!o->force && exists(o->out, "sweep.json")) {
			w2s_log_error_local("'%s' already holds a sweep (sweep.json); pass --force to "
					    "write it again, or choose another --out",
					    o->out);
			st = W2S_STATUS_EXISTS;
		}
	}
	st = (enum w2s_status)w2s_comm_agree(c, (int)st);
	if (st != W2S_STATUS_OK)
		goto cleanup;
	const char *unresolved = realpath(o->out, dir) == NULL		 ? o->out
				 : realpath(o->spec, spec_abs) == NULL ? o->spec
								       : NULL;
	if (unresolved) {
		w2s_log_error("cannot resolve the path of '%s': %s", unresolved, strerror(errno));
		st = W2S_STATUS_IO;
		goto cleanup;
	}
	if (!script_safe(dir)) {
		w2s_log_error("sweep folder '%s': its path holds a blank, a quote, '$', '`' or "
			      "'%%', which #SBATCH lines cannot carry; choose another --out",
			      dir);
		st = W2S_STATUS_USAGE;
		goto cleanup;
	}
	if (o->w2s)
		snprintf(w2s, sizeof w2s, "%s", o->w2s);
	else if (realpath("/proc/self/exe", w2s) == NULL)
		snprintf(w2s, sizeof w2s, "w2s");

	/* The base config: a file of the user's, or the spec's inline one
	 * written out so that messages can point into it. */
	if (spec.base_yaml) {
		snprintf(base_path, sizeof base_path, "%s/base.yaml", dir);
		if (c->rank == 0) {
			size_t n = strlen(spec.base_yaml) + strlen(spec_abs) + 64;
			char *text = w2s_xmalloc(n);
			snprintf(text, n, "# base: of %s\n%s", spec_abs, spec.base_yaml);
			st = w2s_write_file_atomic(base_path, text, 0);
			free(text);
		}
		st = (enum w2s_status)w2s_comm_agree(c, (int)st);
		if (st != W2S_STATUS_OK)
			goto cleanup;
		base = base_path;
	} else if (spec.config) {
		base = spec.config;
	}
	st = w2s_config_load(&cfg, base, NULL, 0);
	if (st == W2S_STATUS_OK)
		st = one_seed(&cfg, base, -1, NULL);
	w2s_config_free(&cfg);
	if (st != W2S_STATUS_OK)
		goto cleanup;

	/* Every trial is checked before any is written. */
	sets = w2s_xcalloc((size_t)w.nkeys + 1, sizeof *sets);
	set_text = w2s_xmalloc(((size_t)w.nkeys + 1) * SET_MAX);
	for (int k = 0; k < w.nkeys; k++)
		sets[k] = set_text + (size_t)k * SET_MAX;
	for (int64_t t = 0; t < w.ntrials && st == W2S_STATUS_OK; t++) {
		for (int k = 0; k < w.nkeys; k++)
			w2s_sweep_set_text(&w, t, k, set_text + (size_t)k * SET_MAX, SET_MAX);
		st = w2s_config_load(&cfg, base, sets, w.nkeys);
		if (st == W2S_STATUS_OK)
			st = one_seed(&cfg, base, t, &w);
		w2s_config_free(&cfg);
	}
	if (st != W2S_STATUS_OK)
		goto cleanup;

	if (c->rank == 0) {
		for (int64_t t = 0; t < w.ntrials && st == W2S_STATUS_OK; t++) {
			for (int k = 0; k < w.nkeys; k++)
				w2s_sweep_set_text(&w, t, k, set_text + (size_t)k * SET_MAX, SET_MAX);
			st = w2s_config_load(&cfg, base, sets, w.nkeys);
			snprintf(path, sizeof path, "%s/trials/%lld", dir, (long long)t);
			if (st == W2S_STATUS_OK && w2s_mkdir_p(path) != 0) {
				w2s_log_error_local("cannot create '%s': %s", path, strerror(errno));
				st = W2S_STATUS_IO;
			}
			snprintf(path, sizeof path, "%s/trials/%lld/config.yaml", dir, (long long)t);
			if (st == W2S_STATUS_OK)
				st = w2s_write_file_atomic(path, cfg.yaml, 0);
			w2s_config_free(&cfg);
		}
		/* A copy of the spec, unless it is that file already. */
		char copy[PATH_MAX + 16], real[PATH_MAX];
		snprintf(copy, sizeof copy, "%s/sweep.yaml", dir);
		char *text = st == W2S_STATUS_OK ? read_small(spec_abs) : NULL;
		if (text && !(realpath(copy, real) && !strcmp(real, spec_abs)))
			st = w2s_write_file_atomic(copy, text, 0);
		free(text);
		snprintf(path, sizeof path, "%s/sweep.json", dir);
		if (st == W2S_STATUS_OK)
			st = w2s_sweep_manifest_write(&w, path, spec_abs, base);
		if (st == W2S_STATUS_OK)
			st = write_sbatch(o, &w, dir, w2s, spec_abs);
	}
	st = (enum w2s_status)w2s_comm_agree(c, (int)st);
	if (st != W2S_STATUS_OK)
		goto cleanup;

	int64_t G = 1;
	for (int i = 0; i < spec.ngrid; i++)
		G *= spec.grid[i].nvalues;
	char shape[64] = "";
	if (spec.nrandom)
		snprintf(shape, sizeof shape, " x %lld random draws", (long long)spec.draws);
	w2s_log_info("%lld trial%s (grid of %lld%s) in %s/trials", (long long)w.ntrials,
		     w.ntrials == 1 ? "" : "s", (long long)G, shape, dir);
	w2s_log_info("submit:  sbatch %s/sweep.sbatch", dir);
	w2s_log_info("collect: w2s sweep collect %s", dir);
	if (w.ntrials > 1001)
		w2s_log_warn("%lld trials: slurm's default MaxArraySize is 1001; submit in parts "
			     "with sbatch --array=0-999 ..., --array=1000-1999 ..., if the "
			     "cluster keeps that default",
			     (long long)w.ntrials);

cleanup:
	free(set_text);
	free(sets);
	w2s_sweep_free(&w);
	w2s_sweep_spec_free(&spec);
	return st;
}

/* ---- collect */

enum trial_status { TRIAL_DONE = 0, TRIAL_FAILED, TRIAL_UNFINISHED, TRIAL_MISSING };
static const char *const status_name[] = {"done", "failed", "unfinished", "missing"};

struct pgr_in {
	char strong[W2S_NAME_MAX];
	double p[4]; /* p_weak, p_w2s, p_ceiling, pgr */
};
static const struct w2s_h5_column pgr_in_columns[] = {
	{"strong", W2S_H5_COL_STR, offsetof(struct pgr_in, strong), W2S_NAME_MAX},
	{"p_weak", W2S_H5_COL_F64, offsetof(struct pgr_in, p[0]), 0},
	{"p_w2s", W2S_H5_COL_F64, offsetof(struct pgr_in, p[1]), 0},
	{"p_ceiling", W2S_H5_COL_F64, offsetof(struct pgr_in, p[2]), 0},
	{"pgr", W2S_H5_COL_F64, offsetof(struct pgr_in, p[3]), 0},
};
static const char *const metric_name[4] = {"p_weak", "p_w2s", "p_ceiling", "pgr"};

/* The collected table: rows of a layout made for this sweep's keys. */
struct table {
	int ncols;
	struct w2s_h5_column cols[64];
	size_t row_size;
	size_t off_trial, off_status, off_exit, off_strong, off_metric[4];
	size_t off_key[W2S_SWEEP_MAX_KEYS];
	unsigned char *rows;
	int64_t n, cap;
};

static size_t add_col(struct table *tb, const char *name, enum w2s_h5_col_type t, size_t size)
{
	size_t off = (tb->row_size + 7) & ~(size_t)7;
	if (t == W2S_H5_COL_STR)
		off = tb->row_size;
	else
		size = 8;
	tb->cols[tb->ncols++] = (struct w2s_h5_column){name, t, off, size};
	tb->row_size = off + size;
	return off;
}

static void table_layout(struct table *tb, const struct w2s_sweep *w)
{
	memset(tb, 0, sizeof *tb);
	W2S_CHECK(w->nkeys + 8 <= 64);
	tb->off_trial = add_col(tb, "trial", W2S_H5_COL_I64, 0);
	tb->off_exit = add_col(tb, "exit_code", W2S_H5_COL_I64, 0);
	tb->off_status = add_col(tb, "status", W2S_H5_COL_STR, 16);
	for (int k = 0; k < w->nkeys; k++) {
		bool numeric = true;
		size_t width = 2;
		for (int64_t t = 0; t < w->ntrials; t++) {
			const struct w2s_sweep_value *v = &w->values[t * w->nkeys + k];
			numeric = numeric && v->numeric;
			size_t n = strlen(v->text) + 1;
			width = n > width ? n : width;
		}
		tb->off_key[k] = add_col(tb, w->keys[k], numeric ? W2S_H5_COL_F64 : W2S_H5_COL_STR,
					 width);
	}
	tb->off_strong = add_col(tb, "strong", W2S_H5_COL_STR, W2S_NAME_MAX);
	for (int i = 0; i < 4; i++)
		tb->off_metric[i] = add_col(tb, metric_name[i], W2S_H5_COL_F64, 0);
	tb->row_size = (tb->row_size + 7) & ~(size_t)7;
}

static unsigned char *table_add(struct table *tb)
{
	if (tb->n == tb->cap) {
		tb->cap = tb->cap ? 2 * tb->cap : 64;
		unsigned char *grown = w2s_xcalloc((size_t)tb->cap, tb->row_size);
		if (tb->n > 0)
			memcpy(grown, tb->rows, (size_t)tb->n * tb->row_size);
		free(tb->rows);
		tb->rows = grown;
	}
	return tb->rows + (size_t)(tb->n++) * tb->row_size;
}

static void put_f64(unsigned char *row, size_t off, double v)
{
	memcpy(row + off, &v, sizeof v);
}

static void put_i64(unsigned char *row, size_t off, int64_t v)
{
	memcpy(row + off, &v, sizeof v);
}

static void put_str(unsigned char *row, size_t off, size_t size, const char *s)
{
	size_t n = strlen(s);
	n = n < size - 1 ? n : size - 1;
	memcpy(row + off, s, n);
	row[off + n] = '\0';
}

/* exit_code of a trial folder: the code, or -1 when absent or unreadable. */
static int64_t read_exit_code(const char *tdir)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/exit_code", tdir);
	FILE *f = fopen(path, "r");
	long long v = -1;
	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Reads /pgr of a trial's run.h5; quiet when there is none or it cannot be
 * read (a run still writing, or one cut short). */
static bool read_pgr(const char *tdir, struct pgr_in **rows, int64_t *n)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/run.h5", tdir);
	struct w2s_h5 f = {.file = -1};
	*rows = NULL;
	*n = 0;
	if (access(path, F_OK) != 0 || w2s_h5_open_local(&f, path) != W2S_STATUS_OK)
		return false;
	bool ok = w2s_h5_has(&f, "/pgr") &&
		  w2s_h5_read_table(&f, "/pgr", pgr_in_columns,
				    (int)(sizeof pgr_in_columns / sizeof pgr_in_columns[0]),
				    sizeof(struct pgr_in), (void **)rows, n) == W2S_STATUS_OK;
	w2s_log_flush_local(0); /* an unreadable table is a status here, not an error */
	w2s_h5_close(&f);
	return ok;
}

/* Whether a trial folder holds anything but the config expand wrote: a
 * slurm log, data, traces, checkpoints, files being written. */
static bool started(const char *tdir)
{
	DIR *d = opendir(tdir);
	if (d == NULL)
		return false;
	bool any = false;
	for (struct dirent *e = readdir(d); e && !any; e = readdir(d))
		any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		      strcmp(e->d_name, "config.yaml");
	closedir(d);
	return any;
}

/* Adds one trial's rows; returns its status. */
static enum trial_status collect_trial(struct table *tb, const struct w2s_sweep *w, int64_t t,
				       const char *dir)
{
	char tdir[4200], path[4300];
	snprintf(tdir, sizeof tdir, "%s/trials/%lld", dir, (long long)t);
	int64_t code = read_exit_code(tdir);
	struct pgr_in *pgr = NULL;
	int64_t npgr = 0;
	enum trial_status s;
	if (read_pgr(tdir, &pgr, &npgr))
		s = TRIAL_DONE;
	else if (code >= 0 && code != 8)
		s = TRIAL_FAILED;
	else if (code == 8 || started(tdir))
		s = TRIAL_UNFINISHED;
	else
		s = TRIAL_MISSING;

	/* A trial that is not done still gets a row per strong model it will
	 * have, read from its config. */
	struct w2s_config cfg = {0};
	int nstrong = 0;
	const char *strong[W2S_MAX_MODELS];
	if (s == TRIAL_DONE) {
		for (int64_t i = 0; i < npgr && nstrong < W2S_MAX_MODELS; i++)
			strong[nstrong++] = pgr[i].strong;
	} else {
		snprintf(path, sizeof path, "%s/config.yaml", tdir);
		if (access(path, R_OK) == 0 && w2s_config_load(&cfg, path, NULL, 0) == W2S_STATUS_OK)
			for (int i = 0; i < cfg.w2s.nstrong; i++)
				strong[nstrong++] = cfg.w2s.strong[i];
	}
	for (int i = 0; i < (nstrong ? nstrong : 1); i++) {
		unsigned char *row = table_add(tb);
		put_i64(row, tb->off_trial, t);
		put_i64(row, tb->off_exit, code);
		put_str(row, tb->off_status, 16, status_name[s]);
		for (int k = 0; k < w->nkeys; k++) {
			const struct w2s_sweep_value *v = &w->values[t * w->nkeys + k];
			const struct w2s_h5_column *col = &tb->cols[3 + k];
			if (col->type == W2S_H5_COL_F64)
				put_f64(row, tb->off_key[k], v->number);
			else
				put_str(row, tb->off_key[k], col->size, v->text);
		}
		put_str(row, tb->off_strong, W2S_NAME_MAX, nstrong ? strong[i] : "");
		for (int m = 0; m < 4; m++)
			put_f64(row, tb->off_metric[m], s == TRIAL_DONE ? pgr[i].p[m] : NAN);
	}
	w2s_config_free(&cfg);
	free(pgr);
	return s;
}

static void trial_values(const struct w2s_sweep *w, int64_t t, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int k = 0; k < w->nkeys; k++) {
		size_t n = strlen(buf);
		snprintf(buf + n, size - n, "%s%s=%s", k ? " " : "", w->keys[k],
			 w->values[t * w->nkeys + k].text);
	}
}

/* The summary: counts, the trials that need attention, and PGR per strong
 * model over the trials that are done; n counts those whose PGR is a
 * number (it is NaN when the ceiling does not beat the weak model). */
static void summarize(const struct table *tb, const struct w2s_sweep *w,
		      const enum trial_status *status, const int64_t *count, const char *dir)
{
	w2s_log_info("%s: %lld trial%s: %lld done, %lld failed, %lld unfinished, %lld missing",
		     dir, (long long)w->ntrials, w->ntrials == 1 ? "" : "s",
		     (long long)count[TRIAL_DONE], (long long)count[TRIAL_FAILED],
		     (long long)count[TRIAL_UNFINISHED], (long long)count[TRIAL_MISSING]);
	for (int s = TRIAL_FAILED; s <= TRIAL_MISSING; s++) {
		if (count[s] == 0)
			continue;
		char list[512] = "";
		int shown = 0;
		for (int64_t t = 0; t < w->ntrials && shown < 12; t++) {
			if ((int)status[t] != s)
				continue;
			size_t n = strlen(list);
			snprintf(list + n, sizeof list - n, "%s%lld", shown ? " " : "", (long long)t);
			shown++;
		}
		w2s_log_info("  %-10s %s%s%s", status_name[s], list,
			     count[s] > shown ? " ..." : "",
			     s == TRIAL_FAILED ? "   (see trials/<i>/slurm.log; rerun: sbatch "
						 "--array=<i> sweep.sbatch)"
						 : "");
	}
	/* PGR per strong model, in order of first appearance. */
	const char *names[W2S_MAX_MODELS];
	int nnames = 0;
	for (int64_t r = 0; r < tb->n; r++) {
		const char *s = (const char *)tb->rows + r * tb->row_size + tb->off_strong;
		bool seen = s[0] == '\0';
		for (int i = 0; i < nnames && !seen; i++)
			seen = !strcmp(names[i], s);
		if (!seen && nnames < W2S_MAX_MODELS)
			names[nnames++] = s;
	}
	if (count[TRIAL_DONE] == 0 || nnames == 0)
		return;
	w2s_log_info("  %-16s %5s %8s %8s %8s   %s", "strong", "n", "PGR mean", "min", "max",
		     "best trial");
	for (int i = 0; i < nnames; i++) {
		int64_t n = 0, best = -1;
		double sum = 0, lo = INFINITY, hi = -INFINITY;
		for (int64_t r = 0; r < tb->n; r++) {
			const unsigned char *row = tb->rows + r * tb->row_size;
			double pgr;
			int64_t t;
			memcpy(&pgr, row + tb->off_metric[3], sizeof pgr);
			memcpy(&t, row + tb->off_trial, sizeof t);
			if (strcmp((const char *)row + tb->off_strong, names[i]) != 0 || isnan(pgr))
				continue;
			n++;
			sum += pgr;
			lo = pgr < lo ? pgr : lo;
			if (pgr > hi) {
				hi = pgr;
				best = t;
			}
		}
		char values[512] = "";
		if (best >= 0)
			trial_values(w, best, values, sizeof values);
		if (n > 0)
			w2s_log_info("  %-16s %5lld %8.3f %8.3f %8.3f   %lld %s", names[i],
				     (long long)n, sum / (double)n, lo, hi, (long long)best, values);
		else
			w2s_log_info("  %-16s %5d %8s", names[i], 0, "-");
	}
}

enum w2s_status w2s_sweep_collect(const struct w2s_comm *c, const char *dir,
				  const struct w2s_provenance *prov,
				  struct w2s_sweep_counts *counts)
{
	struct w2s_sweep w = {0};
	struct table tb = {0};
	enum trial_status *status = NULL;
	int64_t count[4] = {0, 0, 0, 0};
	char path[4200];

	snprintf(path, sizeof path, "%s/sweep.json", dir);
	enum w2s_status st = w2s_sweep_manifest_read(&w, path);
	if (st != W2S_STATUS_OK)
		goto cleanup;
	table_layout(&tb, &w);
	status = w2s_xcalloc((size_t)w.ntrials + 1, sizeof *status);
	for (int64_t t = 0; t < w.ntrials; t++) {
		status[t] = collect_trial(&tb, &w, t, dir);
		count[status[t]]++;
	}

	snprintf(path, sizeof path, "%s/sweep.h5", dir);
	struct w2s_h5 f = {.file = -1};
	st = w2s_h5_create_tmp(&f, c, path);
	if (st == W2S_STATUS_OK) {
		struct w2s_provenance p = *prov;
		p.kind = "sweep";
		p.config_json = NULL;
		p.world_size = -1;
		st = w2s_h5_write_provenance(&f, &p);
	}
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_table(&f, c, "/results", tb.cols, tb.ncols, tb.row_size, tb.rows,
					tb.n);
	for (int s = 0; s < 4 && st == W2S_STATUS_OK; s++)
		st = w2s_h5_attr_int64(&f, "/results", status_name[s], count[s]);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&f, "/", "status",
					"done: run.h5 holds /pgr; failed: not done and exit_code "
					"is not 8; unfinished: neither, but started (exit_code 8, "
					"or anything besides config.yaml in its folder); missing: "
					"not started");
	if (f.tmp)
		st = w2s_h5_commit(&f, c, st);
	if (st != W2S_STATUS_OK)
		goto cleanup;
	summarize(&tb, &w, status, count, dir);
	w2s_log_info("wrote %s:/results (%lld rows); in Python: "
		     "pd.DataFrame(h5py.File(\"%s\")[\"results\"][()])",
		     path, (long long)tb.n, path);
	if (counts) {
		counts->done = count[TRIAL_DONE];
		counts->failed = count[TRIAL_FAILED];
		counts->unfinished = count[TRIAL_UNFINISHED];
		counts->missing = count[TRIAL_MISSING];
		counts->rows = tb.n;
	}
cleanup:
	free(status);
	free(tb.rows);
	w2s_sweep_free(&w);
	return st;
}
